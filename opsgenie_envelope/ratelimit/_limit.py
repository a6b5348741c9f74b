"""``RateLimit``: one rate limit on the ``limits`` library, answering OpsGenie's 429.

``limits`` does the counting (its storages: ``memory://`` in the process, ``redis://`` shared
by every process and host; its strategies: fixed window, moving window, sliding window
counter). This module picks the key, turns a refusal into :class:`TooManyRequests` with
``Retry-After`` and ``X-RateLimit-*``, and applies the storage-error policy.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, get_args

from starlette.requests import HTTPConnection
from starlette.responses import Response

from .. import ServiceUnavailable, TooManyRequests
from .._openapi import Declaration, describe_error
from .._options import check_choice, check_seconds, check_type
from .._outage import REDIS_OPTIONS, Backoff
from .._redis import SCHEMES, driver_errors, parse_url, probe, timeout_of
from .._wire import (
    RATE_LIMIT_PERIOD_HEADER,
    RATE_LIMIT_REASON_HEADER,
    RATE_LIMIT_REASON_PATTERN,
    RATE_LIMIT_STATE_HEADER,
)

try:
    from limits import RateLimitItem, parse_many
    from limits.aio.storage import MemoryStorage, Storage
    from limits.aio.strategies import (
        FixedWindowRateLimiter,
        MovingWindowRateLimiter,
        RateLimiter,
        SlidingWindowCounterRateLimiter,
    )
    from limits.errors import ConfigurationError, StorageError
    from limits.storage import storage_from_string
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without limits
    raise ImportError(
        'opsgenie_envelope.ratelimit needs the limits library: pip install "opsgenie-envelope[ratelimit]"'
    ) from exc

from ._keys import KeyFunction, by_api_key, by_client_address
from ._memory import BoundedMemoryStorage

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "UNDER_LIMIT",
    "RateLimit",
    "StorageErrorPolicy",
    "Strategy",
    "check_reason",
    "seconds_left",
]

UNDER_LIMIT = "OK"
"""``X-RateLimit-State`` of an answer under the limit, as OpsGenie sends it."""

StorageErrorPolicy = Literal["fail-open", "fail-closed"]
"""What to do when the storage (Redis) cannot be reached: let requests through, or 503."""
Strategy = Literal["fixed-window", "moving-window", "sliding-window-counter"]
"""The ``limits`` strategies."""

_STRATEGIES: dict[str, Callable[[Storage], RateLimiter]] = {
    "fixed-window": FixedWindowRateLimiter,
    "moving-window": MovingWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
}
_KEYS: dict[str, tuple[KeyFunction, str]] = {
    "api_key": (by_api_key, "API_KEY"),
    "address": (by_client_address, "IP_ADDRESS"),
}
_NO_REDIS = 'a Redis storage needs redis-py: pip install "opsgenie-envelope[redis]"'
_POOLED = ("async+redis", "async+rediss", "async+redis+unix")
"""Schemes whose connection pool we make ourselves (so that ``aclose`` can close it)."""
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_REASON = re.compile(RATE_LIMIT_REASON_PATTERN)


def check_reason(reason: object) -> str:
    """``reason`` if it can be an ``X-RateLimit-Reason``; ``TypeError``/``ValueError`` otherwise."""
    text = check_type("reason", reason, str, "a str")
    if not _REASON.fullmatch(text):
        raise ValueError("reason must be 1..64 characters of [A-Za-z0-9_.-], e.g. 'API_KEY'")
    return text


def seconds_left(reset_at: float, period: float) -> float:
    """Seconds from now until a window that resets at ``reset_at`` (epoch seconds) frees:
    ``Retry-After``, between 0 and the window's ``period``."""
    return min(max(reset_at - time.time(), 0.0), float(period))


def _items(limit: object) -> tuple[RateLimitItem, ...]:
    text = check_type("limit", limit, str, "a str such as '600/minute' or '10/second;600/minute'")
    try:
        items = tuple(parse_many(text))
    except ValueError:
        raise ValueError(
            f"limit must read like '600/minute' or '10/second;600/minute', got {limit!r}"
        ) from None
    if not items or any(item.amount < 1 for item in items):
        raise ValueError(f"limit must allow at least 1 request, got {limit!r}")
    return items


