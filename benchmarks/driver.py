"""Drive an ASGI app in-process: a prebuilt scope, a trivial ``receive`` and ``send``.

No sockets, no httpx: what is timed is the app and its middleware, plus the same small
constant (copying the scope) for every variant.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message

__all__ = ["Recorder", "make_scope", "run_batch", "run_once"]

_REQUEST: Message = {"type": "http.request", "body": b"", "more_body": False}


def make_scope(path: str, method: str = "GET") -> dict[str, Any]:
    """A scope as uvicorn builds it for ``GET path`` with a few ordinary headers."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", b"bench/1.0"),
            (b"accept", b"*/*"),
        ],
        "state": {},
    }


async def _receive() -> Message:
    return _REQUEST


async def _receive_blocking() -> Message:
    # What a server does once the request body is read: wait for the client to go away.
    await asyncio.get_running_loop().create_future()
    raise AssertionError("unreachable")  # pragma: no cover


async def _discard(message: Message) -> None:
    return None


TASKS = False
"""Run each request in its own task, as an ASGI server does (``--tasks``); else await it."""


async def run_batch(app: ASGIApp, template: dict[str, Any], n: int, blocking: bool = False) -> None:
    """Serve ``n`` requests one after the other; every request gets a fresh scope."""
    headers = template["headers"]
    receive = _receive_blocking if blocking else _receive
    create_task = asyncio.get_running_loop().create_task if TASKS else None
    for _ in range(n):
        scope = template.copy()
        scope["headers"] = list(headers)
        scope["state"] = {}
        if create_task is None:
            await app(scope, receive, _discard)
        else:
            await create_task(app(scope, receive, _discard))  # type: ignore[arg-type]


class Recorder:
    """A ``send`` that keeps the status, headers and body of one response."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.chunks = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            self.chunks += 1

    def header(self, name: bytes) -> bytes | None:
        """The value of header ``name`` (lower-case), if present."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


async def run_once(app: ASGIApp, template: dict[str, Any], blocking: bool = False) -> Recorder:
    """Serve one request and return what was sent."""
    recorder = Recorder()
    scope = template.copy()
    scope["headers"] = list(template["headers"])
    scope["state"] = {}
    await app(scope, _receive_blocking if blocking else _receive, recorder)
    return recorder
