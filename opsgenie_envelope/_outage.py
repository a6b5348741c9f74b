"""Shared by the stateful features (rate limits, request statuses): Redis client defaults,
outage logs and the back-off (their option checks are in ``_options``).

A store that cannot be reached fails every request that needs it; one warning per request
would flood the log. :class:`OutageLog` warns at the first failure, then at most once a
minute while it lasts, and says when the store answers again. :class:`Backoff` leaves a
store that just failed alone for a while: requests get the outage answer at once instead
of each waiting out a timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

__all__ = ["REDIS_OPTIONS", "WARNING_INTERVAL", "Backoff", "OutageLog"]

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


class Backoff:
    """One store's health, shared by all requests: after a failure it is left alone a while.

    Args:
        what: names the store in the log, e.g. ``"request statuses"``.
        seconds: how long the store is left alone after a failure.
    """

    def __init__(self, what: str, seconds: float) -> None:
        self.seconds = seconds
        self.log = OutageLog(what)
        self._until = 0.0

    def waiting(self) -> float:
        """Seconds left before the store may be tried again; 0.0 when it may."""
        if not self._until:
            return 0.0
        left = self._until - time.monotonic()
        return left if left > 0 else 0.0

    def failed(self, error: BaseException, consequence: str) -> None:
        """Start (or restart) the pause; log ``consequence`` (e.g. ``"answering 503"``) if due."""
        self._until = time.monotonic() + self.seconds
        self.log.failed(error, f"{consequence} for the next {self.seconds:g} s")

    def succeeded(self) -> None:
        """The store answered: end the pause, say so once if it was down."""
        if self._until or self.log.down:
            self._until = 0.0
            self.log.recovered()
