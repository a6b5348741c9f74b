"""Shared fixtures: sample Starlette and FastAPI apps behind the middleware, and ASGI drivers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx
import pytest
from starlette.types import ASGIApp, Message

from tests.apps import fastapi_app, starlette_app

AppFactory = Callable[..., ASGIApp]


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio only."""
    return "asyncio"


@pytest.fixture(params=["starlette", "fastapi"])
def make_app(request: pytest.FixtureRequest) -> AppFactory:
    """The sample app factory, once for Starlette and once for FastAPI."""
    return starlette_app if request.param == "starlette" else fastapi_app


@pytest.fixture
async def client(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the sample app with default options."""
    async with make_client(make_app()) as c:
        yield c


def make_client(app: ASGIApp, raise_app_exceptions: bool = False) -> httpx.AsyncClient:
    """An httpx client talking ASGI to ``app`` (500s seen as the client sees them)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def make_scope(
    path: str = "/",
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
) -> dict[str, Any]:
    """An HTTP scope as a server would build it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": headers if headers is not None else [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }


async def call_asgi(
    app: ASGIApp,
    path: str = "/",
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
    sent: list[Message] | None = None,
    query: bytes = b"",
) -> list[Message]:
    """Drive ``app`` directly and return every message it sent, in order.

    The request body is delivered once; afterwards ``receive`` waits, as for a client that
    stays connected. Pass ``sent`` to keep the messages when the app raises.
    """
    sent = [] if sent is None else sent
    request_done = False

    async def receive() -> Message:
        nonlocal request_done
        if request_done:
            await anyio.sleep_forever()
        request_done = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(make_scope(path, method, headers, query), receive, send)
    return sent


def header(message: Message, name: bytes) -> list[bytes]:
    """All values of header ``name`` in an ``http.response.start`` message."""
    return [v for k, v in message["headers"] if k.lower() == name]
