"""Rate limits answering OpsGenie's 429, on the ``limits`` library.

Needs the ``ratelimit`` extra (``pip install "opsgenie-envelope[ratelimit]"``); a Redis
storage also needs the ``redis`` extra. ``limits`` does the counting, in this process
(``memory://``) or in Redis (``redis://``, one limit for every process and host).

* :class:`RateLimit`: one limit; a FastAPI dependency (``Depends(limit)``), or call
  :meth:`RateLimit.check` / :meth:`RateLimit.hit` yourself.
* :class:`RateLimitMiddleware`: the same on every request, as a pure-ASGI layer inside
  ``EnvelopeMiddleware``.
* Keys: :func:`by_api_key` (the caller the app authenticated with
  :func:`~opsgenie_envelope.set_caller`, hashed; the client address until then),
  :func:`by_client_address` (IPv6 by /64), or your own function; :func:`digest` hashes
  secrets for storage keys.
* :class:`BoundedMemoryStorage`: the ``memory://`` storage, bounded (``max_keys``) and
  without a walk over every key per hit.
* :func:`install_slowapi` / :func:`slowapi_handler`: slowapi's ``RateLimitExceeded`` as the
  same 429.

Over the limit: 429 with ``Retry-After``, ``X-RateLimit-State: THROTTLED``,
``X-RateLimit-Reason`` and ``X-RateLimit-Period-In-Sec``; under it, ``X-RateLimit-State: OK``
with the same reason and period. Storage down: ``on_storage_error``
(``"fail-open"``, logged, or ``"fail-closed"``, 503 with ``Retry-After``).

Example::

    from fastapi import Depends, FastAPI
    from opsgenie_envelope.fastapi import install
    from opsgenie_envelope.ratelimit import RateLimit

    app = FastAPI(dependencies=[Depends(RateLimit("600/minute"))])
    install(app)
"""

from __future__ import annotations

from ._keys import KeyFunction, by_api_key, by_client_address, digest
from ._limit import UNDER_LIMIT, RateLimit, StorageErrorPolicy, Strategy
from ._memory import BoundedMemoryStorage
from ._middleware import RateLimitMiddleware
from ._slowapi import Reason, install_slowapi, slowapi_handler

__all__ = [
    "UNDER_LIMIT",
    "BoundedMemoryStorage",
    "KeyFunction",
    "RateLimit",
    "RateLimitMiddleware",
    "Reason",
    "StorageErrorPolicy",
    "Strategy",
    "by_api_key",
    "by_client_address",
    "digest",
    "install_slowapi",
    "slowapi_handler",
]
