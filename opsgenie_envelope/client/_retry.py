"""Retrying: which failures are retried, how long to wait, and when to give up.

Pure decisions, no I/O: the clients make an :class:`Attempts` per request, call its
``wait_before_retry`` after each failed attempt and sleep for what it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from .._options import check_int, check_seconds
from .._wire import RATE_LIMIT_PERIOD_HEADER
from ._errors import Failure, RetriesExhausted
from ._headers import parse_seconds, retry_after

__all__ = ["IDEMPOTENT_METHODS", "Attempts", "Retry"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
"""Methods whose connection failures are retried (RFC 9110 §9.2.2)."""

_CONNECTION_ERRORS = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class Retry:
    """When and how long a client retries; pass ``retry=None`` to a client to never retry.

    * 503: exponential backoff with jitter, or ``Retry-After`` when the answer has one.
    * 429: ``Retry-After``, else ``X-RateLimit-Period-In-Sec``, else the backoff.
      (``Retry-After`` in seconds or as an HTTP-date; proxies' non-envelope 503/429 too.)
    * Connection failures (connect, read, timeouts, dropped connections): the backoff, for
      idempotent methods only (GET, HEAD, OPTIONS, PUT, DELETE, TRACE).

    The n-th retry's backoff is ``min(max_backoff, backoff * 2 ** (n - 1))``, scaled by a
    random factor in [0.5, 1). Retrying stops with ``RetriesExhausted`` after ``attempts``
    attempts, or as soon as the next wait would end past ``budget`` seconds from the first
    attempt: a ``Retry-After`` longer than what is left ends retrying at once. The budget
    bounds the waits, not a request in flight (httpx's ``timeout`` does that). A request
    whose body streams from an iterator or files is sent once, never retried.

    Attributes:
        attempts: most attempts per request, the first included (at least 1).
        budget: seconds from the first attempt beyond which no retry starts.
        backoff: the first retry's backoff in seconds.
        max_backoff: the cap on any backoff in seconds.

    Example::

        Client(base_url=url, retry=Retry(attempts=5, budget=60.0))
    """

    attempts: int = 4
    budget: float = 30.0
    backoff: float = 0.5
    max_backoff: float = 8.0

    def __post_init__(self) -> None:
        check_int("attempts", self.attempts, minimum=1)
        for name in ("budget", "backoff", "max_backoff"):
            check_seconds(name, getattr(self, name), zero=True)

    def backoff_for(self, retry: int, random: Callable[[], float]) -> float:
        """The jittered backoff before retry number ``retry`` (1 for the first retry)."""
        return min(self.max_backoff, self.backoff * 2.0 ** (retry - 1)) * (0.5 + random() / 2)


class Attempts:
    """One request's retry state: attempts made, and time spent by ``clock``.

    Made before the first attempt: whether the body can be sent again is known only then
    (a body streamed from an iterator or files is sent once, so such a request is never
    retried).
    """

    __slots__ = ("clock", "count", "idempotent", "policy", "random", "replayable", "started")

    def __init__(
        self,
        policy: Retry,
        request: httpx.Request,
        clock: Callable[[], float],
        random: Callable[[], float],
    ) -> None:
        self.policy = policy
        self.idempotent = request.method in IDEMPOTENT_METHODS
        self.replayable = isinstance(request.stream, httpx.ByteStream)
        self.clock = clock
        self.random = random
        self.started = clock()
        self.count = 1  # the attempt in flight

    def _delay(self, failure: Failure) -> float | None:
        """Seconds to wait before retrying ``failure``, or ``None`` when it is not retried."""
        if not self.replayable:
            return None
        if isinstance(failure, httpx.TransportError):
            if self.idempotent and isinstance(failure, _CONNECTION_ERRORS):
                return self.policy.backoff_for(self.count, self.random)
            return None
        headers = failure.response.headers
        status = failure.response.status_code
        if status == 429:
            wait = retry_after(headers)
            if wait is None:
                wait = parse_seconds(headers.get(RATE_LIMIT_PERIOD_HEADER))
        elif status == 503:
            wait = retry_after(headers)
        else:
            return None
        return self.policy.backoff_for(self.count, self.random) if wait is None else wait

    def wait_before_retry(self, failure: Failure) -> float:
        """Count a failed attempt and return the seconds to wait before the next one.

        Raises ``failure`` itself when it is not retried, and :class:`RetriesExhausted`
        (caused by ``failure``) when the attempts or the budget do not allow another.
        """
        delay = self._delay(failure)
        if delay is None:
            raise failure
        elapsed = self.clock() - self.started
        if self.count >= self.policy.attempts:
            why = f"{self.count} attempt{'s' if self.count != 1 else ''} allowed"
        elif elapsed + delay > self.policy.budget:
            why = (
                f"waiting {delay:.3f}s more would pass the {self.policy.budget:g}s budget,"
                f" {max(0.0, self.policy.budget - elapsed):.3f}s left"
            )
        else:
            self.count += 1
            return delay
        raise RetriesExhausted(self.count, elapsed, failure, why) from failure
