"""Lists and paging (SPEC §6): the list envelope, links, headers, parameter checks, proxies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import orjson
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import opsgenie_envelope
from opsgenie_envelope import EnvelopeMiddleware, Expander, Expansion, Page, Pager, paged
from opsgenie_envelope._paging import MAX_LINK_LENGTH, paging_links
from opsgenie_envelope.fastapi import query
from tests.support.asgi import make_client

pytestmark = pytest.mark.anyio

ITEMS: list[dict[str, Any]] = [{"n": n, "name": f"item-{44 - n:02d}"} for n in range(45)]
ITEM_PAGES = Pager(sort_fields=["n", "name"], max_offset=1000)
FREE_PAGES = Pager()
PUBLIC_PAGES = Pager(base_url="https://api.example.com/opsgenie/")


async def load_double(item: dict[str, Any], request: Request) -> int:
    """An expandable field for the combined expand-and-paging route."""
    return int(item["n"]) * 2


ITEM_EXPAND = Expander({"double": load_double})


class OrjsonResponse(JSONResponse):
    """Renders with orjson, which knows datetimes."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


DATED = [{"at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}]


def rows_of(page: Page) -> list[dict[str, Any]]:
    """The rows of one page, sorted as asked."""
    rows = ITEMS
    if page.sort is not None:
        rows = sorted(rows, key=lambda row: row[page.sort or "n"], reverse=page.order == "desc")
    return rows[page.offset : page.offset + page.limit]


def params_of(page: Page) -> dict[str, Any]:
    """The checked paging parameters, for the routes that echo them."""
    return {"offset": page.offset, "limit": page.limit, "sort": page.sort, "order": page.order}


def starlette_app() -> ASGIApp:
    """The list routes in Starlette: ``pager.parse(request)`` and ``page.response(...)``."""

    async def items(request: Request) -> Response:
        page = ITEM_PAGES.parse(request)
        return page.response(rows_of(page), total=len(ITEMS))

    async def feed(request: Request) -> Response:
        page = ITEM_PAGES.parse(request)
        return page.response(rows_of(page))

    async def params(request: Request) -> Response:
        return JSONResponse(params_of(ITEM_PAGES.parse(request)))

    async def free_params(request: Request) -> Response:
        return JSONResponse(params_of(FREE_PAGES.parse(request)))

    async def helper(request: Request) -> Response:
        return paged(
            request, ITEMS[5:8], offset=5, limit=3, total=len(ITEMS), headers={"x-list": "items"}
        )

    async def dated(request: Request) -> Response:
        return FREE_PAGES.parse(request).response(DATED, response_class=OrjsonResponse)

    async def expanded(request: Request) -> Response:
        page = ITEM_PAGES.parse(request)
        rows = await ITEM_EXPAND.apply(request, rows_of(page))
        return page.response(rows, total=len(ITEMS))

    async def public(request: Request) -> Response:
        page = PUBLIC_PAGES.parse(request)
        return page.response(rows_of(page), total=len(ITEMS))

    routes = [
        Route("/v2/items", items),
        Route("/v2/public", public),
        Route("/v2/feed", feed),
        Route("/v2/params", params),
        Route("/v2/free-params", free_params),
        Route("/v2/helper", helper),
        Route("/v2/expanded", expanded),
        Route("/v2/dated", dated),
    ]
    return Starlette(routes=routes, middleware=[Middleware(EnvelopeMiddleware)])


def fastapi_app() -> FastAPI:
    """The list routes in FastAPI: ``Depends(query(pager))`` and ``page.items(...)``."""
    app = FastAPI()
    app.add_middleware(EnvelopeMiddleware)

    @app.get("/v2/items")
    async def items(page: Annotated[Page, Depends(query(ITEM_PAGES))]) -> list[dict[str, Any]]:
        return page.items(rows_of(page), total=len(ITEMS))

    @app.get("/v2/public")
    async def public(page: Annotated[Page, Depends(query(PUBLIC_PAGES))]) -> list[dict[str, Any]]:
        return page.items(rows_of(page), total=len(ITEMS))

    @app.get("/v2/feed")
    async def feed(page: Annotated[Page, Depends(query(ITEM_PAGES))]) -> list[dict[str, Any]]:
        return page.items(rows_of(page))

    @app.get("/v2/params")
    async def params(page: Annotated[Page, Depends(query(ITEM_PAGES))]) -> dict[str, Any]:
        return params_of(page)

    @app.get("/v2/free-params")
    async def free_params(page: Annotated[Page, Depends(query(FREE_PAGES))]) -> dict[str, Any]:
        return params_of(page)

    @app.get("/v2/helper")
    async def helper(request: Request) -> Response:
        return paged(
            request, ITEMS[5:8], offset=5, limit=3, total=len(ITEMS), headers={"x-list": "items"}
        )

    @app.get("/v2/dated")
    async def dated(page: Annotated[Page, Depends(query(FREE_PAGES))]) -> Response:
        return page.response(DATED, response_class=OrjsonResponse)

    @app.get("/v2/expanded")
    async def expanded(
        page: Annotated[Page, Depends(query(ITEM_PAGES))],
        expansion: Annotated[Expansion, Depends(query(ITEM_EXPAND))],
    ) -> list[dict[str, Any]]:
        return page.items(await expansion.apply(rows_of(page)), total=len(ITEMS))

    return app


@pytest.fixture(params=["starlette", "fastapi"])
def app(request: pytest.FixtureRequest) -> ASGIApp:
    """The list routes, once in Starlette and once in FastAPI."""
    return starlette_app() if request.param == "starlette" else fastapi_app()


@pytest.fixture
async def client(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the list routes."""
    async with make_client(app) as c:
        yield c


BASE = "/v2/items"


# --- the list envelope --------------------------------------------------------------------


async def test_list_answer_carries_data_paging_and_total(client: httpx.AsyncClient) -> None:
    """A page answers ``data`` as the array, then ``paging``, ``totalCount``, in SPEC order."""
    response = await client.get("/v2/items?offset=20&limit=10")
    body = response.json()
    assert response.status_code == 200
    assert list(body) == ["data", "paging", "totalCount", "took", "requestId"]
    assert [row["n"] for row in body["data"]] == list(range(20, 30))
    assert body["totalCount"] == 45


async def test_paging_links_are_relative(client: httpx.AsyncClient) -> None:
    """``first``/``prev``/``next``/``last`` are the path and query, with offset and limit set."""
    response = await client.get("/v2/items?offset=20&limit=10")
    assert response.json()["paging"] == {
        "first": f"{BASE}?offset=0&limit=10",
        "prev": f"{BASE}?offset=10&limit=10",
        "next": f"{BASE}?offset=30&limit=10",
        "last": f"{BASE}?offset=40&limit=10",
    }


async def test_links_keep_the_other_query_parameters(client: httpx.AsyncClient) -> None:
    """Other parameters, repeated ones included, survive in every link, in their places."""
    response = await client.get(
        "/v2/items?query=status%3Aopen&offset=10&limit=5&tag=a&tag=b&sort=n&order=asc"
    )
    assert response.json()["paging"]["next"] == (
        f"{BASE}?query=status%3Aopen&offset=15&limit=5&tag=a&tag=b&sort=n&order=asc"
    )


async def test_paging_headers_carry_the_same_urls(client: httpx.AsyncClient) -> None:
    """``X-Paging-First``/``-Prev``/``-Next``/``-Last`` repeat the body's links."""
    response = await client.get("/v2/items?offset=20&limit=10")
    paging = response.json()["paging"]
    assert {name: response.headers[f"x-paging-{name}"] for name in paging} == paging


async def test_first_page_has_no_prev(client: httpx.AsyncClient) -> None:
    """On the first page ``prev`` is absent from the body and the headers."""
    response = await client.get("/v2/items?limit=10")
    assert list(response.json()["paging"]) == ["first", "next", "last"]
    assert "x-paging-prev" not in response.headers


async def test_last_page_has_no_next(client: httpx.AsyncClient) -> None:
    """On the last page ``next`` is absent from the body and the headers."""
    response = await client.get("/v2/items?offset=40&limit=10")
    body = response.json()
    assert [row["n"] for row in body["data"]] == list(range(40, 45))
    assert list(body["paging"]) == ["first", "prev", "last"]
    assert "x-paging-next" not in response.headers


async def test_unknown_total_gives_no_last_and_no_total_count(client: httpx.AsyncClient) -> None:
    """Without a total there is no ``last`` link and no ``totalCount``."""
    response = await client.get("/v2/feed?offset=10&limit=10")
    body = response.json()
    assert list(body) == ["data", "paging", "took", "requestId"]
    assert list(body["paging"]) == ["first", "prev", "next"]
    assert "x-paging-last" not in response.headers


async def test_unknown_total_short_page_has_no_next(client: httpx.AsyncClient) -> None:
    """Without a total, a page shorter than ``limit`` is taken as the last one."""
    response = await client.get("/v2/feed?offset=40&limit=10")
    assert list(response.json()["paging"]) == ["first", "prev"]


async def test_empty_list_has_total_count_zero(client: httpx.AsyncClient) -> None:
    """Past the end the page is empty; ``prev`` leads back to the last page."""
    response = await client.get("/v2/items?offset=100&limit=10")
    body = response.json()
    assert body["data"] == []
    assert body["paging"]["prev"] == f"{BASE}?offset=40&limit=10"
    assert "next" not in body["paging"]


async def test_paged_helper_answers_a_list_envelope(client: httpx.AsyncClient) -> None:
    """``paged(request, items, offset=, limit=, total=)`` builds the whole answer."""
    response = await client.get("/v2/helper?q=x")
    body = response.json()
    assert body["data"] == ITEMS[5:8]
    assert body["totalCount"] == 45
    assert body["paging"]["prev"] == "/v2/helper?q=x&offset=2&limit=3"
    assert response.headers["x-paging-next"] == "/v2/helper?q=x&offset=8&limit=3"
    assert response.headers["x-list"] == "items"


async def test_response_class_renders_the_items(client: httpx.AsyncClient) -> None:
    """``response_class`` picks the renderer, e.g. one that knows datetimes."""
    response = await client.get("/v2/dated")
    assert response.json()["data"] == [{"at": "2026-01-02T03:04:05+00:00"}]
    assert "x-paging-first" in response.headers


async def test_expand_and_paging_keys_come_in_spec_order(client: httpx.AsyncClient) -> None:
    """A paged, expandable list answers data, expandable, paging, totalCount, took, requestId."""
    response = await client.get("/v2/expanded?limit=2&expand=double")
    body = response.json()
    assert list(body) == ["data", "expandable", "paging", "totalCount", "took", "requestId"]
    assert body["data"] == [{**ITEMS[0], "double": 0}, {**ITEMS[1], "double": 2}]


# --- parameters ---------------------------------------------------------------------------


async def test_parameters_default_to_opsgenie_values(client: httpx.AsyncClient) -> None:
    """Without parameters: offset 0, limit 20, no sort, order desc."""
    response = await client.get("/v2/params")
    assert response.json()["data"] == {"offset": 0, "limit": 20, "sort": None, "order": "desc"}


async def test_parameters_are_read(client: httpx.AsyncClient) -> None:
    """Given values are read and typed."""
    response = await client.get("/v2/params?offset=7&limit=100&sort=name&order=asc")
    assert response.json()["data"] == {"offset": 7, "limit": 100, "sort": "name", "order": "asc"}


async def test_sort_and_order_reach_the_handler(client: httpx.AsyncClient) -> None:
    """``sort`` and ``order`` decide which rows a page holds."""
    response = await client.get("/v2/items?limit=2&sort=n&order=desc")
    assert [row["n"] for row in response.json()["data"]] == [44, 43]


@pytest.mark.parametrize(
    ("query", "field", "problem"),
    [
        pytest.param("limit=101", "limit", "should be between 1 and 100", id="limit-over-100"),
        pytest.param("limit=0", "limit", "should be between 1 and 100", id="limit-zero"),
        pytest.param("offset=-1", "offset", "should be 0 or greater", id="offset-negative"),
        pytest.param("offset=1001", "offset", "should be at most 1000", id="offset-past-max"),
    ],
)
async def test_unsupported_range_is_416(
    client: httpx.AsyncClient, query: str, field: str, problem: str
) -> None:
    """A well-formed number outside the served range answers 416, naming the bound."""
    response = await client.get(f"/v2/items?{query}")
    body = response.json()
    assert response.status_code == 416
    assert body["message"] == f"The given range is not supported: {field} {problem}"
    assert body["errors"] == {field: problem}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("offset=ten", "offset", id="offset-word"),
        pytest.param("limit=1.5", "limit", id="limit-fraction"),
        pytest.param("limit=", "limit", id="limit-empty"),
        pytest.param("order=up", "order", id="order-unknown"),
        pytest.param("sort=priority", "sort", id="sort-not-allowed"),
    ],
)
async def test_malformed_value_is_422_with_errors(
    client: httpx.AsyncClient, query: str, field: str
) -> None:
    """A malformed parameter answers 422 with ``errors`` naming it."""
    response = await client.get(f"/v2/items?{query}")
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]


