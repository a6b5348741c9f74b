"""Rate limits and request statuses on the three Redis topologies, all real processes.

Standalone (the tests' Redis), Sentinel (a master, a replica, a sentinel) and Cluster (three
masters), each started once for the session by the test support on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import uuid
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import Depends, FastAPI
from limits.aio.strategies import FixedWindowRateLimiter
from redis.asyncio import Redis, Sentinel
from starlette.requests import HTTPConnection

from opsgenie_envelope import TooManyRequests
from opsgenie_envelope.fastapi import install
from opsgenie_envelope.ratelimit import RateLimit
from opsgenie_envelope.request_status import Outcome, RedisRequestStore, RequestTracker
from tests.support.asgi import make_client
from tests.support.redis_server import ClusterServers, SentinelServers, wait_until
from tests.support.stateful import key

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

T = TypeVar("T")


Closing = Callable[[T], T]


@pytest.fixture
async def closing() -> AsyncIterator[Closing[Any]]:
    """Registers limits and trackers to close (``aclose``) when the test ends."""
    made: list[Any] = []

    def register(thing: T) -> T:
        made.append(thing)
        return thing

    yield register
    for thing in made:
        await thing.aclose()


def one_key(connection: HTTPConnection) -> str:
    """Every request counts against one key, ``load``."""
    return "load"


async def created(body: dict[str, Any]) -> Outcome:
    """Work that succeeds at once, naming the alias it was given."""
    return Outcome("Created alert", fields={"alertId": "a1", "alias": body["message"]})


def instance(tracker: RequestTracker, limit: RateLimit | None = None) -> FastAPI:
    """One app instance: ``POST /v2/alerts`` (202), the status route; every route limited."""
    app = FastAPI(dependencies=[Depends(limit)] if limit is not None else [])
    install(app, message_key="result")

    @app.post("/v2/alerts", status_code=202)
    async def create(body: dict[str, Any]) -> None:
        await tracker.accept(created, body, action="Create")

    @app.get("/v2/alerts/requests/{request_id}")
    async def status(request_id: str) -> dict[str, Any]:
        return await tracker.status_data(request_id)

    return app


def tracker_on(url: str, prefix: str, **options: Any) -> RequestTracker:
    """A tracker whose statuses live at ``url`` under ``prefix``."""
    retry_after = options.pop("retry_after", 5.0)
    store = RedisRequestStore(url, key_prefix=prefix, **options)
    return RequestTracker(store, retry_after=retry_after)


async def test_two_instances_share_one_limit(topology_url: str, closing: Closing[Any]) -> None:
    """Two app instances on one Redis (any topology) count against one limit."""
    name = f"shared-{uuid.uuid4().hex[:8]}"
    one = closing(RateLimit("4/minute", storage=topology_url, name=name))
    two = closing(RateLimit("4/minute", storage=topology_url, name=name))
    tracker = closing(RequestTracker())
    async with (
        make_client(instance(tracker, one)) as first,
        make_client(instance(tracker, two)) as second,
    ):
        codes = []
        for client in (first, second, first, second, first, second):
            response = await client.get("/v2/alerts/requests/x", headers=key("shared"))
            codes.append(response.status_code)
    assert codes == [404, 404, 404, 404, 429, 429]


async def test_limit_on_a_given_sentinel_client_is_shared_and_left_open(
    redis_sentinel: SentinelServers,
) -> None:
    """Two limits on one Sentinel-managed client count together; ``aclose`` leaves it open."""
    sentinel = Sentinel([("127.0.0.1", redis_sentinel.sentinel_port)])  # type: ignore[no-untyped-call]
    client = sentinel.master_for(redis_sentinel.SERVICE)
    name = f"given-{uuid.uuid4().hex[:8]}"
    limits = [RateLimit("3/minute", storage=client, name=name) for _ in range(2)]
    try:
        for limit in limits * 2:
            with contextlib.suppress(TooManyRequests):
                await limit.hit("someone")
        with pytest.raises(TooManyRequests):
            await limits[0].hit("someone")
        for limit in limits:
            await limit.aclose()
        still_open = await client.ping()
    finally:
        await client.aclose()
        for node in sentinel.sentinels:
            await node.aclose()
    assert still_open is True


async def test_two_instances_share_statuses(topology_url: str, closing: Closing[Any]) -> None:
    """A status recorded by one instance is served by another, on any topology."""
    prefix = f"shared-{uuid.uuid4().hex[:8]}:"
    accepting = closing(tracker_on(topology_url, prefix))
    polling = closing(tracker_on(topology_url, prefix))
    async with (
        make_client(instance(accepting)) as one,
        make_client(instance(polling)) as two,
    ):
        accepted = [(await one.post("/v2/alerts", json={"message": f"m{i}"})) for i in range(5)]
        await accepting.join()
        read = [
            (await two.get(f"/v2/alerts/requests/{a.json()['requestId']}")).json()["data"]
            for a in accepted
        ]
    assert [a.status_code for a in accepted] == [202] * 5
    assert [(r["status"], r["alias"]) for r in read] == [
        ("Created alert", f"m{i}") for i in range(5)
    ]


@pytest.mark.parametrize("topology", ["sentinel", "cluster"])
async def test_aclose_closes_the_clients_limits_made(
    topology: str, request: pytest.FixtureRequest
) -> None:
    """After ``aclose`` no client ``limits`` made for a cluster or sentinel URL is left open."""
    servers = request.getfixturevalue(f"redis_{topology}")
    limit = RateLimit("100/minute", storage=servers.url, name=f"close-{uuid.uuid4().hex[:8]}")
    await limit.hit("someone")
    await limit.aclose()
    del limit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [str(w.message) for w in caught if "nclosed" in str(w.message)] == []


async def test_redis_url_of_a_cluster_node_is_refused_naming_redis_cluster(
    redis_cluster: ClusterServers,
) -> None:
    """``redis://`` to one cluster node fails at start-up with a message naming the fix."""
    node = f"redis://127.0.0.1:{redis_cluster.nodes[0].port}/0"
    with pytest.raises(ValueError, match=r"redis\+cluster://") as by_limit:
        RateLimit("1/second", storage=node)
    with pytest.raises(ValueError, match=r"redis\+cluster://") as by_tracker:
        RequestTracker(node)
    assert "Redis Cluster" in str(by_limit.value)
    assert "Redis Cluster" in str(by_tracker.value)


