"""Media types: is a response JSON, does a request's ``Accept`` allow JSON, is its body JSON."""

from __future__ import annotations

__all__ = ["accepts_json", "is_json_media_type"]

MAX_ACCEPT = 4096
"""Longest `Accept` value read; the rest of a longer one is ignored."""
_CACHE_SIZE = 256
_CACHE_MAX_LEN = 256
# Clients send the same few Accept values over and over: remember the answer for the first
# 256 distinct short ones (bounded, so odd values cannot grow it; dict access is atomic).
_accept_cache: dict[bytes, bool] = {}


def is_json_media_type(content_type: bytes) -> bool:
    """Tell whether a ``Content-Type`` value names JSON (``application/json`` or ``*/*+json``)."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


def _quality(params: list[bytes]) -> float:
    for param in params:
        name, _, value = param.partition(b"=")
        if name.strip().lower() == b"q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def accepts_json(accept: bytes) -> bool:
    """Tell whether an ``Accept`` header value allows ``application/json`` (cached)."""
    known = _accept_cache.get(accept)
    if known is not None:
        return known
    answer = _accepts_json(accept)
    if len(accept) <= _CACHE_MAX_LEN and len(_accept_cache) < _CACHE_SIZE:
        _accept_cache[accept] = answer
    return answer


def _accepts_json(accept: bytes) -> bool:
    """Tell whether an ``Accept`` header value allows ``application/json``.

    The most specific matching range decides (``application/json`` over ``application/*``
    over ``*/*``); a quality of 0 rules JSON out. An empty header accepts anything. A header
    too long to be a real one (over 4 KiB) is read as its first 4 KiB.
    """
    if len(accept) > MAX_ACCEPT:
        accept = accept[:MAX_ACCEPT]
    if not accept.strip():
        return True
    lowered = accept.lower()
    # Fast path: the common values, with no quality that could exclude JSON.
    if b"q=" not in lowered and (b"application/json" in lowered or b"*/*" in lowered):
        return True
    best_rank = -1
    best_q = 0.0
    for media_range in lowered.split(b","):
        media, *params = media_range.split(b";")
        media = media.strip()
        if media == b"application/json":
            rank = 2
        elif media == b"application/*":
            rank = 1
        elif media == b"*/*":
            rank = 0
        else:
            continue
        if rank > best_rank:
            best_rank, best_q = rank, _quality(params)
        elif rank == best_rank:
            best_q = max(best_q, _quality(params))
    return best_rank >= 0 and best_q > 0.0
