"""Who a request counts against: its API key (hashed), its client address, or your function.

A key function takes the request's :class:`~starlette.requests.HTTPConnection` and returns the
string its requests are counted under, or ``None`` for a request that is not limited. It may
be sync or async. Keys end up in the rate-limit storage (Redis keys, when Redis is used), so
a secret must never be returned as it is: :func:`digest` it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection

__all__ = ["KeyFunction", "by_api_key", "by_client_address", "digest"]

KeyFunction = Callable[[HTTPConnection], "str | Awaitable[str | None] | None"]
"""A request's rate-limit key; ``None`` leaves the request unlimited (sync or async)."""

_PERSON = b"og-envelope-key"
_SCHEME = b"geniekey"
_MAX_KEY = 1024
"""Longest ``Authorization`` value read as an API key; a longer one counts as no key."""


def digest(value: str) -> str:
    """A one-way digest of ``value`` for storage keys and logs (BLAKE2b, 128 bits, hex).

    The same value always gives the same digest, so it counts as the same caller, but the
    digest does not reveal the value. Use it on anything secret a key function returns.

    Example::

        async def by_token(connection: HTTPConnection) -> str | None:
            token = connection.headers.get("x-token")
            return None if token is None else digest(token)
    """
    return hashlib.blake2b(value.encode(), digest_size=16, person=_PERSON).hexdigest()


def by_client_address(connection: HTTPConnection) -> str:
    """Count requests by client address: ``ip:<host>`` from the ASGI scope's ``client``.

    Behind a proxy, every request seems to come from the proxy: have the server rewrite
    the client address from ``X-Forwarded-For`` (``uvicorn --proxy-headers
    --forwarded-allow-ips=...``) or write a key function that reads it from the proxy you trust.
    """
    client = connection.scope.get("client")
    return f"ip:{client[0]}" if client else "ip:unknown"


def by_api_key(connection: HTTPConnection) -> str:
    """Count requests by OpsGenie API key (``Authorization: GenieKey <key>``), hashed.

    The key is stored as ``key:<digest>`` (see :func:`digest`), never as it was sent. A
    request without a GenieKey counts against its client address (:func:`by_client_address`),
    so requests without a key are limited too.
    """
    for name, value in connection.scope["headers"]:
        if name == b"authorization":
            scheme, _, key = value.strip().partition(b" ")
            key = key.strip()
            if scheme.lower() == _SCHEME and key and len(value) <= _MAX_KEY:
                return f"key:{digest(key.decode('latin-1'))}"
            break
    return by_client_address(connection)
