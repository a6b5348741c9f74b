"""Prometheus Alertmanager, unchanged, drives the demo under uvicorn: fire, grow, resolve.

Alertmanager's ``opsgenie_configs`` receiver (``update_alerts: true``) posts the group's
alert, updates its message and description by alias, and closes it by alias once every
alert of the group is resolved. It stops a notification at the first answer that is not
2xx and counts it in ``alertmanager_notifications_failed_total``: that counter staying 0 is
its own word that every request it sent was served.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.support.alertmanager import Alertmanager, alert, alertmanager
from tests.support.demo_app import FULL, KEY, demo
from tests.support.server import running

OPSGENIE: dict[str, Any] = {
    "update_alerts": True,
    "send_resolved": True,
    "message": "{{ .CommonLabels.alertname }}: {{ .Alerts.Firing | len }} firing",
    "description": "{{ range .Alerts.Firing }}{{ .Labels.instance }} {{ end }}",
    "source": "alertmanager",
    "entity": "{{ .CommonLabels.job }}",
    "priority": "P2",
    "tags": "team:ops,{{ .CommonLabels.alertname }}",
    "actions": "Restart,Silence",
    "note": "Fired by Alertmanager",
    "details": {"runbook": "https://runbooks.example/disk"},
    "responders": [{"name": "ops", "type": "team"}],
}
LABELS = {"alertname": "DiskFull", "job": "node"}
WAIT = 30.0
"""Seconds a stage may take (Alertmanager flushes every 2 s here)."""


@dataclass
class Recorder:
    """Each request the app answered: method, path with query, status."""

    app: ASGIApp
    seen: list[tuple[str, str, int]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope["query_string"].decode()
        target = scope["path"] + (f"?{query}" if query else "")

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((scope["method"], target, message["status"]))
            await send(message)

        await self.app(scope, receive, recording)


@dataclass
class Cycle:
    """A demo under uvicorn, Alertmanager sending to it, and what the demo answered."""

    url: str
    manager: Alertmanager
    recorder: Recorder
    failures: list[float] = field(default_factory=list)
    """``alertmanager_notifications_failed_total`` after each stage."""

    def stage_done(self) -> None:
        """Read Alertmanager's failure counter once a stage has been served."""
        self.failures.append(
            self.manager.metric("alertmanager_notifications_failed_total", integration="opsgenie")
        )

    def wait_for(self, done: Callable[[], bool], what: str) -> None:
        """Wait (bounded) until ``done()``; fail naming ``what`` and Alertmanager's log."""
        deadline = time.monotonic() + WAIT
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: {self.recorder.seen}\n{self.manager.output()}")
            time.sleep(0.1)

    def creates(self) -> int:
        """How many creates Alertmanager sent so far."""
        return sum(
            1 for method, path, _ in self.recorder.seen if (method, path) == ("POST", "/v2/alerts")
        )

    def alert(self, alias: str) -> dict[str, Any]:
        """The demo's alert with this alias."""
        response = httpx.get(
            f"{self.url}/v2/alerts/{alias}", params={"identifierType": "alias"}, headers=FULL
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def alias(self) -> str:
        """The alias Alertmanager gave the group (a hash of its group key)."""
        path = next(path for method, path, _ in self.recorder.seen if method == "PUT")
        return path.split("/")[3]


@pytest.fixture(scope="module")
def cycle() -> Iterator[Cycle]:
    """One fire, grow, resolve cycle driven by Alertmanager, then its outcome."""
    recorder = Recorder(demo())
    with running(recorder) as url, alertmanager(f"{url}/", KEY, OPSGENIE) as manager:
        run = Cycle(url, manager, recorder)
        manager.post(alert({**LABELS, "instance": "db-01"}))
        run.wait_for(lambda: run.creates() == 1, "the first notification")
        run.stage_done()
        manager.post(alert({**LABELS, "instance": "db-02"}))
        run.wait_for(lambda: run.creates() == 2, "the grown group's notification")
        run.wait_for(lambda: run.alert(run.alias())["count"] == 2, "the second occurrence")
        run.stage_done()
        manager.post(
            alert({**LABELS, "instance": "db-01"}, resolved=True),
            alert({**LABELS, "instance": "db-02"}, resolved=True),
        )
        run.wait_for(
            lambda: any(
                path.endswith("/close?identifierType=alias") for _, path, _ in recorder.seen
            ),
            "the close",
        )
        run.wait_for(lambda: run.alert(run.alias())["status"] == "closed", "the closed alert")
        run.stage_done()
        yield run


def test_every_notification_succeeded(cycle: Cycle) -> None:
    """Alertmanager counts no failed notification at any stage, and has sent three (fire,
    grow, resolve)."""
    assert cycle.failures == [0, 0, 0]
    assert cycle.manager.metric("alertmanager_notifications_total", integration="opsgenie") >= 3


def test_every_request_was_answered_202(cycle: Cycle) -> None:
    """Creates, message and description updates and the close were each accepted."""
    alias = cycle.alias()
    assert {status for _, _, status in cycle.recorder.seen if status != 200} == {202}
    sent = [(method, path) for method, path, _ in cycle.recorder.seen if method != "GET"]
    assert sent[:3] == [
        ("POST", "/v2/alerts"),
        ("PUT", f"/v2/alerts/{alias}/message?identifierType=alias"),
        ("PUT", f"/v2/alerts/{alias}/description?identifierType=alias"),
    ]
    assert sent[-1] == ("POST", f"/v2/alerts/{alias}/close?identifierType=alias")


def test_group_growth_updated_the_alert(cycle: Cycle) -> None:
    """The grown group is one alert seen twice, its message and description updated."""
    found = cycle.alert(cycle.alias())
    assert (found["count"], found["message"]) == (2, "DiskFull: 2 firing")
    assert found["description"] == "db-01 db-02 "


def test_create_kept_every_field(cycle: Cycle) -> None:
    """Responders, actions, tags, details, entity, priority and source are kept."""
    found = cycle.alert(cycle.alias())
    assert [r["type"] for r in found["responders"]] == ["team"]
    assert found["actions"] == ["Restart", "Silence"]
    assert found["tags"] == ["team:ops", "DiskFull"]
    # Alertmanager adds the group's common labels to the details it is given.
    assert found["details"]["runbook"] == "https://runbooks.example/disk"
    assert (found["details"]["alertname"], found["details"]["job"]) == ("DiskFull", "node")
    assert (found["entity"], found["priority"], found["source"]) == ("node", "P2", "alertmanager")


def test_the_note_is_readable(cycle: Cycle) -> None:
    """The note Alertmanager sends with each create is among the alert's notes."""
    response = httpx.get(
        f"{cycle.url}/v2/alerts/{cycle.alias()}/notes",
        params={"identifierType": "alias"},
        headers=FULL,
    )
    assert {note["note"] for note in response.json()["data"]} == {"Fired by Alertmanager"}


def test_resolve_closed_the_alert(cycle: Cycle) -> None:
    """Once every alert of the group resolved, the demo's alert is closed."""
    assert cycle.alert(cycle.alias())["status"] == "closed"
