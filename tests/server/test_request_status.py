"""Asynchronous requests in memory: the 202, the status, failures, leases, options."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from opsgenie_envelope import NotFound, get_request_id, uuid4_hex
from opsgenie_envelope.request_status import (
    LOST,
    NOT_FOUND,
    UNEXPECTED,
    MemoryRequestStore,
    Outcome,
    RequestStatus,
    RequestTracker,
)
from tests.support.asgi import make_client
from tests.support.stateful import STATUS_KEYS, owned_app, sleeping, tracked_app

pytestmark = pytest.mark.anyio


async def created(body: dict[str, Any]) -> Outcome:
    """Work that succeeds at once."""
    return Outcome("Created alert", fields={"alertId": "a1", "alias": body["message"]})


@pytest.fixture
async def tracker() -> AsyncIterator[RequestTracker]:
    """An ``RequestTracker`` in memory, closed at the end."""
    requests = RequestTracker()
    yield requests
    await requests.aclose()


async def accept(client: httpx.AsyncClient, message: str = "Disk full") -> str:
    """POST a create, expect 202, return its request ID."""
    response = await client.post("/v2/alerts", json={"message": message})
    assert response.status_code == 202, response.text
    request_id: str = response.json()["requestId"]
    return request_id


async def processed(
    client: httpx.AsyncClient, tracker: RequestTracker, request_id: str
) -> httpx.Response:
    """The status answer once every accepted request is processed."""
    await tracker.join()
    return await client.get(f"/v2/alerts/requests/{request_id}")


async def test_accept_answers_opsgenie_202(tracker: RequestTracker) -> None:
    """The 202 carries ``result: Request will be processed`` and the request ID, no entity."""
    async with make_client(tracked_app(tracker, created)) as client:
        response = await client.post("/v2/alerts", json={"message": "Disk full"})
    body = response.json()
    assert response.status_code == 202
    assert body["result"] == "Request will be processed"
    assert body["requestId"] == response.headers["x-request-id"]
    assert body.get("data") is None


async def test_status_is_404_until_processed_then_the_outcome(tracker: RequestTracker) -> None:
    """While the work runs the status is 404; afterwards it is OpsGenie's request status."""
    gate = asyncio.Event()

    async def slow(body: dict[str, Any]) -> Outcome:
        await gate.wait()
        return await created(body)

    async with make_client(tracked_app(tracker, slow)) as client:
        request_id = await accept(client)
        pending = await client.get(f"/v2/alerts/requests/{request_id}")
        gate.set()
        done = await processed(client, tracker, request_id)
    assert pending.status_code == 404
    assert pending.json()["message"] == "Request not found. It might not be processed yet."
    data = done.json()["data"]
    assert list(data) == STATUS_KEYS
    assert (data["success"], data["isSuccess"], data["action"], data["status"]) == (
        True,
        True,
        "Create",
        "Created alert",
    )
    assert data["processedAt"].endswith("Z")


async def test_pending_status_says_request_not_processed(tracker: RequestTracker) -> None:
    """The 404 of a pending request carries ``X-Opsgenie-Errortype: RequestNotProcessed``,
    the header official SDKs keep polling on; the processed status does not."""
    gate = asyncio.Event()

    async def slow(body: dict[str, Any]) -> Outcome:
        await gate.wait()
        return await created(body)

    async with make_client(tracked_app(tracker, slow)) as client:
        request_id = await accept(client)
        pending = await client.get(f"/v2/alerts/requests/{request_id}")
        gate.set()
        done = await processed(client, tracker, request_id)
    assert pending.headers["x-opsgenie-errortype"] == "RequestNotProcessed"
    assert "x-opsgenie-errortype" not in done.headers


async def test_unknown_status_says_request_not_processed(tracker: RequestTracker) -> None:
    """An unknown ID reads as one not processed yet: the same 404 and header."""
    async with make_client(tracked_app(tracker, created)) as client:
        response = await client.get("/v2/alerts/requests/never-accepted")
    assert response.status_code == 404
    assert response.headers["x-opsgenie-errortype"] == "RequestNotProcessed"


