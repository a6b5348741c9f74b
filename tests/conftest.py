"""Shared fixtures: the sample Starlette and FastAPI apps behind the middleware; Redis."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.apps import AppFactory, fastapi_app, starlette_app
from tests.support.asgi import make_client
from tests.support.redis_server import (
    ClusterServers,
    RedisServer,
    SentinelServers,
    delete_keys,
    private_redis,
    redis_for_tests,
)


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio only."""
    return "asyncio"


@pytest.fixture(params=["starlette", "fastapi"])
def make_app(request: pytest.FixtureRequest) -> AppFactory:
    """The sample app factory, once for Starlette and once for FastAPI."""
    return starlette_app if request.param == "starlette" else fastapi_app


@pytest.fixture
async def client(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the sample app with default options."""
    async with make_client(make_app()) as c:
        yield c


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The tests' Redis: ``$OPSGENIE_ENVELOPE_REDIS_URL`` or a private ``redis-server``.

    Without either the test fails, saying how to get one: Redis tests are never skipped.
    """
    with redis_for_tests() as url:
        yield url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own on the tests' Redis; its keys are deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_keys(redis_url, f"*{prefix}*")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A ``redis-server`` this test owns, to stop and start again; stopped by PID at the end."""
    with private_redis() as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[ClusterServers]:
    """A Redis Cluster of three masters on 127.0.0.1, started once for the session.

    Tests that stop or freeze its nodes leave it serving again (``ClusterServers.heal``).
    """
    try:
        cluster = ClusterServers()
    except RuntimeError as exc:
        pytest.fail(f"cannot start a Redis Cluster: {exc}", pytrace=False)
    try:
        try:
            cluster.start()
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            pytest.fail(f"cannot start a Redis Cluster: {exc}", pytrace=False)
        yield cluster
    finally:
        cluster.close()  # every node started so far, stopped by its PID


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[SentinelServers]:
    """A master, its replica and a sentinel on 127.0.0.1, started once for the session."""
    try:
        servers = SentinelServers()
    except RuntimeError as exc:
        pytest.fail(f"cannot start Redis with a sentinel: {exc}", pytrace=False)
    try:
        try:
            servers.start()
        except (RuntimeError, OSError) as exc:
            pytest.fail(f"cannot start Redis with a sentinel: {exc}", pytrace=False)
        yield servers
    finally:
        servers.close()  # every process started so far, stopped by its PID


@pytest.fixture(params=["standalone", "sentinel", "cluster"])
def topology_url(request: pytest.FixtureRequest) -> str:
    """The URL of each Redis topology in turn (each started once for the session)."""
    if request.param == "standalone":
        url: str = request.getfixturevalue("redis_url")
    elif request.param == "sentinel":
        servers: SentinelServers = request.getfixturevalue("redis_sentinel")
        url = servers.url
    else:
        cluster: ClusterServers = request.getfixturevalue("redis_cluster")
        url = cluster.url
    return url
