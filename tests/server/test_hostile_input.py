"""Bad input: every case gets a clear envelope error or a documented pass-through."""

from __future__ import annotations

import logging

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from opsgenie_envelope import EnvelopeMiddleware
from tests.support.apps import AppFactory, fastapi_app, starlette_app
from tests.support.asgi import call_asgi, header, make_client

pytestmark = pytest.mark.anyio

JSON = {"content-type": "application/json"}
DEEP = b"[" * 100_000 + b"]" * 100_000


def assert_envelope(response: httpx.Response) -> dict[str, object]:
    """The response is a JSON envelope whose requestId matches the header."""
    body = orjson.loads(response.content)
    assert isinstance(body, dict)
    assert body["requestId"] == response.headers["x-request-id"]
    assert isinstance(body["took"], float)
    return body


# -- request bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b'{"message": "m"', b"\xff\xfe{}", DEEP, b"", b"nul\x00l"])
async def test_fastapi_bad_bodies_are_client_errors(body: bytes) -> None:
    """Truncated, invalid UTF-8, deeply nested and empty bodies: 4xx envelopes, never 500."""
    async with make_client(fastapi_app()) as client:
        response = await client.post("/echo", content=body, headers=JSON)
    assert response.status_code in (400, 422)
    assert_envelope(response)


@pytest.mark.parametrize("body", [b'{"message": "m"', b"\xff\xfe{}", DEEP, b"", b"nul\x00l"])
async def test_read_json_bad_bodies_are_400(body: bytes) -> None:
    """``read_json`` turns each malformed body into ``400 Invalid JSON body``."""
    async with make_client(starlette_app()) as client:
        response = await client.post("/echo-safe", content=body, headers=JSON)
    assert response.status_code == 400
    assert assert_envelope(response)["message"] == "Invalid JSON body"


async def test_deep_but_valid_json_is_accepted() -> None:
    """Nesting within the parser's limit is fine."""
    nested = b"[" * 500 + b"]" * 500
    async with make_client(starlette_app()) as client:
        response = await client.post("/echo-safe", content=nested, headers=JSON)
    assert response.status_code == 200


async def test_large_body_passes_through_the_middleware() -> None:
    """Without a size limit a 50 MB body reaches the handler whole: the middleware never reads
    request bodies (``max_body_size`` only counts them)."""

    async def size(request: Request) -> Response:
        return JSONResponse({"bytes": len(await request.body())})

    app = Starlette(
        routes=[Route("/size", size, methods=["POST"])],
        middleware=[Middleware(EnvelopeMiddleware, max_body_size=None)],
    )
    async with make_client(app) as client:
        response = await client.post("/size", content=b"x" * (50 * 1024 * 1024))
    assert assert_envelope(response)["data"] == {"bytes": 50 * 1024 * 1024}


async def test_body_over_app_limit_is_413_envelope() -> None:
    """Starlette's ``max_body_size`` refusal, raised while the handler reads, is enveloped."""

    async def size(request: Request) -> Response:
        return JSONResponse({"bytes": len(await request.body())})

    app = Starlette(
        routes=[Route("/size", size, methods=["POST"])],
        middleware=[Middleware(EnvelopeMiddleware)],
        max_body_size=1024,
    )
    async with make_client(app) as client:
        response = await client.post("/size", content=_chunks(50, 1024))
    assert response.status_code == 413
    assert assert_envelope(response)["message"] == "Content Too Large"


async def _chunks(count: int, size: int):  # type: ignore[no-untyped-def]
    for _ in range(count):
        yield b"x" * size


async def test_wrong_content_type_on_fastapi_json_route() -> None:
    """A form body on a JSON route is a 422 envelope naming the body."""
    async with make_client(fastapi_app()) as client:
        response = await client.post(
            "/echo", content=b"message=m", headers={"content-type": "text/plain"}
        )
    assert response.status_code == 422
    assert assert_envelope(response)["errors"]


async def test_body_on_get_is_ignored(client: httpx.AsyncClient) -> None:
    """A body on a GET changes nothing."""
    response = await client.request("GET", "/v2/alerts/1", content=b"{garbage")
    assert response.status_code == 200
    assert_envelope(response)


