"""Reading the client-side headers that hold seconds: ``Retry-After`` and its kin.

Shared by :mod:`._envelope` (errors carry ``retry_after``) and :mod:`._retry` (how long to
wait before the next attempt).
"""

from __future__ import annotations

import time
from datetime import UTC
from email.utils import parsedate_to_datetime

import httpx

from .._wire import RETRY_AFTER_HEADER

__all__ = ["parse_seconds", "retry_after"]


def parse_seconds(value: str | None) -> float | None:
    """Read a header holding a non-negative number of seconds; ``None`` when it does not."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0.0 <= seconds < float("inf") else None


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP-date), or ``None``."""
    value = headers.get(RETRY_AFTER_HEADER)
    seconds = parse_seconds(value)
    if seconds is not None or value is None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; an obsolete form may lack the zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - time.time())
