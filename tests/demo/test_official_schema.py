"""The demo answers what OpsGenie's official models describe (its Swagger ``definitions``).

Each answer is validated against the definition the official path documents for its status;
where those schemas are loose (they allow any extra field), the field names are checked too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.demo_app import ADA, ALERT_IDS, READONLY, demo, poll_raw, raw_client
from tests.support.opsgenie_oas import assert_valid, properties, response_definition, swagger

pytestmark = pytest.mark.anyio

ALIAS = "db-01-disk-var"
"""The alias of seeded alert 2 (acknowledged)."""


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    """A raw client, with the full-access key, on a freshly seeded demo."""
    async with raw_client(demo()) as client:
        yield client


# (method, action, official path, request options): each action on the seeded alert 2.
ACTIONS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("POST", "teams", "/v2/alerts/{identifier}/teams", {"json": {"team": {"name": "dba"}}}),
    ("POST", "actions/Restart", "/v2/alerts/{identifier}/actions/{actionName}", {}),
    ("PUT", "message", "/v2/alerts/{identifier}/message", {"json": {"message": "New"}}),
    (
        "PUT",
        "description",
        "/v2/alerts/{identifier}/description",
        {"json": {"description": "D"}},
    ),
    ("PUT", "priority", "/v2/alerts/{identifier}/priority", {"json": {"priority": "P4"}}),
    ("POST", "notes", "/v2/alerts/{identifier}/notes", {"json": {"note": "Looking"}}),
    ("POST", "tags", "/v2/alerts/{identifier}/tags", {"json": {"tags": ["x"]}}),
    ("DELETE", "tags", "/v2/alerts/{identifier}/tags", {"params": {"tags": "disk"}}),
    (
        "POST",
        "details",
        "/v2/alerts/{identifier}/details",
        {"json": {"details": {"a": "b"}}},
    ),
    ("DELETE", "details", "/v2/alerts/{identifier}/details", {"params": {"keys": "mount"}}),
    ("POST", "unacknowledge", "/v2/alerts/{identifier}/unacknowledge", {}),
    (
        "POST",
        "snooze",
        "/v2/alerts/{identifier}/snooze",
        {"json": {"endTime": "2099-01-01T00:00:00Z"}},
    ),
    (
        "POST",
        "assign",
        "/v2/alerts/{identifier}/assign",
        {"json": {"owner": {"username": "ada@example.com"}}},
    ),
    (
        "POST",
        "escalate",
        "/v2/alerts/{identifier}/escalate",
        {"json": {"escalation": {"name": "e"}}},
    ),
    (
        "POST",
        "responders",
        "/v2/alerts/{identifier}/responders",
        {"json": {"responder": {"type": "team", "name": "dba"}}},
    ),
]

# (method, url, official path, request options, status, the definition it documents)
CASES: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    ("GET", "/v2/alerts?limit=2", "/v2/alerts", {}, 200, "ListAlertsResponse"),
    ("GET", "/v2/alerts?limit=500", "/v2/alerts", {}, 416, "ErrorResponse"),
    ("GET", "/v2/alerts?query=OR", "/v2/alerts", {}, 422, "ErrorResponse"),
    ("GET", "/v2/alerts", "/v2/alerts", {"headers": {"authorization": ""}}, 401, "ErrorResponse"),
    ("GET", f"/v2/alerts/{ALERT_IDS[1]}", "/v2/alerts/{identifier}", {}, 200, "GetAlertResponse"),
    (
        "GET",
        f"/v2/alerts/{ALIAS}?identifierType=alias",
        "/v2/alerts/{identifier}",
        {},
        200,
        "GetAlertResponse",
    ),
    ("GET", "/v2/alerts/nope", "/v2/alerts/{identifier}", {}, 404, "ErrorResponse"),
    (
        "GET",
        "/v2/alerts/2?identifierType=name",
        "/v2/alerts/{identifier}",
        {},
        422,
        "ErrorResponse",
    ),
    ("GET", "/v2/alerts/count", "/v2/alerts/count", {}, 200, "GetCountAlertsResponse"),
    (
        "GET",
        "/v2/alerts/requests/unknown",
        "/v2/alerts/requests/{requestId}",
        {},
        404,
        "ErrorResponse",
    ),
    (
        "POST",
        "/v2/alerts",
        "/v2/alerts",
        {"json": {"message": "Disk full"}},
        202,
        "SuccessResponse",
    ),
    ("POST", "/v2/alerts", "/v2/alerts", {"json": {"priority": "P9"}}, 422, "ErrorResponse"),
    (
        "POST",
        "/v2/alerts",
        "/v2/alerts",
        {"content": b"{bad", "headers": {"content-type": "application/json"}},
        400,
        "ErrorResponse",
    ),
    (
        "POST",
        "/v2/alerts",
        "/v2/alerts",
        {"content": b"message=x", "headers": {"content-type": "text/plain"}},
        415,
        "ErrorResponse",
    ),
    (
        "POST",
        "/v2/alerts",
        "/v2/alerts",
        {"json": {"message": "Disk full"}, "headers": READONLY},
        403,
        "ErrorResponse",
    ),
    (
        "POST",
        "/v2/alerts/2/acknowledge?identifierType=tiny",
        "/v2/alerts/{identifier}/acknowledge",
        {"json": {"user": "grace"}},
        202,
        "SuccessResponse",
    ),
    (
        "POST",
        "/v2/alerts/2/close?identifierType=tiny",
        "/v2/alerts/{identifier}/close",
        {},
        202,
        "SuccessResponse",
    ),
    (
        "DELETE",
        "/v2/alerts/3?identifierType=tiny",
        "/v2/alerts/{identifier}",
        {},
        202,
        "SuccessResponse",
    ),
    *[
        (
            method,
            f"/v2/alerts/{ALIAS}/{action}?identifierType=alias",
            template,
            options,
            202,
            "SuccessResponse",
        )
        for method, action, template, options in ACTIONS
    ],
    (
        "PUT",
        f"/v2/alerts/{ALIAS}/priority",
        "/v2/alerts/{identifier}/priority",
        {"json": {"priority": "P0"}},
        422,
        "ErrorResponse",
    ),
    (
        "POST",
        f"/v2/alerts/{ALIAS}/notes",
        "/v2/alerts/{identifier}/notes",
        {"json": {}},
        422,
        "ErrorResponse",
    ),
    (
        "GET",
        f"/v2/alerts/{ALIAS}/notes?identifierType=alias",
        "/v2/alerts/{identifier}/notes",
        {},
        200,
        "ListAlertNotesResponse",
    ),
    (
        "GET",
        f"/v2/alerts/{ALIAS}/logs?identifierType=alias",
        "/v2/alerts/{identifier}/logs",
        {},
        200,
        "ListAlertLogsResponse",
    ),
    ("GET", "/v2/alerts/nope/notes", "/v2/alerts/{identifier}/notes", {}, 404, "ErrorResponse"),
    ("GET", "/v2/alerts/nope/logs", "/v2/alerts/{identifier}/logs", {}, 404, "ErrorResponse"),
    (
        "GET",
        f"/v2/alerts/{ALIAS}/logs?limit=500&identifierType=alias",
        "/v2/alerts/{identifier}/logs",
        {},
        416,
        "ErrorResponse",
    ),
    ("GET", f"/v2/users/{ADA}", "/v2/users/{identifier}", {}, 200, "GetUserResponse"),
    (
        "GET",
        f"/v2/users/{ADA}?expand=contact",
        "/v2/users/{identifier}",
        {},
        200,
        "GetUserResponse",
    ),
    ("GET", f"/v2/users/{ADA}?expand=teams", "/v2/users/{identifier}", {}, 400, "ErrorResponse"),
    ("GET", "/v2/users/nobody", "/v2/users/{identifier}", {}, 404, "ErrorResponse"),
]


@pytest.mark.parametrize(
    ("method", "url", "path", "options", "status", "definition"),
    CASES,
    ids=[f"{m} {u} {s}" for m, u, _, _, s, _ in CASES],
)
async def test_answer_validates_against_the_official_definition(
    api: httpx.AsyncClient,
    method: str,
    url: str,
    path: str,
    options: dict[str, Any],
    status: int,
    definition: str,
) -> None:
    """Each answer is valid against the definition the official path gives its status."""
    response = await api.request(method, url, **options)
    assert response.status_code == status, response.text
    assert response_definition(method, path, status) == definition
    assert_valid(definition, response.json())


async def test_throttled_answer_is_an_official_error() -> None:
    """The 429 is an official ``ErrorResponse``."""
    async with raw_client(demo(rate_limit=1)) as client:
        await client.get("/v2/alerts/count")
        response = await client.get("/v2/alerts/count")
    assert response.status_code == 429
    assert response_definition("GET", "/v2/alerts/count", 429) == "ErrorResponse"
    assert_valid("ErrorResponse", response.json())


async def test_request_status_is_the_official_one(api: httpx.AsyncClient) -> None:
    """A processed write reads as ``GetRequestStatusResponse``, with its fields only."""
    accepted = await api.post("/v2/alerts", json={"message": "Disk full", "alias": "disk"})
    request_id = accepted.json()["requestId"]
    await poll_raw(api, request_id)
    response = await api.get(f"/v2/alerts/requests/{request_id}")
    assert response_definition("GET", "/v2/alerts/requests/{requestId}", 200) == (
        "GetRequestStatusResponse"
    )
    assert_valid("GetRequestStatusResponse", response.json())
    # OpsGenie's own example answer carries "success" beside the model's fields.
    assert set(response.json()["data"]) <= properties("AlertRequestStatus") | {"success"}


async def test_user_contacts_are_the_official_user_contacts(api: httpx.AsyncClient) -> None:
    """``expand=contact`` adds ``userContacts`` items with exactly ``UserContact``'s fields."""
    body = (await api.get(f"/v2/users/{ADA}", params={"expand": "contact"})).json()
    user = body["data"]
    assert_valid("User", user)
    assert set(user) <= properties("User")
    assert user["userContacts"]
    for contact in user["userContacts"]:
        assert_valid("UserContact", contact)
        assert set(contact) == {"to", "id", "contactMethod", "enabled", "disabledReason"}
    assert properties("UserContact") == {"to", "id", "contactMethod", "enabled", "disabledReason"}


