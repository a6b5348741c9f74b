"""Rate limits on a real Redis: one limit for several app instances, and Redis going away."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest
import redis
from limits.aio.storage import Storage
from limits.storage import storage_from_string

from opsgenie_envelope.ratelimit import RateLimit, digest
from tests.support.asgi import make_client
from tests.support.redis_server import RedisServer
from tests.support.stateful import (
    authenticated_fastapi,
    key,
    limited_fastapi,
    throttle_headers,
)

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

ALICE = key("alice-key")
KEYS = {"alice-key": "alice", "bob-key": "bob", "s3cret-api-key": "s3cret-api-key"}


MakeLimit = Callable[..., RateLimit]


@pytest.fixture
async def on_redis() -> AsyncIterator[MakeLimit]:
    """Makes limits on a Redis (``url``, ``name``, ``limit``, options); closes them at the end."""
    made: list[RateLimit] = []

    def make(url: str, name: str, limit: str = "3/minute", **options: Any) -> RateLimit:
        made.append(RateLimit(limit, storage=url, name=name, **options))
        return made[-1]

    yield make
    for limit in made:
        await limit.aclose()


async def test_two_app_instances_share_one_limit(
    on_redis: MakeLimit, redis_url: str, redis_prefix: str
) -> None:
    """Two apps (two processes' worth) on one Redis count one limit together, per caller."""
    first = authenticated_fastapi(on_redis(redis_url, redis_prefix), KEYS)
    second = authenticated_fastapi(on_redis(redis_url, redis_prefix), KEYS)
    async with (
        make_client(first, headers=ALICE) as one,
        make_client(second, headers=ALICE) as two,
    ):
        statuses = [
            (await one.get("/alerts")).status_code,
            (await two.get("/alerts")).status_code,
            (await one.get("/alerts")).status_code,
            (await two.get("/alerts")).status_code,
        ]
        other_key = await one.get("/alerts", headers=key("bob-key"))
    assert statuses == [200, 200, 200, 429]
    assert other_key.status_code == 200


async def test_moving_window_on_redis(
    on_redis: MakeLimit, redis_url: str, redis_prefix: str
) -> None:
    """The moving window works on Redis, with its ``Retry-After``."""
    limit = on_redis(redis_url, redis_prefix, "1/3 seconds", strategy="moving-window")
    async with make_client(limited_fastapi(limit), headers=ALICE) as client:
        await client.get("/alerts")
        throttled = await client.get("/alerts")
    assert throttled.status_code == 429
    assert throttle_headers(throttled)["retry-after"] == "3"


async def test_redis_keys_hold_no_raw_api_key(
    on_redis: MakeLimit, redis_url: str, redis_prefix: str
) -> None:
    """What Redis stores names the verified caller's digest, never the key."""
    limit = on_redis(redis_url, redis_prefix)
    app = authenticated_fastapi(limit, KEYS)
    async with make_client(app, headers=key("s3cret-api-key")) as client:
        await client.get("/alerts")
    server = redis.Redis.from_url(redis_url)
    try:
        names = [name.decode() for name in server.scan_iter(match=f"*{redis_prefix}*")]
    finally:
        server.close()
    assert names
    assert not any("s3cret" in name for name in names)
    assert any(digest("s3cret-api-key") in name for name in names)


async def test_redis_down_fails_open_with_one_warning(
    on_redis: MakeLimit, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """``fail-open``: with Redis stopped, requests pass and the outage is logged once."""
    limit = on_redis(redis_server.url, "down-open", "1/minute", storage_retry_after=0.01)
    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="opsgenie_envelope"):
        async with make_client(limited_fastapi(limit), headers=ALICE) as client:
            statuses = [(await client.get("/alerts")).status_code for _ in range(3)]
    warnings = [r.getMessage() for r in caplog.records if "storage unreachable" in r.getMessage()]
    assert statuses == [200, 200, 200]
    assert len(warnings) == 1
    assert "requests pass unchecked" in warnings[0]


async def test_redis_down_fails_closed_with_503_and_retry_after(
    on_redis: MakeLimit, redis_server: RedisServer
) -> None:
    """``fail-closed``: with Redis stopped, requests answer 503 with ``Retry-After``."""
    limit = on_redis(redis_server.url, "down-closed", on_storage_error="fail-closed")
    redis_server.stop()
    async with make_client(limited_fastapi(limit), headers=ALICE) as client:
        response = await client.get("/alerts")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["message"] == "Back-end servers are at capacity"


async def test_limit_counts_again_after_redis_restarts(
    on_redis: MakeLimit, redis_server: RedisServer
) -> None:
    """After a restart (state lost) the same app reconnects and counts from zero."""
    limit = on_redis(
        redis_server.url,
        "restart",
        "2/minute",
        on_storage_error="fail-closed",
        storage_retry_after=0.2,
    )
    async with make_client(limited_fastapi(limit), headers=ALICE) as client:
        before = [(await client.get("/alerts")).status_code for _ in range(3)]
        redis_server.stop()
        during = (await client.get("/alerts")).status_code
        redis_server.start()
        await anyio.sleep(0.3)  # storage_retry_after: the limit leaves Redis alone meanwhile
        after = [(await client.get("/alerts")).status_code for _ in range(3)]
    assert before == [200, 200, 429]
    assert during == 503
    assert after == [200, 200, 429]


async def test_hung_redis_costs_a_request_its_timeout_not_forever(
    on_redis: MakeLimit, redis_server: RedisServer
) -> None:
    """A Redis that stops answering (SIGSTOP) gives a 503 after the socket timeout."""
    limit = on_redis(
        redis_server.url,
        "hung",
        on_storage_error="fail-closed",
        storage_options={"socket_timeout": 0.3},
    )
    async with make_client(limited_fastapi(limit), headers=ALICE) as client:
        assert (await client.get("/alerts")).status_code == 200
        assert redis_server.process is not None
        redis_server.process.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            response = await client.get("/alerts")
            waited = time.monotonic() - started
        finally:
            redis_server.process.send_signal(signal.SIGCONT)
    assert response.status_code == 503
    assert waited < 5


async def test_given_storage_errors_follow_the_policy_too(redis_server: RedisServer) -> None:
    """A ``limits`` storage passed in (errors not wrapped) still fails closed, not with a 500."""
    storage = storage_from_string(
        f"async+{redis_server.url}", implementation="redispy", socket_connect_timeout=0.5
    )
    assert isinstance(storage, Storage)
    limit = RateLimit("1/minute", storage=storage, on_storage_error="fail-closed")
    redis_server.stop()
    async with make_client(limited_fastapi(limit), headers=ALICE) as client:
        response = await client.get("/alerts")
    assert response.status_code == 503
