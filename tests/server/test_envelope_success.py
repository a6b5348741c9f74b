"""Success envelopes (SPEC §3): splicing, key order, pass-through, streaming, HEAD."""

from __future__ import annotations

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
from tests.support.apps import ALERT, AppFactory, fastapi_app, starlette_app
from tests.support.asgi import call_asgi, header, make_client

pytestmark = pytest.mark.anyio


async def test_json_body_becomes_data(client: httpx.AsyncClient) -> None:
    """A handler's JSON object is returned under ``data``."""
    response = await client.get("/v2/alerts/1")
    body = response.json()
    assert response.status_code == 200
    assert {k: body["data"][k] for k in ALERT} == ALERT


async def test_key_order_is_data_took_request_id(client: httpx.AsyncClient) -> None:
    """Keys come in SPEC order: data, took, requestId."""
    response = await client.get("/r/list")
    assert list(response.json()) == ["data", "took", "requestId"]


async def test_payload_bytes_are_spliced_verbatim(client: httpx.AsyncClient) -> None:
    """The handler's bytes sit unchanged between ``{"data":`` and ``,"took":``."""
    response = await client.get("/r/list")
    assert response.content.startswith(b'{"data":[1,2,3],"took":')


async def test_null_return_has_no_data(client: httpx.AsyncClient) -> None:
    """A JSON ``null`` payload is no entity: the envelope has no ``data``."""
    response = await client.get("/r/null")
    assert list(response.json()) == ["took", "requestId"]
    assert response.headers["content-length"] == str(len(response.content))


async def test_empty_json_body_has_no_data(client: httpx.AsyncClient) -> None:
    """A JSON response with no body at all renders the envelope without ``data``."""
    response = await client.get("/r/empty-json")
    assert list(response.json()) == ["took", "requestId"]


@pytest.mark.parametrize("body", [b"null", b" null\n", b"\n", b"  "])
async def test_blank_or_null_bodies_have_no_data(body: bytes) -> None:
    """Whitespace around ``null``, or whitespace alone, is no entity either."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 202, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    messages = await call_asgi(EnvelopeMiddleware(app))
    assert list(orjson.loads(messages[1]["body"])) == ["took", "requestId"]


async def test_message_without_entity_opens_the_envelope() -> None:
    """A message on a 202 without entity: ``{"message", "took", "requestId"}``."""
    async with make_client(fastapi_app()) as client:
        response = await client.post("/accepted")
    assert response.content.startswith(b'{"message":"Request will be processed","took":')
    assert list(response.json()) == ["message", "took", "requestId"]


async def test_null_inside_a_payload_is_data() -> None:
    """Only a body that is ``null`` is no entity: ``[null]`` is spliced as ``data``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"[null]"})

    messages = await call_asgi(EnvelopeMiddleware(app))
    assert orjson.loads(messages[1]["body"])["data"] == [None]


async def test_content_length_is_recomputed(client: httpx.AsyncClient) -> None:
    """``Content-Length`` matches the enveloped body, once."""
    response = await client.get("/v2/alerts/1")
    assert response.headers.get_list("content-length") == [str(len(response.content))]


async def test_status_and_handler_headers_are_kept(client: httpx.AsyncClient) -> None:
    """A 201 keeps its status and the handler's own headers."""
    response = await client.get("/r/created")
    assert response.status_code == 201
    assert response.headers["location"] == "/v2/alerts/1"


async def test_handler_message_is_rendered_after_data(client: httpx.AsyncClient) -> None:
    """``set_message`` adds ``message`` between ``data`` and ``took``."""
    response = await client.get("/r/created")
    assert list(response.json()) == ["data", "message", "took", "requestId"]
    assert response.json()["message"] == "Alert created"


async def test_message_key_result_matches_opsgenie() -> None:
    """``message_key="result"`` renders OpsGenie's 202 body."""
    async with make_client(fastapi_app(message_key="result")) as client:
        response = await client.post("/accepted")
    assert response.status_code == 202
    assert list(response.json()) == ["result", "took", "requestId"]
    assert response.json()["result"] == "Request will be processed"


