"""HTTPS plumbing: a threaded HTTP/1.1 keep-alive server on 127.0.0.1, requests parsed
into ``Request``, routed by regex, with fault injection and a request log."""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from dynsync_tui.sandbox.faults import Fault, Faults  # noqa: F401  (Faults was defined here)

JSON = "application/json; charset=utf-8"


@dataclass
class Request:
    method: str
    target: str  # path + query as received
    path: str  # the raw path (routes decode what they need)
    query: dict[str, str]
    headers: Any
    body: bytes
    in_batch: bool = False  # a part of a Dataverse $batch (URLs up to 65,536 characters)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)


@dataclass
class Response:
    status: int
    body: Any = None  # dict/list → JSON; bytes/str sent as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON

    def encode(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class HttpError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


Handler = Callable[[Request, "re.Match[str]"], Response]


class Router:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, methods: str, pattern: str, handler: Handler) -> None:
        for m in methods.split():
            self.routes.append((m, re.compile(pattern), handler))

    def find(self, method: str, path: str) -> tuple[Handler | None, re.Match[str] | None, bool]:
        path_seen = False
        for m, pat, h in self.routes:
            match = pat.fullmatch(path)
            if match:
                path_seen = True
                if m == method:
                    return h, match, True
        return None, None, path_seen


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr, app: "HttpsApp", ctx: ssl.SSLContext) -> None:
        self.app = app
        self.ctx = ctx
        self.open_sockets: set[socket.socket] = set()
        self.sock_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        self.app.connections += 1
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls = self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self.sock_lock:
            self.open_sockets.add(tls)
        return tls, addr

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gives up mid-handshake is not news; never print over the TUI

    def shutdown_request(self, request) -> None:
        with self.sock_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_all(self) -> None:
        with self.sock_lock:
            socks = list(self.open_sockets)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120
    server: _Server

    def setup(self) -> None:
        super().setup()
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
            raise

    def handle(self) -> None:
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, TimeoutError, OSError):
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # never log: URLs carry personal data and headers carry secrets

    def _any(self) -> None:
        self.server.app.dispatch(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any


class HttpsApp:
    """Owns the listener; subclasses fill ``self.router``."""

    def __init__(self) -> None:
        self.router = Router()
        self.faults = Faults()
        self.request_log: list[tuple[str, str]] = []
        self.connections = 0  # TCP connections accepted (keep-alive reuses them)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def listen(self, ctx: ssl.SSLContext, port: int = 0) -> int:
        self._server = _Server(("127.0.0.1", port), self, ctx)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-https",
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self.port

    def close(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.close_all()
            self._server.server_close()
            self._server = None

    def error_for(self, req: Request, status: int, message: str) -> Response:
        return Response(status, {"message": message})

    def dispatch(self, h: _Handler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        target = h.path
        parts = urlsplit(target)
        req = Request(h.command, target, parts.path,
                      dict(parse_qsl(parts.query, keep_blank_values=True)), h.headers, body)
        self.request_log.append((h.command, target))
        fault = self.faults.take(h.command, target)
        self.faults.before(fault)
        if fault and fault.delay and not fault.after:
            time.sleep(fault.delay)
        if fault and fault.drop and not fault.after:
            self._drop(h)
            return
        try:
            if fault and fault.status:
                resp = self.fault_response(req, fault)
                if isinstance(fault.body, (str, bytes)):
                    resp.content_type = "text/html; charset=utf-8"
            else:
                handler, match, seen = self.router.find(h.command, parts.path)
                if handler is None:
                    resp = self.error_for(req, 405 if seen else 404,
                                          "Method not allowed" if seen else f"No route for {parts.path}")
                else:
                    resp = handler(req, match)
        except HttpError as exc:
            resp = exc.response
        except Exception as exc:  # a sandbox bug: answer 500 rather than hang the client
            resp = self.error_for(req, 500, f"sandbox error: {type(exc).__name__}: {exc}")
        if fault:  # the request took effect: faults on the answer only from here
            self.faults.handled()
            if fault.after and fault.delay:
                time.sleep(fault.delay)
            if fault.after and fault.drop:
                self._drop(h)
                return
        self._send(h, resp, truncate=bool(fault and fault.truncate))

    @staticmethod
    def _drop(h: _Handler) -> None:
        h.close_connection = True
        try:
            h.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def fault_response(self, req: Request, fault: Fault) -> Response:
        resp = self.error_for(req, fault.status, f"Injected fault {fault.status}")
        if fault.body is not None:
            resp.body = fault.body
        resp.headers.update(self.faults.headers(fault))
        return resp

    @staticmethod
    def _send(h: _Handler, resp: Response, truncate: bool = False) -> None:
        data = resp.encode()
        h.send_response(resp.status)
        if data:
            h.send_header("Content-Type", resp.content_type)
        h.send_header("Content-Length", str(len(data)))
        for k, v in resp.headers.items():
            h.send_header(k, v)
        h.end_headers()
        if truncate:
            h.wfile.write(data[: len(data) // 2])
            h.close_connection = True
            h.request.shutdown(socket.SHUT_RDWR)
        elif data and h.command != "HEAD":
            h.wfile.write(data)
