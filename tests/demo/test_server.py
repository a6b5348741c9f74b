"""The demo behind a real uvicorn on 127.0.0.1: a polled flow, and the README's command."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from opsgenie_envelope import NotFound
from opsgenie_envelope.client import Client
from tests.support.demo_app import ENVIRONMENT, FULL, POLLS, demo
from tests.support.processes import serve
from tests.support.server import running

pytestmark = pytest.mark.server


def poll(client: Client, request_id: str) -> dict[str, Any]:
    """The request status of ``request_id``, polled (bounded) until processed."""
    for _ in range(POLLS):
        try:
            status: dict[str, Any] = client.get(f"/v2/alerts/requests/{request_id}").data
        except NotFound:
            time.sleep(0.01)
            continue
        return status
    raise AssertionError(f"request {request_id} was not processed")


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ALERTS_* variables: the demo starts with its documented defaults."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def test_flow_over_uvicorn_polls_until_processed() -> None:
    """Over HTTP the request status is 404 until the background task ran, then the outcome."""
    with (
        running(demo(processing_delay=0.5)) as url,
        Client(base_url=url, headers=FULL, retry=None) as client,
    ):
        accepted = client.post("/v2/alerts", json={"message": "Login errors spiking"})
        assert accepted.request_id is not None
        with pytest.raises(NotFound):
            client.get(f"/v2/alerts/requests/{accepted.request_id}")

        created = poll(client, accepted.request_id)
        alert = client.get(f"/v2/alerts/{created['alertId']}").data
        ack = client.post(f"/v2/alerts/{alert['id']}/acknowledge", json={"user": "grace"})
        assert ack.request_id is not None
        poll(client, ack.request_id)
        listed = client.get("/v2/alerts", params={"query": "acknowledged:true", "limit": 1})

    assert listed.data[0]["id"] == alert["id"]
    assert listed.data[0]["report"]["acknowledgedBy"] == "grace"
    assert listed.paging is not None
    assert listed.paging.next is not None
    assert listed.paging.next.startswith("/v2/alerts?")  # relative: never from the Host header


@pytest.mark.usefixtures("clean_environment")
def test_readme_command_serves_the_seeded_demo() -> None:
    """``uvicorn examples.alerts.api:app`` prints the keys and serves the seeded alerts."""
    with serve("uvicorn", "examples.alerts.api:app") as served:
        response = httpx.get(f"{served.url}/v2/alerts", headers=FULL)
        output = served.output()
    assert response.status_code == 200
    assert len(response.json()["data"]) == 5
    assert "Authorization: GenieKey demo-key " in output
    assert "Authorization: GenieKey demo-readonly-key " in output


@pytest.mark.usefixtures("clean_environment")
def test_environment_sets_keys_and_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The served demo takes its key and rate limit from ALERTS_* and throttles for real."""
    monkeypatch.setenv("ALERTS_API_KEY", "ops-team-key")
    monkeypatch.setenv("ALERTS_RATE_LIMIT", "2")
    headers = {"Authorization": "GenieKey ops-team-key"}
    with serve("uvicorn", "examples.alerts.api:app") as served:
        default_key = httpx.get(f"{served.url}/v2/alerts/count", headers=FULL)
        allowed = [httpx.get(f"{served.url}/v2/alerts/count", headers=headers) for _ in range(2)]
        throttled = httpx.get(f"{served.url}/v2/alerts/count", headers=headers)
        output = served.output()
    assert default_key.status_code == 401
    assert [r.status_code for r in allowed] == [200, 200]
    assert throttled.status_code == 429
    assert throttled.headers["x-ratelimit-reason"] == "API_KEY"
    assert "ops-team-key" not in output
