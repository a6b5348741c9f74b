"""Order with Starlette's GZipMiddleware and CORSMiddleware: wrapping the envelope, every
answer is right in either order between them; inside it, the app refuses to start."""

from __future__ import annotations

import gzip

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsgenie_envelope import (
    EXPOSE_HEADERS,
    EnvelopeMiddleware,
    NotFound,
    TooManyRequests,
)
from opsgenie_envelope.fastapi import install
from tests.support.asgi import make_client

pytestmark = pytest.mark.anyio

ORIGIN = "https://ops.example.com"
BROWSER = {"origin": ORIGIN, "accept-encoding": "gzip"}
ROWS = [{"id": n, "message": "Our servers are in danger"} for n in range(40)]
CORS = Middleware(CORSMiddleware, allow_origins=[ORIGIN], expose_headers=EXPOSE_HEADERS)
GZIP = Middleware(GZipMiddleware, minimum_size=100)


def _fastapi(outer_first: list[Middleware]) -> FastAPI:
    """FastAPI with the envelope installed first, then ``outer_first`` added around it."""
    app = FastAPI()
    install(app)
    for entry in reversed(outer_first):  # add_middleware puts the last added outermost
        app.add_middleware(entry.cls, *entry.args, **entry.kwargs)

    @app.get("/alerts")
    async def list_alerts() -> list[dict[str, object]]:
        return ROWS

    @app.get("/count")
    async def count(limit: int) -> int:
        return limit

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("Alert does not exist")

    @app.get("/busy")
    async def busy() -> None:
        raise TooManyRequests(retry_after=1)

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("secret-token-123")

    return app


async def _rows(request: Request) -> Response:
    return JSONResponse(ROWS)


async def _missing(request: Request) -> Response:
    raise NotFound("Alert does not exist")


async def _busy(request: Request) -> Response:
    raise TooManyRequests(retry_after=1)


async def _broken(request: Request) -> Response:
    raise RuntimeError("secret-token-123")


def _starlette(outer_first: list[Middleware]) -> Starlette:
    """Starlette with ``outer_first`` listed before (so around) the envelope."""
    routes = [
        Route("/alerts", _rows),
        Route("/missing", _missing),
        Route("/busy", _busy),
        Route("/broken", _broken),
    ]
    return Starlette(routes=routes, middleware=[*outer_first, Middleware(EnvelopeMiddleware)])


ORDERS = {"cors-then-gzip": [CORS, GZIP], "gzip-then-cors": [GZIP, CORS]}
BUILDERS = {"fastapi": _fastapi, "starlette": _starlette}


@pytest.fixture(params=[(b, o) for b in BUILDERS for o in ORDERS], ids=lambda p: "-".join(p))
def outer_app(request: pytest.FixtureRequest) -> ASGIApp:
    """The app with CORS and GZip around the envelope, in both orders between them."""
    builder, order = request.param
    app: ASGIApp = BUILDERS[builder](ORDERS[order])
    return app


def _assert_browser_readable(response: httpx.Response) -> None:
    """The CORS headers are there and expose the envelope's headers."""
    assert response.headers["access-control-allow-origin"] == ORIGIN
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"x-request-id", "x-response-time"} <= exposed


async def test_large_success_is_an_envelope_then_compressed(outer_app: ASGIApp) -> None:
    """A gzip-accepting browser gets the envelope, compressed, with CORS headers."""
    async with make_client(outer_app) as client:
        response = await client.get("/alerts", headers=BROWSER)
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["data"] == ROWS
    assert response.json()["requestId"] == response.headers["x-request-id"]
    _assert_browser_readable(response)


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/missing", 404, "Alert does not exist"),
        ("/busy", 429, "You are making too many requests!"),
        ("/broken", 500, "Internal Server Error"),  # sent before the exception is re-raised
    ],
)
async def test_raised_errors_carry_cors_headers(
    outer_app: ASGIApp, path: str, status: int, message: str
) -> None:
    """A raised error (404, 429, an unexpected 500) is an envelope a browser can read."""
    async with make_client(outer_app) as client:
        response = await client.get(path, headers=BROWSER)
    assert response.status_code == status
    assert response.json()["message"] == message
    _assert_browser_readable(response)