# -- headers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        b"x" * 10_240,
        b"abc\r\ndef",
        b"abc\x00def",
        "\u00e9t\u00e9".encode(),
        b"\xff\xfe",
        b"\t",
        b"a" * 129,
    ],
)
async def test_hostile_request_ids_are_replaced(make_app: AppFactory, value: bytes) -> None:
    """Huge, CR/LF, NUL and non-ASCII IDs are never used nor echoed, even when trusting."""
    async with make_client(make_app(trust_incoming_id=True)) as client:
        response = await client.get("/v2/alerts/1", headers=[(b"x-request-id", value)])
    assert response.headers["x-request-id"].encode() != value
    assert value not in response.content
    assert_envelope(response)


async def test_many_duplicate_request_ids(make_app: AppFactory) -> None:
    """A thousand X-Request-ID headers: one fresh ID in the answer."""
    headers = [(b"x-request-id", f"id-{i}".encode()) for i in range(1000)]
    async with make_client(make_app(trust_incoming_id=True)) as client:
        response = await client.get("/v2/alerts/1", headers=headers)
    assert response.headers.get_list("x-request-id") == [assert_envelope(response)["requestId"]]
    assert not response.headers["x-request-id"].startswith("id-")


@pytest.mark.parametrize(
    "accept",
    [
        b"*/*;q=" + b"9" * 10_000,
        b",,,,;;;;" * 1000,
        b"application/json;" * 5000,
        b"\x00\xff",
        b"text/html;q=0.x",
    ],
)
async def test_absurd_accept_headers(client: httpx.AsyncClient, accept: bytes) -> None:
    """Absurd ``Accept`` values answer 200 or 406, both as envelopes, quickly."""
    response = await client.get("/v2/alerts/1", headers=[(b"accept", accept)])
    assert response.status_code in (200, 406)
    assert_envelope(response)


async def test_many_accept_headers_are_bounded(client: httpx.AsyncClient) -> None:
    """Thousands of ``Accept`` headers are read within a bounded size."""
    headers = [(b"accept", b"text/html")] * 5000 + [(b"accept", b"application/json")]
    response = await client.get("/v2/alerts/1", headers=headers)
    assert response.status_code in (200, 406)
    assert_envelope(response)


# -- handler output -----------------------------------------------------------------------------


async def test_non_json_labelled_json_is_500_envelope(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler's non-JSON bytes labelled JSON: a 500 envelope (never broken JSON), logged once."""
    with caplog.at_level(logging.ERROR, "opsgenie_envelope"):
        response = await client.get("/r/not-json")
    assert response.status_code == 500
    assert assert_envelope(response)["message"] == "Internal Server Error"
    assert b"<html>" not in response.content
    logged = [r for r in caplog.records if r.name == "opsgenie_envelope"]
    assert len(logged) == 1
    assert response.headers["x-request-id"] in logged[0].getMessage()


async def test_non_json_stream_labelled_json_passes_through(client: httpx.AsyncClient) -> None:
    """A streamed non-JSON body labelled JSON is passed through untouched (documented)."""
    response = await client.get("/r/not-json-stream")
    assert response.content == b"plain text, labelled as JSON"
    assert "x-request-id" in response.headers


async def test_wrong_content_length_from_handler_is_corrected() -> None:
    """A single-chunk body with a wrong ``Content-Length`` gets the right one."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"999")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"[1,2]"})

    messages = await call_asgi(EnvelopeMiddleware(app))
    body = messages[1]["body"]
    assert header(messages[0], b"content-length") == [str(len(body)).encode()]
    assert orjson.loads(body)["data"] == [1, 2]


async def test_none_return_has_no_data() -> None:
    """A FastAPI handler returning ``None`` answers an envelope without ``data``."""
    async with make_client(fastapi_app()) as client:
        response = await client.post("/accepted")
    assert "data" not in assert_envelope(response)


async def test_error_with_huge_body_is_bounded() -> None:
    """An error answer with a 5 MB body is rendered from a bounded read: default message."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        for _ in range(80):
            await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async with make_client(EnvelopeMiddleware(app)) as client:
        response = await client.get("/")
    assert response.status_code == 400
    assert assert_envelope(response)["message"] == "Invalid JSON body"
    assert len(response.content) < 500


async def test_messages_other_than_http_pass(client: httpx.AsyncClient) -> None:
    """A lifespan scope passes straight through the middleware."""
    received: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        received.append({"type": scope["type"]})

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        received.append(message)

    await EnvelopeMiddleware(app)({"type": "lifespan"}, receive, send)
    assert received == [{"type": "lifespan"}]
