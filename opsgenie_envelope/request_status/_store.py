"""Where accepted requests and their outcomes are kept: the store interface and the memory store.

A request's record goes through two states:

* **pending**: accepted, held by one worker (its ``token``) until a ``deadline`` the worker
  keeps pushing back (``renew``) while it works;
* **done**: the outcome (``finish``). Once done, a record never changes again.

``get`` answers ``None`` for an unknown or pending request (the API answers 404), and the
status for a done one. A pending record whose deadline has passed belonged to a worker that
stopped: ``get`` turns it, once and for good, into a failed status
(:data:`~opsgenie_envelope.request_status.LOST`), and a late ``finish`` from that worker is refused.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from .._options import check_callable, check_int, check_seconds
from ._status import LOST, RequestStatus

__all__ = ["DEFAULT_TTL", "MemoryRequestStore", "RequestStore", "StoreUnavailable"]

DEFAULT_TTL = 86_400.0
"""Seconds a request's record is kept after its last change (one day)."""


class StoreUnavailable(Exception):
    """The store cannot be reached (Redis down, timed out); the text says why, without secrets.

    A server-side failure between a store and its tracker: no ``ApiError`` (the tracker turns
    it into ``ServiceUnavailable``, a 503 with ``Retry-After``) and no client failure.
    """


class RequestStore(ABC):
    """The interface of a request store; every method may raise :class:`StoreUnavailable`."""

    ttl: float
    """Seconds a record is kept after its last change."""

    @abstractmethod
    async def begin(self, request_id: str, action: str, token: str, lease: float) -> bool:
        """Record ``request_id`` as pending, held by ``token`` for ``lease`` seconds.

        Returns ``False`` (and changes nothing) when the ID is already recorded.
        """

    @abstractmethod
    async def renew(self, request_id: str, token: str, lease: float) -> bool:
        """Push the deadline of a pending record held by ``token`` to ``lease`` seconds from now.

        Returns ``False`` when the record is no longer pending under ``token``.
        """

    @abstractmethod
    async def finish(self, request_id: str, token: str, status: RequestStatus) -> bool:
        """Store the outcome of a record pending under ``token`` (or missing: evicted).

        Returns ``False`` when the record is done already (its lease ran out): the earlier
        answer stands.
        """

    @abstractmethod
    async def get(self, request_id: str) -> RequestStatus | None:
        """The outcome; ``None`` while unknown or pending; a failed status once a lease ran out."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the store's connections."""


@dataclass(slots=True)
class _Entry:
    action: str
    token: str
    deadline: float  # monotonic
    expires: float  # monotonic
    status: RequestStatus | None = None


class MemoryRequestStore(RequestStore):
    """Request records in this process: the default, needing nothing.

    Every process has its own: behind several workers, a status poll that lands on another
    worker answers 404. Use :class:`RedisRequestStore` there.

    Args:
        ttl: seconds a record is kept after its last change.
        max_entries: records kept at most; the oldest go first.
        clock: a monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = check_seconds("ttl", ttl)
        self.max_entries = check_int("max_entries", max_entries, minimum=1)
        check_callable("clock", clock, "a callable returning seconds")
        self.clock = clock
        # Insertion order is expiry order: every write re-inserts its record at the end.
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def _forget_old(self, now: float) -> None:
        entries = self._entries
        while entries:
            oldest = next(iter(entries))
            if entries[oldest].expires > now and len(entries) <= self.max_entries:
                break
            del entries[oldest]

    async def begin(self, request_id: str, action: str, token: str, lease: float) -> bool:
        """Record ``request_id`` as pending; ``False`` when it is already recorded."""
        now = self.clock()
        self._forget_old(now)
        if request_id in self._entries:
            return False
        self._entries[request_id] = _Entry(action, token, now + lease, now + self.ttl)
        self._forget_old(now)
        return True

    async def renew(self, request_id: str, token: str, lease: float) -> bool:
        """Push back the deadline of a record pending under ``token``."""
        entry = self._entries.get(request_id)
        if entry is None or entry.status is not None or entry.token != token:
            return False
        entry.deadline = self.clock() + lease
        return True

    async def finish(self, request_id: str, token: str, status: RequestStatus) -> bool:
        """Store the outcome unless the record is done already."""
        entry = self._entries.get(request_id)
        if entry is not None and (entry.status is not None or entry.token != token):
            return False  # not ours to change: left in its place
        self._entries.pop(request_id, None)  # re-inserted last: insertion order is expiry order
        now = self.clock()
        self._entries[request_id] = _Entry(status.action, token, now, now + self.ttl, status)
        self._forget_old(now)
        return True

    async def aclose(self) -> None:
        """Nothing to release in memory."""

    async def get(self, request_id: str) -> RequestStatus | None:
        """The outcome, ``None`` while pending or unknown, a failure once a lease ran out."""
        entry = self._entries.get(request_id)
        if entry is None:
            return None
        now = self.clock()
        if entry.expires <= now:
            del self._entries[request_id]
            return None
        if entry.status is None and entry.deadline <= now:
            entry.status = RequestStatus(request_id, entry.action, datetime.now(UTC), False, LOST)
        return entry.status
