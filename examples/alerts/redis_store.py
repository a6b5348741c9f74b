"""The Alerts API demo's alerts and users in Redis: one store for every worker and host.

Chosen by ``ALERTS_REDIS_URL``: one server (``redis://``), a Sentinel-managed master
(``redis+sentinel://host:26379/service``) or a Cluster (``redis+cluster://host:7000,...``).
The keys, under ``ALERTS_REDIS_PREFIX`` (``alerts:``) in braces, a hash tag that puts them
all in one cluster slot::

    {<prefix>}alert    hash: alert ID -> the alert as JSON
    {<prefix>}note:<alert ID>   list: the alert's notes as JSON, oldest first (newest 1000 kept)
    {<prefix>}log:<alert ID>    list: the alert's log lines, the same way
    {<prefix>}user     hash: user ID -> the user as JSON
    {<prefix>}tiny     the last tiny ID (INCR)
    {<prefix>}seeded   set, by the same script, once the sample data is stored
    {<prefix>}lock     a Redis lock held around each write: one writer at a time, on any worker

Seeding is one Lua script over those keys (one slot: atomic on a cluster too, no
``WATCH``). Searching reads every alert and filters in Python: right for a demo's hundreds
of alerts, not for millions (a real back end would index them). Redis unreachable: 503 with
``Retry-After``, never a 500.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import orjson
import redis
import redis.cluster
import redis.sentinel
from redis.asyncio import Redis, RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from examples.alerts.repository import MAX_ENTRIES, Alert, AlertStore, User, utc_now
from opsgenie_envelope import ServiceUnavailable

__all__ = ["RedisAlertStore", "redacted"]

TIMEOUT = 2.0
"""Seconds a Redis call may take before the request answers 503."""
RETRY_AFTER = 5
"""``Retry-After`` of the 503 answered while Redis is unreachable."""
_TIMES = ("created_at", "updated_at", "last_occurred_at")
_FAILURES = (RedisError, RedisClusterException, OSError)
"""What a Redis call may raise when Redis is down (a cluster's errors are not RedisErrors)."""

# KEYS seeded, users, alerts, tiny; ARGV the last tiny ID, the number of users, then
# (ID, JSON) pairs: the users', then the alerts'. 1 when stored, 0 when seeded before.
_SEED = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local users = tonumber(ARGV[2])
for i = 3, 2 + 2 * users, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
for i = 3 + 2 * users, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
redis.call('SET', KEYS[4], ARGV[1])
redis.call('SET', KEYS[1], '1')
return 1
"""


def redacted(url: str) -> str:
    """``url`` without its user name, password or query, for banners and errors."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('?', 1)[0].rpartition('@')[2]}"


def _blocking_client(url: str) -> tuple[Any, list[Any]]:
    """A blocking redis-py client for ``url`` (any of the three forms), for start-up, and
    everything made for it that needs closing."""
    timeouts: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 5}
    scheme, _, rest = url.partition("://")
    if scheme not in ("redis+cluster", "redis+sentinel"):
        client = redis.Redis.from_url(url, **timeouts)
        return client, [client]
    location, _, service = rest.partition("/")
    auth, _, hosts = location.rpartition("@")
    user, _, password = auth.partition(":")
    credentials: dict[str, Any] = {"username": unquote(user) or None}
    credentials["password"] = unquote(password) or None
    nodes = [(host, int(port)) for host, _, port in (h.rpartition(":") for h in hosts.split(","))]
    if scheme == "redis+cluster":
        startup = [redis.cluster.ClusterNode(host, port) for host, port in nodes]  # type: ignore[no-untyped-call]
        cluster = redis.cluster.RedisCluster(startup_nodes=startup, **credentials, **timeouts)
        return cluster, [cluster]
    sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
        nodes, sentinel_kwargs=timeouts, **credentials, **timeouts
    )
    master = sentinel.master_for(service.strip("/"))  # type: ignore[no-untyped-call]
    return master, [master, *sentinel.sentinels]


def _dump(value: Alert | User) -> bytes:
    return orjson.dumps(value)  # dataclasses and datetimes natively


def _alert(raw: bytes | str) -> Alert:
    fields: dict[str, Any] = orjson.loads(raw)
    for name in _TIMES:
        fields[name] = datetime.fromisoformat(fields[name])
    if fields.get("snoozed_until") is not None:
        fields["snoozed_until"] = datetime.fromisoformat(fields["snoozed_until"])
    return Alert(**fields)


def _user(raw: bytes | str) -> User:
    fields: dict[str, Any] = orjson.loads(raw)
    fields["created_at"] = datetime.fromisoformat(fields["created_at"])
    return User(**fields)


