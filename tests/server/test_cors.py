"""CORS: browsers read the envelope's headers through Starlette's CORSMiddleware, given
``EXPOSE_HEADERS`` or ``install(app, cors=...)``."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opsgenie_envelope import (
    EXPOSE_HEADERS,
    EnvelopeMiddleware,
    NotFound,
    TooManyRequests,
    paged,
)
from opsgenie_envelope import _wire as wire
from opsgenie_envelope.fastapi import install
from tests.support.asgi import make_client

pytestmark = pytest.mark.anyio

ORIGIN = "https://ops.example.com"
FROM_BROWSER = {"origin": ORIGIN}


def _exposed(response: httpx.Response) -> list[str]:
    return [h.strip() for h in response.headers["access-control-expose-headers"].split(",")]


def test_expose_headers_names_every_header_the_envelope_sends() -> None:
    """``EXPOSE_HEADERS`` is the ID, the time, the rate-limit and the paging headers."""
    assert set(EXPOSE_HEADERS) == {
        wire.REQUEST_ID_HEADER,
        wire.RESPONSE_TIME_HEADER,
        *wire.RATE_LIMIT_HEADERS,
        *wire.PAGING_HEADERS.values(),
    }
    assert len(EXPOSE_HEADERS) == len(set(EXPOSE_HEADERS))


async def _alerts(request: Request) -> Response:
    return paged(request, [{"id": "1"}, {"id": "2"}], offset=0, limit=2, total=6)


async def _missing(request: Request) -> Response:
    raise NotFound()


def _starlette() -> Starlette:
    """The documented Starlette set-up: CORS listed first, with ``EXPOSE_HEADERS``."""
    return Starlette(
        routes=[Route("/v2/alerts", _alerts), Route("/missing", _missing)],
        middleware=[
            Middleware(CORSMiddleware, allow_origins=[ORIGIN], expose_headers=EXPOSE_HEADERS),
            Middleware(EnvelopeMiddleware),
        ],
    )


async def test_starlette_paged_answer_exposes_paging_headers() -> None:
    """A paged answer's ``X-Paging-*`` and ``X-Request-ID`` are exposed to the browser."""
    async with make_client(_starlette()) as client:
        response = await client.get("/v2/alerts?limit=2", headers=FROM_BROWSER)
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["x-paging-next"].endswith("offset=2&limit=2")
    assert {"X-Paging-Next", "X-Request-ID", "X-Response-Time"} <= set(_exposed(response))


async def test_starlette_error_is_readable_by_the_browser() -> None:
    """A raised error's envelope carries the CORS headers."""
    async with make_client(_starlette()) as client:
        response = await client.get("/missing", headers=FROM_BROWSER)
    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.json()["requestId"] == response.headers["x-request-id"]


def _installed(**cors: object) -> FastAPI:
    app = FastAPI()
    install(app, cors={"allow_origins": [ORIGIN], **cors})

    @app.get("/busy")
    async def busy() -> None:
        raise TooManyRequests(retry_after=3, reason="API_KEY")

    return app


async def test_install_cors_exposes_the_rate_limit_headers() -> None:
    """``install(app, cors=...)``: a raised 429's headers reach the browser."""
    async with make_client(_installed()) as client:
        response = await client.get("/busy", headers=FROM_BROWSER)
    assert response.status_code == 429
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert {"Retry-After", "X-RateLimit-Reason", "X-RateLimit-State"} <= set(_exposed(response))


async def test_install_cors_keeps_the_users_exposed_headers_once() -> None:
    """``expose_headers`` given in ``cors`` are kept, and each header is listed once."""
    app = _installed(expose_headers=["X-Custom", "x-request-id"])
    async with make_client(app) as client:
        response = await client.get("/busy", headers=FROM_BROWSER)
    exposed = [h.lower() for h in _exposed(response)]
    assert exposed[:2] == ["x-custom", "x-request-id"]
    assert len(exposed) == len(set(exposed)) == len(EXPOSE_HEADERS) + 1


async def test_install_cors_answers_preflight() -> None:
    """A preflight is answered by CORSMiddleware itself, around the envelope."""
    app = _installed(allow_methods=["GET", "POST"], allow_headers=["Authorization"])
    headers = {
        **FROM_BROWSER,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization",
    }
    async with make_client(app) as client:
        response = await client.options("/busy", headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]


def test_install_cors_refuses_an_unknown_keyword() -> None:
    """A keyword ``CORSMiddleware`` does not take fails at ``install``, naming ``cors``."""
    with pytest.raises(TypeError, match=r"cors: .*allow_origin"):
        install(FastAPI(), cors={"allow_origin": [ORIGIN]})


def test_install_cors_must_be_a_mapping() -> None:
    """``cors`` is a mapping of keywords."""
    with pytest.raises(TypeError, match="cors must be a mapping"):
        install(FastAPI(), cors=[ORIGIN])  # type: ignore[arg-type]


def test_install_cors_refuses_a_second_cors_middleware() -> None:
    """An app that has CORSMiddleware around the envelope already is told to expose there."""
    app = FastAPI()
    app.add_middleware(EnvelopeMiddleware)
    app.add_middleware(CORSMiddleware, allow_origins=[ORIGIN])
    with pytest.raises(RuntimeError, match="expose_headers=EXPOSE_HEADERS"):
        install(app, cors={"allow_origins": [ORIGIN]})
