"""The Redis behind the stateful features: one way to name it, call it, fail and close.

Rate limits and request statuses (and the demo) name a Redis the same way:

* ``redis://host:6379/0``, ``rediss://...``, ``unix:///path/redis.sock?db=0``: one server;
* ``redis+sentinel://host:26379,host:26380/service``: the master the sentinels name;
* ``redis+cluster://host:7000,host:7001``: a Redis Cluster (any of its nodes);
* or a client: ``redis.asyncio.Redis`` (also ``Sentinel(...).master_for(...)``) or
  ``redis.asyncio.RedisCluster``.

A ``redis://`` URL that reaches one node of a cluster is refused at start-up, naming
``redis+cluster://``. Every call is bounded by one timeout (the socket timeout, 1 s by
default), the driver's own retries included, and every driver failure, cluster ones
included, becomes :class:`RedisUnavailable`.

On a Sentinel-managed master a write that must survive a failover is followed, on the same
connection, by ``WAIT`` for a replica's acknowledgement; see :meth:`RedisState.run`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

from ._options import check_int, check_seconds
from ._outage import REDIS_OPTIONS, WARNING_INTERVAL

if TYPE_CHECKING:
    from redis.asyncio import Redis, RedisCluster
    from redis.asyncio.connection import AbstractConnection
    from redis.commands.core import AsyncScript

__all__ = [
    "CLUSTER_SCHEME",
    "SCHEMES",
    "SENTINEL_SCHEME",
    "RedisAddress",
    "RedisState",
    "RedisUnavailable",
    "Topology",
    "driver_errors",
    "misnamed_cluster",
    "parse_url",
    "probe",
    "redacted",
    "timeout_of",
]

logger = logging.getLogger("opsgenie_envelope")

Topology = Literal["standalone", "sentinel", "cluster"]
"""How a Redis is deployed: one server (with or without replicas), Sentinel, Cluster."""

CLUSTER_SCHEME = "redis+cluster://"
SENTINEL_SCHEME = "redis+sentinel://"
SCHEMES = ("redis://", "rediss://", "unix://", SENTINEL_SCHEME, CLUSTER_SCHEME)
"""The URL forms that name a Redis (the ones ``limits`` reads too)."""

_NO_REDIS = 'Redis needs redis-py: pip install "opsgenie-envelope[redis]"'
_CLUSTER_RETRIES = 1
"""Attempts the cluster client may repeat a failed command (the call's timeout still bounds it)."""


class RedisUnavailable(Exception):
    """Redis cannot be reached, timed out, or did not keep a write; the text says why."""


@dataclass(frozen=True, slots=True)
class RedisAddress:
    """A parsed Redis URL: its topology, nodes, Sentinel service and credentials."""

    topology: Topology
    url: str
    nodes: tuple[tuple[str, int], ...] = ()
    service: str | None = None
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    def credentials(self) -> dict[str, str]:
        """``username`` / ``password`` keyword arguments for redis-py, those that are set."""
        found = {"username": self.username, "password": self.password}
        return {name: value for name, value in found.items() if value}


def redacted(url: str) -> str:
    """``url`` without user name, password or query, for logs, banners and errors."""
    scheme, _, rest = url.partition("://")
    rest = rest.split("?", 1)[0]
    where = rest.rpartition("@")[2] if "/" not in rest.split("@", 1)[0] else rest
    return f"{scheme}://{where}"


def misnamed_cluster(url: str) -> str:
    """The message for a ``redis://`` URL that reaches a cluster node."""
    return (
        f"{redacted(url)} is one node of a Redis Cluster: name the cluster with "
        "redis+cluster://host:port,host:port so that every key goes to its node"
    )


def _nodes(text: str, default_port: int, option: str) -> tuple[tuple[str, int], ...]:
    nodes = []
    for part in text.split(","):
        host, colon, port = part.strip().rpartition(":")
        if not colon:
            host, port = port, str(default_port)
        host = host.strip("[]")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{option}: every node must read like host:port")
        nodes.append((host, int(port)))
    return tuple(nodes)


def parse_url(url: object, option: str = "url") -> RedisAddress:
    """Check a Redis URL; ``TypeError``/``ValueError`` naming ``option`` when it is unusable."""
    if not isinstance(url, str):
        raise TypeError(f"{option} must be a Redis URL (str)")
    if not url.startswith(SCHEMES):
        raise ValueError(
            f"{option} must start with one of {', '.join(SCHEMES)}, got {url.partition(':')[0]}"
        )
    if not url.startswith((SENTINEL_SCHEME, CLUSTER_SCHEME)):
        parts = urlsplit(url)
        if url.startswith("unix://") and not parts.path:
            raise ValueError(f"{option} must read like unix:///path/to/redis.sock")
        if not url.startswith("unix://") and not parts.hostname:
            raise ValueError(f"{option} must read like redis://host:6379/0")
        return RedisAddress("standalone", url)
    cluster = url.startswith(CLUSTER_SCHEME)
    rest = url.removeprefix(CLUSTER_SCHEME if cluster else SENTINEL_SCHEME)
    rest, _, query = rest.partition("?")
    if query:
        raise ValueError(f"{option}: a {'cluster' if cluster else 'sentinel'} URL takes no query")
    location, _, path = rest.partition("/")
    auth, at, hosts = location.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = auth.partition(":")
        username, password = unquote(user) or None, unquote(secret) if colon else None
    nodes = _nodes(hosts, 6379 if cluster else 26379, option)
    if cluster:
        if path.strip("/"):
            raise ValueError(f"{option}: a cluster has one database, name no path")
        return RedisAddress("cluster", url, nodes, None, username, password)
    service = path.strip("/")
    if not service or "/" in service:
        raise ValueError(f"{option} must read like redis+sentinel://host:26379,host:26380/service")
    return RedisAddress("sentinel", url, nodes, service, username, password)


def driver_errors() -> tuple[type[BaseException], ...]:
    """Every failure a Redis call may raise: ``RedisError``, ``RedisClusterException``
    (which is not a ``RedisError``), socket errors and timeouts."""
    from redis.exceptions import RedisClusterException, RedisError

    return (RedisError, RedisClusterException, OSError, TimeoutError)


def timeout_of(options: Mapping[str, Any] | None) -> float:
    """The seconds one Redis call may take: ``socket_timeout`` of ``options`` (1 s default)."""
    value = (options or {}).get("socket_timeout", REDIS_OPTIONS["socket_timeout"])
    return check_seconds("socket_timeout", value)


def probe(url: str, options: Mapping[str, Any] | None = None) -> None:
    """At start-up: ``ValueError`` naming ``redis+cluster://`` if ``url`` is a cluster node.

    Says nothing when the server cannot be reached (the outage policy applies later) or
    does not answer ``INFO`` (a restricted account).
    """
    import redis

    # Only what reaching the server takes: other options may be the async client's own.
    wanted = ("socket_", "ssl", "username", "password", "db")
    settings = {
        **REDIS_OPTIONS,
        **{k: v for k, v in (options or {}).items() if k.startswith(wanted)},
    }
    unanswered: tuple[type[BaseException], ...] = (*driver_errors(), ValueError, TypeError)
    try:
        client = redis.Redis.from_url(url, **settings)
    except unanswered:
        return
    try:
        enabled = client.info("cluster").get("cluster_enabled")
    except unanswered:
        return
    finally:
        client.close()
    if str(enabled) == "1":
        raise ValueError(misnamed_cluster(url))


def _connect(
    address: RedisAddress, options: Mapping[str, Any]
) -> tuple[Redis | RedisCluster, list[Any]]:
    """A client for ``address``, and everything made for it that needs closing."""
    from redis.asyncio import Redis, RedisCluster, Sentinel
    from redis.asyncio.cluster import ClusterNode
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    settings = {**REDIS_OPTIONS, **address.credentials(), **options}
    if address.topology == "standalone":
        probe(address.url, options)
        client = Redis.from_url(address.url, **{**REDIS_OPTIONS, **options})
        return client, [client]
    if address.topology == "cluster":
        cluster = RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in address.nodes],
            retry=Retry(NoBackoff(), _CLUSTER_RETRIES),
            **settings,
        )
        return cluster, [cluster]
    sentinel_settings = {
        **REDIS_OPTIONS,
        **address.credentials(),
        **{k: v for k, v in options.items() if k.startswith("socket_")},
    }
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(address.nodes), sentinel_kwargs=sentinel_settings, **settings
    )
    assert address.service is not None
    master = sentinel.master_for(address.service)
    return master, [master, *sentinel.sentinels]


