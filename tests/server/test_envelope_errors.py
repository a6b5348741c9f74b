"""Error envelopes (SPEC §4): raised errors, framework errors, unexpected exceptions."""

from __future__ import annotations

import json

import httpx
import orjson
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from opsgenie_envelope import EnvelopeMiddleware, NotFound
from tests.support.apps import AlertIn, AppFactory, fastapi_app, starlette_app
from tests.support.asgi import call_asgi, header, make_client

pytestmark = pytest.mark.anyio


async def test_raised_error_renders_envelope(client: httpx.AsyncClient) -> None:
    """``raise NotFound("...")`` answers 404 with the message, took and requestId in order."""
    response = await client.get("/fail/not-found")
    assert response.status_code == 404
    assert list(response.json()) == ["message", "took", "requestId"]
    assert response.json()["message"] == "Alert does not exist"
    assert response.headers["content-type"] == "application/json"


async def test_error_body_request_id_matches_header(client: httpx.AsyncClient) -> None:
    """The error body's ``requestId`` is the ``X-Request-ID`` header."""
    response = await client.get("/fail/not-found")
    assert response.json()["requestId"] == response.headers["x-request-id"]


async def test_429_sets_retry_after_and_rate_limit_headers(client: httpx.AsyncClient) -> None:
    """TooManyRequests rounds Retry-After up and sets OpsGenie's X-RateLimit-* headers."""
    response = await client.get("/fail/throttled")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.headers["x-ratelimit-state"] == "THROTTLED"
    assert response.headers["x-ratelimit-reason"] == "API_KEY"
    assert response.headers["x-ratelimit-period-in-sec"] == "60"


async def test_503_retry_after_is_at_least_one(client: httpx.AsyncClient) -> None:
    """ServiceUnavailable(retry_after=0.2) sends ``Retry-After: 1``."""
    response = await client.get("/fail/unavailable")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["message"] == "Back-end servers are at capacity"


async def test_router_404_is_enveloped(client: httpx.AsyncClient) -> None:
    """No route: a 404 envelope with OpsGenie's message."""
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json()["message"] == "Resource or handler not found"
    assert "x-request-id" in response.headers


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    """Wrong method: a 405 envelope that keeps ``Allow``."""
    response = await client.delete("/v2/alerts/1")
    assert response.status_code == 405
    assert response.json()["message"] == "Method Not Allowed"
    assert "GET" in response.headers["allow"]


async def test_starlette_http_exception_keeps_detail_and_headers(client: httpx.AsyncClient) -> None:
    """``HTTPException(409, detail, headers)`` keeps status, detail as message, headers."""
    response = await client.get("/fail/http-exception")
    assert response.status_code == 409
    assert response.json()["message"] == "Alias already used"
    assert response.headers["x-hint"] == "rename"


async def test_fastapi_http_exception_keeps_detail_and_headers() -> None:
    """FastAPI's ``HTTPException`` renders the same as Starlette's."""
    async with make_client(fastapi_app()) as client:
        response = await client.get("/fail/fastapi-http-exception")
    assert response.status_code == 409
    assert response.json()["message"] == "Alias already used"
    assert response.headers["x-hint"] == "rename"


async def test_http_403_gets_forbidden_code(client: httpx.AsyncClient) -> None:
    """Mapped framework errors take the taxonomy's internal code (403 → 40301)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.exceptions import HTTPException

        raise HTTPException(403)

    async with make_client(EnvelopeMiddleware(app)) as raw:
        response = await raw.get("/")
    assert response.json()["code"] == 40301
    assert response.json()["message"] == "You are not allowed to perform this operation"


async def test_fastapi_validation_error_is_422_with_errors() -> None:
    """FastAPI's validation error becomes a 422 envelope with a field → message map."""
    async with make_client(fastapi_app()) as client:
        response = await client.post("/echo", json={"priority": "not-a-number"})
    body = response.json()
    assert response.status_code == 422
    assert body["message"] == "Request body is not processable. Please check the errors."
    assert set(body["errors"]) == {"message", "priority"}
    assert list(body) == ["message", "errors", "took", "requestId"]


async def test_fastapi_query_validation_error_says_where() -> None:
    """A malformed query parameter answers 422 naming the parameter, not the body."""
    app = FastAPI()
    app.add_middleware(EnvelopeMiddleware)

    @app.get("/v2/alerts")
    async def list_alerts(limit: int = 20) -> list[int]:
        return []

    async with make_client(app) as client:
        response = await client.get("/v2/alerts?limit=ten")
    body = response.json()
    assert response.status_code == 422
    assert body["message"].startswith("Invalid query parameter 'limit': Input should be")
    assert list(body["errors"]) == ["limit"]


async def test_fastapi_mixed_validation_errors_name_each_part() -> None:
    """Path, query and body errors at once: the message lists each part and its fields."""
    app = FastAPI()
    app.add_middleware(EnvelopeMiddleware)

    @app.post("/v2/alerts/{tiny_id}")
    async def update(tiny_id: int, body: AlertIn, notify: bool = False) -> None:
        return None

    async with make_client(app) as client:
        response = await client.post("/v2/alerts/x?notify=maybe", json={"priority": 1})
    assert response.json()["message"] == (
        "Invalid path parameter 'tiny_id', query parameter 'notify' and body field 'message'. "
        "Please check the errors."
    )
    assert set(response.json()["errors"]) == {"tiny_id", "notify", "message"}