async def test_plain_client_on_a_cluster_node_answers_503_naming_redis_cluster(
    redis_cluster: ClusterServers, caplog: pytest.LogCaptureFixture
) -> None:
    """A given plain client on one cluster node: 503, and the log names ``redis+cluster://``."""
    client = Redis(port=redis_cluster.nodes[0].port)
    tracker = RequestTracker(RedisRequestStore(client=client, key_prefix="moved:"))
    try:
        async with make_client(instance(tracker)) as statuses:
            answers = [
                (await statuses.get(f"/v2/alerts/requests/{uuid.uuid4()}")).status_code
                for _ in range(12)
            ]
    finally:
        await tracker.aclose()
        await client.aclose()
    assert set(answers) <= {404, 503}
    assert 503 in answers  # a key held by another node
    assert "redis+cluster://" in caplog.text


async def test_cluster_down_answers_503_not_500(
    redis_cluster: ClusterServers, closing: Closing[Any]
) -> None:
    """The whole cluster stopped: limit (fail-closed) and statuses answer 503, Retry-After."""
    url = redis_cluster.url
    limit = closing(RateLimit("100/minute", storage=url, on_storage_error="fail-closed"))
    tracker = closing(tracker_on(url, "down:"))
    async with make_client(instance(tracker)) as statuses:
        await statuses.get("/v2/alerts/requests/warm-up")  # the client knows the cluster
        redis_cluster.stop()
        try:
            # A client made while the cluster is down meets RedisClusterException.
            late = closing(tracker_on(url, "down:"))
            async with (
                make_client(instance(RequestTracker(), limit)) as limited,
                make_client(instance(late)) as fresh,
            ):
                answers = [
                    await limited.get("/v2/alerts/requests/x", headers=key("k")),
                    await statuses.post("/v2/alerts", json={"message": "m"}),
                    await fresh.get("/v2/alerts/requests/x"),
                ]
        finally:
            redis_cluster.heal()
    assert [(a.status_code, "retry-after" in a.headers) for a in answers] == [(503, True)] * 3