class RedisState:
    """A Redis a stateful feature keeps its state in: a client, a timeout, a durability rule.

    Args:
        target: a URL (see the module) or a client (its owner closes it).
        option: the name ``target`` was given under, for error messages.
        replicas: how many replicas must acknowledge a durable write (:meth:`run` with
            ``durable=True``); ``None``: 1 on a Sentinel-managed master, 0 otherwise.
        options: keyword arguments for the redis-py client made from a URL.
    """

    def __init__(
        self,
        target: str | Redis | RedisCluster,
        *,
        option: str = "url",
        replicas: int | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            from redis.asyncio import Redis, RedisCluster
            from redis.asyncio.sentinel import SentinelConnectionPool
        except ImportError:
            raise ImportError(_NO_REDIS) from None
        options = dict(options or {})
        self.timeout = timeout_of(options)
        self._owned: list[Any] = []
        self.service: str | None = None
        if isinstance(target, str) and option != "client":
            address = parse_url(target, option)
            self.client, self._owned = _connect(address, options)
            self.topology: Topology = address.topology
            self.service = address.service
        elif isinstance(target, (Redis, RedisCluster)):
            if options:
                raise TypeError("options apply to a url, not to a client")
            self.client = target
            self.topology = "cluster" if isinstance(target, RedisCluster) else "standalone"
            pool = getattr(target, "connection_pool", None)
            if isinstance(pool, SentinelConnectionPool) and pool.is_master:
                self.topology, self.service = "sentinel", str(pool.service_name)
        else:
            url = "" if option == "client" else "a Redis URL, "
            raise TypeError(
                f"{option} must be {url}a redis.asyncio.Redis or a redis.asyncio.RedisCluster"
            )
        if replicas is None:
            replicas = 1 if self.topology == "sentinel" else 0
        check_int("replicas", replicas, minimum=0)
        if replicas and self.topology == "cluster":
            raise ValueError("replicas: waiting for replicas is not supported on a Redis Cluster")
        self.replicas = replicas
        # The pool a durable write takes its connection from (not a cluster's: no WAIT there).
        self._pool: Any = getattr(self.client, "connection_pool", None)
        self._errors = driver_errors()
        self._next_warning = 0.0

    def script(self, text: str) -> AsyncScript:
        """``text`` (Lua) registered with the client: call it through :meth:`run`."""
        return self.client.register_script(text)

    async def run(
        self, script: AsyncScript, keys: list[str], args: list[Any], *, durable: bool = False
    ) -> Any:
        """Run ``script`` within the timeout; :class:`RedisUnavailable` on any failure.

        ``durable`` (with ``replicas``): run it, then ``WAIT`` on the same connection. Short
        of acknowledgements, the write stands only if the sentinels still name this
        connection's server as the master and no failover is going on (a replica lagging
        or down: logged); otherwise the connections are dropped, so the next call asks the
        sentinels again, and :class:`RedisUnavailable` says so: retry the write.
        """
        from redis.exceptions import MovedError

        try:
            async with asyncio.timeout(self.timeout):
                if durable and self.replicas:
                    return await self._durably(script, keys, args)
                return await script(keys=keys, args=args)
        except MovedError:
            raise RedisUnavailable(misnamed_cluster(self._name())) from None
        except self._errors as exc:
            text = "timed out" if isinstance(exc, TimeoutError) and not str(exc) else str(exc)
            raise RedisUnavailable(f"{type(exc).__name__}: {text}") from exc

    def _name(self) -> str:
        kwargs = getattr(self._pool, "connection_kwargs", {})
        return f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"

    async def _durably(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        pool = self._pool
        connection: AbstractConnection = await pool.get_connection()
        clean = False
        try:
            wait_ms = max(10, int(self.timeout * 500))  # half the call's time for the replicas
            await connection.send_packed_command(
                connection.pack_commands(
                    [
                        ("EVAL", script.script, len(keys), *keys, *args),
                        ("WAIT", self.replicas, wait_ms),
                    ]
                )
            )
            try:
                result = await connection.read_response()
            finally:
                acknowledged = await connection.read_response()
            clean = True
            if int(acknowledged) >= self.replicas:
                return result
            if await self._still_master(connection):
                self._warn_unreplicated(int(acknowledged))
                return result
            clean = False
            raise RedisUnavailable(
                "the write was not acknowledged by a replica while the master changed"
            )
        finally:
            if not clean:
                await connection.disconnect()
                if self.topology == "sentinel":
                    await pool.disconnect(inuse_connections=False)  # ask the sentinels again
            await pool.release(connection)

    async def _still_master(self, connection: Any) -> bool:
        """Whether the sentinels name ``connection``'s server as master, with no failover on."""
        if self.topology != "sentinel":
            return False
        manager = self._pool.sentinel_manager
        for sentinel in manager.sentinels:
            try:
                state = await sentinel.sentinel_master(self.service)
            except self._errors:
                continue
            flags = state.get("flags", "")
            flags = flags if isinstance(flags, str) else ",".join(flags)
            if "failover_in_progress" in flags or "o_down" in flags:
                return False
            where = (str(state.get("ip")), int(state.get("port", 0)))
            return where == (str(connection.host), int(connection.port))
        return False

    def _warn_unreplicated(self, acknowledged: int) -> None:
        now = time.monotonic()
        if now >= self._next_warning:
            self._next_warning = now + WARNING_INTERVAL
            logger.warning(
                "Redis: %d of %d replicas acknowledged a write within %g s; it is kept on "
                "the master only until they catch up",
                acknowledged,
                self.replicas,
                self.timeout / 2,
            )

    async def aclose(self) -> None:
        """Close every client made from a URL (a given client is left to its owner)."""
        owned, self._owned = self._owned, []
        for client in owned:
            await client.aclose()
