"""Paging: the items of one page and the next page's URL, with the guards around them."""

from __future__ import annotations

from typing import Any

import httpx

from .._options import check_int
from .._wire import LIMIT, MAX_LIMIT
from ._envelope import Envelope
from ._errors import PagingError

__all__ = ["DEFAULT_MAX_PAGES", "next_page_url", "page_items", "start_paging"]

DEFAULT_MAX_PAGES = 100
"""Most pages a paged iteration reads before it stops with :class:`PagingError`."""


def start_paging(options: dict[str, Any], max_pages: int, limit: int | None) -> None:
    """Check a paged iteration's bounds; put ``limit`` into the first request's ``params``.

    ``limit`` is the page size to ask for: 1 to ``MAX_LIMIT`` (OpsGenie's 100), since a
    larger one would only be refused by the server with 416; ``None`` leaves the server's
    default.
    """
    check_int("max_pages", max_pages, minimum=1)
    if limit is None:
        return
    check_int("limit", limit, minimum=1, maximum=MAX_LIMIT)
    options["params"] = httpx.QueryParams(options.get("params")).set(LIMIT, str(limit))


def page_items(envelope: Envelope, pages: int) -> list[Any]:
    """The items of a page: its ``data``, which must be a JSON array."""
    if not isinstance(envelope.data, list):
        raise PagingError(
            f"page {pages} is not a list: data is {type(envelope.data).__name__}",
            pages=pages,
            next_url=None,
        )
    return envelope.data


def next_page_url(envelope: Envelope, pages: int, max_pages: int) -> httpx.URL | None:
    """The URL of the page after ``envelope`` (page number ``pages``), ``None`` on the last.

    ``paging.next`` is followed only on the origin (scheme, host, port) of the request that
    returned it: credentials the client sends must never go elsewhere. A relative link is
    resolved against that request's URL.
    """
    link = envelope.paging.next if envelope.paging is not None else None
    if link is None:
        return None
    if pages >= max_pages:
        raise PagingError(
            f"stopped after {pages} pages (max_pages={max_pages}); paging.next is {link}",
            pages=pages,
            next_url=link,
        )
    current = envelope.response.request.url
    target = current.join(link)
    if (target.scheme, target.host, target.port) != (current.scheme, current.host, current.port):
        raise PagingError(
            f"paging.next {link} leaves the origin {current.scheme}://{current.netloc.decode()}",
            pages=pages,
            next_url=link,
        )
    return target