async def test_starlette_errors_read_like_opsgenie() -> None:
    """In Starlette, the 422 ``errors`` say what each field should be."""
    async with make_client(starlette_app()) as client:
        response = await client.get("/v2/items?offset=ten&order=up&sort=priority")
    assert response.json()["errors"] == {
        "offset": "should be an integer",
        "sort": "should be one of [ n, name ]",
        "order": "should be one of [ asc, desc ]",
    }
    assert response.json()["message"] == (
        "Invalid query parameters 'offset', 'sort', 'order'. Please check the errors."
    )


async def test_starlette_single_error_names_the_parameter() -> None:
    """One malformed parameter: the 422 names it and what it should be."""
    async with make_client(starlette_app()) as client:
        response = await client.get("/v2/items?limit=ten")
    assert response.json()["message"] == "Invalid query parameter 'limit': should be an integer"


async def test_free_sort_accepts_field_names_only(client: httpx.AsyncClient) -> None:
    """Without ``sort_fields``, any field-like name is accepted and anything else is 422."""
    accepted = await client.get("/v2/free-params?sort=createdAt")
    refused = await client.get("/v2/free-params", params={"sort": "name; drop table"})
    assert accepted.json()["data"]["sort"] == "createdAt"
    assert refused.status_code == 422
    assert list(refused.json()["errors"]) == ["sort"]


