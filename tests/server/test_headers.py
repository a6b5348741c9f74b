"""SPEC §1 and §2 on every response: X-Request-ID, X-Response-Time, took, the ID in context."""

from __future__ import annotations

import asyncio
import logging
import re

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from opsgenie_envelope import EnvelopeMiddleware, RequestIdFilter, get_request_id
from tests.support.apps import AppFactory
from tests.support.asgi import call_asgi, header, make_client

pytestmark = pytest.mark.anyio

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TOOK = re.compile(r"(0|[1-9][0-9]*)\.[0-9]{1,3}")

EVERY_KIND = [
    "/v2/alerts/1",  # JSON success
    "/r/html",  # non-JSON
    "/r/stream",  # streamed JSON
    "/r/no-content",  # 204
    "/fail/not-found",  # raised ApiError
    "/fail/http-exception",  # HTTPException
    "/fail/boom",  # unhandled exception (500)
    "/no/such/route",  # router 404
    "/openapi.json",  # excluded path (404 on Starlette, docs on FastAPI)
]


@pytest.mark.parametrize("path", EVERY_KIND)
async def test_every_response_has_both_headers_once(client: httpx.AsyncClient, path: str) -> None:
    """Each kind of response carries exactly one X-Request-ID and one X-Response-Time."""
    response = await client.get(path)
    assert len(response.headers.get_list("x-request-id")) == 1
    assert len(response.headers.get_list("x-response-time")) == 1
    assert UUID4.fullmatch(response.headers["x-request-id"])
    assert TOOK.fullmatch(response.headers["x-response-time"])


async def test_wrong_method_has_both_headers(client: httpx.AsyncClient) -> None:
    """A router 405 carries the two headers."""
    response = await client.post("/v2/alerts/1")
    assert response.status_code == 405
    assert UUID4.fullmatch(response.headers["x-request-id"])
    assert "x-response-time" in response.headers


async def test_validation_error_has_both_headers() -> None:
    """A FastAPI validation error carries the two headers."""
    from tests.support.apps import fastapi_app

    async with make_client(fastapi_app()) as client:
        response = await client.post("/echo", json={})
    assert response.status_code == 422
    assert UUID4.fullmatch(response.headers["x-request-id"])


async def test_handler_headers_are_replaced_not_duplicated(client: httpx.AsyncClient) -> None:
    """A handler's own X-Request-ID/X-Response-Time are replaced by ours, never appended."""
    response = await client.get("/r/forged-headers")
    assert response.headers.get_list("x-request-id") == [response.json()["requestId"]]
    assert response.headers.get_list("x-response-time") != ["9"]


async def test_header_matches_body(client: httpx.AsyncClient) -> None:
    """``requestId`` equals X-Request-ID and ``took`` equals X-Response-Time."""
    response = await client.get("/v2/alerts/1")
    body = response.json()
    assert body["requestId"] == response.headers["x-request-id"]
    assert str(body["took"]) == response.headers["x-response-time"]


async def test_took_is_a_json_number_with_three_decimals(client: httpx.AsyncClient) -> None:
    """``took`` is a float rounded to 3 decimals, rendered as a bare JSON number."""
    response = await client.get("/v2/alerts/1")
    took = response.json()["took"]
    assert isinstance(took, float)
    assert round(took, 3) == took
    assert re.search(rb'"took":(0|[1-9][0-9]*)\.[0-9]{1,3},"requestId"', response.content)


async def test_took_measures_time_until_response_start() -> None:
    """A handler that sleeps 50 ms reports a took of at least 0.05."""

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(0.05)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})

    async with make_client(EnvelopeMiddleware(slow)) as client:
        response = await client.get("/")
    assert 0.05 <= response.json()["took"] < 5


async def test_ids_are_fresh_per_request(client: httpx.AsyncClient) -> None:
    """Every request gets a new ID."""
    ids = {(await client.get("/v2/alerts/1")).headers["x-request-id"] for _ in range(20)}
    assert len(ids) == 20


async def test_incoming_id_is_ignored_by_default(client: httpx.AsyncClient) -> None:
    """By default a client's X-Request-ID is not trusted: OpsGenie issues its own."""
    response = await client.get("/v2/alerts/1", headers={"x-request-id": "client-chosen-id"})
    assert response.headers["x-request-id"] != "client-chosen-id"
    assert UUID4.fullmatch(response.headers["x-request-id"])


@pytest.mark.parametrize(
    "incoming",
    [
        "8a88410f-3129-483d-87b7-b09ffdb1ac2c",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    ],
)
async def test_trusted_incoming_id_is_used(make_app: AppFactory, incoming: str) -> None:
    """With ``trust_incoming_id``, UUIDs, trace IDs and ULIDs are used as they come."""
    async with make_client(make_app(trust_incoming_id=True)) as client:
        response = await client.get("/v2/alerts/1", headers={"x-request-id": incoming})
    assert response.headers["x-request-id"] == incoming
    assert response.json()["requestId"] == incoming
    assert response.json()["data"]["seen"] == incoming