async def test_message_key_both_renders_both(make_app: AppFactory) -> None:
    """``message_key="both"`` renders ``message`` and ``result``."""
    async with make_client(make_app(message_key="both")) as client:
        body = (await client.get("/r/created")).json()
    assert body["message"] == body["result"] == "Alert created"


async def test_message_does_not_leak_into_next_request(client: httpx.AsyncClient) -> None:
    """A message set for one request is absent from the next."""
    await client.get("/r/created")
    response = await client.get("/r/list")
    assert "message" not in response.json()


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/r/html", "text/html"), ("/r/text", "text/plain"), ("/r/ndjson", "application/x-ndjson")],
)
async def test_non_json_passes_through(
    client: httpx.AsyncClient, path: str, content_type: str
) -> None:
    """Non-JSON media types are untouched but still carry the two headers."""
    response = await client.get(path)
    assert response.headers["content-type"].startswith(content_type)
    assert not response.content.startswith(b'{"data"')
    assert "x-request-id" in response.headers
    assert "x-response-time" in response.headers


async def test_content_encoding_passes_through(client: httpx.AsyncClient) -> None:
    """A body with ``Content-Encoding`` is opaque: left byte for byte."""
    messages = await call_asgi(starlette_app(), "/r/gzip")
    assert messages[1]["body"] == b"\x1f\x8bfake"
    assert header(messages[0], b"content-encoding") == [b"gzip"]


@pytest.mark.parametrize(("path", "status"), [("/r/no-content", 204), ("/r/not-modified", 304)])
async def test_no_body_statuses_stay_empty(make_app: AppFactory, path: str, status: int) -> None:
    """204 and 304 never get a body, but get the headers."""
    messages = await call_asgi(make_app(), path)
    assert messages[0]["status"] == status
    assert b"".join(m.get("body", b"") for m in messages[1:]) == b""
    assert header(messages[0], b"x-request-id")


async def test_already_enveloped_body_is_left_alone(client: httpx.AsyncClient) -> None:
    """A body that is already an envelope is not wrapped twice."""
    response = await client.get("/r/enveloped")
    assert response.content == b'{"data":{"a":1},"took":0.1,"requestId":"upstream-1"}'


async def test_openapi_and_docs_are_excluded() -> None:
    """FastAPI's ``/openapi.json`` and ``/docs`` are answered untouched."""
    async with make_client(fastapi_app()) as client:
        schema = await client.get("/openapi.json")
        docs = await client.get("/docs")
    assert "openapi" in schema.json()
    assert "x-request-id" in schema.headers
    assert docs.headers["content-type"].startswith("text/html")


async def test_custom_exclude_paths(make_app: AppFactory) -> None:
    """A path in ``exclude_paths`` gets headers but no envelope."""
    async with make_client(make_app(exclude_paths=["/r/list"])) as client:
        response = await client.get("/r/list")
    assert response.json() == [1, 2, 3]
    assert "x-request-id" in response.headers


async def test_stream_is_wrapped_chunk_by_chunk() -> None:
    """A multi-chunk JSON body is wrapped as it streams: prefix first, suffix last."""
    messages = await call_asgi(starlette_app(), "/r/stream")
    bodies = [m["body"] for m in messages[1:] if m.get("body")]
    assert bodies[0] == b'{"data":[{"n":'
    assert bodies[1] == b"1},"
    assert bodies[2] == b'{"n":2}]'
    assert bodies[3].startswith(b',"took":')
    assert orjson.loads(b"".join(bodies))["data"] == [{"n": 1}, {"n": 2}]


