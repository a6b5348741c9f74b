"""For apps that already limit with slowapi: its ``RateLimitExceeded`` as OpsGenie's 429.

slowapi's own handler answers ``{"error": "Rate limit exceeded: ..."}`` without
``X-RateLimit-Reason`` or ``X-RateLimit-Period-In-Sec``. The handler here raises
:class:`~opsgenie_envelope.TooManyRequests` instead, with the reason you name, the period of
the limit that was hit and ``Retry-After`` from slowapi's own window statistics, so that
``EnvelopeMiddleware`` renders it like every other 429.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from .. import TooManyRequests
from ._limit import check_reason, seconds_left

__all__ = ["Reason", "install_slowapi", "slowapi_handler"]

logger = logging.getLogger("opsgenie_envelope")

Reason = str | Callable[[Request], str]
"""``X-RateLimit-Reason`` for slowapi's 429: a fixed value, or a function of the request."""


def _seconds_left(request: Request, period: int) -> float:
    """Seconds until the window of the limit that was hit frees, from slowapi's limiter."""
    limiter: Any = getattr(request.app.state, "limiter", None)
    current: Any = getattr(request.state, "view_rate_limit", None)
    if limiter is None or current is None:
        return float(period)
    try:
        stats = limiter.limiter.get_window_stats(current[0], *current[1])
    except Exception as exc:  # slowapi's storage is down: the whole period is a safe answer
        logger.warning("slowapi window statistics unavailable (%s)", type(exc).__name__)
        return float(period)
    return seconds_left(float(stats[0]), period)


def slowapi_handler(reason: Reason = "ACCOUNT") -> Callable[[Request, Exception], Response]:
    """An exception handler turning slowapi's ``RateLimitExceeded`` into our 429.

    Args:
        reason: ``X-RateLimit-Reason``, or a function of the request returning it (to tell
            ``API_KEY`` from ``INTEGRATION`` limits, say).

    The handler is synchronous on purpose: ``SlowAPIMiddleware`` only calls synchronous
    handlers (it falls back to slowapi's own for async ones).

    Example::

        from slowapi.errors import RateLimitExceeded

        app.add_exception_handler(RateLimitExceeded, slowapi_handler("API_KEY"))
    """
    if not callable(reason):
        check_reason(reason)

    def handle_rate_limit_exceeded(request: Request, exc: Exception) -> Response:
        limit: Any = getattr(exc, "limit", None)
        item: Any = getattr(limit, "limit", None)
        period = int(item.get_expiry()) if item is not None else None
        raise TooManyRequests(
            retry_after=_seconds_left(request, period) if period else None,
            reason=reason(request) if callable(reason) else reason,
            period=period,
        )

    return handle_rate_limit_exceeded


def install_slowapi(app: Starlette, reason: Reason = "ACCOUNT") -> None:
    """Register :func:`slowapi_handler` for slowapi's ``RateLimitExceeded`` on ``app``.

    Example::

        from fastapi import FastAPI
        from slowapi import Limiter
        from slowapi.util import get_remote_address
        from opsgenie_envelope.fastapi import install
        from opsgenie_envelope.ratelimit import install_slowapi

        app = FastAPI()
        app.state.limiter = Limiter(key_func=get_remote_address)
        install(app)
        install_slowapi(app, reason="IP_ADDRESS")
    """
    try:
        from slowapi.errors import RateLimitExceeded
    except ImportError as exc:
        raise ImportError("install_slowapi needs slowapi: pip install slowapi") from exc
    app.add_exception_handler(RateLimitExceeded, slowapi_handler(reason))