# --- links: never from Host, bounded, from a base URL ---------------------------------------


def _link_headers(response: httpx.Response) -> dict[str, str]:
    """The ``X-Paging-*`` headers of an answer."""
    return {k: v for k, v in response.headers.items() if k.startswith("x-paging-")}


async def test_forged_host_never_reaches_the_links(client: httpx.AsyncClient) -> None:
    """``Host: attacker.example`` appears in no link, in the body or the headers."""
    response = await client.get(
        "/v2/items?offset=10&limit=10", headers={"host": "attacker.example"}
    )
    links = [*response.json()["paging"].values(), *_link_headers(response).values()]
    assert len(links) == 8
    assert not any("attacker" in link for link in links)
    assert all(link.startswith("/v2/items?") for link in links)


async def test_huge_query_gives_no_links(client: httpx.AsyncClient) -> None:
    """A 15 KB query gets no ``paging`` and no ``X-Paging-*``: the headers stay small."""
    response = await client.get("/v2/items", params={"query": "x" * 15_000, "limit": "10"})
    body = response.json()
    assert response.status_code == 200
    assert "paging" not in body
    assert body["totalCount"] == 45
    assert _link_headers(response) == {}
    assert sum(len(name) + len(value) for name, value in response.headers.items()) < 1024


async def test_query_at_the_bound_keeps_its_links(client: httpx.AsyncClient) -> None:
    """A query just within ``MAX_LINK_LENGTH`` keeps every link, each of a bounded size."""
    kept = MAX_LINK_LENGTH - len("/v2/items") - len("query=")
    response = await client.get("/v2/items", params={"query": "x" * kept, "limit": "10"})
    links = _link_headers(response)
    assert set(links) == {"x-paging-first", "x-paging-next", "x-paging-last"}
    assert all(
        len(link) <= MAX_LINK_LENGTH + len("?&offset=40&limit=10") for link in links.values()
    )


