"""OpsGenie's official Python SDK (``opsgenie-sdk``), unchanged, through every alert action.

The demo runs under uvicorn; the SDK is configured with its URL and key, as a user moving
off OpsGenie would. Each action answers 202, its request status names OpsGenie's action,
and the alert the SDK reads back shows the change.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import opsgenie_sdk
import pytest

from tests.support.demo_app import ADA, KEY, demo
from tests.support.server import running

NOT_PROCESSED = ("X-Opsgenie-Errortype", "RequestNotProcessed")


@pytest.fixture(scope="module")
def alerts() -> Iterator[opsgenie_sdk.AlertApi]:
    """The SDK's ``AlertApi`` on a fresh demo under uvicorn (retries off: failures show)."""
    with running(demo(processing_delay=0.05)) as url:
        configuration = opsgenie_sdk.Configuration()
        configuration.host = url
        configuration.api_key["Authorization"] = KEY
        configuration.api_key_prefix["Authorization"] = "GenieKey"
        configuration.retry_enabled = False
        yield opsgenie_sdk.AlertApi(opsgenie_sdk.ApiClient(configuration))


def settled(api: opsgenie_sdk.AlertApi, accepted: Any) -> Any:
    """The request status of a 202, polled while it answers 404 ``RequestNotProcessed``."""
    for _ in range(200):
        try:
            return api.get_request_status(accepted.request_id).data
        except opsgenie_sdk.ApiException as exc:
            pending = exc
        assert pending.status == 404
        assert (NOT_PROCESSED[0], NOT_PROCESSED[1]) in pending.headers.items()
        time.sleep(0.01)
    raise AssertionError(f"request {accepted.request_id} was not processed")


@pytest.fixture
def alias(alerts: opsgenie_sdk.AlertApi) -> str:
    """A new alert created through the SDK with every field; its alias."""
    name = f"payments-latency-{uuid.uuid4().hex[:8]}"
    payload = opsgenie_sdk.CreateAlertPayload(
        message="Payments latency p99 > 2s",
        alias=name,
        description="p99 above 2 s for 5 minutes",
        responders=[opsgenie_sdk.TeamRecipient(name="payments")],
        visible_to=[opsgenie_sdk.TeamRecipient(name="sre")],
        actions=["Restart"],
        tags=["payments"],
        details={"region": "eu-west-1"},
        entity="payments-api",
        source="sdk",
        priority="P2",
        user="ada@example.com",
        note="Opened from the SDK",
    )
    status = settled(alerts, alerts.create_alert(payload))
    assert (status.action, status.is_success) == ("Create", True)
    return name


def act(api: opsgenie_sdk.AlertApi, alias: str, call: str, *args: Any, **kwargs: Any) -> Any:
    """Call an SDK action on the alert by alias; its processed request status."""
    accepted = getattr(api, call)(alias, *args, identifier_type="alias", **kwargs)
    assert accepted.result == "Request will be processed"
    status = settled(api, accepted)
    assert status.is_success, status.status
    return status


def current(api: opsgenie_sdk.AlertApi, alias: str) -> Any:
    """The alert as the SDK reads it."""
    return api.get_alert(alias, identifier_type="alias").data


def test_create_keeps_every_field(alerts: opsgenie_sdk.AlertApi, alias: str) -> None:
    """Responders resolve to ``{type, id}``; actions, details and the note are kept."""
    alert = current(alerts, alias)
    assert [(r.type, bool(r.id)) for r in alert.responders] == [("team", True)]
    assert (alert.actions, alert.details) == (["Restart"], {"region": "eu-west-1"})
    notes = alerts.list_notes(alias, identifier_type="alias").data
    assert [(n.note, n.owner) for n in notes] == [("Opened from the SDK", "ada@example.com")]


def test_update_message_description_priority(alerts: opsgenie_sdk.AlertApi, alias: str) -> None:
    """The three updates read as OpsGenie's actions and change the alert."""
    message = act(
        alerts,
        alias,
        "update_alert_message",
        opsgenie_sdk.UpdateAlertMessagePayload(message="Payments p99 > 3s"),
    )
    description = act(
        alerts,
        alias,
        "update_alert_description",
        opsgenie_sdk.UpdateAlertDescriptionPayload(description="Worse"),
    )
    priority = act(
        alerts,
        alias,
        "update_alert_priority",
        opsgenie_sdk.UpdateAlertPriorityPayload(priority="P1"),
    )
    assert [message.action, description.action, priority.action] == [
        "Update Message",
        "Update Description",
        "Update Priority",
    ]
    alert = current(alerts, alias)
    assert (alert.message, alert.description, alert.priority) == (
        "Payments p99 > 3s",
        "Worse",
        "P1",
    )


