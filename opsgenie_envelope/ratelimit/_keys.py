"""Who a request counts against: the caller the app verified, its client address, or your function.

A key function takes the request's :class:`~starlette.requests.HTTPConnection` and returns the
string its requests are counted under, or ``None`` for a request that is not limited. It may
be sync or async. Keys end up in the rate-limit storage (Redis keys, when Redis is used), so
a secret must never be returned as it is: :func:`digest` it.

A value the client sends and nobody checked (an API key before authentication) is never a
key: a client could send a new one on every request and never be limited. Until the app has
verified the caller (:func:`~opsgenie_envelope.set_caller`), requests count by address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection

from .._caller import digest, get_caller

__all__ = ["KeyFunction", "by_api_key", "by_client_address", "digest"]

KeyFunction = Callable[[HTTPConnection], "str | Awaitable[str | None] | None"]
"""A request's rate-limit key; ``None`` leaves the request unlimited (sync or async)."""


def by_client_address(connection: HTTPConnection) -> str:
    """Count requests by client address: ``ip:<host>`` from the ASGI scope's ``client``.

    An IPv6 client counts by its /64 network (``ip6:<first 64 bits in hex>``): one host
    usually holds a whole /64, so counting single addresses would give it 2**64 buckets.
    An IPv4-mapped IPv6 address counts as its IPv4 address.

    Behind a proxy, every request seems to come from the proxy: have the server rewrite
    the client address from ``X-Forwarded-For`` (``uvicorn --proxy-headers
    --forwarded-allow-ips=...``) or write a key function that reads it from the proxy you trust.
    """
    client = connection.scope.get("client")
    if not client:
        return "ip:unknown"
    host = client[0]
    if not isinstance(host, str) or ":" not in host:
        return f"ip:{host}"
    try:
        address = ipaddress.IPv6Address(host.partition("%")[0])
    except ValueError:
        return f"ip:{digest(host)}"  # not an address (a socket path?): bounded, never echoed
    if address.ipv4_mapped is not None:
        return f"ip:{address.ipv4_mapped}"
    return f"ip6:{int(address) >> 64:016x}"


def by_api_key(connection: HTTPConnection) -> str:
    """Count requests by the caller the app authenticated, else by client address.

    The caller is what the app's authentication recorded with
    :func:`~opsgenie_envelope.set_caller` once it checked the API key (the key's name, its
    account), stored as ``key:<digest>`` (see :func:`digest`), never as it was sent. Before
    authentication (``RateLimitMiddleware``, an app-wide dependency) or when it failed, the
    request counts against its client address (:func:`by_client_address`): a key nobody
    checked is never a bucket of its own.
    """
    caller = get_caller(connection)
    if caller is None:
        return by_client_address(connection)
    return f"key:{digest(caller)}"
