"""Lists and paging (SPEC §6): OpsGenie's ``offset``/``limit``/``sort``/``order`` and links.

A list answer carries ``data`` as an array, ``paging`` with absolute ``first``/``prev``/
``next``/``last`` URLs that keep the request's other query parameters, ``totalCount`` when
the total is known, and the same URLs in ``X-Paging-First``/``-Prev``/``-Next``/``-Last``.

URLs are built from the request as the app sees it: scheme from the ASGI scope (which
uvicorn's ``--proxy-headers`` sets from a trusted proxy's ``X-Forwarded-Proto``) and host
from the ``Host`` header.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar, cast
from urllib.parse import parse_qsl, quote, urlencode

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._context import set_envelope_field
from ._errors import RangeNotSatisfiable, UnprocessableEntity
from ._wire import (
    DEFAULT_LIMIT,
    DEFAULT_ORDER,
    FIELD_NAME_PATTERN,
    FIELD_NAME_RULE,
    LIMIT,
    MAX_LIMIT,
    OFFSET,
    ORDER,
    ORDERS,
    PAGING,
    PAGING_HEADERS,
    SORT,
    TOTAL_COUNT,
    Order,
)

__all__ = ["Page", "Pager", "paged", "paging_links"]

_INTEGER = re.compile(r"\s*[+-]?\d{1,18}\s*")
_FIELD = re.compile(FIELD_NAME_PATTERN)
_NEGATIVE_OFFSET = "should be 0 or greater"
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"

T = TypeVar("T", bound=Sequence[Any])


def paging_links(
    url: URL | str,
    *,
    offset: int,
    limit: int,
    count: int,
    total: int | None = None,
) -> dict[str, str]:
    """Return the ``first``/``prev``/``next``/``last`` URLs of a page, in that order.

    ``url`` is the request's absolute URL; each link keeps its query parameters, with
    ``offset`` and ``limit`` set. ``count`` is the number of items on this page: when the
    total is unknown, a full page is taken to have a next one. ``prev`` is left out on the
    first page, ``next`` on the last, ``last`` when the total is unknown.

    Example::

        paging_links("https://api.example.com/v2/alerts?query=open&offset=20&limit=10",
                     offset=20, limit=10, count=10, total=35)
        # {"first": "...?query=open&offset=0&limit=10", "prev": "...offset=10...",
        #  "next": "...offset=30...", "last": "...offset=30..."}
    """
    base = url if isinstance(url, URL) else URL(url)
    prefix = str(base.replace(query="", fragment=""))
    if not prefix.isascii():
        prefix = quote(prefix, safe=_URL_SAFE)  # headers carry ASCII only
    pairs = parse_qsl(base.query, keep_blank_values=True)

    def link(at: int) -> str:
        query: list[tuple[str, str]] = []
        placed = False
        for key, value in pairs:
            if key in (OFFSET, LIMIT):
                if not placed:
                    query += ((OFFSET, str(at)), (LIMIT, str(limit)))
                    placed = True
            else:
                query.append((key, value))
        if not placed:
            query += ((OFFSET, str(at)), (LIMIT, str(limit)))
        return f"{prefix}?{urlencode(query)}"

    last = None if total is None else max(total - 1, 0) // limit * limit
    links = {"first": link(0)}
    if offset > 0:
        # Past the end, "prev" leads back to the last page rather than to another empty one.
        prev = offset - limit if last is None else min(offset - limit, last)
        links["prev"] = link(max(prev, 0))
    has_next = count >= limit if total is None else offset + limit < total
    if has_next:
        links["next"] = link(offset + limit)
    if last is not None:
        links["last"] = link(last)
    return links


def _out_of_range(problems: Mapping[str, str]) -> RangeNotSatisfiable:
    """The 416 naming each bound that is not met: ``...: limit should be between 1 and 100``."""
    detail = "; ".join(f"{name} {problem}" for name, problem in problems.items())
    return RangeNotSatisfiable(f"{RangeNotSatisfiable.default_message}: {detail}", errors=problems)


def _announce(links: Mapping[str, str], total: int | None) -> None:
    set_envelope_field(PAGING, dict(links))
    if total is not None:
        set_envelope_field(TOTAL_COUNT, total)


def _check_numbers(offset: int, limit: int, total: int | None) -> None:
    """Reject a handler's impossible page (a bug, so a 500): the client's is checked earlier."""
    if offset < 0 or limit < 1 or (total is not None and total < 0):
        raise ValueError("paging needs offset >= 0, limit >= 1 and total >= 0 (or None)")


def paged(
    request: Request,
    items: Sequence[Any],
    *,
    offset: int,
    limit: int,
    total: int | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    response_class: type[JSONResponse] = JSONResponse,
) -> JSONResponse:
    """Answer one page of a list: ``data`` array, ``paging``, ``totalCount``, ``X-Paging-*``.

    ``total`` is the size of the whole list when known: it adds ``totalCount`` and the
    ``last`` link. Works without :class:`Pager` when the handler reads its own parameters.
    ``response_class`` renders the items: a ``JSONResponse`` subclass, e.g. one that
    renders with orjson when rows hold datetimes.

    Example::

        async def list_alerts(request: Request) -> Response:
            rows, total = await db.alerts(offset=0, limit=20)
            return paged(request, rows, offset=0, limit=20, total=total)
    """
    _check_numbers(offset, limit, total)
    links = paging_links(request.url, offset=offset, limit=limit, count=len(items), total=total)
    _announce(links, total)
    out = {PAGING_HEADERS[name]: url for name, url in links.items()}
    if headers:
        out = {**headers, **out}
    return response_class(list(items), status_code=status_code, headers=out)


class Page:
    """One request's paging parameters, checked, and the means to answer with a page.

    Made by :meth:`Pager.parse` (Starlette) or the FastAPI dependency :attr:`Pager.query`.
    Read ``offset``, ``limit``, ``sort``, ``order`` to fetch the rows, then answer with
    :meth:`response` (a ready ``JSONResponse``) or, in FastAPI, return :meth:`items`.
    """

    __slots__ = ("_response", "limit", "offset", "order", "request", "sort")

    def __init__(
        self,
        request: Request,
        offset: int,
        limit: int,
        sort: str | None,
        order: Order,
        response: Response | None = None,
    ) -> None:
        self.request = request
        self.offset = offset
        self.limit = limit
        self.sort = sort
        self.order: Order = order
        self._response = response

    def __repr__(self) -> str:
        return (
            f"Page(offset={self.offset}, limit={self.limit}, "
            f"sort={self.sort!r}, order={self.order!r})"
        )

    def links(self, count: int, total: int | None = None) -> dict[str, str]:
        """The paging URLs for ``count`` items on this page; see :func:`paging_links`."""
        return paging_links(
            self.request.url, offset=self.offset, limit=self.limit, count=count, total=total
        )

    def response(
        self,
        items: Sequence[Any],
        *,
        total: int | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        response_class: type[JSONResponse] = JSONResponse,
    ) -> JSONResponse:
        """Answer with ``items`` as this page; see :func:`paged`."""
        return paged(
            self.request,
            items,
            offset=self.offset,
            limit=self.limit,
            total=total,
            status_code=status_code,
            headers=headers,
            response_class=response_class,
        )

    def items(self, items: T, *, total: int | None = None) -> T:
        """Return ``items`` unchanged, having set ``paging``, ``totalCount`` and the headers.

        For FastAPI handlers that return their data (models included): the ``X-Paging-*``
        headers go on the response FastAPI builds. Needs the :attr:`Pager.query` dependency.
        """
        response = self._response
        if response is None:
            raise RuntimeError(
                "Page.items() needs the FastAPI dependency Depends(pager.query); "
                "return page.response(items) instead"
            )
        _check_numbers(self.offset, self.limit, total)
        links = self.links(len(items), total)
        _announce(links, total)
        for name, url in links.items():
            response.headers[PAGING_HEADERS[name]] = url
        return items


class Pager:
    """How a list route pages: defaults, bounds and sortable fields, checked once.

    Args:
        default_limit: page size when ``limit`` is absent (20).
        max_limit: largest ``limit`` served (100); more answers 416.
        sort_fields: the values ``sort`` may take. ``None`` accepts any field-like name
            (``[A-Za-z0-9_.-]``, up to 64 characters) and leaves checking it to the handler.
        default_sort: ``sort`` when absent (none).
        default_order: ``order`` when absent (``desc``).
        max_offset: largest ``offset`` served, if any; more answers 416.

    A malformed value (``limit=ten``, ``order=up``, a ``sort`` not allowed) answers 422
    with ``errors``; a well-formed number outside the served range (``limit=500``,
    ``offset=-1``) answers 416 ``RangeNotSatisfiable``.

    Example::

        alert_pages = Pager(sort_fields=["createdAt", "updatedAt"])

        async def list_alerts(request: Request) -> Response:          # Starlette
            page = alert_pages.parse(request)
            rows, total = await db.alerts(page.offset, page.limit, page.sort, page.order)
            return page.response(rows, total=total)

        @app.get("/v2/alerts")                                          # FastAPI
        async def list_alerts(page: Annotated[Page, Depends(alert_pages.query)]) -> list[Alert]:
            rows, total = await db.alerts(page.offset, page.limit, page.sort, page.order)
            return page.items(rows, total=total)
    """

    __slots__ = (
        "_query",
        "default_limit",
        "default_order",
        "default_sort",
        "max_limit",
        "max_offset",
        "sort_fields",
    )

    def __init__(
        self,
        *,
        default_limit: int = DEFAULT_LIMIT,
        max_limit: int = MAX_LIMIT,
        sort_fields: Iterable[str] | None = None,
        default_sort: str | None = None,
        default_order: Order = DEFAULT_ORDER,
        max_offset: int | None = None,
    ) -> None:
        for name, value in (("default_limit", default_limit), ("max_limit", max_limit)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int of at least 1, got {value!r}")
        if default_limit > max_limit:
            raise ValueError("default_limit must not be greater than max_limit")
        if max_offset is not None and (
            isinstance(max_offset, bool) or not isinstance(max_offset, int) or max_offset < 0
        ):
            raise ValueError(f"max_offset must be a non-negative int or None, got {max_offset!r}")
        fields: tuple[str, ...] | None = None
        if sort_fields is not None:
            if isinstance(sort_fields, str):
                raise TypeError("sort_fields must be an iterable of field names, not a str")
            fields = tuple(dict.fromkeys(sort_fields))
            if not fields or not all(isinstance(f, str) and _FIELD.fullmatch(f) for f in fields):
                raise ValueError(f"sort_fields must be field names of {FIELD_NAME_RULE}")
        if default_sort is not None and (
            (fields is not None and default_sort not in fields)
            or not isinstance(default_sort, str)
            or not _FIELD.fullmatch(default_sort)
        ):
            raise ValueError(f"default_sort must be one of sort_fields, got {default_sort!r}")
        if default_order not in ORDERS:
            raise ValueError(f"default_order must be 'asc' or 'desc', got {default_order!r}")
        self.default_limit = default_limit
        self.max_limit = max_limit
        self.sort_fields = fields
        self.default_sort = default_sort
        self.default_order: Order = default_order
        self.max_offset = max_offset
        self._query: Callable[..., Awaitable[Page]] | None = None

    def __repr__(self) -> str:
        return (
            f"Pager(default_limit={self.default_limit}, max_limit={self.max_limit}, "
            f"sort_fields={self.sort_fields!r})"
        )

    def parse(self, request: Request) -> Page:
        """Read and check ``offset``, ``limit``, ``sort`` and ``order`` from the query.

        Raises ``UnprocessableEntity`` (422, with ``errors``) for malformed values and
        ``RangeNotSatisfiable`` (416) for numbers outside the served range.
        """
        params = request.query_params
        errors: dict[str, str] = {}
        offset = self._integer(params.get(OFFSET), 0, OFFSET, errors)
        limit = self._integer(params.get(LIMIT), self.default_limit, LIMIT, errors)
        sort = params.get(SORT, self.default_sort)
        if sort is not None and not self._sort_ok(sort):
            errors[SORT] = self._sort_problem()
        order = params.get(ORDER, self.default_order)
        if order not in ORDERS:
            errors[ORDER] = f"should be one of [ {', '.join(ORDERS)} ]"
        if errors:
            raise UnprocessableEntity.at(query=errors)
        return self.page(request, offset, limit, sort, cast(Order, order))

    def page(
        self,
        request: Request,
        offset: int,
        limit: int,
        sort: str | None = None,
        order: Order = DEFAULT_ORDER,
        response: Response | None = None,
    ) -> Page:
        """Check that ``offset`` and ``limit`` are in the served range; return the page.

        Raises ``RangeNotSatisfiable`` (416) naming each bound that is not met.
        """
        problems: dict[str, str] = {}
        if offset < 0:
            problems[OFFSET] = _NEGATIVE_OFFSET
        elif self.max_offset is not None and offset > self.max_offset:
            problems[OFFSET] = self._past_max_offset()
        if not 1 <= limit <= self.max_limit:
            problems[LIMIT] = self._limit_out_of_range()
        if problems:
            raise _out_of_range(problems)
        return Page(request, offset, limit, sort, order, response)

    @property
    def query(self) -> Callable[..., Awaitable[Page]]:
        """FastAPI dependency: ``Depends(pager.query)`` gives the request's :class:`Page`.

        It declares ``offset``, ``limit``, ``sort`` and ``order`` as query parameters, with
        their defaults, bounds and allowed values in OpenAPI.
        """
        if self._query is None:
            self._query = self._dependency()
        return self._query

    def _past_max_offset(self) -> str:
        return f"should be at most {self.max_offset}"

    def _limit_out_of_range(self) -> str:
        return f"should be between 1 and {self.max_limit}"

    def _sort_ok(self, sort: str) -> bool:
        if self.sort_fields is not None:
            return sort in self.sort_fields
        return _FIELD.fullmatch(sort) is not None

    def _sort_problem(self) -> str:
        if self.sort_fields is not None:
            return f"should be one of [ {', '.join(self.sort_fields)} ]"
        return f"should be a field name of {FIELD_NAME_RULE}"

    @staticmethod
    def _integer(raw: str | None, default: int, name: str, errors: dict[str, str]) -> int:
        if raw is None:
            return default
        if _INTEGER.fullmatch(raw):
            return int(raw)
        errors[name] = "should be an integer"
        return default

    def _dependency(self) -> Callable[..., Awaitable[Page]]:
        from ._openapi import Declaration, describe_error
        from .fastapi import query_dependency  # only FastAPI apps get here: it stays optional

        async def page_dependency(
            request: Request,
            response: Response,
            offset: int,
            limit: int,
            sort: str | None,
            order: Order,
        ) -> Page:
            return self.page(request, offset, limit, sort, order, response)

        offset_schema: dict[str, Any] = {"minimum": 0}
        bounds = {OFFSET: _NEGATIVE_OFFSET}  # the 416's example: each bound served
        if self.max_offset is not None:
            offset_schema["maximum"] = self.max_offset
            bounds[OFFSET] = self._past_max_offset()
        bounds[LIMIT] = self._limit_out_of_range()
        sort_options: dict[str, Any] = {"default": self.default_sort}
        if self.sort_fields is not None:
            sort_type: Any = cast(Any, Literal)[self.sort_fields] | None
        else:
            sort_type = str | None
            sort_options["pattern"] = f"^{FIELD_NAME_PATTERN}$"
        return query_dependency(
            page_dependency,
            {
                OFFSET: (
                    int,
                    {
                        "default": 0,
                        "description": "Start index of the page.",
                        "json_schema_extra": offset_schema,
                    },
                ),
                LIMIT: (
                    int,
                    {
                        "default": self.default_limit,
                        "description": f"Most items on the page, at most {self.max_limit}.",
                        "json_schema_extra": {"minimum": 1, "maximum": self.max_limit},
                    },
                ),
                SORT: (sort_type, {"description": "Field to sort by.", **sort_options}),
                ORDER: (Order, {"default": self.default_order, "description": "Sort direction."}),
            },
            response=True,
            returns=Page,
            declaration=Declaration(paged=True, errors=(describe_error(_out_of_range(bounds)),)),
        )