@pytest.mark.parametrize("order", list(ORDERS))
async def test_validation_error_is_enveloped_and_compressed(order: str) -> None:
    """FastAPI's 422 is the envelope (no submitted input) even when compressed after."""
    app = _fastapi(ORDERS[order])
    secret = "x" * 200 + "-secret-input"
    async with make_client(app) as client:
        response = await client.get("/count", params={"limit": secret}, headers=BROWSER)
    assert response.status_code == 422
    assert response.headers["content-encoding"] == "gzip"
    assert set(response.json()) == {"message", "errors", "took", "requestId"}
    assert "secret-input" not in response.text
    _assert_browser_readable(response)


@pytest.mark.parametrize(
    ("inner", "name"), [(GZIP, "GZipMiddleware"), (CORS, "CORSMiddleware")], ids=["gzip", "cors"]
)
def test_install_refuses_middleware_added_before_it(inner: Middleware, name: str) -> None:
    """Middleware added before ``install`` would sit inside: refused there, naming the fix."""
    app = FastAPI()
    app.add_middleware(inner.cls, *inner.args, **inner.kwargs)
    with pytest.raises(
        RuntimeError, match=f"{name} on the app sits inside EnvelopeMiddleware"
    ) as exc:
        install(app)
    assert f"app.add_middleware({name}" in str(exc.value)
    assert "after install(app)" in str(exc.value)


@pytest.mark.parametrize("inner", [GZIP, CORS], ids=["gzip", "cors"])
def test_starlette_app_refuses_to_start_with_middleware_inside(inner: Middleware) -> None:
    """Listed after the envelope, the app fails at start-up (lifespan), naming the fix."""
    app = Starlette(
        routes=[Route("/alerts", _rows)], middleware=[Middleware(EnvelopeMiddleware), inner]
    )
    with (
        pytest.raises(RuntimeError, match=r"list it before Middleware\(EnvelopeMiddleware\)"),
        TestClient(app),
    ):
        pass  # pragma: no cover - start-up fails before this runs


def _sub_with(inner: Middleware) -> FastAPI:
    sub = FastAPI()
    sub.add_middleware(inner.cls, *inner.args, **inner.kwargs)
    return sub


@pytest.mark.parametrize("inner", [GZIP, CORS], ids=["gzip", "cors"])
def test_middleware_on_an_app_mounted_later_is_refused_at_start_up(inner: Middleware) -> None:
    """The same layer on an app mounted after ``install`` sits inside the envelope too."""
    parent = FastAPI()
    install(parent)
    parent.mount("/api", _sub_with(inner))
    with (
        pytest.raises(RuntimeError, match="on the app mounted at '/api' sits inside"),
        TestClient(parent),
    ):
        pass  # pragma: no cover - start-up fails before this runs


@pytest.mark.parametrize("inner", [GZIP, CORS], ids=["gzip", "cors"])
def test_middleware_on_an_app_mounted_before_install_is_refused_by_it(inner: Middleware) -> None:
    """Mounted before ``install``, the app with the layer is refused by ``install`` itself."""
    parent = FastAPI()
    parent.mount("/api", _sub_with(inner))
    with pytest.raises(RuntimeError, match="on the app mounted at '/api' sits inside"):
        install(parent)


def test_wrapping_directly_is_refused_too() -> None:
    """``EnvelopeMiddleware(GZipMiddleware(app))`` is the same order, refused at once."""
    with pytest.raises(RuntimeError, match="GZipMiddleware on the app sits inside"):
        EnvelopeMiddleware(GZipMiddleware(Starlette()))


class _Compress:
    """A compressing middleware the envelope does not know: gzips every body it sees."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message = {}

        async def compress(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            body = gzip.compress(message.get("body", b""))
            headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
            headers += [(b"content-encoding", b"gzip"), (b"content-length", b"%d" % len(body))]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, compress)


async def test_encoded_error_from_an_unknown_layer_is_still_an_envelope() -> None:
    """An error whose body is encoded cannot be read: it answers its status's envelope."""
    app = _fastapi([])
    app.add_middleware(_Compress)
    app.user_middleware.reverse()  # put it inside the envelope
    async with make_client(app) as client:
        response = await client.get("/count", params={"limit": "secret-input"})
    assert response.status_code == 422
    assert "content-encoding" not in response.headers
    assert response.json()["message"] == "Request body is not processable. Please check the errors."
    assert "secret-input" not in response.text
