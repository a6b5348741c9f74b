"""A real Redis for the tests: the one ``.ci/run`` started, or a ``redis-server`` of our own.

``OPSGENIE_ENVELOPE_REDIS_URL`` names a running Redis (``.ci/run`` exports it). Without it, the
tests start ``redis-server`` from ``PATH`` on a free port of 127.0.0.1, with no persistence,
and stop it by its PID. With neither, the Redis tests fail, saying how to get one: they are
never skipped.

The other topologies are always the tests' own: :class:`ClusterServers` (three masters joined
by ``redis-cli --cluster create``) and :class:`SentinelServers` (a master, a replica and a
sentinel), every process on a free port of 127.0.0.1, its files in a temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import redis

from tests.support.processes import free_port

__all__ = [
    "ENV",
    "ClusterServers",
    "RedisServer",
    "SentinelServers",
    "delete_keys",
    "ping",
    "private_redis",
    "redis_for_tests",
    "wait_until",
]

ENV = "OPSGENIE_ENVELOPE_REDIS_URL"
"""The environment variable naming the Redis the tests use."""

MISSING = (
    "the Redis tests need a Redis server: install redis-server (apt-get install redis-server) "
    f"or set {ENV}=redis://host:port/db"
)


def ping(url: str, timeout: float = 1.0) -> bool:
    """Whether the Redis at ``url`` answers ``PING``."""
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def delete_keys(url: str, pattern: str) -> int:
    """Delete the keys matching ``pattern`` (``SCAN``, never ``FLUSHDB``); how many went."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=pattern, count=1000))
        return int(client.delete(*keys)) if keys else 0
    finally:
        client.close()


