"""``Client`` and ``AsyncClient``: httpx clients whose requests return envelopes.

Each wraps an ``httpx.Client`` / ``httpx.AsyncClient`` (``.http``), sends through it, reads
the answer with :func:`unwrap` and retries per a :class:`Retry` policy. Sleeping, the clock
and the jitter source are injectable, so retries are tested without waiting.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypedDict, Unpack, cast, get_args

import anyio
import httpx

from .._options import check_callable, check_type
from .._wire import EXPAND, REQUEST_ID_HEADER
from ._envelope import Envelope, unwrap
from ._errors import Failure
from ._paging import (
    DEFAULT_MAX_PAGES,
    next_page_url,
    page_items,
    start_paging,
)
from ._retry import Attempts, Retry

if TYPE_CHECKING:
    from httpx._client import UseClientDefault
    from httpx._types import (
        AuthTypes,
        CookieTypes,
        HeaderTypes,
        QueryParamTypes,
        RequestContent,
        RequestData,
        RequestExtensions,
        RequestFiles,
        TimeoutTypes,
    )

__all__ = ["DEFAULT_RETRY", "AsyncClient", "BuildOptions", "Client", "RequestOptions"]

DEFAULT_RETRY = Retry()
"""The policy clients use unless given another: 4 attempts within 30 seconds."""

_FAILURES: tuple[type[Failure], ...] = get_args(Failure)  # ``except`` takes a tuple, not a union


class BuildOptions(TypedDict, total=False):
    """What a request passes on to ``httpx.Client.build_request``."""

    params: QueryParamTypes
    headers: HeaderTypes
    cookies: CookieTypes
    content: RequestContent
    data: RequestData
    files: RequestFiles
    json: Any
    timeout: TimeoutTypes | UseClientDefault
    extensions: RequestExtensions


class RequestOptions(BuildOptions, total=False):
    """Every keyword a request takes: ``expand``, httpx's ``send`` options, the rest."""

    expand: str | Iterable[str] | None
    auth: AuthTypes | UseClientDefault | None
    follow_redirects: bool | UseClientDefault


def expand_param(expand: str | Iterable[str]) -> str:
    """The ``expand`` query value: ``["contact", "rotation"]`` → ``"contact,rotation"``.

    A bare string is one name. Names must be non-empty and free of commas.
    """
    names = [expand] if isinstance(expand, str) else list(expand)
    for name in names:
        if not check_type("expand", name, str, "names (str)") or "," in name:
            raise ValueError(f"expand must be non-empty names without ',', got {name!r}")
    return ",".join(names)


class _BaseClient:
    """What the sync and async clients share: options, and preparing a request."""

    def __init__(
        self,
        retry: Retry | None,
        request_id: Callable[[], str | None] | None,
        clock: Callable[[], float],
        random: Callable[[], float],
    ) -> None:
        if retry is not None:
            check_type("retry", retry, Retry, "a Retry policy or None")
        if request_id is not None:
            check_callable("request_id", request_id, "a callable returning a str (or None)")
        self.retry = retry
        self._request_id = request_id
        self._clock = clock
        self._random = random

    def _prepare(self, request: httpx.Request, expand: str | Iterable[str] | None) -> None:
        """Add ``expand`` to the query and the caller's own ``X-Request-ID`` when configured."""
        if expand is not None:
            value = expand_param(expand)
            if value:
                request.url = request.url.copy_set_param(EXPAND, value)
        if self._request_id is not None and REQUEST_ID_HEADER not in request.headers:
            request_id = self._request_id()
            if request_id:
                request.headers[REQUEST_ID_HEADER] = request_id

    def _attempts(self, request: httpx.Request) -> Attempts | None:
        if self.retry is None:
            return None
        return Attempts(self.retry, request, self._clock, self._random)