async def test_user_fields_are_official(api: httpx.AsyncClient) -> None:
    """A user, unexpanded, has only ``User``'s fields and a ``UserRole``."""
    user = (await api.get(f"/v2/users/{ADA}")).json()["data"]
    assert set(user) <= properties("User")
    assert set(user["role"]) <= properties("UserRole")


@pytest.mark.parametrize("tiny_id", sorted(ALERT_IDS))
async def test_alert_fields_are_official(api: httpx.AsyncClient, tiny_id: int) -> None:
    """Each seeded alert has only ``Alert``'s fields, and its parts their models' fields."""
    alert = (await api.get(f"/v2/alerts/{ALERT_IDS[tiny_id]}")).json()["data"]
    assert_valid("Alert", alert)
    assert set(alert) <= properties("Alert")
    assert set(alert["report"]) <= properties("AlertReport")
    assert set(alert["integration"]) <= properties("AlertIntegration")


async def test_list_items_and_paging_are_official(api: httpx.AsyncClient) -> None:
    """List items have ``BaseAlert``'s fields only; ``paging`` is a ``PageDetails``."""
    body = (await api.get("/v2/alerts", params={"limit": 2, "offset": 1})).json()
    for item in body["data"]:
        assert_valid("BaseAlert", item)
        assert set(item) <= properties("BaseAlert")
    assert_valid("PageDetails", body["paging"])
    assert set(body["paging"]) == properties("PageDetails")


