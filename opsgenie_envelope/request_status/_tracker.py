"""``RequestTracker``: accept a write with 202, process it in the background, serve its status.

The flow, as OpsGenie does it::

    POST /v2/alerts            -> 202 {"result": "Request will be processed", "requestId": ...}
    GET  /v2/alerts/requests/x -> 404 while processing, then 200 {"data": {"success": ...}}

``accept`` records the request as pending under the current request ID, starts the work as
an asyncio task and sets the 202's message. The task keeps renewing a lease while it works,
then records the outcome. A worker that dies mid-request stops renewing: once the lease runs
out, the status reads as failed (:data:`LOST`) instead of staying pending for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from secrets import token_hex
from types import MappingProxyType
from typing import Any

from starlette.concurrency import run_in_threadpool

from .. import (
    ApiError,
    Conflict,
    NotFound,
    ServiceUnavailable,
    get_request_id,
    is_valid_request_id,
    set_message,
)
from .._caller import digest
from .._options import check_callable, check_seconds, check_str
from .._outage import Backoff
from .._redis import SCHEMES
from ._redis import RedisRequestStore
from ._status import LOST, UNEXPECTED, Outcome, RequestStatus
from ._store import DEFAULT_TTL, MemoryRequestStore, RequestStore, StoreUnavailable

__all__ = ["ACCEPTED", "NOT_FOUND", "NOT_PROCESSED", "RequestTracker", "Work"]

logger = logging.getLogger("opsgenie_envelope")

ACCEPTED = "Request will be processed"
"""OpsGenie's text of a 202, rendered under ``result`` with ``install(app, message_key="result")``."""

NOT_FOUND = "Request not found. It might not be processed yet."
"""The 404 message while a request is unknown or still processing."""

RECORD_PAUSE = (0.1, 2.0)
"""Pauses between tries to record an outcome while the store fails: from 0.1 s, doubling up
to 2 s, for as long as the lease (after it the status reads as failed anyway)."""

NOT_PROCESSED: Mapping[str, str] = MappingProxyType({"X-Opsgenie-Errortype": "RequestNotProcessed"})
"""The header of that 404, as OpsGenie sends it: official SDKs keep polling only when it is
there (and give up at once on a 404 without it)."""


Work = Callable[..., "Outcome | Awaitable[Outcome]"]
"""What ``accept`` runs: a function (sync, run in the thread pool, or async) giving an Outcome."""


def _store(store: str | RequestStore, ttl: float | None) -> RequestStore:
    if isinstance(store, RequestStore):
        if ttl is not None:
            raise TypeError("ttl applies to a store URL; give it to the store object instead")
        return store
    if not isinstance(store, str):
        raise TypeError("store must be 'memory://', a Redis URL or a RequestStore")
    ttl = DEFAULT_TTL if ttl is None else ttl
    if store == "memory://":
        return MemoryRequestStore(ttl=ttl)
    if store.startswith(SCHEMES):
        return RedisRequestStore(store, ttl=ttl)
    raise ValueError(
        f"store must be 'memory://' or a Redis URL ({', '.join(SCHEMES)}), "
        f"got {store.partition(':')[0]}"
    )