class RedisServer:
    """A ``redis-server`` process on 127.0.0.1 that the tests own: start, stop, start again.

    It keeps nothing on disk: a restart starts empty, as after losing a cache node.
    """

    def __init__(self, port: int | None = None, args: Sequence[str] = ()) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError(MISSING)
        self.executable = executable
        self.port = port or free_port()
        self.args = list(args)
        self.directory = Path(tempfile.mkdtemp(prefix="redis-test-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait (10 s at most) until it answers."""
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                self.executable,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                *self.args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 10
        while not ping(self.url, timeout=0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start: {self.log()}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server by its PID (SIGTERM, then SIGKILL after 10 s)."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def freeze(self) -> None:
        """Stop the process in its tracks (``SIGSTOP``): it holds connections, answers nothing."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """Let a frozen process go on (``SIGCONT``)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def log(self) -> str:
        """What the server printed."""
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def private_redis() -> Iterator[RedisServer]:
    """A started :class:`RedisServer`, stopped by its PID when the block ends.

    Fails the test (never skips it) when ``redis-server`` is missing or does not start.
    """
    try:
        server = RedisServer()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def redis_for_tests() -> Iterator[str]:
    """The URL of the Redis the tests use: ``$OPSGENIE_ENVELOPE_REDIS_URL`` or a private one."""
    url = os.environ.get(ENV, "").strip()
    if url:
        if not ping(url):
            pytest.fail(f"the Redis named by {ENV} does not answer PING", pytrace=False)
        yield url
        return
    with private_redis() as server:
        yield server.url


def wait_until(ready: Callable[[], bool], seconds: float = 20.0, what: str = "") -> None:
    """Poll ``ready`` until it holds; ``RuntimeError`` (naming ``what``) after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if ready():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what or ready.__name__} did not happen within {seconds:g} s")
        time.sleep(0.05)


def _cluster_port() -> int:
    """A free port whose cluster bus port (10000 above) is free too, as a node needs."""
    for _ in range(200):
        port = random.randrange(20_000, 55_000)
        with contextlib.ExitStack() as stack:
            try:
                for candidate in (port, port + 10_000):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return port
    raise RuntimeError("no free pair of ports for a cluster node")


class ClusterServers:
    """A Redis Cluster of three masters (no replicas) on 127.0.0.1, made by ``redis-cli``.

    Each node keeps its ``nodes.conf`` in its directory, so :meth:`stop` then :meth:`start`
    brings the same cluster back (empty: nothing else is kept).
    """

    def __init__(self, size: int = 3) -> None:
        if shutil.which("redis-cli") is None:
            raise RuntimeError(MISSING.replace("redis-server", "redis-server redis-tools", 1))
        cluster = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        cluster += ["--cluster-node-timeout", "1000", "--cluster-require-full-coverage", "yes"]
        self.nodes = [RedisServer(_cluster_port(), args=cluster) for _ in range(size)]

    @property
    def url(self) -> str:
        """``redis+cluster://127.0.0.1:<port>,127.0.0.1:<port>,...``."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def _state_ok(self) -> bool:
        for node in self.nodes:
            client = redis.Redis(port=node.port, socket_timeout=0.5, socket_connect_timeout=0.5)
            try:
                info = client.cluster("INFO")
            finally:
                client.close()
            text = info.decode() if isinstance(info, bytes) else str(info)
            if "cluster_state:ok" not in text and "'cluster_state': 'ok'" not in text:
                return False
        return True

    def start(self) -> None:
        """Start every node; join them into a cluster the first time; wait until it serves."""
        fresh = not (self.nodes[0].directory / "nodes.conf").exists()
        for node in self.nodes:
            node.start()
        if fresh:
            subprocess.run(
                [
                    "redis-cli",
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{node.port}" for node in self.nodes),
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
        wait_until(self._state_ok, what="the cluster reaching cluster_state:ok")

    def stop(self) -> None:
        """Stop every node by its PID."""
        for node in self.nodes:
            node.stop()

    def freeze(self) -> None:
        """Freeze every node (``SIGSTOP``): connections open, nothing answered."""
        for node in self.nodes:
            node.freeze()

    def heal(self) -> None:
        """Thaw frozen nodes, start stopped ones; return once the cluster serves again."""
        for node in self.nodes:
            if node.process is None:
                node.start()
            else:
                node.thaw()
        wait_until(self._state_ok, what="the cluster reaching cluster_state:ok")

    def close(self) -> None:
        """Stop every node and remove their directories."""
        for node in self.nodes:
            node.close()


_SENTINEL_CONFIG = """\
port {port}
bind 127.0.0.1
daemonize no
dir {directory}
sentinel resolve-hostnames no
sentinel monitor {service} 127.0.0.1 {master} 1
sentinel down-after-milliseconds {service} 1000
sentinel failover-timeout {service} 5000
sentinel parallel-syncs {service} 1
"""


class SentinelServers:
    """A master, its replica and one sentinel watching them, on 127.0.0.1.

    ``SERVICE`` is the name the sentinel knows the master by. :meth:`failover` swaps master
    and replica the way an operator would (``SENTINEL FAILOVER``).
    """

    SERVICE = "opsgenie"

    def __init__(self) -> None:
        quick = ["--repl-diskless-sync-delay", "0"]  # either may become the master
        self.master = RedisServer(args=quick)
        self.replica = RedisServer(args=[*quick, "--replicaof", "127.0.0.1", str(self.master.port)])
        self.sentinel_port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="redis-sentinel-test-"))
        self.sentinel: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis+sentinel://127.0.0.1:<sentinel port>/<service>``."""
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{self.SERVICE}"

    def _sentinel_client(self) -> redis.Redis:
        return redis.Redis(
            port=self.sentinel_port,
            socket_timeout=1,
            socket_connect_timeout=1,
            decode_responses=True,
        )

    def master_port(self) -> int:
        """The port of the server the sentinel names as master now."""
        client = self._sentinel_client()
        try:
            _, port = client.execute_command(  # type: ignore[no-untyped-call]
                "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.SERVICE
            )
        finally:
            client.close()
        return int(port)

    def _healthy(self) -> bool:
        """A master with one in-sync replica, both known to the sentinel."""
        master = self.master_port()
        client = self._sentinel_client()
        try:
            replicas = client.execute_command(  # type: ignore[no-untyped-call]
                "SENTINEL", "REPLICAS", self.SERVICE
            )
        finally:
            client.close()
        ready = [
            r
            for r in replicas
            if (r.get("flags") if isinstance(r, dict) else None) == "slave"
            and r.get("master-link-status") == "ok"
        ]
        if len(ready) != 1:
            return False
        node = redis.Redis(port=master, socket_timeout=1, socket_connect_timeout=1)
        try:
            info = node.info("replication")
        finally:
            node.close()
        return info.get("role") == "master" and int(info.get("connected_slaves", 0)) == 1

    def start(self) -> None:
        """Start master, replica and sentinel; wait until the sentinel sees an in-sync replica."""
        self.master.start()
        self.replica.start()
        config = self.directory / "sentinel.conf"
        config.write_text(
            _SENTINEL_CONFIG.format(
                port=self.sentinel_port,
                directory=self.directory,
                service=self.SERVICE,
                master=self.master.port,
            )
        )
        log = (self.directory / "sentinel.log").open("ab")
        self.sentinel = subprocess.Popen(
            [self.master.executable, str(config), "--sentinel"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(self._healthy, 30, "the sentinel seeing an in-sync replica")

    def failover(self, wait: bool = True) -> int:
        """``SENTINEL FAILOVER``; with ``wait``, return once the old master is the new
        master's in-sync replica. Returns the new master's port."""
        before = self.master_port()
        client = self._sentinel_client()
        try:
            client.execute_command(  # type: ignore[no-untyped-call]
                "SENTINEL", "FAILOVER", self.SERVICE
            )
        finally:
            client.close()
        wait_until(lambda: self.master_port() != before, what="the sentinel naming a new master")
        if wait:
            wait_until(self.settled, 40, "the old master following the new one")
        return self.master_port()

    def settled(self) -> bool:
        """Whether the master the sentinel names has an in-sync replica and no failover runs."""
        client = self._sentinel_client()
        try:
            state = client.execute_command(  # type: ignore[no-untyped-call]
                "SENTINEL", "MASTER", self.SERVICE
            )
        finally:
            client.close()
        flags = state.get("flags", "") if isinstance(state, dict) else ""
        if "failover_in_progress" in str(flags):
            return False
        node = redis.Redis(port=self.master_port(), socket_timeout=1, socket_connect_timeout=1)
        try:
            info = node.info("replication")
        finally:
            node.close()
        online = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
        return info.get("role") == "master" and any(r.get("state") == "online" for r in online)

    def log(self) -> str:
        """What the sentinel printed."""
        path = self.directory / "sentinel.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        """Stop the sentinel, the replica and the master by their PIDs; remove their files."""
        process, self.sentinel = self.sentinel, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.replica.close()
        self.master.close()
        shutil.rmtree(self.directory, ignore_errors=True)
