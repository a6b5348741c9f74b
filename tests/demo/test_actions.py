"""The demo's alert actions, in memory and on Redis alike: each changes what GET returns.

Every action answers 202; its request status names OpsGenie's action; the alert (or its
notes and logs) read back shows the change. Fields longer than OpsGenie's limits are cut.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.demo_app import ALERT_IDS, READONLY, demo, poll_raw, raw_client

pytestmark = pytest.mark.anyio

ALIAS = "disk-db-09"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def api(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """A raw client on a demo keeping its state in memory, or in the tests' Redis."""
    settings: dict[str, Any] = {}
    if request.param == "redis":
        settings = {
            "redis_url": request.getfixturevalue("redis_url"),
            "redis_prefix": request.getfixturevalue("redis_prefix"),
        }
    app = demo(**settings)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        yield await stack.enter_async_context(raw_client(app))


async def act(api: httpx.AsyncClient, method: str, url: str, **options: Any) -> dict[str, Any]:
    """Send a write, expect 202, return its processed request status."""
    response = await api.request(method, url, **options)
    assert response.status_code == 202, response.text
    return await poll_raw(api, response.json()["requestId"])


async def alert(api: httpx.AsyncClient, alias: str = ALIAS) -> dict[str, Any]:
    """The alert with this alias."""
    response = await api.get(f"/v2/alerts/{alias}", params={"identifierType": "alias"})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


@pytest.fixture
async def created(api: httpx.AsyncClient) -> dict[str, Any]:
    """A new alert with responders, actions, a user and a note; its request status."""
    return await act(
        api,
        "POST",
        "/v2/alerts",
        json={
            "message": "Disk full on db-09",
            "alias": ALIAS,
            "responders": [
                {"type": "team", "name": "dba"},
                {"type": "user", "username": "ada@example.com"},
                {"type": "schedule", "id": "sched-1"},
            ],
            "visibleTo": [{"type": "team", "name": "sre"}],
            "actions": ["Restart", "Extend volume"],
            "tags": ["disk"],
            "details": {"mount": "/var"},
            "user": "grace@example.com",
            "note": "Seen from the dashboard",
        },
    )


def path(action: str) -> str:
    """The URL of an action on the test alert, by alias."""
    return f"/v2/alerts/{ALIAS}/{action}?identifierType=alias"


async def test_create_resolves_responders(api: httpx.AsyncClient, created: dict[str, Any]) -> None:
    """Responders become ``{type, id}``: a demo user by username, others by a stable ID."""
    responders = (await alert(api))["responders"]
    assert [r["type"] for r in responders] == ["team", "user", "schedule"]
    assert responders[1]["id"] == "2b9a7e4c-6f3d-4a55-9c1e-3d8f0b7a6e21"
    assert responders[2]["id"] == "sched-1"
    assert all(set(r) == {"type", "id"} for r in responders)


async def test_create_keeps_actions(api: httpx.AsyncClient, created: dict[str, Any]) -> None:
    """The custom actions are listed on the alert."""
    assert (await alert(api))["actions"] == ["Restart", "Extend volume"]