async def test_nameless_and_paging_duplicates_are_dropped(client: httpx.AsyncClient) -> None:
    """Parameters without a name, and repeated ``offset``/``limit`` (the last read), go once."""
    response = await client.get("/v2/items?=x&a=1&offset=5&limit=5&offset=9&limit=7&&b")
    assert response.json()["paging"]["next"] == "/v2/items?a=1&offset=16&limit=7&b="


async def test_base_url_makes_links_absolute(client: httpx.AsyncClient) -> None:
    """``Pager(base_url=...)`` links start with that URL (prefix kept), whatever the Host."""
    response = await client.get("/v2/public?limit=10", headers={"host": "attacker.example"})
    assert response.json()["paging"]["next"] == (
        "https://api.example.com/opsgenie/v2/public?offset=10&limit=10"
    )
    assert response.headers["x-paging-last"] == (
        "https://api.example.com/opsgenie/v2/public?offset=40&limit=10"
    )


async def test_paged_takes_a_base_url() -> None:
    """``paged(..., base_url=...)`` builds absolute links from it."""

    async def listing(request: Request) -> Response:
        return paged(request, [1, 2], offset=0, limit=2, base_url="https://api.example.com")

    app = Starlette(routes=[Route("/v2/x", listing)], middleware=[Middleware(EnvelopeMiddleware)])
    async with make_client(app) as client:
        response = await client.get("/v2/x?a=1")
    assert response.headers["x-paging-next"] == "https://api.example.com/v2/x?a=1&offset=2&limit=2"


