"""Cursor paging, as OpsGenie pages notes and logs: ``offset`` cursor, ``direction``, links."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opsgenie_envelope import CursorPage, CursorPager, EnvelopeMiddleware
from opsgenie_envelope._paging import MAX_LINK_LENGTH
from opsgenie_envelope.client import AsyncClient
from opsgenie_envelope.fastapi import install, query
from tests.support.asgi import make_client
from tests.support.openapi_check import assert_documented

pytestmark = pytest.mark.anyio

NOTES: list[dict[str, str]] = [{"note": f"n{i}", "offset": f"{i:04d}"} for i in range(1, 8)]
PAGES = CursorPager(default_limit=3, max_limit=5)


def cursor(note: dict[str, str]) -> str:
    """A note's cursor."""
    return note["offset"]


def fastapi_app() -> FastAPI:
    """``GET /notes`` pages ``NOTES`` by cursor."""
    app = FastAPI()
    install(app)

    @app.get("/notes")
    async def notes(page: Annotated[CursorPage, Depends(query(PAGES))]) -> list[dict[str, str]]:
        return page.select(NOTES, cursor=cursor)

    return app


async def starlette_notes(request: Request) -> Response:
    """The same list in Starlette, answering with ``CursorPage.response``."""
    page = PAGES.parse(request)
    chosen = page.select(NOTES, cursor=cursor)
    return page.response(chosen, next_offset=chosen[-1]["offset"] if len(chosen) == 3 else None)


def starlette_app() -> Starlette:
    """``GET /notes`` in Starlette."""
    return Starlette(
        routes=[Route("/notes", starlette_notes)], middleware=[Middleware(EnvelopeMiddleware)]
    )


def notes_of(body: dict[str, Any]) -> list[str]:
    """The note texts of a page."""
    return [item["note"] for item in body["data"]]


async def test_first_page_is_newest_first_with_next() -> None:
    """By default the newest come first; ``paging`` holds ``first`` and ``next``, no total."""
    async with make_client(fastapi_app()) as client:
        response = await client.get("/notes")
    body = response.json()
    assert notes_of(body) == ["n7", "n6", "n5"]
    assert body["paging"] == {
        "first": "/notes?order=desc&limit=3&direction=next",
        "next": "/notes?order=desc&limit=3&direction=next&offset=0005",
    }
    assert "totalCount" not in body


async def test_next_link_leads_to_the_following_page() -> None:
    """Following ``next`` gives the items after the cursor; the last page has no ``next``."""
    async with make_client(fastapi_app()) as client:
        second = (await client.get("/notes?order=desc&limit=3&direction=next&offset=0005")).json()
        third = (await client.get(second["paging"]["next"])).json()
    assert notes_of(second) == ["n4", "n3", "n2"]
    assert notes_of(third) == ["n1"]
    assert "next" not in third["paging"]


async def test_ascending_order() -> None:
    """``order=asc`` pages oldest first."""
    async with make_client(fastapi_app()) as client:
        body = (await client.get("/notes", params={"order": "asc", "offset": "0002"})).json()
    assert notes_of(body) == ["n3", "n4", "n5"]


async def test_prev_direction_gives_the_items_before_the_cursor() -> None:
    """``direction=prev`` gives the page just before the cursor, in the page's order."""
    async with make_client(fastapi_app()) as client:
        body = (await client.get("/notes", params={"offset": "0003", "direction": "prev"})).json()
    assert notes_of(body) == ["n6", "n5", "n4"]
    assert body["paging"]["next"].endswith("direction=prev&offset=0006")


async def test_headers_carry_the_links() -> None:
    """``X-Paging-First`` and ``X-Paging-Next`` hold the body's links, as OpsGenie lists them."""
    async with make_client(fastapi_app()) as client:
        response = await client.get("/notes")
    paging = response.json()["paging"]
    assert response.headers["x-paging-first"] == paging["first"]
    assert response.headers["x-paging-next"] == paging["next"]


async def test_links_keep_other_parameters_but_not_the_host() -> None:
    """Links are relative (no ``Host`` in them) and keep the other query parameters."""
    async with make_client(fastapi_app()) as client:
        response = await client.get(
            "/notes", params={"identifierType": "alias"}, headers={"host": "attacker.example"}
        )
    first = response.json()["paging"]["first"]
    assert first == "/notes?identifierType=alias&order=desc&limit=3&direction=next"


def test_a_path_starting_with_two_slashes_stays_on_the_host() -> None:
    """A cursor link of ``//attacker.example/x`` is a path of this host, never that host."""
    headers = [(b"host", b"api.example.com")]
    scope = {
        "type": "http",
        "path": "//attacker.example/x",
        "query_string": b"",
        "headers": headers,
    }
    page = PAGES.parse(Request(scope))
    assert page.links(None)["first"].startswith("/.//attacker.example/x?")


async def test_a_query_past_the_bound_gets_no_links() -> None:
    """Past ``MAX_LINK_LENGTH``: no ``paging`` and no ``X-Paging-*``, never a link without it."""
    async with make_client(fastapi_app()) as client:
        response = await client.get("/notes", params={"query": "x" * 5000})
    assert response.status_code == 200
    assert "paging" not in response.json()
    assert not any(name.startswith("x-paging-") for name in response.headers)
    assert notes_of(response.json()) == ["n7", "n6", "n5"]