async def test_api_error_in_work_is_a_failed_outcome(tracker: RequestTracker) -> None:
    """Work raising an ``ApiError`` is recorded as failed, with the error's message."""

    async def missing(body: dict[str, Any]) -> Outcome:
        raise NotFound("Alert does not exist")

    async with make_client(tracked_app(tracker, missing)) as client:
        data = (await processed(client, tracker, await accept(client))).json()["data"]
    assert (data["success"], data["isSuccess"], data["status"]) == (
        False,
        False,
        "Alert does not exist",
    )


async def test_unexpected_exception_is_logged_not_shown(
    tracker: RequestTracker, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected exception fails the request with a generic status; the log has the rest."""

    async def broken(body: dict[str, Any]) -> Outcome:
        raise RuntimeError("secret-token-123")

    with caplog.at_level(logging.ERROR, logger="opsgenie_envelope"):
        async with make_client(tracked_app(tracker, broken)) as client:
            request_id = await accept(client)
            response = await processed(client, tracker, request_id)
    assert response.json()["data"]["status"] == UNEXPECTED
    assert "secret" not in response.text
    [record] = [r for r in caplog.records if request_id in r.getMessage()]
    assert record.exc_info is not None


async def test_sync_work_runs_in_the_thread_pool(tracker: RequestTracker) -> None:
    """Sync work runs off the event loop's thread."""
    threads: list[str] = []

    def blocking(body: dict[str, Any]) -> Outcome:
        threads.append(threading.current_thread().name)
        return Outcome("Created alert")

    async with make_client(tracked_app(tracker, blocking)) as client:
        data = (await processed(client, tracker, await accept(client))).json()["data"]
    assert data["status"] == "Created alert"
    assert threads != [threading.current_thread().name]


async def test_work_returning_no_outcome_fails_the_request(tracker: RequestTracker) -> None:
    """Work must return an ``Outcome``; anything else fails the request (and is logged)."""

    async def wrong(body: dict[str, Any]) -> Any:
        return {"status": "done"}

    async with make_client(tracked_app(tracker, wrong)) as client:
        data = (await processed(client, tracker, await accept(client))).json()["data"]
    assert data["status"] == UNEXPECTED


async def test_work_sees_the_request_id(tracker: RequestTracker) -> None:
    """The background work runs with the accepted request's ID (logs carry it)."""
    seen: list[str | None] = []

    async def remember(body: dict[str, Any]) -> Outcome:
        seen.append(get_request_id())
        return Outcome("Created alert")

    async with make_client(tracked_app(tracker, remember)) as client:
        request_id = await accept(client)
        await tracker.join()
    assert seen == [request_id]


async def test_long_work_keeps_its_lease_alive() -> None:
    """Work longer than the lease is not declared lost: its worker renews the lease."""
    tracker = RequestTracker(lease=0.6)
    async with make_client(tracked_app(tracker, sleeping(1.5))) as client:
        request_id = await accept(client)
        await asyncio.sleep(1.0)
        during = await client.get(f"/v2/alerts/requests/{request_id}")
        after = await processed(client, tracker, request_id)
    await tracker.aclose()
    assert during.status_code == 404
    assert after.json()["data"]["status"] == "Created alert"


async def test_close_records_cut_work_as_lost() -> None:
    """``aclose`` waits its grace, then cancels the work and records it as lost at once."""
    store = MemoryRequestStore()
    tracker = RequestTracker(store, lease=60)
    async with make_client(tracked_app(tracker, sleeping(3600))) as client:
        request_id = await accept(client)
        await asyncio.sleep(0.05)
        await tracker.aclose(grace=0.05)
    status = await store.get(request_id)
    assert status is not None
    assert (status.success, status.status) == (False, LOST)
    assert tracker.running == 0


async def test_dead_worker_reads_as_lost_once_its_lease_runs_out() -> None:
    """A pending record nobody renews turns into a failed status, for good."""
    now = [0.0]
    store = MemoryRequestStore(clock=lambda: now[0])
    assert await store.begin("r1", "Create", "worker-a", lease=60)
    pending = await store.get("r1")
    now[0] = 61.0
    lost = await store.get("r1")
    late = RequestStatus("r1", "Create", datetime.now(UTC), True, "Created alert")
    refused = await store.finish("r1", "worker-a", late)
    again = await store.get("r1")
    assert pending is None
    assert lost is not None
    assert (lost.success, lost.status) == (False, LOST)
    assert refused is False
    assert again == lost


async def test_only_the_holder_finishes_a_request() -> None:
    """``finish`` with another worker's token is refused."""
    store = MemoryRequestStore()
    await store.begin("r1", "Create", "worker-a", lease=60)
    status = RequestStatus("r1", "Create", datetime.now(UTC), True, "Created alert")
    assert await store.finish("r1", "worker-b", status) is False
    assert await store.renew("r1", "worker-b", 60) is False
    assert await store.finish("r1", "worker-a", status) is True


async def test_memory_store_forgets_after_ttl_and_past_its_size() -> None:
    """Records expire after ``ttl``; past ``max_entries`` the oldest go first."""
    now = [0.0]
    store = MemoryRequestStore(ttl=10, max_entries=2, clock=lambda: now[0])
    for request_id in ("r1", "r2", "r3"):
        await store.begin(request_id, "Create", "t", lease=60)
    kept = len(store)
    now[0] = 11.0
    expired = await store.get("r3")
    assert kept == 2
    assert await store.begin("r1", "Create", "t", lease=60)  # r1 was forgotten: free again
    assert expired is None


async def test_refused_finish_leaves_the_record_in_its_place() -> None:
    """A refused ``finish`` does not make its record the newest: the oldest still goes first."""
    store = MemoryRequestStore(max_entries=2)
    await store.begin("r1", "Create", "worker-a", lease=60)
    await store.begin("r2", "Create", "worker-a", lease=60)
    status = RequestStatus("r1", "Create", datetime.now(UTC), True, "Created alert")
    assert await store.finish("r1", "worker-b", status) is False
    await store.begin("r3", "Create", "worker-a", lease=60)
    kept = [await store.renew(r, "worker-a", 60) for r in ("r1", "r2", "r3")]
    assert kept == [False, True, True]  # r1, the oldest, went; r2 was kept


async def test_same_request_id_twice_is_a_conflict(tracker: RequestTracker) -> None:
    """With trusted incoming IDs, a second write under the same ID answers 409."""
    app = tracked_app(tracker, created, trust_incoming_id=True)
    async with make_client(app, headers={"X-Request-ID": "client-id-1"}) as client:
        first = await client.post("/v2/alerts", json={"message": "a"})
        second = await client.post("/v2/alerts", json={"message": "b"})
    assert (first.status_code, second.status_code) == (202, 409)


@pytest.mark.parametrize("request_id", ["x" * 200, "has space", "semi;colon"])
async def test_malformed_request_ids_are_404(tracker: RequestTracker, request_id: str) -> None:
    """An ID that no request could have is 404, without asking the store."""
    async with make_client(tracked_app(tracker, created)) as client:
        response = await client.get(f"/v2/alerts/requests/{request_id}")
    assert response.status_code == 404


async def test_accept_outside_a_request_raises(tracker: RequestTracker) -> None:
    """``accept`` needs the request ID ``EnvelopeMiddleware`` issues."""
    with pytest.raises(RuntimeError, match="EnvelopeMiddleware"):
        await tracker.accept(created, {}, action="Create")


@pytest.mark.parametrize(
    ("options", "error", "named"),
    [
        ({"store": "ftp://host"}, ValueError, "store"),
        ({"store": 5}, TypeError, "store"),
        ({"lease": 0}, ValueError, "lease"),
        ({"retry_after": "soon"}, TypeError, "retry_after"),
        ({"message": ""}, ValueError, "message"),
        ({"message": 5}, TypeError, "message"),
        ({"store": MemoryRequestStore(), "ttl": 5}, TypeError, "ttl"),
        ({"ttl": -1}, ValueError, "ttl"),
    ],
)
def test_bad_options_fail_at_construction(
    options: dict[str, Any], error: type[Exception], named: str
) -> None:
    """A bad option raises at construction, naming it."""
    with pytest.raises(error, match=named):
        RequestTracker(**options)


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"status": ""}, ValueError),
        ({"status": 5}, TypeError),
        ({"status": "ok", "success": "yes"}, TypeError),
        ({"status": "ok", "fields": {"isSuccess": False}}, ValueError),
        ({"status": "ok", "fields": ["alertId"]}, TypeError),
    ],
)
def test_bad_outcomes_are_refused(arguments: dict[str, Any], error: type[Exception]) -> None:
    """An ``Outcome`` checks its status, success flag and fields."""
    with pytest.raises(error):
        Outcome(**arguments)


