"""Shared by the stateful features (rate limits, request statuses): Redis client defaults,
option checks and outage logs.

A store that cannot be reached fails every request that needs it; one warning per request
would flood the log. :class:`OutageLog` warns at the first failure, then at most once a
minute while it lasts, and says when the store answers again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

__all__ = ["REDIS_OPTIONS", "WARNING_INTERVAL", "OutageLog"]

logger = logging.getLogger("opsgenie_envelope")

REDIS_OPTIONS: Mapping[str, float] = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
"""Default redis-py client options: a hung Redis costs a request one second, not forever."""

WARNING_INTERVAL = 60.0
"""Seconds between two warnings about the same unreachable store."""


class OutageLog:
    """Warnings about one store's outage: the first failure, then one a minute, then recovery.

    Args:
        what: names the store in every message, e.g. ``"rate limit 'default'"``.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.down = False
        self._next_warning = 0.0

    def failed(self, error: BaseException, consequence: str) -> None:
        """Note a failure; warn (type and text of ``error``, then ``consequence``) if due."""
        self.down = True
        now = time.monotonic()
        if now >= self._next_warning:
            self._next_warning = now + WARNING_INTERVAL
            logger.warning(
                "%s: storage unreachable (%s: %s); %s",
                self.what,
                type(error).__name__,
                error,
                consequence,
            )

    def recovered(self) -> None:
        """Note a success; say so once if the store was down."""
        if self.down:
            self.down = False
            self._next_warning = 0.0
            logger.info("%s: storage answers again", self.what)