async def test_stream_is_not_buffered() -> None:
    """The start and the first chunk go out before the handler produces the rest."""
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b"[1", "more_body": True})
        seen.append("after first chunk")
        await send({"type": "http.response.body", "body": b",2]", "more_body": False})

    async def send(message: Message) -> None:
        seen.append(str(message["type"]))

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    await EnvelopeMiddleware(app)(scope, receive, send)
    assert seen == [
        "http.response.start",
        "http.response.body",
        "after first chunk",
        "http.response.body",
    ]


async def test_stream_with_known_length_keeps_exact_length() -> None:
    """A streamed JSON body with a ``Content-Length`` gets the enveloped length."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"[1", "more_body": True})
        await send({"type": "http.response.body", "body": b",2]"})

    messages = await call_asgi(EnvelopeMiddleware(app))
    body = b"".join(m.get("body", b"") for m in messages[1:])
    assert header(messages[0], b"content-length") == [str(len(body)).encode()]


async def test_empty_leading_chunks_are_skipped() -> None:
    """Empty chunks before the payload do not open the envelope early."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    messages = await call_asgi(EnvelopeMiddleware(app))
    assert list(orjson.loads(b"".join(m.get("body", b"") for m in messages[1:]))) == [
        "took",
        "requestId",
    ]


async def test_head_has_the_get_headers() -> None:
    """HEAD on a Starlette route carries the same Content-Length as the GET."""
    async with make_client(starlette_app()) as client:
        get = await client.get("/r/list")
        head = await client.head("/r/list")
    assert head.status_code == 200
    # Each answer carries its own ``took`` ("0.0", "0.001"): only its width may differ.
    took_width = len(head.headers["x-response-time"]) - len(get.headers["x-response-time"])
    assert int(head.headers["content-length"]) == int(get.headers["content-length"]) + took_width
    assert head.headers["content-type"] == "application/json"


async def test_head_without_body_announces_enveloped_length() -> None:
    """A HEAD answer that sends no body still announces the GET's enveloped length."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"7")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def get_app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"[1,2,3]"})

    ids = iter(["same-id", "same-id"])
    head = await call_asgi(EnvelopeMiddleware(app, generator=lambda: next(ids)), method="HEAD")
    get = await call_asgi(EnvelopeMiddleware(get_app, generator=lambda: "same-id"))
    get_length = header(get[0], b"content-length")[0]
    took_delta = len(header(head[0], b"x-response-time")[0]) - len(
        header(get[0], b"x-response-time")[0]
    )
    assert int(header(head[0], b"content-length")[0]) == int(get_length) + took_delta
    assert head[1]["body"] == b""


async def test_websocket_scope_passes_through() -> None:
    """Non-HTTP scopes go straight to the app."""

    async def ws(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "websocket"
        await send({"type": "websocket.close"})

    sent: list[object] = []

    async def send(message: object) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    await EnvelopeMiddleware(ws)({"type": "websocket", "path": "/"}, receive, send)
    assert sent == [{"type": "websocket.close"}]


async def test_nested_middleware_wraps_once() -> None:
    """A mounted app with its own middleware is enveloped once, with one ID."""

    async def inner_endpoint(request: Request) -> Response:
        return JSONResponse({"inner": True})

    inner = Starlette(
        routes=[Route("/x", inner_endpoint)], middleware=[Middleware(EnvelopeMiddleware)]
    )
    outer = Starlette(middleware=[Middleware(EnvelopeMiddleware)])
    outer.mount("/inner", inner)
    async with make_client(outer) as client:
        response = await client.get("/inner/x")
    assert response.json()["data"] == {"inner": True}
    assert response.json()["requestId"] == response.headers["x-request-id"]


async def test_pathsend_of_json_file_passes_through() -> None:
    """A JSON body sent by ``http.response.pathsend`` is not wrapped; headers still go first."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.pathsend", "path": "/tmp/x.json"})

    messages = await call_asgi(EnvelopeMiddleware(app))
    assert [m["type"] for m in messages] == ["http.response.start", "http.response.pathsend"]
    assert header(messages[0], b"content-length") == [b"2"]
    assert header(messages[0], b"x-request-id")
