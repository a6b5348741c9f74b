"""The excluded paths follow the app's own documentation URLs, read once."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette

import opsgenie_envelope._middleware as middleware_module
from opsgenie_envelope import DEFAULT_EXCLUDE_PATHS, EnvelopeMiddleware, docs_paths
from tests.support.asgi import make_client

pytestmark = pytest.mark.anyio


def _app(**fastapi_options: Any) -> FastAPI:
    """A FastAPI app with one route, ``/ping``, behind the middleware with default options."""
    app = FastAPI(**fastapi_options)
    app.add_middleware(EnvelopeMiddleware)

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return app


def test_default_fastapi_urls() -> None:
    """A FastAPI app with default URLs has the default set."""
    assert docs_paths(FastAPI()) == DEFAULT_EXCLUDE_PATHS


def test_custom_urls_are_followed() -> None:
    """Custom ``openapi_url`` and ``docs_url`` replace the defaults."""
    app = FastAPI(openapi_url="/api/schema.json", docs_url="/swagger", redoc_url=None)
    assert docs_paths(app) == {"/api/schema.json", "/swagger", "/docs/oauth2-redirect"}


def test_docs_url_none_drops_swagger_and_its_redirect() -> None:
    """``docs_url=None`` serves neither Swagger UI nor its OAuth2 redirect."""
    assert docs_paths(FastAPI(docs_url=None)) == {"/openapi.json", "/redoc"}


def test_openapi_url_none_serves_no_docs() -> None:
    """``openapi_url=None`` turns off every documentation URL."""
    assert docs_paths(FastAPI(openapi_url=None)) == frozenset()


def test_app_without_docs_urls_gets_the_defaults() -> None:
    """A plain Starlette app keeps :data:`DEFAULT_EXCLUDE_PATHS`."""
    assert docs_paths(Starlette()) == DEFAULT_EXCLUDE_PATHS


async def test_custom_openapi_url_is_served_untouched() -> None:
    """The document at a custom ``openapi_url`` is not wrapped."""
    async with make_client(_app(openapi_url="/api/schema.json")) as client:
        response = await client.get("/api/schema.json")
    assert response.status_code == 200
    assert "openapi" in response.json()
    assert "x-request-id" in response.headers


async def test_default_openapi_url_is_no_longer_excluded_when_moved() -> None:
    """With a custom ``openapi_url``, ``/openapi.json`` is a 404 error envelope."""
    async with make_client(_app(openapi_url="/api/schema.json")) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 404
    assert response.json()["message"] == "Resource or handler not found"


async def test_custom_docs_url_skips_negotiation() -> None:
    """A browser asking ``/swagger`` for HTML only gets Swagger UI, not a 406."""
    async with make_client(_app(docs_url="/swagger")) as client:
        response = await client.get("/swagger", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_disabled_docs_url_is_an_ordinary_path() -> None:
    """With ``docs_url=None``, ``/docs`` is answered like any unknown path."""
    async with make_client(_app(docs_url=None)) as client:
        response = await client.get("/docs", headers={"accept": "text/html"})
    assert response.status_code == 406


async def test_middleware_wrapping_the_app_reads_its_urls() -> None:
    """``EnvelopeMiddleware(app)`` outside the app reads the wrapped app's URLs."""
    app = EnvelopeMiddleware(FastAPI(openapi_url="/spec.json"))
    async with make_client(app) as client:
        response = await client.get("/spec.json")
    assert "openapi" in response.json()


async def test_explicit_exclude_paths_add_to_the_docs_urls() -> None:
    """Given ``exclude_paths`` are excluded besides the documentation URLs, not instead."""
    app = FastAPI()
    app.add_middleware(EnvelopeMiddleware, exclude_paths=["/ping"])

    @app.get("/ping")
    async def ping() -> list[int]:
        return [1]

    async with make_client(app) as client:
        ping_response = await client.get("/ping")
        schema_response = await client.get("/openapi.json")
    assert ping_response.json() == [1]
    assert "openapi" in schema_response.json()


async def test_urls_are_read_on_the_first_request_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's URLs are read once, not on every request."""
    calls: list[object] = []

    def counting(app: object) -> frozenset[str]:
        calls.append(app)
        return docs_paths(app)

    monkeypatch.setattr(middleware_module, "docs_paths", counting)
    app = _app()
    async with make_client(app) as client:
        for _ in range(3):
            await client.get("/ping")
    assert calls == [app]


async def test_docs_of_a_mounted_app_are_excluded() -> None:
    """A FastAPI app mounted under a prefix keeps its docs untouched at the prefixed URLs."""
    from fastapi import FastAPI
    from starlette.applications import Starlette

    from opsgenie_envelope import EnvelopeMiddleware

    api = FastAPI()
    api.add_middleware(EnvelopeMiddleware)

    @api.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    outer = Starlette()
    outer.mount("/api", api)
    async with make_client(outer, raise_app_exceptions=True) as client:
        schema = await client.get("/api/openapi.json")
        ping_answer = await client.get("/api/ping")
    assert "openapi" in schema.json()
    assert "x-request-id" in schema.headers
    assert ping_answer.json()["data"] == {"pong": True}
