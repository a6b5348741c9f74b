"""Where accepted requests and their outcomes are kept: the store interface and the memory store.

A request's record goes through two states:

* **pending**: accepted, held by one worker (its ``token``) until a ``deadline`` the worker
  keeps pushing back (``renew``) while it works;
* **done**: the outcome (``finish``). Once done, a record never changes again.

``get`` answers ``None`` for an unknown or pending request (the API answers 404), and the
status for a done one. A pending record whose deadline has passed belonged to a worker that
stopped: ``get`` turns it, once and for good, into a failed status
(:data:`~opsgenie_envelope.request_status.LOST`), and a late ``finish`` from that worker is refused.

Every record has an **owner**: a digest of whoever accepted the request (the app's tenant or
account; ``""`` for none). A record is found only under its own owner: another owner's
``get`` answers ``None``, as for an unknown ID. Each owner holds at most ``max_per_owner``
records; a full owner loses its oldest *finished* status first, a pending one only when it
has nothing else, and the store logs a warning.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from .._options import check_callable, check_int, check_seconds
from ._status import LOST, RequestStatus

__all__ = [
    "DEFAULT_MAX_PER_OWNER",
    "DEFAULT_TTL",
    "CapWarning",
    "MemoryRequestStore",
    "RequestStore",
    "StoreUnavailable",
]

logger = logging.getLogger("opsgenie_envelope")

DEFAULT_TTL = 86_400.0
"""Seconds a request's record is kept after its last change (one day)."""
DEFAULT_MAX_PER_OWNER = 1_000
"""Records one owner holds at most, in either store."""
_WARN_EVERY = 60.0


class CapWarning:
    """Logs that a cap was reached and a status dropped: at most once a minute per store."""

    def __init__(self) -> None:
        self._last = -_WARN_EVERY

    def __call__(self, what: str, cap: int, owner: str) -> None:
        now = time.monotonic()
        if now - self._last < _WARN_EVERY:
            return
        self._last = now
        logger.warning(
            "request statuses: %s=%d reached (owner %s); the oldest status was dropped, "
            "finished ones first",
            what,
            cap,
            owner[:8] or "(none)",
        )


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
    async def begin(
        self, request_id: str, action: str, token: str, lease: float, owner: str = ""
    ) -> bool:
        """Record ``request_id`` as pending for ``owner``, held by ``token`` for ``lease`` seconds.

        Returns ``False`` (and changes nothing) when the ID is already recorded. A full
        owner loses its oldest record (finished ones first) to make room.
        """

    @abstractmethod
    async def renew(self, request_id: str, token: str, lease: float, owner: str = "") -> bool:
        """Push the deadline of a pending record held by ``token`` to ``lease`` seconds from now.

        Returns ``False`` when the record is no longer pending under ``token``.
        """

    @abstractmethod
    async def finish(
        self, request_id: str, token: str, status: RequestStatus, owner: str = ""
    ) -> bool:
        """Store the outcome of a record pending under ``token`` (or missing: evicted).

        Returns ``False`` when the record is done already (its lease ran out): the earlier
        answer stands.
        """

    @abstractmethod
    async def get(self, request_id: str, owner: str = "") -> RequestStatus | None:
        """The outcome; ``None`` while unknown, pending or another owner's; a failed status
        once a lease ran out."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the store's connections."""


@dataclass(slots=True)
class _Entry:
    action: str
    token: str
    owner: str
    deadline: float  # monotonic
    expires: float  # monotonic
    status: RequestStatus | None = None


@dataclass(slots=True)
class _Owned:
    """One owner's request IDs, oldest first: pending, and finished."""

    pending: dict[str, None]
    done: dict[str, None]