async def notes_and_logs(api: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """The notes and the logs of a new alert with a note, after an action with a note."""
    created = await api.post("/v2/alerts", json={"message": "Disk", "alias": "n", "note": "One"})
    await poll_raw(api, created.json()["requestId"])
    noted = await api.post("/v2/alerts/n/acknowledge?identifierType=alias", json={"note": "Two"})
    await poll_raw(api, noted.json()["requestId"])
    notes = (await api.get("/v2/alerts/n/notes?identifierType=alias&limit=1")).json()
    logs = (await api.get("/v2/alerts/n/logs?identifierType=alias&limit=1")).json()
    return notes, logs


async def test_notes_and_paging_are_official(api: httpx.AsyncClient) -> None:
    """Notes have exactly ``AlertNote``'s fields; ``paging`` is an ``AlertPaging``."""
    notes, _ = await notes_and_logs(api)
    assert notes["data"]
    for note in notes["data"]:
        assert_valid("AlertNote", note)
        assert set(note) == properties("AlertNote")
    assert_valid("AlertPaging", notes["paging"])
    assert set(notes["paging"]) == properties("AlertPaging")


async def test_logs_are_official(api: httpx.AsyncClient) -> None:
    """Log lines have exactly ``AlertLog``'s fields."""
    _, logs = await notes_and_logs(api)
    assert logs["data"]
    for line in logs["data"]:
        assert_valid("AlertLog", line)
        assert set(line) == properties("AlertLog")
    assert set(logs["paging"]) == properties("AlertPaging")


async def test_changed_alert_is_official(api: httpx.AsyncClient) -> None:
    """An alert after every kind of change (responders, snooze, owner) is still an ``Alert``."""
    created = await api.post(
        "/v2/alerts",
        json={"message": "Disk", "alias": "c", "responders": [{"type": "team", "name": "ops"}]},
    )
    await poll_raw(api, created.json()["requestId"])
    for url, body in [
        ("snooze", {"endTime": "2099-01-01T00:00:00Z"}),
        ("assign", {"owner": {"username": "ada@example.com"}}),
        ("escalate", {"escalation": {"name": "e"}}),
    ]:
        accepted = await api.post(f"/v2/alerts/c/{url}?identifierType=alias", json=body)
        await poll_raw(api, accepted.json()["requestId"])
    alert = (await api.get("/v2/alerts/c?identifierType=alias")).json()["data"]
    assert_valid("Alert", alert)
    assert set(alert) <= properties("Alert")
    assert {"snoozedUntil", "actions"} <= set(alert)
    for responder in alert["responders"]:
        assert_valid("Responder", responder)


async def test_pending_status_header_is_official(api: httpx.AsyncClient) -> None:
    """The 404 of a status not processed yet is an ``ErrorResponse`` saying
    ``X-Opsgenie-Errortype: RequestNotProcessed``."""
    response = await api.get("/v2/alerts/requests/not-yet")
    assert response.headers["x-opsgenie-errortype"] == "RequestNotProcessed"
    assert_valid("ErrorResponse", response.json())


async def test_rate_limit_headers_are_the_documented_ones(api: httpx.AsyncClient) -> None:
    """A 200 carries the ``X-RateLimit-*`` headers the official path lists for its 200."""
    response = await api.get(f"/v2/alerts/{ALIAS}/notes?identifierType=alias")
    documented = swagger()["paths"]["/v2/alerts/{identifier}/notes"]["get"]["responses"]["200"]
    rate_headers = {name for name in documented["headers"] if name.startswith("X-RateLimit")}
    assert rate_headers == {"X-RateLimit-State", "X-RateLimit-Reason", "X-RateLimit-Period-In-Sec"}
    assert {name.lower() for name in rate_headers} <= set(response.headers)
    assert response.headers["x-ratelimit-state"] == "OK"


async def test_count_has_only_count(api: httpx.AsyncClient) -> None:
    """The count's ``data`` is ``{"count": N}``, as ``GetCountAlertsResponse`` reads."""
    body = (await api.get("/v2/alerts/count")).json()
    assert set(body["data"]) == {"count"}


async def test_accepted_write_is_result_took_request_id(api: httpx.AsyncClient) -> None:
    """A 202 reads ``{"result", "took", "requestId"}`` as OpsGenie's: no ``data``."""
    body = (await api.post("/v2/alerts", json={"message": "Disk full"})).json()
    assert list(body) == ["result", "took", "requestId"]
    assert set(body) <= properties("SuccessResponse")


async def test_error_fields_are_official_and_errors(api: httpx.AsyncClient) -> None:
    """An error has ``ErrorResponse``'s fields, plus ``errors`` where fields are invalid."""
    body = (await api.post("/v2/alerts", json={"priority": "P9"})).json()
    assert set(body) <= properties("ErrorResponse") | {"errors"}
    assert set(body["errors"]) == {"message", "priority"}
