"""Headers the app already set: a default header is never added over the app's own, and
no header the envelope sets is ever sent twice."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from opsgenie_envelope import EXPOSE_HEADERS, EnvelopeMiddleware, NotFound
from opsgenie_envelope.fastapi import install
from tests.support.asgi import make_client

pytestmark = pytest.mark.anyio

ORIGIN = "https://ops.example.com"
CORS = Middleware(CORSMiddleware, allow_origins=[ORIGIN], expose_headers=EXPOSE_HEADERS)
GZIP = Middleware(GZipMiddleware, minimum_size=10)
ORDERS = {"none": [], "cors-then-gzip": [CORS, GZIP], "gzip-then-cors": [GZIP, CORS]}
BROWSER = {"origin": ORIGIN, "accept-encoding": "gzip"}


def _app(outer_first: list[Middleware]) -> FastAPI:
    """Routes that answer with headers of their own; ``outer_first`` around the envelope."""
    app = FastAPI()
    install(app)
    for entry in reversed(outer_first):
        app.add_middleware(entry.cls, *entry.args, **entry.kwargs)

    @app.get("/own-429")
    async def own_429() -> Response:
        return JSONResponse(
            {"message": "Slow down"}, status_code=429, headers={"X-RateLimit-Reason": "API_KEY"}
        )

    @app.get("/own-429-state")
    async def own_429_state() -> Response:
        headers = {"X-RateLimit-Reason": "USER", "X-RateLimit-State": "THROTTLED"}
        return JSONResponse({"message": "Slow down"}, status_code=429, headers=headers)

    @app.get("/own-503")
    async def own_503() -> Response:
        return JSONResponse({"message": "Busy"}, status_code=503, headers={"Retry-After": "30"})

    @app.get("/http-429")
    async def http_429() -> None:
        raise HTTPException(429, "Slow down", headers={"X-RateLimit-Reason": "INTEGRATION"})

    @app.get("/forged-id")
    async def forged_id() -> Response:
        return JSONResponse({"id": "1"}, headers={"X-Request-ID": "forged", "X-Response-Time": "9"})

    @app.get("/raised-forged-id")
    async def raised_forged_id() -> None:
        raise NotFound(headers={"X-Request-ID": "forged"})

    @app.get("/cookies")
    async def cookies() -> Response:
        response = JSONResponse({"id": "1"})
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    return app


@pytest.fixture(params=list(ORDERS))
async def browser(request: pytest.FixtureRequest) -> httpx.AsyncClient:
    """A browser-like client on the app, alone and inside GZip and CORS in both orders."""
    return make_client(_app(ORDERS[request.param]), headers=BROWSER)


async def test_own_429_keeps_its_reason_once(browser: httpx.AsyncClient) -> None:
    """A handler's 429 with ``X-RateLimit-Reason: API_KEY`` goes out with that reason only."""
    async with browser:
        response = await browser.get("/own-429")
    assert response.status_code == 429
    assert response.headers.get_list("x-ratelimit-reason") == ["API_KEY"]
    assert response.headers.get_list("x-ratelimit-state") == ["THROTTLED"]
    assert response.json()["message"] == "Slow down"


async def test_own_429_state_is_not_doubled(browser: httpx.AsyncClient) -> None:
    """A 429 that sets ``X-RateLimit-State`` itself carries one, not two."""
    async with browser:
        response = await browser.get("/own-429-state")
    assert response.headers.get_list("x-ratelimit-state") == ["THROTTLED"]
    assert response.headers.get_list("x-ratelimit-reason") == ["USER"]


async def test_own_retry_after_is_kept_once(browser: httpx.AsyncClient) -> None:
    """A handler's 503 ``Retry-After`` is sent as given, once."""
    async with browser:
        response = await browser.get("/own-503")
    assert response.status_code == 503
    assert response.headers.get_list("retry-after") == ["30"]


async def test_http_exception_headers_win_over_defaults(browser: httpx.AsyncClient) -> None:
    """``HTTPException(429, headers=...)`` keeps its reason instead of the default one."""
    async with browser:
        response = await browser.get("/http-429")
    assert response.headers.get_list("x-ratelimit-reason") == ["INTEGRATION"]
    assert response.json()["message"] == "Slow down"


async def test_raised_http_exception_headers_win_over_defaults() -> None:
    """An ``HTTPException(429, headers=...)`` that reaches the envelope raw keeps its reason."""

    async def throttle(scope: Scope, receive: Receive, send: Send) -> None:
        raise HTTPException(429, "Slow down", headers={"X-RateLimit-Reason": "API_KEY"})

    async with make_client(EnvelopeMiddleware(throttle)) as client:
        response = await client.get("/alerts")
    assert response.status_code == 429
    assert response.headers.get_list("x-ratelimit-reason") == ["API_KEY"]
    assert response.headers.get_list("x-ratelimit-state") == ["THROTTLED"]


async def test_app_request_id_and_time_are_replaced_once(browser: httpx.AsyncClient) -> None:
    """The app's own ``X-Request-ID``/``X-Response-Time`` give way to one of each of ours."""
    async with browser:
        response = await browser.get("/forged-id")
    assert response.headers.get_list("x-request-id") == [response.json()["requestId"]]
    assert len(response.headers.get_list("x-response-time")) == 1
    assert "forged" not in response.headers.get_list("x-request-id")


async def test_error_headers_cannot_forge_the_request_id(browser: httpx.AsyncClient) -> None:
    """An error's ``headers`` cannot add a second ``X-Request-ID``."""
    async with browser:
        response = await browser.get("/raised-forged-id")
    assert response.headers.get_list("x-request-id") == [response.json()["requestId"]]


async def test_repeated_app_headers_are_left_alone(browser: httpx.AsyncClient) -> None:
    """Headers an app sends more than once on purpose (``Set-Cookie``) all go out."""
    async with browser:
        response = await browser.get("/cookies")
    assert len(response.headers.get_list("set-cookie")) == 2
