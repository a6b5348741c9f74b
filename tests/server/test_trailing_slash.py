"""Trailing slashes: a redirect is always an envelope, never an empty body; with
``ignore_trailing_slash`` every route answers with and without its slash, the same way."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from opsgenie_envelope import EXPOSE_HEADERS, EnvelopeMiddleware, set_message
from opsgenie_envelope.fastapi import install
from tests.support.asgi import make_client

pytestmark = pytest.mark.anyio

ORIGIN = "https://ops.example.com"


def _fastapi(outer_first: list[Middleware] | None = None, **options: Any) -> FastAPI:
    """OpsGenie-style routes without a slash, one with, and a mounted app."""
    app = FastAPI()
    install(app, **options)
    for entry in reversed(outer_first or []):
        app.add_middleware(entry.cls, *entry.args, **entry.kwargs)

    @app.post("/v2/alerts", status_code=202)
    async def create_alert(request: Request) -> None:
        body = await request.json()
        set_message(f"Request will be processed: {body['message']}")

    @app.post("/v2/alerts/{alert_id}/acknowledge", status_code=202)
    async def acknowledge(alert_id: str) -> dict[str, str]:
        return {"alertId": alert_id, "query": "done"}

    @app.get("/v2/teams/")
    async def list_teams() -> list[str]:
        return ["sre"]

    sub = FastAPI()

    @sub.get("/heartbeats/{name}")
    async def heartbeat(name: str) -> dict[str, str]:
        return {"name": name}

    app.mount("/v1", sub)
    return app


async def test_slash_redirect_is_an_envelope() -> None:
    """By default the router's 307 remains, but with an envelope body and its ``Location``."""
    async with make_client(_fastapi()) as client:
        response = await client.post("/v2/alerts/", json={"message": "Disk full"})
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/v2/alerts"
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body == {
        "message": "Temporary Redirect",
        "took": body["took"],
        "requestId": response.headers["x-request-id"],
    }


async def test_a_handlers_own_redirect_page_is_kept() -> None:
    """A redirect that carries a body of its own is sent as the app made it."""

    async def moved(request: Request) -> Response:
        return Response("<a href='/new'>moved</a>", 301, {"location": "/new"}, "text/html")

    async def bare(request: Request) -> Response:
        return RedirectResponse("/new", 302)

    app = Starlette(
        routes=[Route("/old", moved), Route("/bare", bare)],
        middleware=[Middleware(EnvelopeMiddleware)],
    )
    async with make_client(app) as client:
        page = await client.get("/old")
        empty = await client.get("/bare")
    assert (page.status_code, page.text) == (301, "<a href='/new'>moved</a>")
    assert empty.status_code == 302
    assert empty.json()["message"] == "Found"


@pytest.mark.parametrize("path", ["/v2/alerts", "/v2/alerts/"])
async def test_create_answers_the_same_with_and_without_slash(path: str) -> None:
    """``POST /v2/alerts/`` is served by ``/v2/alerts``: same status, same body, its JSON read."""
    async with make_client(_fastapi(ignore_trailing_slash=True)) as client:
        response = await client.post(path, json={"message": "Disk full"})
    assert response.status_code == 202
    assert response.json()["message"] == "Request will be processed: Disk full"
    assert "location" not in response.headers


async def test_path_parameters_are_read_at_the_served_path() -> None:
    """``/v2/alerts/{id}/acknowledge/`` reaches the route with its parameter."""
    async with make_client(_fastapi(ignore_trailing_slash=True)) as client:
        response = await client.post("/v2/alerts/42/acknowledge/")
    assert (response.status_code, response.json()["data"]) == (
        202,
        {"alertId": "42", "query": "done"},
    )


async def test_route_defined_with_a_slash_answers_without_it() -> None:
    """The other way round: ``/v2/teams`` is served by ``/v2/teams/``."""
    async with make_client(_fastapi(ignore_trailing_slash=True)) as client:
        response = await client.get("/v2/teams")
    assert (response.status_code, response.json()["data"]) == (200, ["sre"])