def _topology_options(scheme: str, client_options: Mapping[str, Any]) -> dict[str, Any]:
    """What ``limits`` passes to the cluster or sentinel client: the cluster client retries
    once (the call's timeout bounds it anyway), the sentinels answer within the timeouts."""
    if scheme.endswith("+cluster"):
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        return {"retry": Retry(NoBackoff(), 1)}
    if scheme.endswith("+sentinel"):
        sockets = {k: v for k, v in client_options.items() if k.startswith("socket_")}
        return {"sentinel_kwargs": sockets}
    return {}


def _client_storage(client: object, options: Mapping[str, Any] | None) -> Storage:
    """A ``limits`` storage on a redis-py client's connection pool (the client's owner closes
    it); ``TypeError`` for anything else."""
    wrong = "storage must be a URL ('memory://', 'redis://host:6379/0'), a Storage or a Redis"
    try:
        from redis.asyncio import Redis, RedisCluster
    except ImportError:
        raise TypeError(wrong) from None
    if isinstance(client, RedisCluster):
        raise TypeError(
            "storage: limits cannot count on a RedisCluster client it did not make; "
            "name the cluster as redis+cluster://host:port,host:port"
        )
    if not isinstance(client, Redis):
        raise TypeError(wrong)
    if options:
        raise TypeError("storage_options apply to a storage URL, not to a client")
    settings: dict[str, Any] = {"implementation": "redispy", "wrap_exceptions": True}
    settings["connection_pool"] = client.connection_pool  # limits' redis-py client shares it
    made = storage_from_string("async+redis://", **settings)
    assert isinstance(made, Storage)
    return made


def _storage(storage: object, options: Mapping[str, Any] | None) -> tuple[Storage, Any]:
    """The ``limits`` storage for ``storage``, and the redis-py pool made for it (or ``None``)."""
    if isinstance(storage, Storage):
        if options:
            raise TypeError("storage_options apply to a storage URL, not to a storage object")
        return storage, None
    if not isinstance(storage, str):
        return _client_storage(storage, options), None
    if storage.removeprefix("async+").startswith(SCHEMES):  # one syntax for every feature
        parse_url(storage.removeprefix("async+"), "storage")
    if storage.startswith("unix://"):  # redis-py's name for a Redis socket
        storage = "redis+unix://" + storage.removeprefix("unix://")
    url = storage if storage.startswith("async+") else f"async+{storage}"
    scheme = url.partition("://")[0]
    if scheme == "async+memory":  # bounded, without limits' walk over every key per hit
        return BoundedMemoryStorage(url, wrap_exceptions=True, **(options or {})), None
    settings: dict[str, Any] = {"wrap_exceptions": True}
    pool = None
    if "redis" in scheme or "valkey" in scheme:
        settings["implementation"] = "redispy"  # redis-py, the client the rest of us use
        client_options = {**REDIS_OPTIONS, **(options or {})}
        if scheme in _POOLED:
            try:
                from redis.asyncio import ConnectionPool
            except ImportError:
                raise ImportError(_NO_REDIS) from None
            raw = url.removeprefix("async+").replace("redis+unix://", "unix://", 1)
            probe(raw, client_options)  # a cluster node named by redis:// is refused here
            pool = ConnectionPool.from_url(raw, **client_options)
            settings["connection_pool"] = pool
        else:
            settings.update(client_options)
            settings.update(_topology_options(scheme, client_options))
    else:
        settings.update(options or {})
    try:
        made = storage_from_string(url, **settings)
    except ConfigurationError as exc:
        if "prerequisite" in str(exc):
            raise ImportError(_NO_REDIS) from None
        raise ValueError(f"storage: {exc}") from None
    assert isinstance(made, Storage)  # an async+ scheme always gives an async storage
    return made, pool