def test_links_are_header_safe_for_any_path() -> None:
    """A decoded path with spaces, quotes or non-ASCII becomes printable ASCII in links."""
    scope = {"type": "http", "path": '/v2/a b"<ä>', "query_string": b"q=%0D%0A", "headers": []}
    links = paging_links(Request(scope).url, offset=0, limit=5, count=5)
    assert links["next"] == "/v2/a%20b%22%3C%C3%A4%3E?q=%0D%0A&offset=5&limit=5"


def test_a_path_starting_with_two_slashes_stays_on_the_host() -> None:
    """``GET //attacker.example/x`` links to a path of this host, never to that one."""
    headers = [(b"host", b"api.example.com")]
    scope = {
        "type": "http",
        "path": "//attacker.example/x",
        "query_string": b"",
        "headers": headers,
    }
    links = paging_links(Request(scope).url, offset=0, limit=5, count=5)
    assert links["next"] == "/.//attacker.example/x?offset=5&limit=5"
    resolved = httpx.URL("https://api.example.com/v2/x").join(links["next"])
    assert (resolved.host, resolved.path) == ("api.example.com", "//attacker.example/x")


@pytest.mark.parametrize(
    ("base_url", "error"),
    [
        pytest.param(b"https://h", TypeError, id="bytes"),
        pytest.param("api.example.com", ValueError, id="no-scheme"),
        pytest.param("ftp://api.example.com", ValueError, id="not-http"),
        pytest.param("https://", ValueError, id="no-host"),
        pytest.param("https://api.example.com/?a=1", ValueError, id="query"),
        pytest.param("https://api.example.com/#top", ValueError, id="fragment"),
        pytest.param("https://user:pw@api.example.com", ValueError, id="credentials"),
        pytest.param("https://api.example.com/älerts", ValueError, id="not-ascii"),
        pytest.param("https://api.example.com/a b", ValueError, id="space"),
        pytest.param("https://api.example.com/\r\n", ValueError, id="control"),
    ],
)
def test_bad_base_url_is_refused(base_url: Any, error: type[Exception]) -> None:
    """A base URL that is not an absolute http(s) URL fails when the pager is built."""
    with pytest.raises(error, match="base_url"):
        Pager(base_url=base_url)


def test_base_url_loses_its_trailing_slash() -> None:
    """``https://h/`` and ``https://h`` give the same links."""
    assert PUBLIC_PAGES.base_url == "https://api.example.com/opsgenie"


# --- behind a proxy -----------------------------------------------------------------------


async def test_links_behind_a_proxy_resolve_against_the_forwarded_url(app: ASGIApp) -> None:
    """Behind uvicorn's proxy-headers support, relative links resolve to the public URL."""
    proxied = ProxyHeadersMiddleware(app, trusted_hosts="127.0.0.1")  # type: ignore[arg-type]
    async with make_client(proxied) as client:  # type: ignore[arg-type]
        response = await client.get(
            "https://api.example.com/v2/items?limit=10",
            headers={"host": "api.example.com", "x-forwarded-proto": "https"},
        )
    next_link = response.json()["paging"]["next"]
    assert next_link == "/v2/items?offset=10&limit=10"
    assert str(response.request.url.join(next_link)) == (
        "https://api.example.com/v2/items?offset=10&limit=10"
    )


async def test_untrusted_proxy_headers_are_ignored(app: ASGIApp) -> None:
    """A forwarded scheme from a host that is not trusted never reaches the links."""
    proxied = ProxyHeadersMiddleware(app, trusted_hosts="10.0.0.1")  # type: ignore[arg-type]
    async with make_client(proxied) as client:  # type: ignore[arg-type]
        response = await client.get("/v2/items?limit=10", headers={"x-forwarded-proto": "https"})
    assert response.json()["paging"]["next"].startswith("/v2/items?")


# --- FastAPI's OpenAPI --------------------------------------------------------------------