async def test_mounted_app_routes_answer_with_a_slash() -> None:
    """A mounted app's router redirect is served too, from the start of the app."""
    async with make_client(_fastapi(ignore_trailing_slash=True)) as client:
        response = await client.get("/v1/heartbeats/db/?verbose=1")
    assert response.json()["data"] == {"name": "db"}


async def test_one_request_id_for_the_served_request() -> None:
    """The request keeps one ID and one ``took`` across the redirect it did not get."""
    async with make_client(_fastapi(ignore_trailing_slash=True)) as client:
        response = await client.post("/v2/alerts/", json={"message": "x"})
    assert response.headers.get_list("x-request-id") == [response.json()["requestId"]]


async def test_unknown_paths_stay_404() -> None:
    """A path unknown with or without its slash is still the 404 envelope."""
    async with make_client(_fastapi(ignore_trailing_slash=True)) as client:
        response = await client.get("/v2/nothing/")
    assert response.status_code == 404
    assert response.json()["message"] == "Resource or handler not found"


@pytest.mark.parametrize("order", ["cors-then-gzip", "gzip-then-cors"])
async def test_served_with_cors_and_gzip_around(order: str) -> None:
    """Behind CORS and GZip, in both orders, the slash path answers the same, compressed."""
    cors = Middleware(CORSMiddleware, allow_origins=[ORIGIN], expose_headers=EXPOSE_HEADERS)
    gzip = Middleware(GZipMiddleware, minimum_size=10)
    app = _fastapi(
        [cors, gzip] if order == "cors-then-gzip" else [gzip, cors], ignore_trailing_slash=True
    )
    headers = {"origin": ORIGIN, "accept-encoding": "gzip"}
    async with make_client(app) as client:
        response = await client.post("/v2/alerts/", json={"message": "x"}, headers=headers)
    assert response.status_code == 202
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["access-control-allow-origin"] == ORIGIN


async def test_starlette_app_answers_with_a_slash() -> None:
    """Plain Starlette with the option: ``/v2/alerts/`` answers as ``/v2/alerts``."""

    async def alerts(request: Request) -> Response:
        return JSONResponse([{"id": "1"}])

    app = Starlette(
        routes=[Mount("/api", routes=[Route("/v2/alerts", alerts)])],
        middleware=[Middleware(EnvelopeMiddleware, ignore_trailing_slash=True)],
    )
    async with make_client(app) as client:
        response = await client.get("/api/v2/alerts/")
    assert response.json()["data"] == [{"id": "1"}]


async def test_excluded_path_reached_by_its_slash_twin_stays_untouched() -> None:
    """``/openapi.json/`` is served as ``/openapi.json``, excluded as that path is."""
    async with make_client(_fastapi(ignore_trailing_slash=True)) as client:
        response = await client.get("/openapi.json/")
    assert response.status_code == 200
    assert "openapi" in response.json()


async def test_other_redirects_are_envelopes_even_with_the_option() -> None:
    """A handler's own redirect, even to its slash twin, is enveloped, not replayed."""

    async def home(request: Request) -> Response:
        return RedirectResponse("/", 302)

    async def odd(request: Request) -> Response:
        return Response(status_code=399, headers={"location": "/odd/"})

    app = Starlette(
        routes=[Route("/", home), Route("/odd", odd)],
        middleware=[Middleware(EnvelopeMiddleware, ignore_trailing_slash=True)],
    )
    async with make_client(app) as client:
        found = await client.get("/")
        odd_one = await client.get("/odd")
    assert (found.status_code, found.json()["message"]) == (302, "Found")
    assert (odd_one.status_code, odd_one.json()["message"]) == (399, "Redirect")
    assert odd_one.headers["location"] == "/odd/"
