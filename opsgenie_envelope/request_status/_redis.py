"""``RedisRequestStore``: request records in Redis, shared by every process and host.

One key per request (``<key_prefix><requestId>``) holding a JSON record, expiring ``ttl``
seconds after its last change. Each change is one Lua script on that one key, so it is
atomic and any Cluster node can hold it, and every deadline is read from the Redis
server's clock (``TIME``): hosts with skewed clocks agree.

Writes are idempotent under their lease token: ``begin`` and ``finish`` retried after a
failover (the first attempt may or may not have landed) answer as the first would have.
On a Sentinel-managed master the accept and the outcome wait for a replica's
acknowledgement (see :class:`~opsgenie_envelope._redis.RedisState`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from .._options import check_seconds, check_type
from .._redis import RedisState, RedisUnavailable
from ._status import LOST, RequestStatus
from ._store import DEFAULT_TTL, RequestStore, StoreUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis, RedisCluster

__all__ = ["RedisRequestStore"]

_NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "

# KEYS[1] the record; ARGV action, token, lease ms, ttl ms. 1 when recorded, 0 when taken.
_BEGIN = (
    _NOW
    + """
local raw = redis.call('GET', KEYS[1])
if raw then
  if cjson.decode(raw).token == ARGV[2] then return 1 end
  return 0
end
redis.call('SET', KEYS[1], cjson.encode({state = 'pending', action = ARGV[1], token = ARGV[2],
  deadline = now + tonumber(ARGV[3])}), 'PX', ARGV[4])
return 1
"""
)

# ARGV token, lease ms.
_RENEW = (
    _NOW
    + """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local record = cjson.decode(raw)
if record.state ~= 'pending' or record.token ~= ARGV[1] then return 0 end
record.deadline = now + tonumber(ARGV[2])
redis.call('SET', KEYS[1], cjson.encode(record), 'KEEPTTL')
return 1
"""
)

# ARGV token, the done record (JSON, holding the token), ttl ms. A repeat of the same finish
# (same token, already done) answers 1 again.
_FINISH = """
local raw = redis.call('GET', KEYS[1])
if raw then
  local record = cjson.decode(raw)
  if record.token ~= ARGV[1] then return 0 end
  if record.state ~= 'pending' then return raw == ARGV[2] and 1 or 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""

# ARGV the status text of a lost request. The done record, or nil while pending or unknown.
_GET = (
    _NOW
    + """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local record = cjson.decode(raw)
if record.state == 'done' then return raw end
if now < record.deadline then return false end
local done = cjson.encode({state = 'done', action = record.action, success = false,
  status = ARGV[1], at = now})
redis.call('SET', KEYS[1], done, 'KEEPTTL')
return done
"""
)


def _millis(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisRequestStore(RequestStore):
    """Request records in Redis (``redis.asyncio``), with a TTL: for many processes and hosts.

    Args:
        url: ``redis://host:6379/0`` (also ``rediss://``, ``unix://``),
            ``redis+sentinel://host:26379,host:26380/service`` or
            ``redis+cluster://host:7000,host:7001``, for a client of its own. A
            ``redis://`` URL that reaches a cluster node is refused (``ValueError``).
        client: a ``redis.asyncio.Redis`` (also ``Sentinel(...).master_for(...)``) or
            ``redis.asyncio.RedisCluster`` to use instead of ``url`` (its owner closes it).
        ttl: seconds a record is kept after its last change.
        key_prefix: put before every request ID in key names.
        replicas: replicas that must acknowledge an accept and an outcome before they
            count (``WAIT``): 1 on a Sentinel-managed master, 0 otherwise (``None``).
        options: more keyword arguments for the redis-py client (default timeouts are 1 s;
            ``socket_timeout`` bounds each call, the driver's retries included).

    A client, like its connections, belongs to the event loop that first uses it.

    Example::

        store = RedisRequestStore("redis://127.0.0.1:6379/0", ttl=3600)
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | RedisCluster | None = None,
        ttl: float = DEFAULT_TTL,
        key_prefix: str = "opsgenie_envelope:request:",
        replicas: int | None = None,
        **options: Any,
    ) -> None:
        try:
            import redis  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                'RedisRequestStore needs redis-py: pip install "opsgenie-envelope[redis]"'
            ) from exc
        self.ttl = check_seconds("ttl", ttl)
        self.key_prefix = check_type("key_prefix", key_prefix, str, "a str")
        target: str | Redis | RedisCluster
        if client is not None and url is None:
            target, option = client, "client"
        elif url is not None and client is None:
            target, option = url, "url"
        else:
            raise TypeError("give RedisRequestStore either a url or a client")
        self.redis = RedisState(target, option=option, replicas=replicas, options=options)
        self.client = self.redis.client
        register = self.redis.script
        self._begin, self._renew = register(_BEGIN), register(_RENEW)
        self._finish, self._get = register(_FINISH), register(_GET)

    async def _run(self, script: Any, request_id: str, *args: Any, durable: bool = False) -> Any:
        try:
            return await self.redis.run(
                script, [self.key_prefix + request_id], list(args), durable=durable
            )
        except RedisUnavailable as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def begin(self, request_id: str, action: str, token: str, lease: float) -> bool:
        """Record ``request_id`` as pending; ``False`` when it is already recorded."""
        done = await self._run(
            self._begin,
            request_id,
            action,
            token,
            _millis(lease),
            _millis(self.ttl),
            durable=True,
        )
        return bool(done)

    async def renew(self, request_id: str, token: str, lease: float) -> bool:
        """Push back the deadline of a record pending under ``token``."""
        return bool(await self._run(self._renew, request_id, token, _millis(lease)))

    async def finish(self, request_id: str, token: str, status: RequestStatus) -> bool:
        """Store the outcome unless the record is done already."""
        record = {
            "state": "done",
            "action": status.action,
            "success": status.success,
            "status": status.status,
            "at": round(status.processed_at.timestamp() * 1000),
            "fields": dict(status.fields),
            "token": token,
        }
        done = await self._run(
            self._finish, request_id, token, orjson.dumps(record), _millis(self.ttl), durable=True
        )
        return bool(done)

    async def get(self, request_id: str) -> RequestStatus | None:
        """The outcome, ``None`` while pending or unknown, a failure once a lease ran out."""
        raw = await self._run(self._get, request_id, LOST)
        if raw is None:
            return None
        record = orjson.loads(raw)
        fields = record.get("fields")
        return RequestStatus(
            request_id,
            str(record["action"]),
            datetime.fromtimestamp(record["at"] / 1000, UTC),
            bool(record["success"]),
            str(record["status"]),
            fields if isinstance(fields, dict) else {},
        )

    async def aclose(self) -> None:
        """Close the clients this store made (a given client is left to its owner)."""
        await self.redis.aclose()
