"""Faults at every stage: the client sees a complete envelope or an aborted connection."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from opsgenie_envelope import EnvelopeMiddleware, get_request_id
from tests.support.apps import AppFactory
from tests.support.asgi import call_asgi, header, make_client
from tests.support.server import running

SECRET = "secret-token-123"


@pytest.mark.anyio
async def test_exception_after_start_of_held_json_response_renders_500() -> None:
    """Start sent, no body yet, then a crash: the JSON start was held, so a clean 500 goes out."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        raise RuntimeError(SECRET)

    async with make_client(EnvelopeMiddleware(app)) as client:
        response = await client.get("/")
    assert response.status_code == 500
    assert SECRET not in response.text
    assert response.json()["requestId"] == response.headers["x-request-id"]


@pytest.mark.anyio
async def test_exception_after_start_of_passthrough_aborts() -> None:
    """A non-JSON start already went out: the exception propagates (the server aborts)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        raise RuntimeError(SECRET)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    with pytest.raises(RuntimeError):
        await EnvelopeMiddleware(app)(
            {"type": "http", "method": "GET", "path": "/", "headers": []}, receive, send
        )
    assert [m["type"] for m in sent] == ["http.response.start"]


@pytest.mark.anyio
async def test_exception_in_error_body_renders_500() -> None:
    """A crash while an error body is being sent: the buffered error is replaced by a 500."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": b"Not", "more_body": True})
        raise RuntimeError(SECRET)

    async with make_client(EnvelopeMiddleware(app)) as client:
        response = await client.get("/")
    assert response.status_code == 500
    assert SECRET not in response.text


@pytest.mark.anyio
async def test_background_task_failure_after_complete_response(make_app: AppFactory) -> None:
    """A background task failing after the response: the client has a complete envelope."""
    async with make_client(make_app()) as client:
        response = await client.get("/r/background-fails")
    assert response.status_code == 200
    assert response.json()["data"] == {"queued": True}


@pytest.mark.anyio
async def test_background_task_failure_reaches_server_with_request_id() -> None:
    """The background task's exception reaches the server, noted with the response's ID."""
    from tests.support.apps import starlette_app

    sent: list[Message] = []
    with pytest.raises(RuntimeError) as caught:
        await call_asgi(starlette_app(), "/r/background-fails", sent=sent)
    request_id = header(sent[0], b"x-request-id")[0].decode()
    assert caught.value.__notes__ == [f"request_id: {request_id}"]
    assert orjson.loads(b"".join(m.get("body", b"") for m in sent[1:]))["data"] == {"queued": True}


@pytest.mark.anyio
async def test_debug_off_leaks_nothing(make_app: AppFactory) -> None:
    """With debug off no exception text, type, path or traceback appears in body or headers."""
    async with make_client(make_app()) as client:
        for path in ("/fail/boom", "/r/stream-fails-early", "/r/not-json"):
            response = await client.get(path)
            exposed = response.text + str(response.headers)
            for leak in ("hunter2", SECRET, "RuntimeError", "Traceback", ".py", "File "):
                assert leak not in exposed, (path, leak)


def _raw(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


@pytest.mark.server
def test_client_disconnect_mid_request_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    """A client leaving while its body is read: nothing escapes, nothing is logged as an error."""
    seen: list[str | None] = []

    async def upload(request: Request) -> Response:
        seen.append(get_request_id())
        await request.body()
        return JSONResponse({})

    app = Starlette(
        routes=[Route("/upload", upload, methods=["POST"])],
        middleware=[Middleware(EnvelopeMiddleware)],
    )
    with running(app) as url:
        with socket.create_connection(_raw(url), timeout=5) as sock:
            sock.sendall(
                b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\npartial"
            )
            deadline = time.monotonic() + 5
            while not seen and time.monotonic() < deadline:
                time.sleep(0.01)
        time.sleep(0.3)
        still_serving = httpx.get(f"{url}/nowhere")
    assert seen
    assert still_serving.status_code == 404
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


@pytest.mark.server
def test_client_disconnect_mid_stream_closes_the_stream(caplog: pytest.LogCaptureFixture) -> None:
    """A client leaving mid-stream: the stream's generator is closed, no error is logged."""
    closed = threading.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            yield b"[0"
            for i in range(1, 10_000):
                await asyncio.sleep(0.005)
                yield b",%d" % i
            yield b"]"
        finally:
            closed.set()

    async def stream(request: Request) -> Response:
        return StreamingResponse(endless(), media_type="application/json")

    app = Starlette(routes=[Route("/stream", stream)], middleware=[Middleware(EnvelopeMiddleware)])
    with running(app) as url:
        with socket.create_connection(_raw(url), timeout=5) as sock:
            sock.sendall(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
            first = b""
            while b'{"data":[0' not in first:
                chunk = sock.recv(4096)
                assert chunk, "connection closed before the first chunk"
                first += chunk
        assert closed.wait(5)
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


@pytest.mark.anyio
async def test_cancellation_propagates_and_resets_context() -> None:
    """A cancelled request propagates the cancellation and leaves no request ID behind."""
    started = asyncio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        started.set()
        await asyncio.sleep(10)

    task = asyncio.ensure_future(call_asgi(EnvelopeMiddleware(slow)))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert get_request_id() is None