class Client(_BaseClient):
    """A sync client for APIs that answer in OpsGenie envelopes.

    Requests return an :class:`Envelope`; error envelopes raise the client's twins of the
    taxonomy errors (``NotFound``, ``TooManyRequests``, ...), all under ``RequestFailed``.
    503, 429 and connection failures of idempotent methods are retried per ``retry``.

    Args:
        retry: the retry policy; ``None`` never retries.
        request_id: called once per request for an ``X-Request-ID`` to send (its retries
            resend the same one), e.g. ``uuid4_hex``, or ``get_request_id`` to pass on the
            ID of the request being served; a falsy result sends none. An
            ``X-Request-ID`` given with the request itself wins.
        sleep: waits between attempts (tests pass a fake one).
        clock: a monotonic clock, for the time budget.
        random: the jitter source, in [0, 1).
        http: an ``httpx.Client`` to use instead of one built from ``options``. For an ASGI
            app in tests, pass ``transport=TestClientTransport(app)`` instead.
        **options: ``httpx.Client`` options (``base_url``, ``headers``, ``auth``,
            ``timeout``, ``transport``, ...).

    Example::

        with Client(base_url="https://api.opsgenie.com",
                    headers={"Authorization": "GenieKey ..."}) as client:
            alert = client.get("/v2/alerts/1", expand=["contact"]).data
            for alert in client.paginate("/v2/alerts", params={"limit": 100}):
                ...
    """

    def __init__(
        self,
        *,
        retry: Retry | None = DEFAULT_RETRY,
        request_id: Callable[[], str | None] | None = None,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        http: httpx.Client | None = None,
        **options: Any,
    ) -> None:
        super().__init__(retry, request_id, clock, random)
        if http is not None and options:
            raise TypeError("pass either http= or httpx.Client options, not both")
        if http is not None and not isinstance(http, httpx.Client):
            raise TypeError(
                "http must be an httpx.Client; Starlette's TestClient is an httpx2.Client where "
                "httpx2 is installed: use transport=TestClientTransport(test_client) instead"
            )
        self.http = http if http is not None else httpx.Client(**options)
        self._sleep = sleep

    def request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        expand: str | Iterable[str] | None = None,
        auth: AuthTypes | UseClientDefault | None = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = httpx.USE_CLIENT_DEFAULT,
        **options: Unpack[BuildOptions],
    ) -> Envelope:
        """Send a request, retrying per the policy, and return its envelope.

        ``expand`` (a name or names) becomes ``?expand=a,b``; ``options`` are those of
        ``httpx.Client.request`` (``params``, ``json``, ``headers``, ``timeout``, ...).
        """
        request = self.http.build_request(method, url, **options)
        self._prepare(request, expand)
        attempts = self._attempts(request)
        while True:
            try:
                response = self.http.send(request, auth=auth, follow_redirects=follow_redirects)
                return unwrap(response)
            except _FAILURES as failure:
                if attempts is None:
                    raise
                delay = attempts.wait_before_retry(failure)
            self._sleep(delay)

    def get(self, url: httpx.URL | str, **options: Unpack[RequestOptions]) -> Envelope:
        """``request("GET", url, ...)``."""
        return self.request("GET", url, **options)

    def post(self, url: httpx.URL | str, **options: Unpack[RequestOptions]) -> Envelope:
        """``request("POST", url, ...)``."""
        return self.request("POST", url, **options)

    def put(self, url: httpx.URL | str, **options: Unpack[RequestOptions]) -> Envelope:
        """``request("PUT", url, ...)``."""
        return self.request("PUT", url, **options)

    def patch(self, url: httpx.URL | str, **options: Unpack[RequestOptions]) -> Envelope:
        """``request("PATCH", url, ...)``."""
        return self.request("PATCH", url, **options)

    def delete(self, url: httpx.URL | str, **options: Unpack[RequestOptions]) -> Envelope:
        """``request("DELETE", url, ...)``."""
        return self.request("DELETE", url, **options)

    def head(self, url: httpx.URL | str, **options: Unpack[RequestOptions]) -> Envelope:
        """``request("HEAD", url, ...)``."""
        return self.request("HEAD", url, **options)

    def paginate(
        self,
        url: httpx.URL | str,
        *,
        max_pages: int = DEFAULT_MAX_PAGES,
        limit: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> Iterator[Any]:
        """Yield every item of a paged list, following ``paging.next`` page after page.

        ``params`` and ``expand`` go with the first request only (the ``next`` links carry
        them on); other options go with every page. ``limit`` asks for that many items per
        page (1 to 100, OpsGenie's largest page; the server's default when omitted). More than
        ``max_pages`` pages, or a ``next`` link to another origin, stops with
        :class:`PagingError`.
        """
        start_paging(cast(dict[str, Any], options), max_pages, limit)
        envelope = self.request("GET", url, **options)
        options.pop("params", None)
        options.pop("expand", None)
        pages = 1
        while True:
            yield from page_items(envelope, pages)
            link = next_page_url(envelope, pages, max_pages)
            if link is None:
                return
            envelope = self.request("GET", link, **options)
            pages += 1

    def close(self) -> None:
        """Close the underlying ``httpx.Client``."""
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_BaseClient):
    """The async twin of :class:`Client`, over ``httpx.AsyncClient``.

    ``sleep`` is awaited (``anyio.sleep`` by default); every other argument is as for
    :class:`Client`.

    Example::

        async with AsyncClient(base_url="https://api.opsgenie.com") as client:
            alert = (await client.get("/v2/alerts/1")).data
            async for alert in client.paginate("/v2/alerts"):
                ...
    """

    def __init__(
        self,
        *,
        retry: Retry | None = DEFAULT_RETRY,
        request_id: Callable[[], str | None] | None = None,
        sleep: Callable[[float], Awaitable[object]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        http: httpx.AsyncClient | None = None,
        **options: Any,
    ) -> None:
        super().__init__(retry, request_id, clock, random)
        if http is not None and options:
            raise TypeError("pass either http= or httpx.AsyncClient options, not both")
        if http is not None and not isinstance(http, httpx.AsyncClient):
            raise TypeError("http must be an httpx.AsyncClient")
        self.http = http if http is not None else httpx.AsyncClient(**options)
        self._sleep = sleep

    async def request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        expand: str | Iterable[str] | None = None,
        auth: AuthTypes | UseClientDefault | None = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = httpx.USE_CLIENT_DEFAULT,
        **options: Unpack[BuildOptions],
    ) -> Envelope:
        """Send a request, retrying per the policy, and return its envelope."""
        request = self.http.build_request(method, url, **options)
        self._prepare(request, expand)
        attempts = self._attempts(request)
        while True:
            try:
                response = await self.http.send(
                    request, auth=auth, follow_redirects=follow_redirects
                )
                return unwrap(response)
            except _FAILURES as failure:
                if attempts is None:
                    raise
                delay = attempts.wait_before_retry(failure)
            await self._sleep(delay)

    async def get(self, url: httpx.URL | str, **options: Unpack[RequestOptions]) -> Envelope:
        """``request("GET", url, ...)``."""
        return await self.request("GET", url, **options)

    async def post(self, url: httpx.URL | str, **options: Unpack[RequestOptions]) -> Envelope:
        """``request("POST", url, ...)``."""
        return await self.request("POST", url, **options)

    async def put(self, url: httpx.URL | str, **options: Unpack[RequestOptions]) -> Envelope:
        """``request("PUT", url, ...)``."""
        return await self.request("PUT", url, **options)

    async def patch(self, url: httpx.URL | str, **options: Unpack[RequestOptions]) -> Envelope:
        """``request("PATCH", url, ...)``."""
        return await self.request("PATCH", url, **options)

    async def delete(self, url: httpx.URL | str, **options: Unpack[RequestOptions]) -> Envelope:
        """``request("DELETE", url, ...)``."""
        return await self.request("DELETE", url, **options)

    async def head(self, url: httpx.URL | str, **options: Unpack[RequestOptions]) -> Envelope:
        """``request("HEAD", url, ...)``."""
        return await self.request("HEAD", url, **options)

    async def paginate(
        self,
        url: httpx.URL | str,
        *,
        max_pages: int = DEFAULT_MAX_PAGES,
        limit: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncIterator[Any]:
        """Yield every item of a paged list, as :meth:`Client.paginate` does."""
        start_paging(cast(dict[str, Any], options), max_pages, limit)
        envelope = await self.request("GET", url, **options)
        options.pop("params", None)
        options.pop("expand", None)
        pages = 1
        while True:
            for item in page_items(envelope, pages):
                yield item
            link = next_page_url(envelope, pages, max_pages)
            if link is None:
                return
            envelope = await self.request("GET", link, **options)
            pages += 1

    async def aclose(self) -> None:
        """Close the underlying ``httpx.AsyncClient``."""
        await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
