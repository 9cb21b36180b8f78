"""HTTPS plumbing: a threaded HTTP/1.1 keep-alive server on 127.0.0.1, requests parsed
into ``Request``, routed by regex, with fault injection and a request log."""

from __future__ import annotations

import json
import random
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


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    retry_after: float | None = None
    body: Any = None
    delay: float = 0.0
    drop: bool = False
    truncate: bool = False
    rate: float = 1.0
    hits: int = 0


class Faults:
    """Injected failures. ``add`` one per (method, path regex searched in path + query); each
    fires ``times`` times (``times=-1``: until cleared), on a ``rate`` share of the matching
    requests (deterministic: a seeded RNG). ``status=0`` passes the request through after
    ``delay``; ``drop=True`` closes the connection without answering; ``truncate=True``
    announces the full body but sends half of it; ``body`` may be a dict (JSON) or a
    str/bytes sent as is (e.g. a gateway's HTML page)."""

    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def seed(self, seed: int) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def add(self, method: str, path_regex: str, status: int, times: int = 1, *,
            retry_after: float | None = None, body: Any = None, delay: float = 0.0,
            drop: bool = False, truncate: bool = False, rate: float = 1.0) -> Fault:
        f = Fault(method.upper(), re.compile(path_regex), status, times, retry_after, body, delay,
                  drop, truncate, rate)
        with self._lock:
            self._faults.append(f)
        return f

    def load(self, plan: list[dict]) -> None:
        """Add faults from a plan (e.g. parsed TOML): each entry holds ``add``'s arguments by
        name. A bad entry raises ValueError naming the entry and the key."""
        names = {"method", "path_regex", "status", "times", "retry_after", "body", "delay",
                 "drop", "truncate", "rate"}
        for i, entry in enumerate(plan, start=1):
            unknown = sorted(set(entry) - names)
            if unknown:
                raise ValueError(f"fault #{i}: unknown key {unknown[0]!r} (known: {', '.join(sorted(names))})")
            missing = [k for k in ("method", "path_regex", "status") if k not in entry]
            if missing:
                raise ValueError(f"fault #{i}: missing key {missing[0]!r}")
            try:
                re.compile(entry["path_regex"])
            except re.error as exc:
                raise ValueError(f"fault #{i}: path_regex is not a regular expression ({exc})") from None
            if not 0.0 <= float(entry.get("rate", 1.0)) <= 1.0:
                raise ValueError(f"fault #{i}: rate must be between 0 and 1")
            self.add(**entry)

    def injected(self) -> int:
        with self._lock:
            return sum(f.hits for f in self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(f.times for f in self._faults if f.times > 0)

    def take(self, method: str, target: str) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.times != 0 and f.method in ("*", method) and f.pattern.search(target):
                    if f.rate < 1.0 and self._rng.random() >= f.rate:
                        continue
                    if f.times > 0:
                        f.times -= 1
                    f.hits += 1
                    return f
        return None


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
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.drop:
            h.close_connection = True
            try:
                h.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
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
        self._send(h, resp, truncate=bool(fault and fault.truncate))

    def fault_response(self, req: Request, fault: Fault) -> Response:
        resp = self.error_for(req, fault.status, f"Injected fault {fault.status}")
        if fault.body is not None:
            resp.body = fault.body
        if fault.retry_after is not None:
            ra = fault.retry_after
            resp.headers["Retry-After"] = str(int(ra) if float(ra).is_integer() else ra)
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