class RequestTracker:
    """OpsGenie's asynchronous requests: 202 now, the outcome at ``GET .../requests/{id}``.

    Args:
        store: ``"memory://"`` (this process, the default), a Redis URL (every process and
            host: ``redis://host:6379/0``, ``redis+sentinel://host:26379/service``,
            ``redis+cluster://host:7000,host:7001``; see :class:`RedisRequestStore`), or a
            :class:`RequestStore`.
        lease: seconds a request may go without a sign of life from its worker (renewed every
            third of it while the work runs) before its status reads as failed.
        ttl: seconds statuses are kept (a store URL only; the default is one day).
        message: the 202's text.
        retry_after: ``Retry-After`` of the 503 answered while the store is unreachable,
            and how long the store is left alone after a failure (requests meanwhile get
            the 503 at once, as a rate limit's ``storage_retry_after`` does).

    Requests are keyed by the request ID ``EnvelopeMiddleware`` issued, so ``accept`` must
    run inside a request it serves, in an async handler on asyncio.

    A status belongs to the ``owner`` that accepted it (the app's tenant or account, once
    authenticated; stored as a digest): :meth:`status` with another owner answers as for an
    unknown ID. Each owner keeps at most the store's ``max_per_owner`` statuses (finished
    ones are dropped before pending ones), so one caller's flood never evicts another's.

    Example::

        from fastapi import FastAPI
        from opsgenie_envelope.fastapi import install
        from opsgenie_envelope.request_status import RequestTracker, Outcome

        app = FastAPI()
        install(app, message_key="result")
        tracker = RequestTracker()

        async def create(message: str) -> Outcome:
            return Outcome("Created alert", fields={"alertId": "1", "alias": message})

        @app.post("/v2/alerts", status_code=202)
        async def create_alert(body: dict[str, str]) -> None:
            await tracker.accept(create, body["message"], action="Create", owner="acme")

        @app.get("/v2/alerts/requests/{request_id}")
        async def request_status(request_id: str) -> dict[str, object]:
            return await tracker.status_data(request_id, owner="acme")
    """

    def __init__(
        self,
        store: str | RequestStore = "memory://",
        *,
        lease: float = 60.0,
        ttl: float | None = None,
        message: str = ACCEPTED,
        retry_after: float = 5.0,
    ) -> None:
        self.store = _store(store, ttl)
        self.lease = check_seconds("lease", lease)
        self.retry_after = check_seconds("retry_after", retry_after)
        self.message = check_str("message", message)
        self._jobs: set[asyncio.Task[None]] = set()  # strong references until each job ends
        self._health = Backoff("request statuses", self.retry_after)

    @property
    def running(self) -> int:
        """How many accepted requests this process is still working on."""
        return len(self._jobs)

    def _unavailable(self, error: StoreUnavailable) -> ServiceUnavailable:
        self._health.failed(error, "answering 503")
        return ServiceUnavailable(retry_after=self.retry_after)

    def _check_health(self) -> None:
        """While the store is left alone after a failure: 503 at once, without calling it."""
        left = self._health.waiting()
        if left:
            raise ServiceUnavailable(retry_after=max(left, 1.0))

    async def accept(
        self, work: Work, /, *args: Any, action: str, owner: str | None = None, **kwargs: Any
    ) -> str:
        """Record the current request as pending, start ``work(*args, **kwargs)``, set the 202 text.

        ``owner`` is who may read the status (the authenticated tenant or account; ``None``:
        whoever asks without an owner).

        Returns the request ID clients poll with. The route itself answers 202 (FastAPI:
        ``status_code=202``; Starlette: ``JSONResponse(None, status_code=202)``).

        Raises ``ServiceUnavailable`` (503, ``Retry-After``) when the store cannot be reached:
        nothing was accepted and the client may retry. Raises ``Conflict`` when the request
        ID was accepted before (only possible with trusted incoming IDs).
        """
        request_id = get_request_id()
        if request_id is None:
            raise RuntimeError("accept() runs inside a request served by EnvelopeMiddleware")
        check_str("action", action, "a non-empty str, e.g. 'Create'")
        check_callable("work", work, "a function returning an Outcome")
        token = token_hex(16)  # a lease token, not an ID: never drawn from the request IDs
        holder = _owner(owner)
        self._check_health()
        try:
            recorded = await self.store.begin(request_id, action, token, self.lease, holder)
        except StoreUnavailable as exc:
            raise self._unavailable(exc) from None
        self._health.succeeded()
        if not recorded:
            raise Conflict("A request with this ID was accepted already")
        job = asyncio.get_running_loop().create_task(
            self._process(request_id, token, holder, action, work, args, kwargs)
        )
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)
        set_message(self.message)
        return request_id

    async def status(self, request_id: str, owner: str | None = None) -> RequestStatus | None:
        """The outcome of ``owner``'s request; ``None`` while it is unknown, still processing
        or another owner's.

        Raises ``ServiceUnavailable`` when the store cannot be reached.
        """
        holder = _owner(owner)
        if not isinstance(request_id, str) or not is_valid_request_id(request_id):
            return None
        self._check_health()
        try:
            found = await self.store.get(request_id, holder)
        except StoreUnavailable as exc:
            raise self._unavailable(exc) from None
        self._health.succeeded()
        return found

    async def status_data(self, request_id: str, owner: str | None = None) -> dict[str, Any]:
        """The ``data`` of ``GET .../requests/{requestId}``; ``NotFound`` until processed, and
        for another owner's request (the same 404: an ID tells nobody else anything).

        The 404 carries OpsGenie's ``X-Opsgenie-Errortype: RequestNotProcessed``
        (:data:`NOT_PROCESSED`), for an unknown ID too: the two are not told apart.
        """
        found = await self.status(request_id, owner)
        if found is None:
            raise NotFound(NOT_FOUND, headers=NOT_PROCESSED)
        return found.to_json()

    async def join(self) -> None:
        """Wait until every request this process accepted so far is processed."""
        while self._jobs:
            await asyncio.wait(list(self._jobs))

    async def aclose(self, grace: float = 30.0) -> None:
        """Finish the work in hand (at most ``grace`` seconds), then close the store.

        Work still running after ``grace`` is cancelled and recorded as failed (:data:`LOST`):
        call this when the app shuts down (FastAPI's lifespan), so that a graceful stop
        leaves no request pending.
        """
        jobs = list(self._jobs)
        if jobs:
            _, late = await asyncio.wait(jobs, timeout=check_seconds("grace", grace))
            for job in late:
                job.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.store.aclose()

    async def _process(
        self,
        request_id: str,
        token: str,
        owner: str,
        action: str,
        work: Work,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        renewing = asyncio.get_running_loop().create_task(self._renew(request_id, token, owner))
        try:
            outcome = await self._run(work, args, kwargs)
        except ApiError as exc:
            outcome = Outcome(exc.message, success=False)
        except asyncio.CancelledError:
            # Stopped from outside (a shutdown): say so now rather than when the lease ends.
            with contextlib.suppress(StoreUnavailable):
                lost = Outcome(LOST, success=False)
                status = _status(request_id, action, lost)
                await self.store.finish(request_id, token, status, owner)
            raise
        except Exception:
            logger.exception("request %s: processing failed", request_id)
            outcome = Outcome(UNEXPECTED, success=False)
        finally:
            renewing.cancel()
        await self._record(request_id, token, owner, _status(request_id, action, outcome))

    async def _run(self, work: Work, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Outcome:
        if inspect.iscoroutinefunction(work):
            result = await work(*args, **kwargs)
        else:
            result = await run_in_threadpool(work, *args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
        if not isinstance(result, Outcome):
            raise TypeError(f"work must return an Outcome, not {type(result).__name__}")
        return result

    async def _renew(self, request_id: str, token: str, owner: str) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                if not await self.store.renew(request_id, token, self.lease, owner):
                    logger.warning(
                        "request %s: its lease ran out while it was processed; its status "
                        "reads as failed",
                        request_id,
                    )
                    return
            except StoreUnavailable as exc:
                logger.warning("request %s: lease not renewed (%s)", request_id, exc)

    async def _record(self, request_id: str, token: str, owner: str, status: RequestStatus) -> None:
        """Record the outcome; retried (the same write, idempotent) until the lease runs out."""
        delay, longest = RECORD_PAUSE
        deadline = asyncio.get_running_loop().time() + self.lease
        while True:
            try:
                if not await self.store.finish(request_id, token, status, owner):
                    logger.warning(
                        "request %s finished after its lease ran out: its status stays failed",
                        request_id,
                    )
                return
            except StoreUnavailable as exc:
                if asyncio.get_running_loop().time() + delay > deadline:
                    logger.error(
                        "request %s: outcome not recorded (%s); its status will read as "
                        "failed once its lease runs out",
                        request_id,
                        exc,
                    )
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, longest)


def _owner(owner: str | None) -> str:
    """The owner as stored: a digest of the app's value, or ``""`` for none."""
    if owner is None:
        return ""
    return digest(check_str("owner", owner, "a non-empty str or None"))


def _status(request_id: str, action: str, outcome: Outcome) -> RequestStatus:
    return RequestStatus(
        request_id, action, datetime.now(UTC), outcome.success, outcome.status, outcome.fields
    )
