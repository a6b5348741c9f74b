"""Asynchronous requests on a real Redis: shared statuses, a killed worker, Redis going away."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis

from opsgenie_envelope.request_status import (
    LOST,
    Outcome,
    RedisRequestStore,
    RequestStatus,
    RequestTracker,
)
from tests.support.asgi import make_client
from tests.support.processes import serve
from tests.support.redis_server import RedisServer
from tests.support.stateful import tracked_app

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

MakeRequests = Callable[..., RequestTracker]


async def created(body: dict[str, Any]) -> Outcome:
    """Work that succeeds at once."""
    return Outcome("Created alert", fields={"alertId": "a1", "alias": body["message"]})


@pytest.fixture
async def on_redis() -> AsyncIterator[MakeRequests]:
    """Makes ``RequestTracker`` on a Redis store (``url``, ``prefix``, options); closes them."""
    made: list[RequestTracker] = []

    def make(url: str, prefix: str, **options: Any) -> RequestTracker:
        made.append(RequestTracker(RedisRequestStore(url, key_prefix=prefix), **options))
        return made[-1]

    yield make
    for requests in made:
        await requests.aclose(grace=1)


async def status_of(client: httpx.AsyncClient, request_id: str) -> httpx.Response:
    """``GET /v2/alerts/requests/{request_id}``."""
    return await client.get(f"/v2/alerts/requests/{request_id}")


async def test_status_recorded_by_one_instance_is_served_by_another(
    on_redis: MakeRequests, redis_url: str, redis_prefix: str
) -> None:
    """One app accepts and processes; another app on the same Redis serves the status."""
    accepting = on_redis(redis_url, redis_prefix)
    polling = on_redis(redis_url, redis_prefix)
    async with (
        make_client(tracked_app(accepting, created)) as one,
        make_client(tracked_app(polling, created)) as two,
    ):
        accepted = await one.post("/v2/alerts", json={"message": "Disk full"})
        await accepting.join()
        response = await status_of(two, accepted.json()["requestId"])
    data = response.json()["data"]
    assert (data["success"], data["status"], data["alias"]) == (True, "Created alert", "Disk full")


async def test_records_expire_after_the_ttl(redis_url: str, redis_prefix: str) -> None:
    """Every record, and its owner's index, is written with the store's TTL."""
    store = RedisRequestStore(redis_url, key_prefix=redis_prefix, ttl=30)
    try:
        await store.begin("r1", "Create", "t", lease=10)
        ttl = await store.client.pttl(f"{redis_prefix}{{-}}:r:r1")
        index = await store.client.pttl(f"{redis_prefix}{{-}}:pending")
    finally:
        await store.aclose()
    assert 25_000 < ttl <= 30_000
    assert 25_000 < index <= 30_000


async def test_unrenewed_lease_reads_as_lost_everywhere(redis_url: str, redis_prefix: str) -> None:
    """A pending record whose lease ran out is lost for every reader; a late finish is refused."""
    writer = RedisRequestStore(redis_url, key_prefix=redis_prefix)
    reader = RedisRequestStore(redis_url, key_prefix=redis_prefix)
    try:
        await writer.begin("r1", "Close", "worker-a", lease=0.2)
        pending = await reader.get("r1")
        await asyncio.sleep(0.3)
        lost = await reader.get("r1")
        late = RequestStatus("r1", "Close", datetime.now(UTC), True, "Closed")
        refused = await writer.finish("r1", "worker-a", late)
        again = await writer.get("r1")
    finally:
        await writer.aclose()
        await reader.aclose()
    assert pending is None
    assert lost is not None
    assert (lost.action, lost.success, lost.status) == ("Close", False, LOST)
    assert refused is False
    assert again == lost


@pytest.mark.server
async def test_killed_worker_process_leaves_a_failed_status_not_pending(
    on_redis: MakeRequests, redis_url: str, redis_prefix: str
) -> None:
    """A server killed (SIGKILL) mid-request: once its lease runs out, the status is failed."""
    polling = on_redis(redis_url, redis_prefix)
    environment = {
        "TEST_REDIS_URL": redis_url,
        "TEST_REDIS_PREFIX": redis_prefix,
        "TEST_LEASE": "1",
    }
    with serve(
        "uvicorn", "tests.support.stateful:served_requests_app", ["--factory"], environment
    ) as served:
        async with httpx.AsyncClient(base_url=served.url) as server:
            accepted = await server.post("/v2/alerts", json={"message": "Disk full"})
        os.kill(served.pid, signal.SIGKILL)
    request_id = accepted.json()["requestId"]
    async with make_client(tracked_app(polling, created)) as client:
        right_after = await status_of(client, request_id)
        deadline = time.monotonic() + 10
        while (response := await status_of(client, request_id)).status_code == 404:
            assert time.monotonic() < deadline, "the status stayed pending"
            await asyncio.sleep(0.1)
    assert accepted.status_code == 202
    assert right_after.status_code == 404
    data = response.json()["data"]
    assert (data["success"], data["isSuccess"], data["status"]) == (False, False, LOST)


async def test_redis_down_answers_503_then_recovers(
    on_redis: MakeRequests, redis_server: RedisServer
) -> None:
    """Redis stopped: 503 with Retry-After, then at once during the back-off; then all works."""
    tracker = on_redis(redis_server.url, "down:", retry_after=1)
    async with make_client(tracked_app(tracker, created)) as client:
        redis_server.stop()
        refused = await client.post("/v2/alerts", json={"message": "Disk full"})
        started = time.perf_counter()
        unreadable = await status_of(client, "8a88410f-3129-483d-87b7-b09ffdb1ac2c")
        backed_off = time.perf_counter() - started
        redis_server.start()
        await asyncio.sleep(max(0.0, 1.05 - backed_off))  # the back-off ends
        accepted = await client.post("/v2/alerts", json={"message": "Disk full"})
        await tracker.join()
        status = await status_of(client, accepted.json()["requestId"])
    assert (refused.status_code, refused.headers["retry-after"]) == (503, "1")
    assert (unreadable.status_code, unreadable.headers["retry-after"]) == (503, "1")
    assert backed_off < 0.5  # answered from the back-off, Redis not asked
    assert accepted.status_code == 202
    assert status.json()["data"]["status"] == "Created alert"


async def test_outcome_is_recorded_across_a_redis_restart(
    on_redis: MakeRequests, redis_server: RedisServer
) -> None:
    """Redis restarts (empty) as the work ends: the outcome write is retried and lands."""
    tracker = on_redis(redis_server.url, "blip:")
    gate = asyncio.Event()

    async def waits(body: dict[str, Any]) -> Outcome:
        await gate.wait()
        return Outcome("Created alert")

    async with make_client(tracked_app(tracker, waits)) as client:
        accepted = await client.post("/v2/alerts", json={"message": "Disk full"})
        redis_server.stop()
        gate.set()
        await asyncio.sleep(0.05)  # the first write fails: connection refused
        redis_server.start()
        await tracker.join()
        status = await status_of(client, accepted.json()["requestId"])
    assert status.json()["data"]["status"] == "Created alert"


def test_store_keys_use_the_prefix(redis_url: str, redis_prefix: str) -> None:
    """Records and owner indexes live under ``key_prefix``, nowhere else."""

    async def write() -> None:
        store = RedisRequestStore(redis_url, key_prefix=redis_prefix)
        try:
            await store.begin("abc", "Create", "t", lease=10)
        finally:
            await store.aclose()

    asyncio.run(write())
    client = redis.Redis.from_url(redis_url)
    try:
        names = [name.decode() for name in client.scan_iter(match=f"{redis_prefix}*")]
    finally:
        client.close()
    assert sorted(names) == [f"{redis_prefix}{{-}}:pending", f"{redis_prefix}{{-}}:r:abc"]


async def test_redis_store_is_bounded_per_owner_and_private(
    redis_url: str, redis_prefix: str
) -> None:
    """2,000 writes by one owner keep max_per_owner records; another owner reads none of them."""
    store = RedisRequestStore(redis_url, key_prefix=redis_prefix, max_per_owner=50)
    try:
        await store.begin("kept-pending", "Create", "t", lease=60, owner="flood")
        for n in range(2000):
            done = RequestStatus(f"r{n}", "Create", datetime.now(UTC), True, "Created alert")
            await store.begin(f"r{n}", "Create", "t", lease=60, owner="flood")
            await store.finish(f"r{n}", "t", done, owner="flood")
        records = [key async for key in store.client.scan_iter(match=f"{redis_prefix}*:r:*")]
        last = await store.get("r1999", owner="flood")
        stolen = await store.get("r1999", owner="other")
        pending = await store.renew("kept-pending", "t", 60, owner="flood")
    finally:
        await store.aclose()
    assert len(records) == 50
    assert last is not None
    assert stolen is None
    assert pending  # finished statuses went first: the pending one is still there
