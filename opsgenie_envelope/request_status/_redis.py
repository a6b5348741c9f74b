"""``RedisRequestStore``: request records in Redis, shared by every process and host.

Keys, for each owner (``<o>``, a digest of who accepted the request; ``-`` for none):

* ``<key_prefix>{<o>}:r:<requestId>``: the JSON record, expiring ``ttl`` seconds after its
  last change. Another owner's lookup builds another key: it finds nothing (404).
* ``<key_prefix>{<o>}:pending`` and ``<key_prefix>{<o>}:done``: sorted sets of the owner's
  request IDs by time, which bound it to ``max_per_owner`` records (the oldest finished one
  goes first) and expire with its last record.

So Redis holds at most ``owners x max_per_owner`` records, each gone ``ttl`` after its last
change. Each change is one Lua script on one owner's keys, so it is atomic, and the
``{<o>}`` hash tag keeps them in one Cluster slot; every deadline is read from the Redis
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

from .._options import check_int, check_seconds, check_type
from .._redis import RedisState, RedisUnavailable
from ._status import LOST, RequestStatus
from ._store import (
    DEFAULT_MAX_PER_OWNER,
    DEFAULT_TTL,
    CapWarning,
    RequestStore,
    StoreUnavailable,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis, RedisCluster

__all__ = ["RedisRequestStore"]

_NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "

# KEYS: the record, the owner's pending set, its done set. Forget index entries whose
# records expired, then make room for one record: the oldest done one goes first. ARGV[1]
# is the ttl (ms), ARGV[2] the cap, ARGV[3] the prefix of the owner's record keys. Sets
# ``evicted`` to how many records were dropped before their time.
_ROOM = """
local evicted = 0
local function room(ttl, cap, records)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - ttl)
  while redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[3]) >= cap do
    local from = KEYS[3]
    if redis.call('ZCARD', KEYS[3]) == 0 then from = KEYS[2] end
    local oldest = redis.call('ZPOPMIN', from)
    redis.call('DEL', records .. oldest[1])
    evicted = evicted + 1
  end
end
local function index(set, id, ttl)
  redis.call('ZADD', set, now, id)
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
"""

# ARGV ttl ms, cap, records prefix, request ID, action, token, lease ms. 0 when taken, 1 when
# recorded (or recorded already under this token: a retry), 2 when recorded after dropping
# an older record.
_BEGIN = (
    _NOW
    + _ROOM
    + """
local raw = redis.call('GET', KEYS[1])
if raw then
  if cjson.decode(raw).token == ARGV[6] then return 1 end
  return 0
end
local ttl = tonumber(ARGV[1])
room(ttl, tonumber(ARGV[2]), ARGV[3])
redis.call('SET', KEYS[1], cjson.encode({state = 'pending', action = ARGV[5], token = ARGV[6],
  deadline = now + tonumber(ARGV[7])}), 'PX', ttl)
index(KEYS[2], ARGV[4], ttl)
if evicted > 0 then return 2 end
return 1
"""
)

# KEYS[1] the record; ARGV token, lease ms.
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

# ARGV ttl ms, cap, records prefix, request ID, token, the done record (JSON, holding the
# token). A repeat of the same finish (same token, already done) answers 1 again.
_FINISH = (
    _NOW
    + _ROOM
    + """
local ttl = tonumber(ARGV[1])
local raw = redis.call('GET', KEYS[1])
if raw then
  local record = cjson.decode(raw)
  if record.token ~= ARGV[5] then return 0 end
  if record.state ~= 'pending' then return raw == ARGV[6] and 1 or 0 end
  redis.call('ZREM', KEYS[2], ARGV[4])
else
  room(ttl, tonumber(ARGV[2]), ARGV[3])
end
redis.call('SET', KEYS[1], ARGV[6], 'PX', ttl)
index(KEYS[3], ARGV[4], ttl)
if evicted > 0 then return 2 end
return 1
"""
)

# ARGV ttl ms, request ID, the status text of a lost request. The done record, or nil while
# pending or unknown.
_GET = (
    _NOW
    + """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local record = cjson.decode(raw)
if record.state == 'done' then return raw end
if now < record.deadline then return false end
local done = cjson.encode({state = 'done', action = record.action, success = false,
  status = ARGV[3], at = now})
redis.call('SET', KEYS[1], done, 'KEEPTTL')
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], now, ARGV[2])
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
        key_prefix: put before every key name.
        max_per_owner: records one owner keeps at most (the oldest finished one goes first,
            with a warning).
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
        max_per_owner: int = DEFAULT_MAX_PER_OWNER,
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
        self.max_per_owner = check_int("max_per_owner", max_per_owner, minimum=1)
        self._warn = CapWarning()
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

    def _keys(self, request_id: str, owner: str) -> tuple[list[str], str]:
        """The record's and the owner's index keys, and the prefix of the owner's records."""
        base = f"{self.key_prefix}{{{owner or '-'}}}:"
        return [f"{base}r:{request_id}", f"{base}pending", f"{base}done"], f"{base}r:"

    async def _run(self, script: Any, keys: list[str], *args: Any, durable: bool = False) -> Any:
        try:
            return await self.redis.run(script, keys, list(args), durable=durable)
        except RedisUnavailable as exc:
            raise StoreUnavailable(str(exc)) from exc

    def _counted(self, result: Any, owner: str) -> bool:
        if result == 2:
            self._warn("max_per_owner", self.max_per_owner, owner)
        return bool(result)

    async def begin(
        self, request_id: str, action: str, token: str, lease: float, owner: str = ""
    ) -> bool:
        """Record ``request_id`` as pending; ``False`` when it is already recorded."""
        keys, records = self._keys(request_id, owner)
        result = await self._run(
            self._begin,
            keys,
            _millis(self.ttl),
            self.max_per_owner,
            records,
            request_id,
            action,
            token,
            _millis(lease),
            durable=True,
        )
        return self._counted(result, owner)

    async def renew(self, request_id: str, token: str, lease: float, owner: str = "") -> bool:
        """Push back the deadline of a record pending under ``token``."""
        keys, _ = self._keys(request_id, owner)
        return bool(await self._run(self._renew, keys[:1], token, _millis(lease)))

    async def finish(
        self, request_id: str, token: str, status: RequestStatus, owner: str = ""
    ) -> bool:
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
        keys, records = self._keys(request_id, owner)
        result = await self._run(
            self._finish,
            keys,
            _millis(self.ttl),
            self.max_per_owner,
            records,
            request_id,
            token,
            orjson.dumps(record),
            durable=True,
        )
        return self._counted(result, owner)

    async def get(self, request_id: str, owner: str = "") -> RequestStatus | None:
        """The outcome, ``None`` while pending, unknown or another owner's; a failure once a
        lease ran out."""
        keys, _ = self._keys(request_id, owner)
        raw = await self._run(self._get, keys, _millis(self.ttl), request_id, LOST)
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
