"""The same claims behind a real uvicorn on 127.0.0.1: HEAD, streaming, 500s, logging."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import anyio
import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from opsgenie_envelope import EnvelopeMiddleware, RequestIdFilter
from tests.support.apps import fastapi_app, starlette_app
from tests.support.server import running

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The sample Starlette app served by uvicorn."""
    with running(starlette_app()) as url:
        yield url


def raw_request(base_url: str, request: bytes) -> bytes:
    """Send raw bytes and read until the server closes the connection."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def wait_for_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records with a traceback, once the server logged one (it logs after answering)."""
    deadline = time.monotonic() + 5
    while not any(r.exc_info for r in caplog.records) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # a second record, if any, would follow at once
    return [r for r in caplog.records if r.exc_info]


def test_get_is_enveloped_over_the_wire(base_url: str) -> None:
    """A GET through uvicorn returns the envelope with both headers."""
    response = httpx.get(f"{base_url}/r/list")
    assert response.json()["data"] == [1, 2, 3]
    assert response.json()["requestId"] == response.headers["x-request-id"]
    assert int(response.headers["content-length"]) == len(response.content)


def test_head_sends_get_headers_and_no_body(base_url: str) -> None:
    """HEAD through uvicorn: the GET's Content-Length and headers, and no body bytes."""
    get = httpx.get(f"{base_url}/r/list")
    raw = raw_request(base_url, b"HEAD /r/list HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = {
        line.split(b":", 1)[0].lower(): line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")[1:]
    }
    assert raw.startswith(b"HTTP/1.1 200")
    # Each answer carries its own ``took`` ("0.0", "0.001"): only its width may differ.
    took_width = len(lines[b"x-response-time"]) - len(get.headers["x-response-time"])
    assert int(lines[b"content-length"]) == int(get.headers["content-length"]) + took_width
    assert b"x-request-id" in lines
    assert body == b""


def test_stream_arrives_before_handler_finishes() -> None:
    """The first chunk reaches the client while the handler still waits: nothing is buffered."""
    release = threading.Event()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'[{"part":1}'
        assert await anyio.to_thread.run_sync(release.wait, 5)
        yield b',{"part":2}]'

    async def endpoint(request: Request) -> Response:
        return StreamingResponse(chunks(), media_type="application/json")

    app = Starlette(routes=[Route("/s", endpoint)], middleware=[Middleware(EnvelopeMiddleware)])
    with running(app) as url, httpx.stream("GET", f"{url}/s", timeout=5) as response:
        stream = response.iter_raw()
        first = next(stream)
        release.set()
        rest = b"".join(stream)
    assert first.startswith(b'{"data":[{"part":1}')
    body = orjson.loads(first + rest)
    assert body["data"] == [{"part": 1}, {"part": 2}]
    assert body["requestId"] == response.headers["x-request-id"]


def test_failed_stream_aborts_the_connection(base_url: str) -> None:
    """A stream failing mid-body is cut off: the client sees an incomplete body, not an envelope."""
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{base_url}/r/stream-fails")


def test_unhandled_exception_is_500_and_logged_once(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An unhandled exception: a 500 envelope, and one server log line carrying the request ID."""
    with caplog.at_level(logging.ERROR):
        response = httpx.get(f"{base_url}/fail/boom")
        errors = wait_for_errors(caplog)
    assert response.status_code == 500
    assert "hunter2" not in response.text
    assert len(errors) == 1
    assert f"request_id: {response.headers['x-request-id']}" in caplog.text


def test_unhandled_exception_record_has_request_id_field(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The server's one "Exception in ASGI application" record gets ``request_id`` as a field."""
    log_filter = RequestIdFilter()
    caplog.handler.addFilter(log_filter)
    try:
        with caplog.at_level(logging.ERROR):
            response = httpx.get(f"{base_url}/fail/boom")
            errors = wait_for_errors(caplog)
    finally:
        caplog.handler.removeFilter(log_filter)
    [record] = errors
    assert record.name == "uvicorn.error"
    assert record.request_id == response.headers["x-request-id"]  # type: ignore[attr-defined]


def test_fastapi_over_the_wire() -> None:
    """The FastAPI sample app behind uvicorn: success, validation error, router 404."""
    with running(fastapi_app()) as url, httpx.Client(base_url=url) as client:
        ok = client.get("/v2/alerts/1")
        invalid = client.post("/echo", json={})
        missing = client.get("/nowhere")
    assert ok.json()["data"]["seen"] == ok.headers["x-request-id"]
    assert invalid.status_code == 422
    assert invalid.json()["errors"] == {"message": "Field required"}
    assert missing.json()["message"] == "Resource or handler not found"
