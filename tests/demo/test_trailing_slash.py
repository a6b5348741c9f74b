"""The demo serves the paths OpsGenie's Node.js SDK sends, trailing slash included, as the
paths without it: no redirect, the same 202 and the same processing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.demo_app import ALERT_IDS, demo, poll_raw, raw_client

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    """A raw client, with the full-access key, on a freshly seeded demo (never follows redirects)."""
    async with raw_client(demo()) as client:
        yield client


async def test_sdk_create_is_served(api: httpx.AsyncClient) -> None:
    """``POST /v2/alerts/`` answers OpsGenie's 202 and the alert is created."""
    response = await api.post("/v2/alerts/", json={"message": "Payments latency p99 > 2s"})
    body = response.json()
    assert response.status_code == 202
    assert body["result"] == "Request will be processed"
    assert body["requestId"] == response.headers["x-request-id"]
    status = await poll_raw(api, body["requestId"])
    assert (status["action"], status["isSuccess"]) == ("Create", True)


@pytest.mark.parametrize(("action", "done"), [("acknowledge", "Acknowledge"), ("close", "Close")])
async def test_sdk_actions_are_served(api: httpx.AsyncClient, action: str, done: str) -> None:
    """``POST /v2/alerts/{id}/acknowledge/`` and ``/close/`` act on the alert."""
    response = await api.post(f"/v2/alerts/{ALERT_IDS[4]}/{action}/", json={"note": "on it"})
    assert response.status_code == 202
    status = await poll_raw(api, response.json()["requestId"])
    assert (status["action"], status["alertId"]) == (done, ALERT_IDS[4])


async def test_get_with_a_slash_is_the_same_answer(api: httpx.AsyncClient) -> None:
    """``GET /v2/alerts/{id}/`` answers the alert, as without the slash."""
    with_slash = await api.get(f"/v2/alerts/{ALERT_IDS[3]}/")
    without = await api.get(f"/v2/alerts/{ALERT_IDS[3]}")
    assert with_slash.status_code == without.status_code == 200
    assert with_slash.json()["data"] == without.json()["data"]