class MemoryRequestStore(RequestStore):
    """Request records in this process: the default, needing nothing.

    Every process has its own: behind several workers, a status poll that lands on another
    worker answers 404. Use :class:`RedisRequestStore` there.

    Args:
        ttl: seconds a record is kept after its last change.
        max_entries: records kept at most, for all owners together.
        max_per_owner: records one owner keeps at most.
        clock: a monotonic clock in seconds (tests pass a fake one).

    Past a cap the oldest finished status goes first (a pending one only when none is
    finished), with a warning: one owner's flood never evicts another owner's statuses
    until ``max_entries`` is reached, and then finished ones before any pending one.
    """

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        max_entries: int = 10_000,
        max_per_owner: int = DEFAULT_MAX_PER_OWNER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = check_seconds("ttl", ttl)
        self.max_entries = check_int("max_entries", max_entries, minimum=1)
        self.max_per_owner = check_int("max_per_owner", max_per_owner, minimum=1)
        check_callable("clock", clock, "a callable returning seconds")
        self.clock = clock
        self._warn = CapWarning()
        # Insertion order is expiry order in each: pending by acceptance, done by outcome.
        self._pending: dict[str, _Entry] = {}
        self._done: dict[str, _Entry] = {}
        self._owners: dict[str, _Owned] = {}

    def __len__(self) -> int:
        return len(self._pending) + len(self._done)

    def _drop(self, request_id: str) -> None:
        entry = self._pending.pop(request_id, None) or self._done.pop(request_id, None)
        if entry is None:
            return
        owned = self._owners[entry.owner]
        owned.pending.pop(request_id, None)
        owned.done.pop(request_id, None)
        if not owned.pending and not owned.done:
            del self._owners[entry.owner]

    def _forget_old(self, now: float) -> None:
        for table in (self._pending, self._done):
            while table:
                oldest = next(iter(table))
                if table[oldest].expires > now:
                    break
                self._drop(oldest)

    def _make_room(self, owner: str) -> None:
        """Room for one more record of ``owner``: its oldest finished one goes first."""
        owned = self._owners.get(owner)
        if owned is not None and len(owned.pending) + len(owned.done) >= self.max_per_owner:
            self._drop(next(iter(owned.done or owned.pending)))
            self._warn("max_per_owner", self.max_per_owner, owner)
        if len(self) >= self.max_entries:
            self._drop(next(iter(self._done or self._pending)))
            self._warn("max_entries", self.max_entries, owner)

    def _add(self, request_id: str, entry: _Entry) -> None:
        self._make_room(entry.owner)
        owned = self._owners.setdefault(entry.owner, _Owned({}, {}))
        if entry.status is None:
            self._pending[request_id] = entry
            owned.pending[request_id] = None
        else:
            self._done[request_id] = entry
            owned.done[request_id] = None

    async def begin(
        self, request_id: str, action: str, token: str, lease: float, owner: str = ""
    ) -> bool:
        """Record ``request_id`` as pending; ``False`` when it is already recorded."""
        now = self.clock()
        self._forget_old(now)
        if request_id in self._pending or request_id in self._done:
            return False
        self._add(request_id, _Entry(action, token, owner, now + lease, now + self.ttl))
        return True

    async def renew(self, request_id: str, token: str, lease: float, owner: str = "") -> bool:
        """Push back the deadline of a record pending under ``token``."""
        entry = self._pending.get(request_id)
        if entry is None or entry.status is not None or entry.token != token:
            return False
        entry.deadline = self.clock() + lease
        return True

    async def finish(
        self, request_id: str, token: str, status: RequestStatus, owner: str = ""
    ) -> bool:
        """Store the outcome unless the record is done already."""
        if request_id in self._done:
            return False  # not ours to change: left in its place
        entry = self._pending.get(request_id)
        if entry is not None and (entry.status is not None or entry.token != token):
            return False
        if entry is not None:
            owner = entry.owner
            self._drop(request_id)
        now = self.clock()
        self._forget_old(now)
        self._add(request_id, _Entry(status.action, token, owner, now, now + self.ttl, status))
        return True

    async def aclose(self) -> None:
        """Nothing to release in memory."""

    async def get(self, request_id: str, owner: str = "") -> RequestStatus | None:
        """The outcome, ``None`` while pending, unknown or another owner's; a failure once a
        lease ran out."""
        entry = self._pending.get(request_id) or self._done.get(request_id)
        if entry is None or entry.owner != owner:
            return None
        now = self.clock()
        if entry.expires <= now:
            self._drop(request_id)
            return None
        if entry.status is None and entry.deadline <= now:
            entry.status = RequestStatus(request_id, entry.action, datetime.now(UTC), False, LOST)
            self._drop(request_id)  # finished now: it moves to the finished ones
            entry.expires = now + self.ttl
            self._add(request_id, entry)
        return entry.status