async def test_create_note_is_the_first_note(
    api: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    """The create's ``note`` is the alert's first note, owned by its ``user``."""
    notes = (await api.get(f"/v2/alerts/{ALIAS}/notes?identifierType=alias")).json()["data"]
    assert [(n["note"], n["owner"]) for n in notes] == [
        ("Seen from the dashboard", "grace@example.com")
    ]


async def test_create_is_the_first_log_line(
    api: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    """The log starts with the creation."""
    logs = (await api.get(f"/v2/alerts/{ALIAS}/logs?identifierType=alias&order=asc")).json()
    assert logs["data"][0]["log"] == "Alert created via Default API"
    assert logs["data"][0]["type"] == "system"


@pytest.mark.parametrize(
    ("action", "body", "field", "value", "name"),
    [
        ("message", {"message": "Disk 99% full"}, "message", "Disk 99% full", "Update Message"),
        ("description", {"description": "Grew"}, "description", "Grew", "Update Description"),
        ("priority", {"priority": "P1"}, "priority", "P1", "Update Priority"),
    ],
)
async def test_updates(
    api: httpx.AsyncClient,
    created: dict[str, Any],
    action: str,
    body: dict[str, str],
    field: str,
    value: str,
    name: str,
) -> None:
    """``PUT .../message|description|priority`` reads as OpsGenie's action and changes GET."""
    status = await act(api, "PUT", path(action), json=body)
    assert (status["action"], status["isSuccess"]) == (name, True)
    assert (await alert(api))[field] == value


async def test_add_note_by_tiny_id(api: httpx.AsyncClient, created: dict[str, Any]) -> None:
    """A note added by tiny ID is the newest note (notes list newest first)."""
    tiny = (await alert(api))["tinyId"]
    status = await act(
        api, "POST", f"/v2/alerts/{tiny}/notes?identifierType=tiny", json={"note": "Freed 20 GB"}
    )
    notes = (await api.get(f"/v2/alerts/{tiny}/notes?identifierType=tiny")).json()["data"]
    assert status["action"] == "Add Note"
    assert [n["note"] for n in notes] == ["Freed 20 GB", "Seen from the dashboard"]


async def test_tags_add_then_remove(api: httpx.AsyncClient, created: dict[str, Any]) -> None:
    """Tags are added without repeats and removed by a comma-separated query."""
    added = await act(api, "POST", path("tags"), json={"tags": ["db", "disk", "urgent"]})
    removed = await act(api, "DELETE", path("tags") + "&tags=db,urgent")
    assert (added["action"], removed["action"]) == ("Add Tags", "Remove Tags")
    assert (await alert(api))["tags"] == ["disk"]


async def test_details_add_then_remove(api: httpx.AsyncClient, created: dict[str, Any]) -> None:
    """Details merge in and are removed by key."""
    await act(api, "POST", path("details"), json={"details": {"used": "99%"}})
    status = await act(api, "DELETE", path("details") + "&keys=mount")
    assert status["action"] == "Remove Details"
    assert (await alert(api))["details"] == {"used": "99%"}


async def test_acknowledge_then_unacknowledge(
    api: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    """Unacknowledge takes the acknowledgement back."""
    await act(api, "POST", path("acknowledge"))
    status = await act(api, "POST", path("unacknowledge"), json={"user": "ada"})
    assert status["action"] == "UnAcknowledge"
    assert (await alert(api))["acknowledged"] is False


async def test_snooze_shows_until(api: httpx.AsyncClient, created: dict[str, Any]) -> None:
    """A snooze sets ``snoozed`` and ``snoozedUntil``."""
    until = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    status = await act(api, "POST", path("snooze"), json={"endTime": until.isoformat()})
    found = await alert(api)
    assert (status["action"], found["snoozed"]) == ("Snooze", True)
    assert datetime.fromisoformat(found["snoozedUntil"]) == until


async def test_snooze_in_the_past_is_422(api: httpx.AsyncClient, created: dict[str, Any]) -> None:
    """A snooze must end in the future."""
    response = await api.post(path("snooze"), json={"endTime": "2020-01-01T00:00:00Z"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"endTime": "should be in the future"}


async def test_assign_sets_the_owner(api: httpx.AsyncClient, created: dict[str, Any]) -> None:
    """Assigning by user ID makes the user (by username) the owner."""
    owner = {"id": "8c4d2f19-0a7b-4e63-b5d2-91f6c3e8a704"}
    status = await act(api, "POST", path("assign"), json={"owner": owner})
    assert status["action"] == "Assign"
    assert (await alert(api))["owner"] == "grace@example.com"


async def test_assign_to_an_unknown_user_fails(
    api: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    """An unknown owner is a failed request status, and the owner is unchanged."""
    status = await act(api, "POST", path("assign"), json={"owner": {"username": "nobody"}})
    assert (status["isSuccess"], status["status"]) == (False, "User does not exist")
    assert (await alert(api))["owner"] == ""


async def test_escalate_and_add_responder(api: httpx.AsyncClient, created: dict[str, Any]) -> None:
    """Escalating and adding a responder each add one ``{type, id}`` responder."""
    escalated = await act(api, "POST", path("escalate"), json={"escalation": {"name": "dba-esc"}})
    added = await act(
        api, "POST", path("responders"), json={"responder": {"type": "team", "name": "storage"}}
    )
    assert (escalated["action"], added["action"]) == ("Escalate", "Add Responder")
    assert [r["type"] for r in (await alert(api))["responders"]][-2:] == ["escalation", "team"]


async def test_add_team(api: httpx.AsyncClient, created: dict[str, Any]) -> None:
    """Adding a team by name adds a ``team`` responder."""
    status = await act(api, "POST", path("teams"), json={"team": {"name": "storage"}})
    assert status["action"] == "Add Team"
    assert (await alert(api))["responders"][-1]["type"] == "team"


async def test_custom_action_runs_when_the_alert_has_it(
    api: httpx.AsyncClient, created: dict[str, Any]
) -> None:
    """One of the alert's ``actions`` runs (and is logged); another one fails."""
    ran = await act(api, "POST", f"/v2/alerts/{ALIAS}/actions/Restart?identifierType=alias")
    other = await act(api, "POST", f"/v2/alerts/{ALIAS}/actions/Reboot?identifierType=alias")
    assert (ran["action"], ran["isSuccess"], other["isSuccess"]) == (
        "Execute Custom Action",
        True,
        False,
    )
    logs = (await api.get(path("logs"))).json()["data"]
    assert logs[0]["log"] == "Custom action Restart executed"


async def test_action_note_is_added(api: httpx.AsyncClient, created: dict[str, Any]) -> None:
    """The ``note`` of any action's body is added to the alert's notes."""
    await act(api, "POST", path("close"), json={"note": "Fixed by resize"})
    notes = (await api.get(path("notes"))).json()["data"]
    assert notes[0]["note"] == "Fixed by resize"


async def test_every_action_is_logged(api: httpx.AsyncClient, created: dict[str, Any]) -> None:
    """Each action adds a log line, paged by cursor."""
    await act(api, "PUT", path("priority"), json={"priority": "P1"})
    await act(api, "POST", path("acknowledge"))
    first = (await api.get(path("logs") + "&order=asc&limit=2")).json()
    rest = (await api.get(first["paging"]["next"])).json()
    logs = [line["log"] for line in first["data"] + rest["data"]]
    assert logs == [
        "Alert created via Default API",
        "Alert priority updated",
        "Alert acknowledged by API",
    ]
    assert "next" not in rest["paging"]


async def test_unknown_alert_fails_the_request(api: httpx.AsyncClient) -> None:
    """An action on an unknown alert answers 202, then a failed status."""
    status = await act(api, "PUT", "/v2/alerts/nope/message", json={"message": "x"})
    assert (status["action"], status["isSuccess"]) == ("Update Message", False)


async def test_notes_of_an_unknown_alert_are_404(api: httpx.AsyncClient) -> None:
    """Reading the notes of an unknown alert is 404."""
    response = await api.get("/v2/alerts/nope/notes")
    assert (response.status_code, response.json()["message"]) == (404, "Alert does not exist")


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("PUT", "message", {"message": "  "}),
        ("PUT", "priority", {"priority": "P0"}),
        ("POST", "notes", {"note": ""}),
        ("POST", "tags", {"tags": []}),
        ("POST", "details", {"details": {}}),
        ("POST", "responders", {"responder": {"type": "all"}}),
    ],
)
async def test_invalid_bodies_are_422(
    api: httpx.AsyncClient, method: str, action: str, body: dict[str, Any]
) -> None:
    """Empty or invalid values answer 422 before anything is accepted."""
    response = await api.request(method, f"/v2/alerts/{ALERT_IDS[3]}/{action}", json=body)
    assert response.status_code == 422, response.text


async def test_actions_need_write_access(api: httpx.AsyncClient) -> None:
    """The read-only key gets 403 on an action."""
    response = await api.post(
        f"/v2/alerts/{ALERT_IDS[3]}/notes", json={"note": "hi"}, headers=READONLY
    )
    assert (response.status_code, response.json()["code"]) == (403, 40301)


async def test_fields_are_cut_at_opsgenie_limits(api: httpx.AsyncClient) -> None:
    """Message 130, alias 512, description 15000, entity 512, source 100, tags 20 x 50,
    actions 10 x 50 and details 8000 characters in all: longer is cut, as OpsGenie does."""
    status = await act(
        api,
        "POST",
        "/v2/alerts",
        json={
            "message": "m" * 200,
            "alias": "a" * 600,
            "description": "d" * 16000,
            "entity": "e" * 600,
            "source": "s" * 200,
            "tags": [f"{n:02d}" + "t" * 60 for n in range(25)],
            "actions": [f"{n}" + "x" * 60 for n in range(12)],
            "details": {f"k{n}": "v" * 1000 for n in range(10)},
            "note": "n" * 26000,
        },
    )
    found = (await api.get(f"/v2/alerts/{status['alertId']}")).json()["data"]
    lengths = {name: len(found[name]) for name in ("message", "alias", "description")}
    assert lengths == {"message": 130, "alias": 512, "description": 15000}
    assert (len(found["entity"]), len(found["source"])) == (512, 100)
    assert (len(found["tags"]), {len(t) for t in found["tags"]}) == (20, {50})
    assert (len(found["actions"]), {len(a) for a in found["actions"]}) == (10, {50})
    assert sum(len(k) + len(v) for k, v in found["details"].items()) <= 8000
    notes = (await api.get(f"/v2/alerts/{status['alertId']}/notes")).json()["data"]
    assert len(notes[0]["note"]) == 25000


async def test_updates_are_cut_too(api: httpx.AsyncClient, created: dict[str, Any]) -> None:
    """A message update longer than 130 characters is cut."""
    await act(api, "PUT", path("message"), json={"message": "m" * 300})
    assert len((await alert(api))["message"]) == 130


async def test_rate_limit_state_ok_on_answers(api: httpx.AsyncClient) -> None:
    """Answers under the demo's limit carry ``X-RateLimit-State: OK``, as OpsGenie's 200s."""
    response = await api.get("/v2/alerts/count")
    assert response.headers["x-ratelimit-state"] == "OK"
    assert response.headers["x-ratelimit-reason"] == "API_KEY"
