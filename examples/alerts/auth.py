"""GenieKey authentication and a per-key rate limit for the Alerts API demo.

OpsGenie authenticates with ``Authorization: GenieKey <key>``: no header, another scheme or
an unknown key answers 401 ``Could not authenticate``; a key without write access used on a
write answers 403 (code 40301). Each key may make ``limit`` requests per ``period`` seconds
(a fixed window); one more answers 429 with ``Retry-After`` and OpsGenie's
``X-RateLimit-*`` headers.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from opsgenie_envelope import Forbidden, TooManyRequests, Unauthenticated

__all__ = ["Caller", "Gate", "RateLimiter"]

SCHEME = "GenieKey"


@dataclass(frozen=True)
class Caller:
    """Who is calling: which key (by its setting's name), and whether it may write."""

    key_name: str
    can_write: bool

    def check_write(self) -> None:
        """Raise ``Forbidden`` (403, code 40301) unless this key may write."""
        if not self.can_write:
            raise Forbidden(
                "You are not allowed to perform this operation: the API key is read-only"
            )


class RateLimiter:
    """At most ``limit`` requests per ``period`` seconds per key, in fixed windows.

    Args:
        limit: requests allowed per window and key (at least 1).
        period: the window's length in seconds.
        clock: a monotonic clock in seconds.
    """

    def __init__(
        self, limit: int, period: int = 60, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or period < 1:
            raise ValueError("limit and period must be at least 1")
        self.limit = limit
        self.period = period
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window start, requests)

    def hit(self, key: str) -> None:
        """Count a request of ``key``; raise ``TooManyRequests`` when its window is full."""
        now = self.clock()
        start, used = self._windows.get(key, (now, 0))
        if now - start >= self.period:
            start, used = now, 0
        if used >= self.limit:
            wait = math.ceil(start + self.period - now)
            raise TooManyRequests(retry_after=wait, reason="API_KEY", period=self.period)
        self._windows[key] = (start, used + 1)


class Gate:
    """Turn an ``Authorization`` header into a :class:`Caller`, counting it against the limit.

    Args:
        keys: key → (setting name, whether it may write).
        limiter: the per-key rate limit.
    """

    def __init__(self, keys: dict[str, tuple[str, bool]], limiter: RateLimiter) -> None:
        self._keys = [(key.encode(), Caller(name, write)) for key, (name, write) in keys.items()]
        self.limiter = limiter

    def admit(self, authorization: str | None) -> Caller:
        """The caller behind ``authorization``; 401 when unknown, 429 when over the limit."""
        caller = self._caller(authorization)
        if caller is None:
            raise Unauthenticated(headers={"WWW-Authenticate": SCHEME})
        self.limiter.hit(caller.key_name)
        return caller

    def _caller(self, authorization: str | None) -> Caller | None:
        scheme, _, key = (authorization or "").strip().partition(" ")
        if scheme.lower() != SCHEME.lower() or not key.strip():
            return None
        given = key.strip().encode()
        found = None
        for known, caller in self._keys:
            # Compare with every key, in constant time, so timing tells nothing.
            if hmac.compare_digest(given, known):
                found = caller
        return found