async def test_hung_cluster_costs_about_the_timeout(
    redis_cluster: ClusterServers, closing: Closing[Any]
) -> None:
    """Frozen cluster nodes: a request waits about the socket timeout, not the retry ladder."""
    url = redis_cluster.url
    options = {"socket_timeout": 0.3, "socket_connect_timeout": 0.3}
    limit = closing(
        RateLimit(
            "100/minute", storage=url, on_storage_error="fail-closed", storage_options=options
        )
    )
    tracker = closing(tracker_on(url, "hung:", **options))
    async with (
        make_client(instance(RequestTracker(), limit)) as limited,
        make_client(instance(tracker)) as statuses,
    ):
        await limited.get("/v2/alerts/requests/x", headers=key("k"))
        await statuses.get("/v2/alerts/requests/warm-up")
        redis_cluster.freeze()
        try:
            answers, took = [], []
            for client, method, path in (
                (limited, "GET", "/v2/alerts/requests/x"),
                (statuses, "POST", "/v2/alerts"),
            ):
                started = time.perf_counter()
                response = await client.request(
                    method, path, headers=key("k"), json={"message": "m"}
                )
                answers.append(response.status_code)
                took.append(time.perf_counter() - started)
        finally:
            redis_cluster.heal()
    assert answers == [503, 503]
    assert max(took) < 1.0, took


async def test_sentinel_failover_under_load_loses_no_processed_status(
    redis_sentinel: SentinelServers, closing: Closing[Any]
) -> None:
    """``SENTINEL FAILOVER`` under load: no 500, only 202/503, and lost statuses = 0."""
    url, prefix = redis_sentinel.url, f"failover-{uuid.uuid4().hex[:8]}:"
    trackers = [closing(tracker_on(url, prefix, retry_after=0.5)) for _ in range(2)]
    limits = [
        closing(RateLimit("100000/hour", storage=url, name=prefix.rstrip(":"), key=one_key))
        for _ in range(2)
    ]
    apps = [instance(t, lim) for t, lim in zip(trackers, limits, strict=True)]
    answers: Counter[int] = Counter()
    accepted: list[str] = []
    stop = asyncio.Event()
    enough = asyncio.Event()  # more than 100 writes accepted

    async def load(client: httpx.AsyncClient, worker: int) -> None:
        n = 0
        while not stop.is_set():
            response = await client.post(
                "/v2/alerts", json={"message": f"w{worker}-{n}"}, headers=key("load")
            )
            answers[response.status_code] += 1
            if response.status_code == 202:
                accepted.append(response.json()["requestId"])
                if len(accepted) > 100:
                    enough.set()
            else:
                assert response.status_code == 503, response.text
                assert "retry-after" in response.headers
                await asyncio.sleep(0.05)
            n += 1
            await asyncio.sleep(0.005)

    async with make_client(apps[0]) as one, make_client(apps[1]) as two:
        clients = [one, two]
        workers = [asyncio.create_task(load(clients[i % 2], i)) for i in range(8)]
        await asyncio.sleep(0.5)
        old = redis_sentinel.master_port()
        await asyncio.to_thread(redis_sentinel.failover, False)
        await asyncio.sleep(2.0)  # keep the load on past the switch
        # ... and until it has been a real load, however slow the machine (at most 20 s more).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(enough.wait(), 20)
        stop.set()
        await asyncio.gather(*workers)
        for tracker in trackers:
            await tracker.join()
        # The old master becomes the new one's replica (about 10 s later): what it took alone
        # is discarded then. Read afterwards, from both instances.
        await asyncio.to_thread(wait_until, redis_sentinel.settled, 40)
        window = limits[0].items[0]
        counter = FixedWindowRateLimiter(limits[0].storage)
        stats = await counter.get_window_stats(window, limits[0].name, "load")
        found: Counter[int] = Counter()
        for client in clients:
            for request_id in accepted:
                response = await client.get(f"/v2/alerts/requests/{request_id}")
                found[response.status_code] += 1
    counted = window.amount - stats.remaining
    lost = sum(count for status, count in found.items() if status != 200)
    print(f"\nrate limit: {counted} of {sum(answers.values())} hits counted after the failover")
    print(
        f"\nfailover {old} -> {redis_sentinel.master_port()}: answers {dict(answers)}, "
        f"{len(accepted)} accepted, reads from both instances {dict(found)}, lost {lost}"
    )
    assert set(answers) <= {202, 503}
    assert answers[202] > 100
    assert redis_sentinel.master_port() != old
    assert lost == 0
