"""The demo on a real Redis, in-process: one store, one limit and one set of statuses for all."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import anyio
import httpx
import pytest
import redis.cluster
from fastapi import FastAPI

from examples.alerts.api import Settings, create_app
from examples.alerts.redis_store import redacted
from tests.support.demo_app import READONLY, demo, poll_raw, raw_client
from tests.support.processes import free_port
from tests.support.redis_server import ClusterServers, RedisServer

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

Instances = Callable[..., Awaitable[FastAPI]]


@pytest.fixture
async def instances(redis_url: str, redis_prefix: str) -> AsyncIterator[Instances]:
    """Starts demo apps on the tests' Redis (settings as keywords); stops them at the end."""
    async with AsyncExitStack() as stack:

        async def start(**settings: Any) -> FastAPI:
            app = demo(redis_url=redis_url, redis_prefix=redis_prefix, **settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            return app

        yield start


async def alert_count(client: httpx.AsyncClient) -> int:
    """``GET /v2/alerts/count``."""
    count: int = (await client.get("/v2/alerts/count")).json()["data"]["count"]
    return count


async def test_flow_on_redis(instances: Instances) -> None:
    """Create, poll, read by alias, acknowledge, list: the demo works the same on Redis."""
    async with raw_client(await instances()) as api:
        created = await api.post("/v2/alerts", json={"message": "Queue backlog", "alias": "queue"})
        status = await poll_raw(api, created.json()["requestId"])
        alert = (await api.get("/v2/alerts/queue?identifierType=alias")).json()["data"]
        acked = await api.post("/v2/alerts/queue/acknowledge?identifierType=alias")
        await poll_raw(api, acked.json()["requestId"])
        listed = (await api.get("/v2/alerts", params={"query": "acknowledged:true"})).json()
    assert (status["action"], status["isSuccess"], status["alertId"]) == (
        "Create",
        True,
        alert["id"],
    )
    assert alert["tinyId"] == "6"
    assert alert["id"] in [item["id"] for item in listed["data"]]


async def test_instances_share_alerts_and_request_statuses(instances: Instances) -> None:
    """What one instance accepts, another reports and reads."""
    async with raw_client(await instances()) as one, raw_client(await instances()) as two:
        created = await one.post("/v2/alerts", json={"message": "Disk full", "alias": "disk"})
        status = await poll_raw(two, created.json()["requestId"])
        read = await two.get(f"/v2/alerts/{status['alertId']}")
    assert read.json()["data"]["alias"] == "disk"


async def test_instances_share_one_rate_limit(instances: Instances) -> None:
    """The per-key limit counts requests on every instance together."""
    first, second = await instances(rate_limit=3), await instances(rate_limit=3)
    async with raw_client(first, READONLY) as one, raw_client(second, READONLY) as two:
        statuses = [
            (await one.get("/v2/alerts/count")).status_code,
            (await two.get("/v2/alerts/count")).status_code,
            (await one.get("/v2/alerts/count")).status_code,
            (await two.get("/v2/alerts/count")).status_code,
        ]
    assert statuses == [200, 200, 200, 429]


async def test_seeding_happens_once(instances: Instances) -> None:
    """A second instance starting on a used Redis adds no sample data and keeps tiny IDs going."""
    async with raw_client(await instances()) as one:
        created = await one.post("/v2/alerts", json={"message": "Disk full"})
        await poll_raw(one, created.json()["requestId"])
    async with raw_client(await instances()) as two:
        count = await alert_count(two)
        again = await two.post("/v2/alerts", json={"message": "CPU hot"})
        status = await poll_raw(two, again.json()["requestId"])
        alert = (await two.get(f"/v2/alerts/{status['alertId']}")).json()["data"]
    assert count == 6
    assert alert["tinyId"] == "7"


async def test_concurrent_creates_with_one_alias_deduplicate(instances: Instances) -> None:
    """Ten creates with one alias through two instances at once: one alert, counted ten times."""
    one, two = await instances(), await instances()
    request_ids: list[str] = []
    async with raw_client(one) as first, raw_client(two) as second:

        async def create(client: httpx.AsyncClient) -> None:
            response = await client.post("/v2/alerts", json={"message": "Flap", "alias": "flap"})
            request_ids.append(response.json()["requestId"])

        async with anyio.create_task_group() as group:
            for i in range(10):
                group.start_soon(create, first if i % 2 else second)
        for request_id in request_ids:
            await poll_raw(first, request_id)
        alert = (await first.get("/v2/alerts/flap?identifierType=alias")).json()["data"]
        total = await alert_count(first)
    assert alert["count"] == 10
    assert total == 6


async def test_start_up_banner_names_redis(
    instances: Instances, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """At start-up the demo says its state is in Redis, shared by every worker."""
    await instances()
    printed = capsys.readouterr().out
    assert f"in Redis at {redacted(redis_url)}, shared by every worker" in printed
    assert "in this process only" not in printed


def test_redacted_url_hides_credentials() -> None:
    """Banners and errors show Redis URLs without user name or password."""
    assert redacted("redis://user:s3cret@cache.local:6380/2") == "redis://cache.local:6380/2"


def test_start_without_redis_fails_clearly() -> None:
    """With ``ALERTS_REDIS_URL`` pointing nowhere, the demo refuses to start, saying why."""
    settings = Settings(redis_url=f"redis://:s3cret@127.0.0.1:{free_port()}/0")
    with pytest.raises(RuntimeError, match="cannot reach Redis") as info:
        create_app(settings)
    assert "s3cret" not in str(info.value)
    assert "ALERTS_REDIS_URL" in str(info.value)


async def test_redis_down_answers_503_not_500(redis_server: RedisServer) -> None:
    """Redis stopped under a running demo: reads and writes answer 503 with ``Retry-After``."""
    app = demo(redis_url=redis_server.url)
    async with app.router.lifespan_context(app), raw_client(app) as api:
        redis_server.stop()
        read = await api.get("/v2/alerts")
        write = await api.post("/v2/alerts", json={"message": "Disk full"})
    assert (read.status_code, read.headers["retry-after"]) == (503, "5")
    assert write.status_code == 503


def test_redis_url_of_a_cluster_node_is_refused(redis_cluster: ClusterServers) -> None:
    """``ALERTS_REDIS_URL=redis://<a cluster node>``: the demo refuses to start, naming the fix."""
    node = f"redis://127.0.0.1:{redis_cluster.nodes[0].port}/0"
    with pytest.raises(ValueError, match=r"redis\+cluster://"):
        create_app(Settings(redis_url=node))


async def test_keys_share_one_cluster_slot(redis_cluster: ClusterServers) -> None:
    """On a cluster the demo's own keys carry one hash tag: one slot, so seeding is atomic."""
    prefix = f"tagged-{uuid.uuid4().hex[:8]}:"
    app = demo(redis_url=redis_cluster.url, redis_prefix=prefix)
    async with app.router.lifespan_context(app), raw_client(app) as api:
        count = (await api.get("/v2/alerts/count")).json()["data"]["count"]
    client = redis.cluster.RedisCluster("127.0.0.1", redis_cluster.nodes[0].port)
    try:
        names = [name.decode() for name in client.scan_iter(match=f"{{{prefix}}}*")]
        slots = {client.keyslot(name) for name in names}  # type: ignore[no-untyped-call]
    finally:
        client.close()
    assert count == 5
    assert sorted(name.rpartition("}")[2] for name in names) == ["alert", "seeded", "tiny", "user"]
    assert len(slots) == 1
