"""Paging: every item of a paged list by following ``paging.next``, with its guards."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opsgenie_envelope import EnvelopeMiddleware, Pager
from opsgenie_envelope._wire import MAX_LIMIT
from opsgenie_envelope.client import Client, PagingError
from tests.support.client_app import FakeTime, asgi_client, client_app

pytestmark = pytest.mark.anyio

BASE = "https://api.example.com"


def paged_transport(pages: dict[str, Any]) -> httpx.MockTransport:
    """Answer each path+query in ``pages`` with an envelope of that ``(data, next)``."""

    def handler(request: httpx.Request) -> httpx.Response:
        data, link = pages[request.url.raw_path.decode()]
        body: dict[str, Any] = {"data": data, "took": 0.0, "requestId": "r"}
        if link is not None:
            body["paging"] = {"next": link}
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handler)


async def test_async_paginate_yields_every_item() -> None:
    """All items of all pages come out in order, one request per page."""
    app = client_app()
    async with asgi_client(app, FakeTime()) as client:
        items = [item async for item in client.paginate("/v2/alerts", params={"total": 7})]
    assert items == [{"n": n} for n in range(7)]
    assert len(app.state.urls) == 3


async def test_paginate_follows_a_pagers_relative_links() -> None:
    """A ``Pager``'s relative links are followed, its filter kept, on the origin called."""
    served: list[str] = []

    async def alerts(request: Request) -> Response:
        served.append(str(request.url))
        page = Pager(default_limit=3).parse(request)
        rows = [n for n in range(8) if request.query_params["query"] == "all" or n % 2]
        return page.response(rows[page.offset : page.offset + page.limit], total=len(rows))

    app = Starlette(
        routes=[Route("/v2/alerts", alerts)], middleware=[Middleware(EnvelopeMiddleware)]
    )
    async with asgi_client(app, FakeTime(), base_url="https://api.example.com") as client:
        items = [item async for item in client.paginate("/v2/alerts", params={"query": "all"})]
    assert items == list(range(8))
    assert served[1:] == [
        "https://api.example.com/v2/alerts?query=all&offset=3&limit=3",
        "https://api.example.com/v2/alerts?query=all&offset=6&limit=3",
    ]


def test_sync_paginate_follows_next_links() -> None:
    """The sync client follows ``paging.next`` until a page has none."""
    pages = {
        "/v2/alerts": ([1, 2], f"{BASE}/v2/alerts?offset=2"),
        "/v2/alerts?offset=2": ([3, 4], f"{BASE}/v2/alerts?offset=4"),
        "/v2/alerts?offset=4": ([5], None),
    }
    with Client(transport=paged_transport(pages), base_url=BASE) as client:
        assert list(client.paginate("/v2/alerts")) == [1, 2, 3, 4, 5]


async def test_params_and_expand_go_with_the_first_request_only() -> None:
    """``params`` and ``expand`` start the listing; the ``next`` links carry them on."""
    app = client_app()
    async with asgi_client(app, FakeTime()) as client:
        items = [
            item
            async for item in client.paginate(
                "/v2/alerts", params={"total": 5, "limit": 2, "sort": "createdAt"}, expand="owner"
            )
        ]
    assert len(items) == 5
    queries = [httpx.URL(url).params for url in app.state.urls]
    assert [q["offset"] for q in queries[1:]] == ["2", "4"]
    assert all(q["sort"] == "createdAt" and q["expand"] == "owner" for q in queries)
    assert all(len(q.get_list("sort")) == 1 for q in queries)


async def test_page_limit_stops_with_paging_error() -> None:
    """More pages than ``max_pages`` stop with ``PagingError`` after the allowed pages' items."""
    app = client_app()
    items: list[Any] = []

    async def read_all() -> None:
        async with asgi_client(app, FakeTime()) as client:
            async for item in client.paginate("/v2/alerts", params={"total": 10}, max_pages=2):
                items.append(item)

    with pytest.raises(PagingError) as info:
        await read_all()
    assert items == [{"n": n} for n in range(6)]
    assert info.value.pages == 2
    assert info.value.next_url is not None
    assert httpx.URL(info.value.next_url).params["offset"] == "6"
    assert len(app.state.urls) == 2


def test_next_link_to_another_origin_is_not_followed() -> None:
    """A ``next`` link to another host stops with ``PagingError``: credentials stay home."""
    seen: list[str] = []
    pages = {"/v2/alerts": ([1], "https://elsewhere.example.net/v2/alerts?offset=1")}
    transport = paged_transport(pages)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return transport.handle_request(request)

    client = Client(transport=httpx.MockTransport(handler), base_url=BASE)
    with client, pytest.raises(PagingError, match="leaves the origin"):
        list(client.paginate("/v2/alerts"))
    assert seen == [f"{BASE}/v2/alerts"]


def test_relative_next_link_is_resolved() -> None:
    """A relative ``next`` link is followed against the page's own URL."""
    pages = {"/v2/alerts": ([1], "/v2/alerts?offset=1"), "/v2/alerts?offset=1": ([2], None)}
    with Client(transport=paged_transport(pages), base_url=BASE) as client:
        assert list(client.paginate("/v2/alerts")) == [1, 2]


def test_page_that_is_not_a_list_is_refused() -> None:
    """A page whose ``data`` is not an array raises ``PagingError``."""
    pages = {"/v2/alerts/1": ({"id": "1"}, None)}
    client = Client(transport=paged_transport(pages), base_url=BASE)
    with client, pytest.raises(PagingError, match="not a list"):
        list(client.paginate("/v2/alerts/1"))


@pytest.mark.parametrize(("max_pages", "error"), [(0, ValueError), (True, TypeError)])
def test_bad_max_pages_is_refused(max_pages: int, error: type[Exception]) -> None:
    """``max_pages`` must be a positive int."""
    with Client(base_url=BASE) as client, pytest.raises(error, match="max_pages"):
        next(client.paginate("/v2/alerts", max_pages=max_pages))


async def test_limit_sets_the_page_size_of_the_first_request() -> None:
    """``limit=`` asks for that page size; the ``next`` links carry it on."""
    app = client_app()
    async with asgi_client(app, FakeTime()) as client:
        items = [item async for item in client.paginate("/v2/alerts", params={"total": 5}, limit=2)]
    assert items == [{"n": n} for n in range(5)]
    assert [httpx.URL(url).params["limit"] for url in app.state.urls] == ["2", "2", "2"]


@pytest.mark.parametrize(
    ("limit", "error"), [(0, ValueError), (MAX_LIMIT + 1, ValueError), ("5", TypeError)]
)
def test_limit_beyond_the_servers_largest_page_is_refused(
    limit: Any, error: type[Exception]
) -> None:
    """A ``limit`` the server would answer with 416 (or not an int) is refused up front."""
    with Client(base_url=BASE) as client, pytest.raises(error, match="limit"):
        next(client.paginate("/v2/alerts", limit=limit))