async def test_validation_errors_never_echo_input() -> None:
    """The submitted value never appears in a 422 body."""
    async with make_client(fastapi_app()) as client:
        response = await client.post("/echo", json={"message": "m", "priority": "SECRET-VALUE-42"})
    assert response.status_code == 422
    assert "SECRET-VALUE-42" not in response.text


async def test_fastapi_malformed_json_is_400() -> None:
    """A JSON syntax error in the body is 400 ``Invalid JSON body``, not 422."""
    async with make_client(fastapi_app()) as client:
        response = await client.post(
            "/echo", content=b'{"message": ', headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid JSON body"
    assert "errors" not in response.json()


async def test_starlette_malformed_json_is_400() -> None:
    """``await request.json()`` on a malformed body answers 400."""
    async with make_client(starlette_app()) as client:
        response = await client.post("/echo", content=b"{nope")
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid JSON body"


async def test_wrong_types_in_valid_json_is_not_400() -> None:
    """Valid JSON with the wrong types is a 422, not a syntax error."""
    async with make_client(fastapi_app()) as client:
        response = await client.post("/echo", json=["not", "an", "object"])
    assert response.status_code == 422


async def test_unexpected_exception_is_500_without_text(client: httpx.AsyncClient) -> None:
    """Any other exception: 500 envelope with no exception text or type."""
    response = await client.get("/fail/boom")
    assert response.status_code == 500
    assert response.json()["message"] == "Internal Server Error"
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert "x-request-id" in response.headers


async def test_debug_puts_exception_text_in_500(make_app: AppFactory) -> None:
    """With ``debug=True`` the 500 message names the exception."""
    async with make_client(make_app(debug=True)) as client:
        response = await client.get("/fail/boom")
    assert response.json()["message"] == "RuntimeError: database password is hunter2"


async def test_unexpected_exception_is_reraised_with_request_id(make_app: AppFactory) -> None:
    """The exception reaches the server (which logs it) carrying the request ID as a note."""
    async with make_client(make_app(), raise_app_exceptions=True) as client:
        with pytest.raises(RuntimeError) as caught:
            await client.get("/fail/boom")
    notes = getattr(caught.value, "__notes__", [])
    assert len(notes) == 1
    assert notes[0].startswith("request_id: ")


async def test_unexpected_exception_is_not_logged_by_us(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The middleware does not log the exception itself: the server logs it once."""
    async with make_client(make_app()) as client:
        await client.get("/fail/boom")
    assert not [r for r in caplog.records if r.name.startswith("opsgenie_envelope") and r.exc_info]


async def test_api_error_is_not_reraised(make_app: AppFactory) -> None:
    """A taxonomy error is handled: nothing propagates to the server."""
    async with make_client(make_app(), raise_app_exceptions=True) as client:
        response = await client.get("/fail/not-found")
    assert response.status_code == 404


async def test_plain_text_error_response_becomes_envelope(client: httpx.AsyncClient) -> None:
    """A handler's ``text/plain`` error answer is enveloped with its text as message."""
    response = await client.get("/r/text-error")
    assert response.status_code == 402
    assert response.json()["message"] == "Quota exceeded for this key"


async def test_html_error_response_is_not_echoed(client: httpx.AsyncClient) -> None:
    """An HTML error page becomes the status's default message, never the HTML."""
    response = await client.get("/r/html-error")
    assert response.status_code == 502
    assert response.json()["message"] == "Bad Gateway"
    assert "Traceback" not in response.text


async def test_exception_after_start_aborts_without_suffix() -> None:
    """A stream that fails mid-body is never closed as if complete; the error propagates."""
    sent: list[Message] = []
    with pytest.raises(RuntimeError) as caught:
        await call_asgi(starlette_app(), "/r/stream-fails", sent=sent)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert body == b'{"data":[{"n":1},'
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    assert caught.value.__notes__[0].startswith("request_id: ")


async def test_exception_before_first_chunk_renders_500(client: httpx.AsyncClient) -> None:
    """A stream that fails before its first chunk still gets a complete 500 envelope."""
    response = await client.get("/r/stream-fails-early")
    assert response.status_code == 500
    assert response.json()["message"] == "Internal Server Error"
    assert "secret-token" not in response.text


async def test_error_headers_cannot_inject_lines() -> None:
    """CR/LF in an error's header value is blanked, never sent raw."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise NotFound(headers={"x-note": "a\r\nSet-Cookie: evil=1"})

    messages = await call_asgi(EnvelopeMiddleware(app))
    assert header(messages[0], b"x-note") == [b"a  Set-Cookie: evil=1"]
    assert not header(messages[0], b"set-cookie")


async def test_json_decode_error_maps_to_400() -> None:
    """A ``json.JSONDecodeError`` escaping a handler is a 400."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        json.loads("{")

    messages = await call_asgi(EnvelopeMiddleware(app))
    assert messages[0]["status"] == 400


async def test_user_json_error_body_keeps_code_and_errors() -> None:
    """An OpsGenie-shaped JSON error from a handler keeps its code and errors."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = b'{"code":40901,"message":"Alias taken","errors":{"alias":"in use"}}'
        await send(
            {
                "type": "http.response.start",
                "status": 409,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async with make_client(EnvelopeMiddleware(app)) as client:
        body = (await client.get("/")).json()
    assert body["code"] == 40901
    assert body["message"] == "Alias taken"
    assert body["errors"] == {"alias": "in use"}
    assert list(body) == ["code", "message", "errors", "took", "requestId"]


async def test_error_body_is_never_empty() -> None:
    """An error answer with no body gets the default message."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 410, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async with make_client(EnvelopeMiddleware(app)) as client:
        response = await client.get("/")
    assert response.json()["message"] == "Feature is deprecated"
