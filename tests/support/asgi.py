"""Driving ASGI apps in-process: one httpx client builder, a raw scope, a message recorder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

import anyio
import httpx
from starlette.types import ASGIApp, Message

__all__ = ["call_asgi", "header", "make_client", "make_scope"]

C = TypeVar("C")


@overload
def make_client(
    app: ASGIApp,
    raise_app_exceptions: bool = False,
    *,
    client_class: type[C],
    base_url: str = ...,
    **options: Any,
) -> C: ...
@overload
def make_client(
    app: ASGIApp, raise_app_exceptions: bool = False, *, base_url: str = ..., **options: Any
) -> httpx.AsyncClient: ...
def make_client(
    app: ASGIApp,
    raise_app_exceptions: bool = False,
    *,
    client_class: Callable[..., Any] = httpx.AsyncClient,
    base_url: str = "http://testserver",
    **options: Any,
) -> Any:
    """An async client talking ASGI to ``app`` (500s seen as the client sees them).

    The one in-process client builder of the tests: ``client_class`` is ``httpx.AsyncClient``
    (the default) or the library's ``AsyncClient``; ``options`` go to it (headers, retry
    policy, clock, ...).
    """
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return client_class(transport=transport, base_url=base_url, **options)


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