class RateLimit:
    """A rate limit answering OpsGenie's 429, counted by the ``limits`` library.

    Use it as a FastAPI dependency (``Depends(limit)``), in :class:`RateLimitMiddleware`, or
    call :meth:`check` / :meth:`hit` yourself. Over the limit it raises
    :class:`~opsgenie_envelope.TooManyRequests`, which ``EnvelopeMiddleware`` renders: status
    429, ``Retry-After`` (seconds until the window frees), ``X-RateLimit-State: THROTTLED``,
    ``X-RateLimit-Reason`` and ``X-RateLimit-Period-In-Sec`` (the limit's period).

    Args:
        limit: ``limits`` notation: ``"600/minute"``, ``"100 per 10 seconds"``, or several
            at once, ``"10/second;600/minute"`` (every one must allow the request).
        storage: ``"memory://"`` (this process only, the default; a
            :class:`BoundedMemoryStorage` of at most 100,000 keys), ``"redis://host:6379/0"``
            (shared by every process and host using it; also ``rediss://``, ``unix://``,
            ``redis+sentinel://host:26379,host:26380/service``,
            ``redis+cluster://host:7000,host:7001``), a ``limits.aio.storage.Storage``, or
            a ``redis.asyncio.Redis`` (also ``Sentinel(...).master_for(...)``; its owner
            closes it).
            A ``redis://`` URL that reaches a cluster node is refused (``ValueError``).
        strategy: ``"fixed-window"`` (default), ``"moving-window"`` or
            ``"sliding-window-counter"``.
        key: who a request counts against: ``"api_key"`` (the caller the app authenticated
            with :func:`~opsgenie_envelope.set_caller`, hashed; until then, or without it,
            the client address, IPv6 by /64), ``"address"``, or a function of the request
            (sync or async) returning a key, or ``None`` to leave the request unlimited.
        reason: ``X-RateLimit-Reason``: ``API_KEY`` for ``key="api_key"``, ``IP_ADDRESS`` for
            ``"address"``, ``ACCOUNT`` for a function, unless given.
        name: this limit's name in storage keys: limits with the same name, limit and
            storage count together (two app instances on one Redis share one limit).
        on_storage_error: when the storage cannot be reached: ``"fail-open"`` (default)
            lets requests through and logs a warning; ``"fail-closed"`` answers 503 with
            ``Retry-After``. Never a 500.
        storage_retry_after: seconds the storage is left alone after an error (the policy
            applies meanwhile, without waiting on it); the 503's ``Retry-After``.
        storage_options: keyword arguments for the storage (Redis: the redis-py client's,
            e.g. ``{"socket_timeout": 0.2}``; default timeouts are 1 s, and
            ``socket_timeout`` bounds each check, the driver's retries included; memory:
            ``{"max_keys": 100_000}``).

    Example::

        from fastapi import Depends, FastAPI
        from opsgenie_envelope.fastapi import install
        from opsgenie_envelope.ratelimit import RateLimit

        limit = RateLimit("600/minute", storage="redis://127.0.0.1:6379/0")
        app = FastAPI(dependencies=[Depends(limit)])
        install(app)
    """

    __opsgenie_envelope_declaration__ = Declaration(
        rate_limited=True, errors=(describe_error(TooManyRequests),)
    )
    """As a FastAPI dependency, the limit's routes are documented with its 429 and headers."""

    def __init__(
        self,
        limit: str,
        *,
        storage: str | Storage | Redis = "memory://",
        strategy: Strategy = "fixed-window",
        key: Literal["api_key", "address"] | KeyFunction = "api_key",
        reason: str | None = None,
        name: str = "default",
        on_storage_error: StorageErrorPolicy = "fail-open",
        storage_retry_after: float = 5.0,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.items = _items(limit)
        check_choice("strategy", strategy, get_args(Strategy))
        if isinstance(key, str):
            if key not in _KEYS:
                raise ValueError(f"key must be 'api_key', 'address' or a function, got {key!r}")
            self._key, default_reason = _KEYS[key]
        elif callable(key):
            self._key, default_reason = key, "ACCOUNT"
        else:
            raise TypeError("key must be 'api_key', 'address' or a function of the request")
        self.reason = check_reason(default_reason if reason is None else reason)
        if not _NAME.fullmatch(check_type("name", name, str, "a str")):
            raise ValueError("name must be 1..64 characters of [A-Za-z0-9_.:-]")
        self.name = name
        check_choice("on_storage_error", on_storage_error, get_args(StorageErrorPolicy))
        self.on_storage_error = on_storage_error
        self.storage_retry_after = check_seconds("storage_retry_after", storage_retry_after)
        if storage_options is not None:
            check_type("storage_options", storage_options, Mapping, "a mapping of keywords")
        self.storage, self._pool = _storage(storage, storage_options)
        self._owned = isinstance(storage, str)  # made from a URL: aclose closes its clients
        try:
            self._limiter = _STRATEGIES[strategy](self.storage)
        except NotImplementedError:
            raise ValueError(
                f"storage {type(self.storage).__name__} cannot do {strategy}"
            ) from None
        self.strategy = strategy
        self._errors: tuple[type[BaseException], ...] = (StorageError, OSError, TimeoutError)
        self._timeout: float | None = None
        if not isinstance(self.storage, MemoryStorage):  # a given storage may not wrap errors
            base = self.storage.base_exceptions
            self._errors += base if isinstance(base, tuple) else (base,)
            if not isinstance(storage, Storage):  # Redis: every driver failure, one timeout
                self._errors += driver_errors()
                self._timeout = timeout_of(storage_options)
        # OpsGenie's headers on answers under the limit: the first limit's period.
        self.ok_headers: Mapping[str, str] = MappingProxyType(
            {
                RATE_LIMIT_STATE_HEADER: UNDER_LIMIT,
                RATE_LIMIT_REASON_HEADER: self.reason,
                RATE_LIMIT_PERIOD_HEADER: str(self.items[0].get_expiry()),
            }
        )
        """``X-RateLimit-State: OK`` with the reason and period, for answers under the limit."""
        # Storage health: shared by all requests, like a connection pool's state.
        self._health = Backoff(f"rate limit {name!r}", self.storage_retry_after)

    def __repr__(self) -> str:
        limits = ";".join(str(item) for item in self.items)
        return f"RateLimit({limits!r}, strategy={self.strategy!r}, name={self.name!r})"

    async def aclose(self) -> None:
        """Close the Redis connections of a storage this limit made from a URL.

        Call it when the app stops (FastAPI's lifespan). It closes the connection pool made
        for a ``redis://``, ``rediss://`` or ``unix://`` URL, and the clients ``limits`` made
        for a ``redis+sentinel://`` (master, replica, sentinels) or ``redis+cluster://`` URL;
        a storage object passed in is left to its owner.
        """
        if self._pool is not None:
            await self._pool.aclose()
        if self._timeout is None or self._pool is not None or not self._owned:
            return
        bridge = getattr(self.storage, "bridge", None)
        made = [getattr(bridge, "storage", None), getattr(bridge, "storage_replica", None)]
        made += list(getattr(getattr(bridge, "sentinel", None), "sentinels", []))
        for client in made:
            if client is not None:
                await client.aclose()

    async def __call__(self, connection: HTTPConnection, response: Response) -> None:
        """The FastAPI dependency: ``Depends(limit)`` checks every HTTP request of a route.

        An answer under the limit carries :attr:`ok_headers`. Websocket routes under an
        app-wide ``Depends(limit)`` connect uncounted, as with :class:`RateLimitMiddleware`.
        """
        if connection.scope["type"] == "http":
            await self.check(connection, response)

    async def check(self, connection: HTTPConnection, response: Response | None = None) -> bool:
        """Count the request under its key; raise ``TooManyRequests`` when over the limit.

        Returns whether the request was counted under the limit; then ``response`` (FastAPI's
        ``Response`` parameter, whose headers go on the answer), when given, gets
        :attr:`ok_headers`. A key function returning ``None`` leaves the request unlimited
        (``False``, no headers), as does a storage outage under ``"fail-open"``.
        """
        key = self._key(connection)
        if inspect.isawaitable(key):
            key = await key
        if key is None:
            return False
        if not isinstance(key, str) or not key:
            raise TypeError("a rate-limit key function must return a non-empty str or None")
        counted = await self.hit(key)
        if counted and response is not None:
            response.headers.update(self.ok_headers)
        return counted

    async def hit(self, key: str) -> bool:
        """Count one request under ``key`` (used as given: digest secrets first).

        Returns ``True`` when counted under the limit, ``False`` when the storage could not
        count it (``"fail-open"``). Raises ``TooManyRequests`` when the key is over the
        limit, ``ServiceUnavailable`` when the storage is down and the policy is
        ``"fail-closed"``.
        """
        if self._health.waiting():
            self._storage_down(None)
            return False
        try:
            async with asyncio.timeout(self._timeout):
                for item in self.items:
                    if not await self._limiter.hit(item, self.name, key):
                        stats = await self._limiter.get_window_stats(item, self.name, key)
                        period = item.get_expiry()
                        wait = seconds_left(stats.reset_time, period)
                        raise TooManyRequests(retry_after=wait, reason=self.reason, period=period)
        except self._errors as exc:
            self._storage_down(exc)
            return False
        self._health.succeeded()
        return True

    def _storage_down(self, exc: BaseException | None) -> None:
        """Apply the policy: return (fail open) or raise ``ServiceUnavailable``."""
        if exc is not None:
            policy = "requests pass unchecked" if self.on_storage_error == "fail-open" else "503"
            self._health.failed(getattr(exc, "storage_error", exc), policy)
        if self.on_storage_error == "fail-closed":
            raise ServiceUnavailable(retry_after=max(self._health.waiting(), 1.0))