def test_openapi_documents_paging_parameters() -> None:
    """``offset``, ``limit``, ``sort`` and ``order`` are documented with defaults and bounds."""
    operation = fastapi_app().openapi()["paths"]["/v2/items"]["get"]
    schemas = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert list(schemas) == ["offset", "limit", "sort", "order"]
    offset = schemas["offset"]
    assert (offset["type"], offset["default"], offset["minimum"], offset["maximum"]) == (
        "integer",
        0,
        0,
        1000,
    )
    assert (schemas["limit"]["default"], schemas["limit"]["maximum"]) == (20, 100)
    assert schemas["order"]["enum"] == ["asc", "desc"]
    assert schemas["order"]["default"] == "desc"
    assert {"enum": ["n", "name"], "type": "string"} in schemas["sort"]["anyOf"]


# --- units --------------------------------------------------------------------------------


def test_paging_links_of_a_middle_page() -> None:
    """A middle page links to all four neighbours."""
    links = paging_links(
        "https://h/x?a=1", offset=20, limit=10, count=10, total=35, base_url="https://h"
    )
    assert links == {
        "first": "https://h/x?a=1&offset=0&limit=10",
        "prev": "https://h/x?a=1&offset=10&limit=10",
        "next": "https://h/x?a=1&offset=30&limit=10",
        "last": "https://h/x?a=1&offset=30&limit=10",
    }


def test_paging_links_of_an_empty_list() -> None:
    """With a total of zero, ``first`` and ``last`` are the same, and nothing else."""
    links = paging_links("https://h/x", offset=0, limit=10, count=0, total=0, base_url="https://h")
    assert links == {
        "first": "https://h/x?offset=0&limit=10",
        "last": "https://h/x?offset=0&limit=10",
    }


def test_paging_links_prev_of_an_unaligned_offset_starts_at_zero() -> None:
    """An offset smaller than ``limit`` has ``prev`` at offset 0, never negative."""
    links = paging_links("https://h/x", offset=3, limit=10, count=10, base_url="https://h")
    assert links["prev"] == "https://h/x?offset=0&limit=10"


def test_paging_links_are_ascii_for_headers() -> None:
    """A non-ASCII path is percent-encoded, so the links fit in response headers."""
    links = paging_links("https://h/älerts?q=ü", offset=0, limit=5, count=5, base_url="https://h")
    assert links["next"] == "https://h/%C3%A4lerts?q=%C3%BC&offset=5&limit=5"


@pytest.mark.parametrize(
    ("options", "name"),
    [
        pytest.param({"max_limit": 0}, "max_limit", id="max-limit-zero"),
        pytest.param({"default_limit": 200}, "default_limit", id="default-over-max"),
        pytest.param({"sort_fields": "name"}, "sort_fields", id="sort-fields-str"),
        pytest.param({"sort_fields": []}, "sort_fields", id="sort-fields-empty"),
        pytest.param({"sort_fields": ["n"], "default_sort": "x"}, "default_sort", id="sort"),
        pytest.param({"default_order": "up"}, "default_order", id="order"),
        pytest.param({"max_offset": -1}, "max_offset", id="max-offset"),
    ],
)
def test_bad_pager_options_are_refused(options: dict[str, Any], name: str) -> None:
    """A bad option fails when the pager is built, naming the option."""
    with pytest.raises((TypeError, ValueError), match=name):
        Pager(**options)


@pytest.mark.parametrize(("offset", "limit", "total"), [(-1, 10, None), (0, 0, None), (0, 10, -5)])
def test_paged_refuses_an_impossible_page(offset: int, limit: int, total: int | None) -> None:
    """A handler passing an impossible page gets a ``ValueError`` (a bug, so a 500)."""
    request = Request({"type": "http", "query_string": b"", "headers": []})
    with pytest.raises(ValueError, match="paging needs"):
        paged(request, [], offset=offset, limit=limit, total=total)


def test_page_items_needs_the_fastapi_dependency() -> None:
    """``Page.items`` outside FastAPI's dependency says to use ``page.response``."""
    request = Request({"type": "http", "query_string": b"", "headers": []})
    page = FREE_PAGES.parse(request)
    with pytest.raises(RuntimeError, match=r"page\.response"):
        page.items([])


def test_paging_names_are_exported() -> None:
    """``Page``, ``Pager`` and ``paged`` are public names of the package."""
    assert {"Page", "Pager", "paged"} <= set(opsgenie_envelope.__all__)
