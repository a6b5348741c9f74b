"""``max_body_size``: a body over the limit is a 413 envelope, refused before it is read whole."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Message

from opsgenie_envelope import EnvelopeConfig, EnvelopeMiddleware
from opsgenie_envelope.fastapi import install
from tests.support.asgi import make_client, make_scope

pytestmark = pytest.mark.anyio

CHUNK = b"x" * 65_536


async def echo_length(request: Request) -> JSONResponse:
    return JSONResponse({"length": len(await request.body())})


def starlette(**options: Any) -> Starlette:
    """``POST /alerts`` reads the whole body and answers its length."""
    return Starlette(
        routes=[Route("/alerts", echo_length, methods=["POST"])],
        middleware=[Middleware(EnvelopeMiddleware, **options)],
    )


def fastapi(**options: Any) -> FastAPI:
    """``POST /alerts`` parses a JSON body (before any dependency could refuse it)."""
    app = FastAPI()

    @app.post("/alerts")
    async def create(body: dict[str, str]) -> dict[str, int]:
        return {"fields": len(body)}

    install(app, **options)
    return app


async def stream(
    app: Any, chunks: int, headers: list[tuple[bytes, bytes]]
) -> tuple[list[Message], int]:
    """POST ``chunks`` chunks of 64 KiB; the messages sent back and how many chunks were read."""
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": CHUNK, "more_body": read < chunks}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = make_scope("/alerts", "POST", headers)
    await app(scope, receive, send)
    return sent, read


async def test_declared_length_over_the_limit_is_refused_unread() -> None:
    """A Content-Length over max_body_size answers a 413 envelope without reading one chunk."""
    headers = [
        (b"content-length", str(200 * 2**20).encode()),
        (b"content-type", b"application/json"),
    ]
    sent, read = await stream(starlette(), 3200, headers)
    assert sent[0]["status"] == 413
    body = orjson.loads(sent[1]["body"])
    assert body["message"] == "Request body is too large"
    assert read == 0


async def test_chunked_body_stops_once_over_the_limit() -> None:
    """A chunked body is read only up to the limit, then answered 413 (FastAPI's JSON body)."""
    headers = [(b"transfer-encoding", b"chunked"), (b"content-type", b"application/json")]
    sent, read = await stream(fastapi(max_body_size=4 * 65_536), 3200, headers)
    assert sent[0]["status"] == 413
    assert orjson.loads(sent[1]["body"])["message"] == "Request body is too large"
    assert read == 5


async def test_chunked_body_over_the_limit_in_starlette_is_413() -> None:
    """A Starlette handler reading a chunked body past the limit gets the 413 envelope."""
    headers = [(b"transfer-encoding", b"chunked")]
    sent, read = await stream(starlette(max_body_size=65_536), 100, headers)
    assert sent[0]["status"] == 413
    assert read == 2


@pytest.mark.parametrize("negotiate", [True, False])
async def test_declared_length_with_and_without_the_header_scan(negotiate: bool) -> None:
    """An over-limit Content-Length is refused unread whether or not the headers are scanned."""
    over = [(b"content-length", str(2 * 65_536).encode())]
    sent, read = await stream(starlette(max_body_size=65_536, negotiate=negotiate), 2, over)
    assert (sent[0]["status"], read) == (413, 0)


@pytest.mark.parametrize("negotiate", [True, False])
async def test_chunked_body_with_and_without_the_header_scan(negotiate: bool) -> None:
    """A chunked body is counted against the limit whether or not the headers are scanned."""
    chunked = [(b"transfer-encoding", b"chunked")]
    sent, read = await stream(starlette(max_body_size=65_536, negotiate=negotiate), 100, chunked)
    assert (sent[0]["status"], read) == (413, 2)


async def test_http2_body_without_length_is_counted() -> None:
    """An HTTP/2 body with neither Content-Length nor chunking is counted against the limit."""
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": CHUNK, "more_body": read < 100}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = make_scope("/alerts", "POST", [(b"host", b"testserver")])
    scope["http_version"] = "2"
    await starlette(max_body_size=65_536)(scope, receive, send)
    assert (sent[0]["status"], read) == (413, 2)


async def test_body_within_the_limit_is_served() -> None:
    """A body at the limit reaches the handler whole."""
    async with make_client(starlette(max_body_size=1000)) as client:
        response = await client.post("/alerts", content=b"x" * 1000)
    assert response.status_code == 200
    assert response.json()["data"] == {"length": 1000}


async def test_no_limit_when_none() -> None:
    """max_body_size=None reads any body."""
    async with make_client(starlette(max_body_size=None)) as client:
        response = await client.post("/alerts", content=b"x" * 2_000_000)
    assert response.json()["data"] == {"length": 2_000_000}


def test_default_is_one_mebibyte() -> None:
    """The documented default: 1 MiB."""
    assert EnvelopeConfig().max_body_size == 1_048_576


@pytest.mark.parametrize(
    ("value", "error"), [(0, ValueError), (-1, ValueError), (True, TypeError), ("1", TypeError)]
)
def test_bad_max_body_size_is_refused(value: object, error: type[Exception]) -> None:
    """A bad max_body_size raises, naming the option."""
    with pytest.raises(error, match="max_body_size"):
        EnvelopeConfig(max_body_size=value)  # type: ignore[arg-type]