@contextmanager
def _answering() -> Iterator[None]:
    """Turn Redis being unreachable into a 503 with ``Retry-After``."""
    try:
        yield
    except _FAILURES as exc:
        raise ServiceUnavailable(retry_after=RETRY_AFTER) from exc


class RedisAlertStore(AlertStore):
    """The demo's store in Redis (``redis.asyncio``); see the module for the keys.

    Args:
        url: ``redis://host:6379/0``, ``redis+sentinel://...`` or ``redis+cluster://...``.
        prefix: put, in braces (a cluster hash tag), before every key name.
        clock: the current time (UTC), for timestamps.
        client: the async client to use (for the three forms of ``url``: the request
            store's, which its owner closes); a ``redis://`` URL's own otherwise.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "alerts:",
        clock: Callable[[], datetime] = utc_now,
        client: Redis | RedisCluster | None = None,
    ) -> None:
        super().__init__(clock)
        self.url = url
        self.where = f"in Redis at {redacted(url)}, shared by every worker"
        self._owned = client is None
        self.client = client or Redis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )
        prefix = "{" + prefix + "}"  # a hash tag: every key of the demo in one cluster slot
        self._alerts, self._users_key = f"{prefix}alert", f"{prefix}user"
        self._tiny, self._seeded, self._lock = f"{prefix}tiny", f"{prefix}seeded", f"{prefix}lock"
        self._prefix = prefix

    def _entries_key(self, kind: str, alert_id: str) -> str:
        return f"{self._prefix}{kind}:{alert_id}"

    async def _all(self) -> list[Alert]:
        with _answering():
            return [_alert(raw) for raw in await self.client.hvals(self._alerts)]

    async def _get(self, alert_id: str) -> Alert | None:
        with _answering():
            raw = await self.client.hget(self._alerts, alert_id)
        return None if raw is None else _alert(raw)

    async def _put(self, alert: Alert) -> None:
        with _answering():
            await self.client.hset(self._alerts, alert.id, _dump(alert))

    async def _remove(self, alert_id: str) -> None:
        with _answering():
            await self.client.hdel(self._alerts, alert_id)
            for kind in ("note", "log"):  # one key per call: fine on a cluster too
                await self.client.delete(self._entries_key(kind, alert_id))

    async def _append(self, kind: str, alert_id: str, entry: dict[str, str]) -> None:
        key = self._entries_key(kind, alert_id)
        with _answering():
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.rpush(key, orjson.dumps(entry))
                pipe.ltrim(key, -MAX_ENTRIES, -1)
                await pipe.execute()

    async def _entries(self, kind: str, alert_id: str) -> list[dict[str, str]]:
        with _answering():
            raw = await self.client.lrange(self._entries_key(kind, alert_id), 0, -1)
        return [orjson.loads(item) for item in raw]

    async def _next_tiny(self) -> int:
        with _answering():
            return int(await self.client.incr(self._tiny))

    async def _users(self) -> list[User]:
        with _answering():
            return [_user(raw) for raw in await self.client.hvals(self._users_key)]

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        lock = self.client.lock(self._lock, timeout=10, blocking_timeout=TIMEOUT, sleep=0.005)
        with _answering():
            if not await lock.acquire():
                raise ServiceUnavailable(retry_after=1)  # another writer held it too long
        try:
            yield
        finally:
            with _answering():
                await lock.release()

    def load(self, users: Iterable[User], alerts: Iterable[Alert]) -> None:
        """Store the sample data once: the first worker to start does, atomically.

        Runs at start-up with a blocking client (no event loop yet). Raises ``RuntimeError``
        naming the (redacted) URL when Redis cannot be reached.
        """
        users, alerts = list(users), list(alerts)
        keys = [self._seeded, self._users_key, self._alerts, self._tiny]
        args: list[Any] = [max((a.tiny_id for a in alerts), default=0), len(users)]
        for user in users:
            args += [user.id, _dump(user)]
        for alert in alerts:
            args += [alert.id, _dump(alert)]
        opened: list[Any] = []
        try:
            client, opened = _blocking_client(self.url)
            client.eval(_SEED, len(keys), *keys, *args)
        except (*_FAILURES, ValueError) as exc:
            raise RuntimeError(
                f"cannot reach Redis at {redacted(self.url)} ({type(exc).__name__}): "
                "start it, or unset ALERTS_REDIS_URL to keep the demo's data in memory"
            ) from None
        finally:
            for made in opened:
                made.close()

    async def aclose(self) -> None:
        """Close the Redis connections this store opened (a given client is its owner's)."""
        if self._owned:
            await self.client.aclose()