def test_notes_add_and_page(alerts: opsgenie_sdk.AlertApi, alias: str) -> None:
    """A note added reads back first (newest first); a page of one has a next cursor."""
    status = act(alerts, alias, "add_note", opsgenie_sdk.AddNoteToAlertPayload(note="Rolled back"))
    assert status.action == "Add Note"
    page = alerts.list_notes(alias, identifier_type="alias", limit=1)
    assert [n.note for n in page.data] == ["Rolled back"]
    rest = alerts.list_notes(
        alias, identifier_type="alias", limit=1, offset=page.data[0].offset, direction="next"
    )
    assert [n.note for n in rest.data] == ["Opened from the SDK"]


def test_tags_add_and_remove(alerts: opsgenie_sdk.AlertApi, alias: str) -> None:
    """Tags added, then one removed by the comma-separated query."""
    added = act(alerts, alias, "add_tags", opsgenie_sdk.AddTagsToAlertPayload(tags=["eu", "p99"]))
    removed = act(alerts, alias, "remove_tags", tags=["p99"])
    assert (added.action, removed.action) == ("Add Tags", "Remove Tags")
    assert current(alerts, alias).tags == ["payments", "eu"]


def test_details_add_and_remove(alerts: opsgenie_sdk.AlertApi, alias: str) -> None:
    """Details added, then one removed by key."""
    act(
        alerts,
        alias,
        "add_details",
        opsgenie_sdk.AddDetailsToAlertPayload(details={"pod": "api-7"}),
    )
    act(alerts, alias, "remove_details", keys=["region"])
    assert current(alerts, alias).details == {"pod": "api-7"}


def test_acknowledge_then_unacknowledge(alerts: opsgenie_sdk.AlertApi, alias: str) -> None:
    """Unacknowledge takes back an acknowledgement."""
    act(alerts, alias, "acknowledge_alert")
    assert current(alerts, alias).acknowledged is True
    status = act(alerts, alias, "un_acknowledge_alert")
    assert (status.action, current(alerts, alias).acknowledged) == ("UnAcknowledge", False)


def test_snooze(alerts: opsgenie_sdk.AlertApi, alias: str) -> None:
    """A snooze sets ``snoozed`` and ``snoozedUntil``."""
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    status = act(alerts, alias, "snooze_alert", opsgenie_sdk.SnoozeAlertPayload(end_time=until))
    alert = current(alerts, alias)
    assert (status.action, alert.snoozed, alert.snoozed_until) == ("Snooze", True, until)


def test_assign(alerts: opsgenie_sdk.AlertApi, alias: str) -> None:
    """Assigning by username makes that user the owner."""
    owner = opsgenie_sdk.UserRecipient(username="ada@example.com")
    status = act(alerts, alias, "assign_alert", opsgenie_sdk.AssignAlertPayload(owner=owner))
    assert (status.action, current(alerts, alias).owner) == ("Assign", "ada@example.com")


def test_escalate_and_add_responder(alerts: opsgenie_sdk.AlertApi, alias: str) -> None:
    """An escalation and a user become responders, each as ``{type, id}``."""
    escalation = opsgenie_sdk.EscalationRecipient(name="payments-escalation")
    escalated = act(
        alerts,
        alias,
        "escalate_alert",
        opsgenie_sdk.EscalateAlertToNextPayload(escalation=escalation),
    )
    user = opsgenie_sdk.UserRecipient(username="ada@example.com")
    added = act(
        alerts, alias, "add_responder", opsgenie_sdk.AddResponderToAlertPayload(responder=user)
    )
    assert (escalated.action, added.action) == ("Escalate", "Add Responder")
    responders = [(r.type, r.id) for r in current(alerts, alias).responders]
    assert responders[1][0] == "escalation"
    assert responders[2] == ("user", ADA)


def test_add_team_and_custom_action(alerts: opsgenie_sdk.AlertApi, alias: str) -> None:
    """A team added by name becomes a responder; a custom action of the alert runs."""
    team = opsgenie_sdk.TeamRecipient(name="checkout")
    added = act(alerts, alias, "add_team", opsgenie_sdk.AddTeamToAlertPayload(team=team))
    ran = act(alerts, alias, "execute_custom_alert_action", "Restart")
    assert (added.action, ran.action) == ("Add Team", "Execute Custom Action")
    assert [r.type for r in current(alerts, alias).responders] == ["team", "team"]


def test_logs_list_every_action(alerts: opsgenie_sdk.AlertApi, alias: str) -> None:
    """The alert's log starts with its creation and pages by cursor."""
    act(alerts, alias, "acknowledge_alert")
    act(alerts, alias, "close_alert")
    first = alerts.list_logs(alias, identifier_type="alias", order="asc", limit=2)
    assert first.data[0].log == "Alert created via Default API"
    assert first.paging.next is not None
    following = alerts.list_logs(
        alias, identifier_type="alias", order="asc", limit=2, offset=first.data[-1].offset
    )
    assert following.data[0].offset > first.data[-1].offset
