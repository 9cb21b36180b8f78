"""Helpers for connector unit tests: a recording MockTransport and a sleep recorder."""

from __future__ import annotations

import json
from typing import Any, Callable

import httpx


class Recorder:
    """Wraps a handler; keeps every request. ``responses`` may be a list consumed in order."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response] | None = None,
                 responses: list[httpx.Response] | None = None) -> None:
        self.handler = handler
        self.queue = list(responses or [])
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.queue:
            item = self.queue.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        assert self.handler is not None, f"unexpected request {request.method} {request.url}"
        return self.handler(request)

    @property
    def paths(self) -> list[str]:
        return [r.url.raw_path.decode() for r in self.requests]


class Sleeps(list):
    """An injectable sleep that records durations instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def js(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json", **headers})