# -- owners and caps ----------------------------------------------------------------------------


async def test_another_owners_status_is_the_unknown_id_404() -> None:
    """A status read by another owner answers exactly as an unknown ID does."""
    requests = RequestTracker()
    app = owned_app(requests, created)
    async with make_client(app) as client:
        accepted = await client.post(
            "/v2/alerts", json={"message": "m"}, headers={"x-tenant": "acme"}
        )
        request_id = accepted.json()["requestId"]
        await requests.join()
        own = await client.get(f"/v2/alerts/requests/{request_id}", headers={"x-tenant": "acme"})
        other = await client.get(f"/v2/alerts/requests/{request_id}", headers={"x-tenant": "evil"})
        unknown = await client.get(
            f"/v2/alerts/requests/{uuid4_hex()}", headers={"x-tenant": "evil"}
        )
    await requests.aclose()
    assert own.status_code == 200
    assert other.status_code == unknown.status_code == 404
    assert other.json()["message"] == unknown.json()["message"] == NOT_FOUND


async def test_one_owners_flood_keeps_another_owners_status() -> None:
    """A flood of writes by one owner never evicts another owner's processed status."""
    requests = RequestTracker(MemoryRequestStore(max_entries=100, max_per_owner=20))
    app = owned_app(requests, created)
    async with make_client(app) as client:
        mine = await client.post("/v2/alerts", json={"message": "m"}, headers={"x-tenant": "ops"})
        await requests.join()
        for _ in range(500):
            await client.post("/v2/alerts", json={"message": "m"}, headers={"x-tenant": "flood"})
        await requests.join()
        kept = await client.get(
            f"/v2/alerts/requests/{mine.json()['requestId']}", headers={"x-tenant": "ops"}
        )
    await requests.aclose()
    assert kept.status_code == 200
    assert len(requests.store) == 21  # type: ignore[arg-type]


async def test_finished_statuses_are_evicted_before_pending_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """At an owner's cap its oldest finished status goes, not an older pending one; logged."""
    store = MemoryRequestStore(max_per_owner=3)
    done = RequestStatus("d1", "Create", datetime.now(UTC), True, "Created alert")
    await store.begin("p1", "Create", "t", lease=60, owner="o")
    await store.begin("d1", "Create", "t", lease=60, owner="o")
    await store.finish("d1", "t", done, owner="o")
    await store.begin("p2", "Create", "t", lease=60, owner="o")
    with caplog.at_level(logging.WARNING, logger="opsgenie_envelope"):
        await store.begin("p3", "Create", "t", lease=60, owner="o")
    assert await store.get("d1", owner="o") is None
    assert await store.renew("p1", "t", 60, owner="o")
    assert "max_per_owner=3" in caplog.text