@pytest.mark.parametrize(
    "incoming", ["a b", "x" * 129, "id\u00e9", "<script>", "a,b", "a;b", 'a"b']
)
async def test_bad_incoming_id_is_replaced_and_not_echoed(
    make_app: AppFactory, incoming: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An ID outside the allowlist is replaced by a fresh one; the warning omits it."""
    caplog.set_level(logging.WARNING, "opsgenie_envelope")
    async with make_client(make_app(trust_incoming_id=True)) as client:
        response = await client.get(
            "/v2/alerts/1", headers={b"x-request-id": incoming.encode("utf-8")}
        )
    assert UUID4.fullmatch(response.headers["x-request-id"])
    warnings = [r for r in caplog.records if r.name == "opsgenie_envelope"]
    assert len(warnings) == 1
    assert incoming not in warnings[0].getMessage()
    assert incoming not in response.text


async def test_duplicate_incoming_ids_are_not_trusted(make_app: AppFactory) -> None:
    """Several X-Request-ID headers: none is trusted."""
    async with make_client(make_app(trust_incoming_id=True)) as client:
        response = await client.get(
            "/v2/alerts/1", headers=[("x-request-id", "aaa"), ("x-request-id", "bbb")]
        )
    assert response.headers["x-request-id"] not in ("aaa", "bbb")


async def test_custom_validator(make_app: AppFactory) -> None:
    """A custom validator decides which incoming IDs are trusted."""
    options = {"trust_incoming_id": True, "validator": lambda value: value.startswith("req-")}
    async with make_client(make_app(**options)) as client:
        kept = await client.get("/v2/alerts/1", headers={"x-request-id": "req-1"})
        replaced = await client.get("/v2/alerts/1", headers={"x-request-id": "other"})
    assert kept.headers["x-request-id"] == "req-1"
    assert replaced.headers["x-request-id"] != "other"


async def test_custom_generator(make_app: AppFactory) -> None:
    """The ``generator`` option issues the IDs."""
    counter = iter(range(100))
    async with make_client(make_app(generator=lambda: f"req-{next(counter)}")) as client:
        first = await client.get("/v2/alerts/1")
        second = await client.get("/fail/not-found")
    assert first.headers["x-request-id"] == "req-0"
    assert second.json()["requestId"] == "req-1"


async def test_generator_output_outside_allowlist_is_replaced(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A generator returning an unsafe ID cannot inject headers: a UUID4 is used instead."""
    async with make_client(make_app(generator=lambda: "bad\r\nid")) as client:
        response = await client.get("/v2/alerts/1")
    assert UUID4.fullmatch(response.headers["x-request-id"])
    assert any("allowlist" in r.getMessage() for r in caplog.records)


async def test_id_is_readable_in_handler_and_scope(client: httpx.AsyncClient) -> None:
    """``get_request_id()`` and ``scope`` give the handler the response's ID."""
    response = await client.get("/v2/alerts/1")
    data = response.json()["data"]
    assert data["seen"] == data["scope"] == response.headers["x-request-id"]


async def test_id_is_readable_in_sync_handler() -> None:
    """A sync FastAPI handler (thread pool) sees the same ID."""
    from tests.support.apps import fastapi_app

    async with make_client(fastapi_app()) as client:
        response = await client.get("/sync")
    assert response.json()["data"]["seen"] == response.headers["x-request-id"]


async def test_id_does_not_leak_after_request(client: httpx.AsyncClient) -> None:
    """Once a request ends, ``get_request_id()`` is ``None`` again, also after a 500."""
    await client.get("/v2/alerts/1")
    assert get_request_id() is None
    await client.get("/fail/boom")
    assert get_request_id() is None


async def test_id_is_readable_in_exception_handler() -> None:
    """An app exception handler sees the request ID."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    class Custom(Exception):
        pass

    async def endpoint(request: Request) -> Response:
        raise Custom

    async def handle(request: Request, exc: Exception) -> Response:
        return JSONResponse({"handled_for": get_request_id()}, status_code=418)

    app = Starlette(
        routes=[Route("/", endpoint)],
        middleware=[Middleware(EnvelopeMiddleware)],
        exception_handlers={Custom: handle},
    )
    async with make_client(app) as client:
        response = await client.get("/")
    assert response.status_code == 418
    assert response.json()["message"] == "I'm a Teapot"
    assert response.headers["x-request-id"]


async def test_log_records_carry_request_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """``RequestIdFilter`` stamps records logged during a request with its ID."""
    handler = caplog.handler
    log_filter = RequestIdFilter()
    handler.addFilter(log_filter)
    try:
        with caplog.at_level(logging.INFO, "tests.support.apps"):
            response = await client.get("/v2/alerts/1")
    finally:
        handler.removeFilter(log_filter)
    records = [r for r in caplog.records if r.name == "tests.support.apps"]
    assert [getattr(r, "request_id", None) for r in records] == [response.headers["x-request-id"]]


def test_log_filter_default_outside_request() -> None:
    """Outside a request the filter stamps the default value."""
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    assert RequestIdFilter(default="none").filter(record)
    assert record.request_id == "none"  # type: ignore[attr-defined]


async def test_concurrent_requests_keep_their_own_ids(client: httpx.AsyncClient) -> None:
    """200 concurrent requests each see their own ID, in body, header and handler."""
    responses = await asyncio.gather(*(client.get("/v2/alerts/1") for _ in range(200)))
    ids = [r.headers["x-request-id"] for r in responses]
    assert len(set(ids)) == 200
    for response in responses:
        body = response.json()
        assert body["requestId"] == body["data"]["seen"] == response.headers["x-request-id"]


async def test_header_set_on_raw_asgi_response() -> None:
    """Headers are added to raw ASGI responses too, replacing mixed-case duplicates."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"X-Request-ID", b"inner")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})

    messages = await call_asgi(EnvelopeMiddleware(app))
    assert len(header(messages[0], b"x-request-id")) == 1
    assert header(messages[0], b"x-request-id") != [b"inner"]