def test_a_path_past_the_bound_gets_no_links() -> None:
    """A path alone longer than ``MAX_LINK_LENGTH`` gives no links, its query unread."""
    path = "/notes/" + "n" * MAX_LINK_LENGTH
    scope = {"type": "http", "path": path, "query_string": b"alias=a", "headers": []}
    assert PAGES.parse(Request(scope)).links("0005") == {}


async def test_a_query_at_the_bound_keeps_its_links() -> None:
    """A path and query of exactly ``MAX_LINK_LENGTH`` characters keep the query in each link."""
    kept = MAX_LINK_LENGTH - len("/notes") - len("query=")
    async with make_client(starlette_app()) as client:
        response = await client.get("/notes", params={"query": "x" * kept})
    links = response.json()["paging"]
    assert set(links) == {"first", "next"}
    assert all(link.startswith(f"/notes?query={'x' * kept}&order=desc") for link in links.values())
    assert response.headers["x-paging-next"] == links["next"]


async def test_base_url_makes_links_absolute_whatever_the_host() -> None:
    """``CursorPager(base_url=...)`` links start with that URL, never with the ``Host`` sent."""
    pages = CursorPager(default_limit=3, base_url="https://api.example.com/opsgenie/")

    async def notes(request: Request) -> Response:
        page = pages.parse(request)
        chosen = page.select(NOTES, cursor=cursor)
        return page.response(chosen, next_offset=chosen[-1]["offset"])

    app = Starlette(routes=[Route("/notes", notes)], middleware=[Middleware(EnvelopeMiddleware)])
    async with make_client(app) as client:
        response = await client.get("/notes?alias=a", headers={"host": "attacker.example"})
    assert response.json()["paging"] == {
        "first": "https://api.example.com/opsgenie/notes?alias=a&order=desc&limit=3&direction=next",
        "next": (
            "https://api.example.com/opsgenie/notes?alias=a&order=desc&limit=3&direction=next"
            "&offset=0005"
        ),
    }
    assert response.headers["x-paging-first"] == response.json()["paging"]["first"]


def test_a_bad_base_url_is_refused() -> None:
    """``base_url`` is checked when the pager is built, as ``Pager``'s."""
    with pytest.raises(ValueError, match="base_url"):
        CursorPager(base_url="api.example.com")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"direction": "sideways"}, "direction"),
        ({"order": "up"}, "order"),
        ({"offset": "a b"}, "offset"),
        ({"offset": "x" * 129}, "offset"),
    ],
)
async def test_malformed_parameters_are_422(params: dict[str, str], field: str) -> None:
    """A malformed direction, order or cursor answers 422 naming the parameter."""
    async with make_client(fastapi_app()) as client:
        response = await client.get("/notes", params=params)
    assert response.status_code == 422
    assert field in response.json()["errors"]


async def test_limit_out_of_range_is_416() -> None:
    """A ``limit`` beyond ``max_limit`` answers 416, as offset paging does."""
    async with make_client(fastapi_app()) as client:
        response = await client.get("/notes", params={"limit": 6})
    assert response.status_code == 416
    assert response.json()["errors"] == {"limit": "should be between 1 and 5"}


async def test_starlette_response_pages_the_same() -> None:
    """``CursorPager.parse`` and ``CursorPage.response`` page a Starlette route."""
    async with make_client(starlette_app()) as client:
        response = await client.get("/notes", params={"offset": "0005"})
    body = response.json()
    assert notes_of(body) == ["n4", "n3", "n2"]
    assert response.headers["x-paging-next"] == body["paging"]["next"]


async def test_openapi_documents_cursor_paging() -> None:
    """The document lists the four parameters and ``paging`` with ``first`` and ``next``."""
    app = fastapi_app()
    operation = app.openapi()["paths"]["/notes"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert names == {"offset", "direction", "order", "limit"}
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]["paging"]["properties"]) == {"first", "next"}
    assert "totalCount" not in schema["properties"]
    assert "416" in operation["responses"]


async def test_answers_match_the_document() -> None:
    """A page and a 416 are what the document says of them, headers included."""
    app = fastapi_app()
    doc = app.openapi()
    async with make_client(app) as client:
        for url in ("/notes", "/notes?limit=9"):
            assert_documented(doc, "/notes", await client.get(url))


async def test_client_paginate_follows_the_cursor() -> None:
    """The library's client ``paginate`` follows ``paging.next`` through every note."""
    client: AsyncClient = make_client(fastapi_app(), client_class=AsyncClient)
    async with client:
        notes = [item["note"] async for item in client.paginate("/notes")]
    assert notes == [f"n{i}" for i in range(7, 0, -1)]


def test_pager_options_are_checked() -> None:
    """Bad options raise at construction, naming the option."""
    with pytest.raises(ValueError, match="max_limit"):
        CursorPager(max_limit=0)
    with pytest.raises(TypeError, match="default_limit"):
        CursorPager(default_limit="20")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="default_order"):
        CursorPager(default_order="up")  # type: ignore[arg-type]
