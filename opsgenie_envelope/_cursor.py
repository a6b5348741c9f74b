"""Cursor paging, as OpsGenie pages an alert's notes and logs.

Where offset paging counts rows (``offset=40``), cursor paging names one: ``offset`` is an
opaque string (each item carries its own, e.g. ``"1492157400050_1492157400050000000"``), and
``direction`` says which side of it the page lies on::

    GET /v2/alerts/7/notes?order=desc&limit=2
    -> {"data": [...two notes...],
        "paging": {"first": "/v2/alerts/7/notes?order=desc&limit=2&direction=next",
                   "next": "/v2/alerts/7/notes?order=desc&limit=2&direction=next&offset=..."}}

``paging`` holds ``first`` and, while more items follow, ``next`` (the same links go in
``X-Paging-First`` and ``X-Paging-Next``, as OpsGenie lists them); there is no total and no
``last``. As offset paging's, links never come from the ``Host`` header: they are relative
(path and query, resolved against the request's URL) unless a ``base_url`` is configured.
They keep the request's other query parameters; past :data:`~._paging.MAX_LINK_LENGTH`
there are no links at all, rather than links that drop a filter and so lead to another list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar, cast, get_args
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._errors import RangeNotSatisfiable, UnprocessableEntity
from ._openapi import Declaration, describe_error
from ._options import check_choice, check_int
from ._paging import MAX_LINK_LENGTH, announce, check_base_url, link_path
from ._query import QueryParameter, QueryParameters
from ._wire import (
    DEFAULT_LIMIT,
    DEFAULT_ORDER,
    LIMIT,
    MAX_LIMIT,
    OFFSET,
    ORDER,
    ORDERS,
    PAGING_HEADERS,
    Order,
)

__all__ = [
    "CURSOR_PATTERN",
    "CursorPage",
    "CursorPager",
    "Direction",
]

Direction = Literal["next", "prev"]
"""Which side of the ``offset`` cursor a page lies on, in the page's ``order``."""
DIRECTION: Literal["direction"] = "direction"
DIRECTIONS: tuple[Direction, ...] = get_args(Direction)
CURSOR_PATTERN = "[A-Za-z0-9._:~-]{1,128}"
"""What an ``offset`` cursor may be: 1 to 128 URL-safe characters (anything else is a 422)."""

_CURSOR = re.compile(CURSOR_PATTERN)
_INTEGER = re.compile(r"\s*[+-]?\d{1,18}\s*")
_PAGING_KEYS = (OFFSET, DIRECTION, ORDER, LIMIT)
_LINKS = ("first", "next")
T = TypeVar("T", bound=Sequence[Any])
K = TypeVar("K")


