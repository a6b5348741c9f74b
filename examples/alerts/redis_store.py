"""The Alerts API demo's alerts and users in Redis: one store for every worker and host.

Chosen by ``ALERTS_REDIS_URL``. The keys, under ``ALERTS_REDIS_PREFIX`` (``alerts:``)::

    <prefix>alert    hash: alert ID -> the alert as JSON
    <prefix>note:<alert ID>   list: the alert's notes as JSON, oldest first (newest 1000 kept)
    <prefix>log:<alert ID>    list: the alert's log lines, the same way
    <prefix>user     hash: user ID -> the user as JSON
    <prefix>tiny     the last tiny ID (INCR)
    <prefix>seeded   set, in the same transaction, once the sample data is stored
    <prefix>lock     a Redis lock held around each write: one writer at a time, on any worker

Searching reads every alert and filters in Python: right for a demo's hundreds of alerts,
not for millions (a real back end would index them). Redis unreachable: 503 with
``Retry-After``, never a 500.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import redis
from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from examples.alerts.repository import MAX_ENTRIES, Alert, AlertStore, User, utc_now
from opsgenie_envelope import ServiceUnavailable

__all__ = ["RedisAlertStore", "redacted"]

TIMEOUT = 2.0
"""Seconds a Redis call may take before the request answers 503."""
RETRY_AFTER = 5
"""``Retry-After`` of the 503 answered while Redis is unreachable."""
_TIMES = ("created_at", "updated_at", "last_occurred_at")


def redacted(url: str) -> str:
    """``url`` without its user name and password, for banners and errors."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


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
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable(retry_after=RETRY_AFTER) from exc


class RedisAlertStore(AlertStore):
    """The demo's store in Redis (``redis.asyncio``); see the module for the keys.

    Args:
        url: ``redis://host:6379/0``.
        prefix: put before every key name.
        clock: the current time (UTC), for timestamps.
    """

    def __init__(
        self, url: str, *, prefix: str = "alerts:", clock: Callable[[], datetime] = utc_now
    ) -> None:
        super().__init__(clock)
        self.url = url
        self.where = f"in Redis at {redacted(url)}, shared by every worker"
        self.client = Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
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
        client = redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
        try:
            with client.pipeline() as pipe:
                while True:
                    try:
                        pipe.watch(self._seeded)  # type: ignore[no-untyped-call]
                        if pipe.exists(self._seeded):
                            return
                        pipe.multi()
                        pipe.hset(self._users_key, mapping={u.id: _dump(u) for u in users})
                        pipe.hset(self._alerts, mapping={a.id: _dump(a) for a in alerts})
                        pipe.set(self._tiny, max((a.tiny_id for a in alerts), default=0))
                        pipe.set(self._seeded, "1")
                        pipe.execute()
                        return
                    except WatchError:
                        continue  # another worker seeded meanwhile: look again
        except (RedisError, OSError) as exc:
            raise RuntimeError(
                f"cannot reach Redis at {redacted(self.url)} ({type(exc).__name__}): "
                "start it, or unset ALERTS_REDIS_URL to keep the demo's data in memory"
            ) from None
        finally:
            client.close()

    async def aclose(self) -> None:
        """Close the Redis connections."""
        await self.client.aclose()
