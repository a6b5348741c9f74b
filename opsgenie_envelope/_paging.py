"""Lists and paging (SPEC §6): OpsGenie's ``offset``/``limit``/``sort``/``order`` and links.

A list answer carries ``data`` as an array, ``paging`` with ``first``/``prev``/``next``/
``last`` links that keep the request's other query parameters, ``totalCount`` when the total
is known, and the same links in ``X-Paging-First``/``-Prev``/``-Next``/``-Last``.

Links never come from the request's ``Host`` header, which the client chooses: they are
relative (the request's path and query) unless a ``base_url`` is configured, and then that
URL followed by the path and query. They are bounded: a request whose path and other query
parameters pass :data:`MAX_LINK_LENGTH` characters gets no links at all, rather than
links many times the size of its query (or links that drop a filter and so lead to
another list).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._context import set_envelope_field
from ._errors import RangeNotSatisfiable, UnprocessableEntity
from ._openapi import Declaration, describe_error
from ._options import (
    check_choice,
    check_field_name,
    check_int,
    check_optional_int,
    check_type,
)
from ._query import QueryParameter, QueryParameters
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

__all__ = [
    "MAX_LINK_LENGTH",
    "Page",
    "Pager",
    "announce",
    "check_base_url",
    "link_path",
    "paged",
    "paging_links",
]

MAX_LINK_LENGTH = 2048
"""Most characters of a link's path and kept query parameters (``offset`` and ``limit``
aside, and the base URL before them). A request past it gets no paging links."""

_INTEGER = re.compile(r"\s*[+-]?\d{1,18}\s*")
_FIELD = re.compile(FIELD_NAME_PATTERN)
_NEGATIVE_OFFSET = "should be 0 or greater"
# A decoded path made safe for a header and a URL: ``%`` stays, as Starlette's ``%3F``.
_PATH_SAFE = "/!$%&'()*+,;=:@~"
_BASE_URL_RULE = "an absolute http(s) URL without query or fragment, e.g. 'https://api.example.com'"


def check_base_url(base_url: object, option: str = "base_url") -> str | None:
    """Check a paging base URL; return it without a trailing ``/`` (``None`` stays ``None``).

    Raises ``TypeError`` for a value that is not a ``str`` and ``ValueError`` for a string
    that is not an absolute ``http``/``https`` URL (scheme and host, an optional path prefix,
    no credentials, query or fragment, printable ASCII only), naming ``option``.
    """
    if base_url is None:
        return None
    return _checked_base_url(check_type(option, base_url, str, "a str or None"), option)


@lru_cache(maxsize=32)
def _checked_base_url(base_url: str, option: str) -> str:
    parts = urlsplit(base_url) if base_url.isascii() and base_url.isprintable() else None
    if (
        parts is None
        or " " in base_url
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or parts.query
        or parts.fragment
        or base_url.endswith(("?", "#"))
    ):
        raise ValueError(f"{option} must be {_BASE_URL_RULE}, got {base_url!r}")
    return base_url.rstrip("/")


T = TypeVar("T", bound=Sequence[Any])


def link_path(url: URL, *, relative: bool = True) -> str:
    """The path of a link to ``url``'s resource: printable ASCII, and on the same host.

    The decoded path is percent-encoded where a header or a URL needs it (``%`` kept, as in
    Starlette's ``%3F``). A relative link's path starting with ``//`` would name another host
    (``//attacker.example/x``): it becomes ``/.//attacker.example/x``, which resolves to that
    path on the host the client called.
    """
    path = quote(url.path or "/", safe=_PATH_SAFE)  # headers carry ASCII only
    if relative and path.startswith("//"):
        path = "/." + path
    return path


def paging_links(
    url: URL | str,
    *,
    offset: int,
    limit: int,
    count: int,
    total: int | None = None,
    base_url: str | None = None,
) -> dict[str, str]:
    """Return the ``first``/``prev``/``next``/``last`` links of a page, in that order.

    ``url`` is the request's URL: only its path and query are read, never its host. Each
    link is that path with the query parameters kept (those with a name, in their places),
    ``offset`` and ``limit`` set; it is relative (``/v2/alerts?offset=20&limit=10``) or,
    with ``base_url``, that URL followed by the path. ``count`` is the number of items on
    this page: when the total is unknown, a full page is taken to have a next one. ``prev``
    is left out on the first page, ``next`` on the last, ``last`` when the total is unknown.
    When the path and the kept query pass :data:`MAX_LINK_LENGTH` characters, there are no
    links: ``{}``.

    Example::

        paging_links("https://api.example.com/v2/alerts?query=open&offset=20&limit=10",
                     offset=20, limit=10, count=10, total=35)
        # {"first": "/v2/alerts?query=open&offset=0&limit=10", "prev": "...offset=10...",
        #  "next": "...offset=30...", "last": "...offset=30..."}
    """
    root = check_base_url(base_url) or ""
    request_url = url if isinstance(url, URL) else URL(url)
    path = link_path(request_url, relative=not root)
    if len(path) > MAX_LINK_LENGTH:
        return {}
    kept: list[tuple[str, str]] = []
    place = -1  # offset and limit go where they first appear, else at the end
    for key, value in parse_qsl(request_url.query, keep_blank_values=True):
        if key in (OFFSET, LIMIT):
            if place < 0:
                place = len(kept)
        elif key:
            kept.append((key, value))
    if place < 0:
        place = len(kept)
    head, tail = urlencode(kept[:place]), urlencode(kept[place:])
    if len(path) + len(head) + len(tail) > MAX_LINK_LENGTH:
        return {}
    prefix = f"{root}{path}?{head}&" if head else f"{root}{path}?"
    suffix = f"&{tail}" if tail else ""

    def link(at: int) -> str:
        return f"{prefix}{OFFSET}={at}&{LIMIT}={limit}{suffix}"

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


def announce(links: Mapping[str, str], total: int | None) -> None:
    """Set ``paging`` (when there are links) and ``totalCount`` (when the total is known)."""
    if links:  # none past MAX_LINK_LENGTH: no ``paging`` either
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
    base_url: str | None = None,
) -> JSONResponse:
    """Answer one page of a list: ``data`` array, ``paging``, ``totalCount``, ``X-Paging-*``.

    ``total`` is the size of the whole list when known: it adds ``totalCount`` and the
    ``last`` link. Works without :class:`Pager` when the handler reads its own parameters.
    ``response_class`` renders the items: a ``JSONResponse`` subclass, e.g. one that
    renders with orjson when rows hold datetimes. ``base_url`` makes the links absolute
    (see :class:`Pager`); without it they are relative.

    Example::

        async def list_alerts(request: Request) -> Response:
            rows, total = await db.alerts(offset=0, limit=20)
            return paged(request, rows, offset=0, limit=20, total=total)
    """
    _check_numbers(offset, limit, total)
    links = paging_links(
        request.url, offset=offset, limit=limit, count=len(items), total=total, base_url=base_url
    )
    announce(links, total)
    out = {PAGING_HEADERS[name]: url for name, url in links.items()}
    if headers:
        out = {**headers, **out}
    return response_class(list(items), status_code=status_code, headers=out)


class Page:
    """One request's paging parameters, checked, and the means to answer with a page.

    Made by :meth:`Pager.parse` (Starlette) or the FastAPI dependency
    ``opsgenie_envelope.fastapi.query(pager)``.
    Read ``offset``, ``limit``, ``sort``, ``order`` to fetch the rows, then answer with
    :meth:`response` (a ready ``JSONResponse``) or, in FastAPI, return :meth:`items`.
    """

    __slots__ = ("_base_url", "_response", "limit", "offset", "order", "request", "sort")

    def __init__(
        self,
        request: Request,
        offset: int,
        limit: int,
        sort: str | None,
        order: Order,
        response: Response | None = None,
        base_url: str | None = None,
    ) -> None:
        self.request = request
        self.offset = offset
        self.limit = limit
        self.sort = sort
        self.order: Order = order
        self._response = response
        self._base_url = check_base_url(base_url)

    def __repr__(self) -> str:
        return (
            f"Page(offset={self.offset}, limit={self.limit}, "
            f"sort={self.sort!r}, order={self.order!r})"
        )

    def links(self, count: int, total: int | None = None) -> dict[str, str]:
        """The paging links for ``count`` items on this page; see :func:`paging_links`."""
        return paging_links(
            self.request.url,
            offset=self.offset,
            limit=self.limit,
            count=count,
            total=total,
            base_url=self._base_url,
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
            base_url=self._base_url,
        )

    def items(self, items: T, *, total: int | None = None) -> T:
        """Return ``items`` unchanged, having set ``paging``, ``totalCount`` and the headers.

        For FastAPI handlers that return their data (models included): the ``X-Paging-*``
        headers go on the response FastAPI builds. Needs the dependency
        ``Depends(query(pager))`` of ``opsgenie_envelope.fastapi``.
        """
        response = self._response
        if response is None:
            raise RuntimeError(
                "Page.items() needs the FastAPI dependency Depends(query(pager)) of "
                "opsgenie_envelope.fastapi; return page.response(items) instead"
            )
        _check_numbers(self.offset, self.limit, total)
        links = self.links(len(items), total)
        announce(links, total)
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
        base_url: the public URL the links start with, e.g. ``https://api.example.com``
            (with a path prefix when a proxy strips one). ``None`` (the default) gives
            relative links: the request's path and query, which a client resolves against
            the URL it called. Never taken from the request's ``Host`` header.

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
        async def list_alerts(page: Annotated[Page, Depends(query(alert_pages))]) -> list[Alert]:
            rows, total = await db.alerts(page.offset, page.limit, page.sort, page.order)
            return page.items(rows, total=total)
    """

    __slots__ = (
        "_query",
        "base_url",
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
        base_url: str | None = None,
    ) -> None:
        check_int("default_limit", default_limit, minimum=1)
        check_int("max_limit", max_limit, minimum=1)
        if default_limit > max_limit:
            raise ValueError("default_limit must not be greater than max_limit")
        check_optional_int("max_offset", max_offset, minimum=0)
        fields: tuple[str, ...] | None = None
        if sort_fields is not None:
            if isinstance(sort_fields, str) or not isinstance(sort_fields, Iterable):
                kind = type(sort_fields).__name__
                raise TypeError(f"sort_fields must be an iterable of field names, got {kind}")
            given = tuple(sort_fields)
            for field in given:
                check_field_name("sort_fields", field, "field names")
            fields = tuple(dict.fromkeys(given))
            if not fields:
                raise ValueError(f"sort_fields must be field names of {FIELD_NAME_RULE}, got none")
        if default_sort is not None:
            check_field_name("default_sort", default_sort)
            if fields is not None and default_sort not in fields:
                raise ValueError(f"default_sort must be one of sort_fields, got {default_sort!r}")
        check_choice("default_order", default_order, ORDERS)
        self.default_limit = default_limit
        self.max_limit = max_limit
        self.sort_fields = fields
        self.default_sort = default_sort
        self.default_order: Order = default_order
        self.max_offset = max_offset
        self.base_url = check_base_url(base_url)
        self._query: QueryParameters[Page] | None = None

    def __repr__(self) -> str:
        return (
            f"Pager(default_limit={self.default_limit}, max_limit={self.max_limit}, "
            f"sort_fields={self.sort_fields!r}, base_url={self.base_url!r})"
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
        return Page(request, offset, limit, sort, order, response, self.base_url)

    @property
    def query_parameters(self) -> QueryParameters[Page]:
        """``offset``, ``limit``, ``sort`` and ``order`` described as plain data.

        With their defaults, bounds and allowed values, and how their values become the
        request's :class:`Page`: what a framework needs to declare and document them.
        ``opsgenie_envelope.fastapi.query(pager)`` turns it into a FastAPI dependency.
        """
        if self._query is None:
            self._query = self._describe()
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

    def _describe(self) -> QueryParameters[Page]:
        async def page_from_query(
            request: Request,
            response: Response,
            offset: int,
            limit: int,
            sort: str | None,
            order: Order,
        ) -> Page:
            return self.page(request, offset, limit, sort, order, response)

        bounds = {OFFSET: _NEGATIVE_OFFSET}  # the 416's example: each bound served
        if self.max_offset is not None:
            bounds[OFFSET] = self._past_max_offset()
        bounds[LIMIT] = self._limit_out_of_range()
        return QueryParameters(
            (
                QueryParameter(
                    OFFSET,
                    "integer",
                    default=0,
                    description="Start index of the page.",
                    minimum=0,
                    maximum=self.max_offset,
                ),
                QueryParameter(
                    LIMIT,
                    "integer",
                    default=self.default_limit,
                    description=f"Most items on the page, at most {self.max_limit}.",
                    minimum=1,
                    maximum=self.max_limit,
                ),
                QueryParameter(
                    SORT,
                    "string",
                    default=self.default_sort,
                    description="Field to sort by.",
                    enum=self.sort_fields,
                    nullable=True,
                    pattern=None if self.sort_fields is not None else f"^{FIELD_NAME_PATTERN}$",
                ),
                QueryParameter(
                    ORDER,
                    "string",
                    default=self.default_order,
                    description="Sort direction.",
                    enum=ORDERS,
                ),
            ),
            page_from_query,
            returns=Page,
            response=True,
            declaration=Declaration(paged=True, errors=(describe_error(_out_of_range(bounds)),)),
        )