class CursorPage:
    """One request's cursor-paging parameters, checked; and the means to answer a page.

    Made by :meth:`CursorPager.parse` (Starlette) or the FastAPI dependency
    ``opsgenie_envelope.fastapi.query(pager)``.
    Fetch up to ``limit`` items on the ``direction`` side of ``offset`` (all from the start
    when it is ``None``) in ``order``, then answer with :meth:`items` (FastAPI) or
    :meth:`response`, giving the cursor of the page's last item while more follow.
    :meth:`select` does all of it for items already in memory.
    """

    __slots__ = ("_base_url", "_response", "direction", "limit", "offset", "order", "request")

    def __init__(
        self,
        request: Request,
        offset: str | None,
        direction: Direction,
        order: Order,
        limit: int,
        response: Response | None = None,
        base_url: str | None = None,
    ) -> None:
        self._base_url = check_base_url(base_url)
        self._response = response
        self.request = request
        self.offset = offset
        self.direction: Direction = direction
        self.order: Order = order
        self.limit = limit

    def __repr__(self) -> str:
        return (
            f"CursorPage(offset={self.offset!r}, direction={self.direction!r}, "
            f"order={self.order!r}, limit={self.limit})"
        )

    def links(self, next_offset: str | None) -> dict[str, str]:
        """``first`` (no cursor) and, when ``next_offset`` is given, ``next`` (from it).

        ``{}`` when the path and the other query parameters pass
        :data:`~._paging.MAX_LINK_LENGTH` characters, as offset paging's links.
        """
        if next_offset is not None and (
            not isinstance(next_offset, str) or not _CURSOR.fullmatch(next_offset)
        ):
            raise ValueError(f"a cursor must match {CURSOR_PATTERN}, got {next_offset!r}")
        root = self._base_url or ""
        url = self.request.url
        path = link_path(url, relative=not root)
        if len(path) > MAX_LINK_LENGTH:
            return {}
        kept = [
            (key, value)
            for key, value in parse_qsl(url.query, keep_blank_values=True)
            if key not in _PAGING_KEYS
        ]
        others = urlencode(kept)
        if len(path) + len(others) > MAX_LINK_LENGTH:
            return {}
        prefix = f"{root}{path}?{others}&" if others else f"{root}{path}?"
        common = [(ORDER, self.order), (LIMIT, str(self.limit))]
        links = {"first": prefix + urlencode([*common, (DIRECTION, "next")])}
        if next_offset is not None:
            more = [*common, (DIRECTION, self.direction), (OFFSET, next_offset)]
            links["next"] = prefix + urlencode(more)
        return links

    def items(self, items: T, *, next_offset: str | None) -> T:
        """Return ``items`` unchanged, having set ``paging`` (``first``, and ``next`` from
        ``next_offset`` when more items follow) and, in FastAPI, the ``X-Paging-*`` headers."""
        links = self.links(next_offset)
        announce(links, None)
        if self._response is not None:
            for name, url in links.items():
                self._response.headers[PAGING_HEADERS[name]] = url
        return items

    def response(
        self,
        items: Sequence[Any],
        *,
        next_offset: str | None,
        status_code: int = 200,
        response_class: type[JSONResponse] = JSONResponse,
    ) -> JSONResponse:
        """Answer with ``items`` as this page (Starlette); see :meth:`items`."""
        links = self.links(next_offset)
        announce(links, None)
        headers = {PAGING_HEADERS[name]: url for name, url in links.items()}
        return response_class(list(items), status_code=status_code, headers=headers)

    def select(self, items: Sequence[K], cursor: Callable[[K], str]) -> list[K]:
        """This page of ``items`` (in ascending ``cursor`` order), with ``paging`` set.

        For items held in memory: each item's cursor is ``cursor(item)``, unique and
        growing along ``items``. Returns the page in the requested ``order``.
        """
        keys = [cursor(item) for item in items]
        ordered = list(range(len(items)))
        if self.order == "desc":
            ordered.reverse()
        if self.offset is not None:
            at, descending = self.offset, self.order == "desc"

            def ahead(key: str) -> bool:
                """Whether ``key`` comes after the cursor in the page's order."""
                return key < at if descending else key > at

            if self.direction == "next":
                ordered = [i for i in ordered if ahead(keys[i])]
            else:
                ordered = [i for i in ordered if keys[i] != at and not ahead(keys[i])]
        if self.direction == "next":
            chosen, more = ordered[: self.limit], len(ordered) > self.limit
            far = chosen[-1] if chosen else None
        else:
            chosen, more = ordered[-self.limit :], len(ordered) > self.limit
            far = chosen[0] if chosen else None
        next_offset = keys[far] if more and far is not None else None
        return self.items([items[i] for i in chosen], next_offset=next_offset)


