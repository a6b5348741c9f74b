"""``BoundedMemoryStorage``: ``limits``' in-process storage, bounded, without a scan per hit.

``limits``' ``MemoryStorage`` starts a task that walks every live key whenever a hit finds
the previous walk finished: with tens of thousands of keys (one per client a flood made up)
every request pays for the walk and the event loop stalls. This storage keeps its counting
and replaces the walk: expired keys leave from the oldest end of the table, a few per hit,
and past ``max_keys`` the oldest keys go first (logged).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from limits.aio.storage import MemoryStorage

from .._options import check_int

__all__ = ["DEFAULT_MAX_KEYS", "BoundedMemoryStorage"]

logger = logging.getLogger("opsgenie_envelope")

DEFAULT_MAX_KEYS = 100_000
"""Keys a memory storage holds at most (a few hundred bytes each: tens of MB)."""
_WARN_EVERY = 60.0


class BoundedMemoryStorage(MemoryStorage):
    """``limits``' ``memory://`` storage with at most ``max_keys`` keys and O(1) upkeep per hit.

    ``RateLimit(storage="memory://")`` uses it; ``storage_options={"max_keys": n}`` sets
    the bound. Counting is ``limits``' own (every strategy works); only the upkeep differs:

    * no walk over every key: keys are kept in the order their window opened, so expired
      ones are dropped from the oldest end as hits come in;
    * past ``max_keys`` the oldest keys are dropped, even before they expire (a warning is
      logged, once a minute): a client cycling through made-up keys cannot grow memory,
      and what it can reset is its own oldest counters.

    Args:
        uri: ignored (``limits`` passes its URL).
        max_keys: keys held at most.
    """

    def __init__(
        self,
        uri: str | None = None,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        wrap_exceptions: bool = False,
        **options: Any,
    ) -> None:
        # Built first: limits' __del__ reads what its __init__ sets, even when ours refuses.
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.max_keys = check_int("max_keys", max_keys, minimum=1)
        self._warned_at = -_WARN_EVERY

    def __len__(self) -> int:
        """Keys held: counters (fixed and sliding windows) and moving windows."""
        return len(self.expirations) + len(self.events)

    # limits calls this (a name-mangled private method) before every hit, to start its walk
    # over all keys; the override does the bounded upkeep instead.
    async def _MemoryStorage__schedule_expiry(self) -> None:
        self._forget()

    def _forget(self) -> None:
        """Drop expired keys from the oldest end; make room for one more key when full."""
        now = time.time()
        expirations, events = self.expirations, self.events
        while expirations:
            oldest = next(iter(expirations))
            if expirations[oldest] > now and len(expirations) + len(events) < self.max_keys:
                break
            if expirations[oldest] > now:
                self._at_cap()
            self.storage.pop(oldest, None)
            del expirations[oldest]
            self.locks.pop(oldest, None)
        while events:
            oldest = next(iter(events))
            newest = events[oldest][:1]  # the newest entry is first
            if newest and newest[0].expiry > now and len(events) < self.max_keys:
                break
            if newest and newest[0].expiry > now:
                self._at_cap()
            del events[oldest]
            self.locks.pop(oldest, None)

    def _at_cap(self) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            logger.warning(
                "rate-limit memory storage holds max_keys=%d keys: the oldest are dropped "
                "before they expire (many distinct clients, or a flood of made-up ones)",
                self.max_keys,
            )

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """``limits``' moving-window entry, keeping no more entries than the limit reads."""
        acquired = await super().acquire_entry(key, limit, expiry, amount)
        window = self.events.get(key)
        if window is not None and len(window) > limit:
            del window[limit:]  # entries past the limit are never read again
        return acquired
