"""The demo through the library's own client: envelopes back, the server's errors raised."""

from __future__ import annotations

import anyio
import pytest

from opsgenie_envelope import (
    Forbidden,
    TooManyRequests,
    Unauthenticated,
    UnprocessableEntity,
)
from opsgenie_envelope.client import NotFound, RetriesExhausted, Retry
from tests.support.client_app import FakeTime
from tests.support.demo_app import ADA, ALERT_IDS, READONLY, demo, library_client, poll

pytestmark = pytest.mark.anyio


async def test_flow_create_poll_get_acknowledge_list() -> None:
    """Create, poll the request, get, acknowledge and list, all through ``AsyncClient``."""
    async with library_client(demo(), retry=None) as client:
        accepted = await client.post(
            "/v2/alerts", json={"message": "Payments latency p99 > 2s", "priority": "P1"}
        )
        assert (accepted.status_code, accepted.data) == (202, None)
        assert accepted.message == "Request will be processed"
        assert accepted.request_id is not None

        created = await poll(client, accepted.request_id)
        alert = (await client.get(f"/v2/alerts/{created['alertId']}")).data
        assert (alert["message"], alert["status"]) == ("Payments latency p99 > 2s", "open")

        ack = await client.post(f"/v2/alerts/{alert['tinyId']}/acknowledge?identifierType=tiny")
        assert ack.request_id is not None
        acked = await poll(client, ack.request_id)
        assert (acked["action"], acked["alertId"]) == ("Acknowledge", alert["id"])

        listed = await client.get("/v2/alerts", params={"query": "priority:P1 acknowledged:true"})
        assert [item["id"] for item in listed.data] == [alert["id"], ALERT_IDS[2]]
        assert listed.total_count == 2


async def test_paginate_visits_every_alert() -> None:
    """``paginate`` follows ``paging.next`` across the pages of the list."""
    async with library_client(demo(), retry=None) as client:
        tiny_ids = [item["tinyId"] async for item in client.paginate("/v2/alerts?limit=2")]
    assert tiny_ids == ["5", "4", "3", "2", "1"]


async def test_paginate_follows_the_notes_cursor() -> None:
    """``paginate`` follows the cursor links of an alert's notes, newest first."""
    async with library_client(demo(), retry=None) as client:
        for text in ("one", "two", "three"):
            accepted = await client.post(f"/v2/alerts/{ALERT_IDS[4]}/notes", json={"note": text})
            assert accepted.request_id is not None
            await poll(client, accepted.request_id)
        notes = [
            item["note"]
            async for item in client.paginate(f"/v2/alerts/{ALERT_IDS[4]}/notes?limit=1")
        ]
    assert notes == ["three", "two", "one"]


async def test_expand_through_the_client() -> None:
    """``expand=["contact"]`` loads the user's ``userContacts``; ``expandable`` is read back."""
    async with library_client(demo(), retry=None) as client:
        user = await client.get(f"/v2/users/{ADA}", expand=["contact"])
    assert user.expandable == ("contact",)
    assert user.data["userContacts"][0]["to"] == "ada@example.com"


async def test_unknown_alert_raises_not_found() -> None:
    """A 404 raises ``NotFound`` with the server's message and request ID."""
    async with library_client(demo(), retry=None) as client:
        with pytest.raises(NotFound) as info:
            await client.get("/v2/alerts/nope")
    assert info.value.message == "Alert does not exist"
    assert info.value.request_id == info.value.response.headers["x-request-id"]


async def test_invalid_alert_raises_unprocessable_entity() -> None:
    """A 422 raises ``UnprocessableEntity`` carrying the field errors."""
    async with library_client(demo(), retry=None) as client:
        with pytest.raises(UnprocessableEntity) as info:
            await client.post("/v2/alerts", json={"message": "", "priority": "P0"})
    assert info.value.errors == {
        "message": "Message can not be empty.",
        "priority": "should be one of [ P1, P2, P3, P4, P5 ]",
    }


async def test_readonly_key_raises_forbidden() -> None:
    """A write with the read-only key raises ``Forbidden`` with code 40301."""
    async with library_client(demo(), retry=None) as client:
        with pytest.raises(Forbidden) as info:
            await client.delete("/v2/alerts/1?identifierType=tiny", headers=READONLY)
    assert info.value.code == 40301


async def test_unknown_key_raises_unauthenticated() -> None:
    """An unknown key raises ``Unauthenticated``."""
    async with library_client(demo(), retry=None) as client:
        with pytest.raises(Unauthenticated):
            await client.get("/v2/alerts", headers={"Authorization": "GenieKey nope"})


async def test_client_waits_out_the_rate_limit() -> None:
    """Throttled, a client whose budget covers the window waits ``Retry-After``, then succeeds."""
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await anyio.sleep(seconds)

    app = demo(rate_limit=1, rate_period=1)
    async with library_client(app, retry=Retry(budget=5.0), sleep=sleep) as client:
        await client.get("/v2/alerts/count")
        envelope = await client.get("/v2/alerts/count")
    assert envelope.data == {"count": 5}
    assert sleeps == [1.0]


async def test_client_gives_up_when_the_wait_passes_its_budget() -> None:
    """A ``Retry-After`` longer than the retry budget ends in ``RetriesExhausted``."""
    time = FakeTime()
    app = demo(rate_limit=1)
    retry = Retry(attempts=3, budget=10.0)
    async with library_client(app, retry=retry, sleep=time.async_sleep, clock=time.clock) as c:
        await c.get("/v2/alerts/count")
        with pytest.raises(RetriesExhausted) as info:
            await c.get("/v2/alerts/count")
    assert isinstance(info.value.last_error, TooManyRequests)
    assert info.value.last_error.reason == "API_KEY"
    assert time.sleeps == []