class CursorPager:
    """How a route pages by cursor: page size and order, checked once.

    Args:
        default_limit: page size when ``limit`` is absent (20).
        max_limit: largest ``limit`` served (100); more answers 416.
        default_order: ``order`` when absent (``desc``: newest first).
        base_url: the public URL the links start with, as :class:`~._paging.Pager`'s
            (``None``, the default: relative links). Never taken from the ``Host`` header.

    A malformed value (``direction=up``, ``limit=ten``, an ``offset`` that is not
    :data:`CURSOR_PATTERN`) answers 422 with ``errors``; ``limit`` outside 1..``max_limit``
    answers 416. An empty ``offset`` means none.

    Example::

        note_pages = CursorPager()

        @app.get("/v2/alerts/{alert_id}/notes")                         # FastAPI
        async def list_notes(
            alert_id: str, page: Annotated[CursorPage, Depends(query(note_pages))]
        ) -> list[dict[str, str]]:
            return page.select(await db.notes(alert_id), cursor=lambda note: note["offset"])
    """

    __slots__ = ("_query", "base_url", "default_limit", "default_order", "max_limit")

    def __init__(
        self,
        *,
        default_limit: int = DEFAULT_LIMIT,
        max_limit: int = MAX_LIMIT,
        default_order: Order = DEFAULT_ORDER,
        base_url: str | None = None,
    ) -> None:
        check_int("default_limit", default_limit, minimum=1)
        check_int("max_limit", max_limit, minimum=1)
        if default_limit > max_limit:
            raise ValueError("default_limit must not be greater than max_limit")
        check_choice("default_order", default_order, ORDERS)
        self.default_limit = default_limit
        self.max_limit = max_limit
        self.default_order: Order = default_order
        self.base_url = check_base_url(base_url)
        self._query: QueryParameters[CursorPage] | None = None

    def __repr__(self) -> str:
        return (
            f"CursorPager(default_limit={self.default_limit}, max_limit={self.max_limit}, "
            f"base_url={self.base_url!r})"
        )

    def parse(self, request: Request) -> CursorPage:
        """Read and check ``offset``, ``direction``, ``order`` and ``limit`` from the query."""
        params = request.query_params
        errors: dict[str, str] = {}
        limit = self.default_limit
        raw_limit = params.get(LIMIT)
        if raw_limit is not None:
            if _INTEGER.fullmatch(raw_limit):
                limit = int(raw_limit)
            else:
                errors[LIMIT] = "should be an integer"
        direction = params.get(DIRECTION, "next")
        order = params.get(ORDER, self.default_order)
        offset = params.get(OFFSET) or None
        errors.update(self._problems(offset, direction, order))
        if errors:
            raise UnprocessableEntity.at(query=errors)
        return self.page(request, offset, cast(Direction, direction), cast(Order, order), limit)

    def page(
        self,
        request: Request,
        offset: str | None,
        direction: Direction = "next",
        order: Order = DEFAULT_ORDER,
        limit: int = DEFAULT_LIMIT,
        response: Response | None = None,
    ) -> CursorPage:
        """Check ``limit`` against the served range (416 otherwise); return the page."""
        if not 1 <= limit <= self.max_limit:
            raise self._out_of_range()
        return CursorPage(request, offset, direction, order, limit, response, self.base_url)

    @property
    def query_parameters(self) -> QueryParameters[CursorPage]:
        """``offset``, ``direction``, ``order`` and ``limit`` described as plain data.

        With their defaults, bounds and allowed values, the route's ``paging`` (``first``,
        ``next``) and its 416, and how their values become the request's
        :class:`CursorPage`. ``opsgenie_envelope.fastapi.query(pager)`` turns it into a
        FastAPI dependency.
        """
        if self._query is None:
            self._query = self._describe()
        return self._query

    @staticmethod
    def _problems(offset: str | None, direction: str, order: str) -> dict[str, str]:
        problems: dict[str, str] = {}
        if offset is not None and not _CURSOR.fullmatch(offset):
            problems[OFFSET] = "should be a cursor of 1..128 characters of [A-Za-z0-9._:~-]"
        if direction not in DIRECTIONS:
            problems[DIRECTION] = f"should be one of [ {', '.join(DIRECTIONS)} ]"
        if order not in ORDERS:
            problems[ORDER] = f"should be one of [ {', '.join(ORDERS)} ]"
        return problems

    def _out_of_range(self) -> RangeNotSatisfiable:
        problem = f"should be between 1 and {self.max_limit}"
        return RangeNotSatisfiable(
            f"{RangeNotSatisfiable.default_message}: {LIMIT} {problem}", errors={LIMIT: problem}
        )

    def _describe(self) -> QueryParameters[CursorPage]:
        async def cursor_page_from_query(
            request: Request, response: Response, offset: str | None, **values: Any
        ) -> CursorPage:
            problems = self._problems(offset or None, values[DIRECTION], values[ORDER])
            if problems:
                raise UnprocessableEntity.at(query=problems)
            return self.page(
                request, offset or None, values[DIRECTION], values[ORDER], values[LIMIT], response
            )

        return QueryParameters(
            (
                QueryParameter(
                    OFFSET,
                    "string",
                    default=None,
                    description="Cursor: the `offset` of the item the page starts after.",
                    max_length=128,
                ),
                QueryParameter(
                    DIRECTION,
                    "string",
                    default="next",
                    description="Which side of `offset` the page lies on.",
                    enum=DIRECTIONS,
                ),
                QueryParameter(
                    ORDER,
                    "string",
                    default=self.default_order,
                    description="Sort direction.",
                    enum=ORDERS,
                ),
                QueryParameter(
                    LIMIT,
                    "integer",
                    default=self.default_limit,
                    description=f"Most items on the page, at most {self.max_limit}.",
                    minimum=1,
                    maximum=self.max_limit,
                ),
            ),
            cursor_page_from_query,
            returns=CursorPage,
            response=True,
            declaration=Declaration(
                cursor_paged=True, errors=(describe_error(self._out_of_range()),)
            ),
        )
