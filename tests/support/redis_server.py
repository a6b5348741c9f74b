"""A real Redis for the tests: the one ``.ci/run`` started, or a ``redis-server`` of our own.

``OPSGENIE_ENVELOPE_REDIS_URL`` names a running Redis (``.ci/run`` exports it). Without it, the
tests start ``redis-server`` from ``PATH`` on a free port of 127.0.0.1, with no persistence,
and stop it by its PID. With neither, the Redis tests fail, saying how to get one: they are
never skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.processes import free_port

__all__ = ["ENV", "RedisServer", "delete_keys", "ping", "private_redis", "redis_for_tests"]

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

    def __init__(self, port: int | None = None) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError(MISSING)
        self.executable = executable
        self.port = port or free_port()
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
