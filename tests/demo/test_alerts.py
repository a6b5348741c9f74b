"""The demo's Alert API over raw httpx: create, request status, get, list, count, actions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.demo_app import ALERT_IDS, demo, poll_raw, raw_client

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    """A raw client, with the full-access key, on a freshly seeded demo."""
    async with raw_client(demo()) as client:
        yield client


async def create(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    """Create an alert and return its processed request status."""
    response = await api.post("/v2/alerts", json=body)
    assert response.status_code == 202, response.text
    return await poll_raw(api, response.json()["requestId"])


async def act(api: httpx.AsyncClient, method: str, url: str, **options: Any) -> dict[str, Any]:
    """Send a write, expect 202, return its processed request status."""
    response = await api.request(method, url, **options)
    assert response.status_code == 202, response.text
    return await poll_raw(api, response.json()["requestId"])


async def tiny_ids(api: httpx.AsyncClient, query: str = "", **params: str) -> list[str]:
    """The tiny IDs ``GET /v2/alerts`` lists, in order."""
    response = await api.get("/v2/alerts", params={"query": query, **params})
    assert response.status_code == 200, response.text
    return [alert["tinyId"] for alert in response.json()["data"]]


async def test_create_answers_202_with_result(api: httpx.AsyncClient) -> None:
    """A create answers OpsGenie's 202 body: the text under ``result``, no ``data``."""
    response = await api.post("/v2/alerts", json={"message": "Our servers are in danger"})
    body = response.json()
    assert response.status_code == 202
    assert list(body) == ["result", "took", "requestId"]
    assert body["result"] == "Request will be processed"
    assert body["requestId"] == response.headers["x-request-id"]


async def test_flow_create_poll_get_acknowledge_list(api: httpx.AsyncClient) -> None:
    """Create, poll the request, get the alert, acknowledge it, find it in the list."""
    created = await api.post(
        "/v2/alerts", json={"message": "Queue backlog over 10k", "alias": "queue", "priority": "P2"}
    )
    status = await poll_raw(api, created.json()["requestId"])
    assert (status["action"], status["isSuccess"], status["alias"]) == ("Create", True, "queue")

    alert = (await api.get(f"/v2/alerts/{status['alertId']}")).json()["data"]
    assert (alert["message"], alert["priority"], alert["acknowledged"]) == (
        "Queue backlog over 10k",
        "P2",
        False,
    )

    acked = await act(api, "POST", "/v2/alerts/queue/acknowledge?identifierType=alias")
    assert (acked["action"], acked["alertId"]) == ("Acknowledge", alert["id"])

    listed = (await api.get("/v2/alerts", params={"query": "acknowledged:true"})).json()["data"]
    assert alert["id"] in [item["id"] for item in listed]


async def test_request_status_is_404_while_unknown(api: httpx.AsyncClient) -> None:
    """An unknown request ID answers 404."""
    response = await api.get(f"/v2/alerts/requests/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["message"] == "Request not found. It might not be processed yet."


async def test_request_status_shape(api: httpx.AsyncClient) -> None:
    """A processed create reports OpsGenie's request-status fields."""
    status = await create(api, message="Disk full")
    assert list(status) == [
        "success",
        "action",
        "processedAt",
        "isSuccess",
        "status",
        "integrationId",
        "alertId",
        "alias",
    ]
    assert status["status"] == "Created alert"
    assert status["alias"] == status["alertId"]  # OpsGenie's default alias is the ID
    assert status["processedAt"].endswith("Z")


async def test_create_defaults_priority_to_p3(api: httpx.AsyncClient) -> None:
    """An alert created without a priority is P3."""
    status = await create(api, message="Disk full")
    alert = (await api.get(f"/v2/alerts/{status['alertId']}")).json()["data"]
    assert alert["priority"] == "P3"


async def test_create_keeps_the_optional_fields(api: httpx.AsyncClient) -> None:
    """Alias, description, tags, details, entity and source are stored as sent."""
    sent = {
        "message": "Disk full",
        "alias": "disk-db-02",
        "description": "Only 1% left",
        "tags": ["disk", "db"],
        "details": {"host": "db-02"},
        "entity": "db-02",
        "source": "prometheus",
    }
    status = await create(api, **sent)
    alert = (await api.get(f"/v2/alerts/{status['alertId']}")).json()["data"]
    assert {key: alert[key] for key in sent} == sent


@pytest.mark.parametrize("body", [{}, {"message": ""}, {"message": "   "}])
async def test_create_without_message_is_422(api: httpx.AsyncClient, body: dict[str, str]) -> None:
    """A missing or blank message answers 422 with OpsGenie's text under ``errors``."""
    response = await api.post("/v2/alerts", json=body)
    assert response.status_code == 422
    assert response.json()["errors"] == {"message": "Message can not be empty."}


async def test_create_with_bad_priority_is_422(api: httpx.AsyncClient) -> None:
    """A priority outside P1..P5 answers 422 naming the allowed values."""
    response = await api.post("/v2/alerts", json={"message": "Disk full", "priority": "P9"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"priority": "should be one of [ P1, P2, P3, P4, P5 ]"}


async def test_create_with_mistyped_field_is_422(api: httpx.AsyncClient) -> None:
    """A field of the wrong JSON type answers 422 naming the field, not echoing the value."""
    response = await api.post("/v2/alerts", json={"message": "Disk full", "tags": "secret-tag"})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["tags"]
    assert "secret-tag" not in response.text


async def test_create_with_malformed_json_is_400(api: httpx.AsyncClient) -> None:
    """A body that is not JSON answers 400."""
    response = await api.post(
        "/v2/alerts", content=b'{"message": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid JSON body"


async def test_create_with_form_body_is_415(api: httpx.AsyncClient) -> None:
    """A body that is not labelled JSON answers 415."""
    response = await api.post("/v2/alerts", data={"message": "Disk full"})
    assert response.status_code == 415


async def test_create_defaults_source_to_the_caller_address(api: httpx.AsyncClient) -> None:
    """An alert created without a source takes the caller's IP address, as in OpsGenie."""
    status = await create(api, message="Disk full")
    alert = (await api.get(f"/v2/alerts/{status['alertId']}")).json()["data"]
    assert alert["source"] == "127.0.0.1"


async def test_create_cuts_fields_to_opsgenie_limits(api: httpx.AsyncClient) -> None:
    """A message longer than 130 characters is cut, as OpsGenie cuts it."""
    status = await create(api, message="x" * 200)
    alert = (await api.get(f"/v2/alerts/{status['alertId']}")).json()["data"]
    assert alert["message"] == "x" * 130


async def test_create_with_open_alias_deduplicates(api: httpx.AsyncClient) -> None:
    """A create with the alias of an open alert counts one more occurrence of it."""
    status = await create(api, message="CPU again", alias="web-01-cpu")
    alert = (await api.get("/v2/alerts/web-01-cpu", params={"identifierType": "alias"})).json()
    assert (status["status"], status["alertId"]) == ("Alert deduplicated", ALERT_IDS[3])
    assert alert["data"]["count"] == 2


async def test_create_with_closed_alias_opens_a_new_alert(api: httpx.AsyncClient) -> None:
    """A create with the alias of a closed alert makes a new alert."""
    status = await create(api, message="Backup failed again", alias="backup-billing-db")
    alert = (await api.get(f"/v2/alerts/{status['alertId']}")).json()["data"]
    assert status["alertId"] != ALERT_IDS[1]
    assert (alert["status"], alert["tinyId"]) == ("open", "6")


@pytest.mark.parametrize(
    ("identifier", "identifier_type"),
    [(ALERT_IDS[2], None), (ALERT_IDS[2], "id"), ("db-01-disk-var", "alias"), ("2", "tiny")],
)
async def test_get_by_each_identifier_type(
    api: httpx.AsyncClient, identifier: str, identifier_type: str | None
) -> None:
    """An alert is found by ID (the default), alias or tiny ID."""
    params = {} if identifier_type is None else {"identifierType": identifier_type}
    response = await api.get(f"/v2/alerts/{identifier}", params=params)
    assert response.status_code == 200
    assert response.json()["data"]["id"] == ALERT_IDS[2]


async def test_get_alert_shape(api: httpx.AsyncClient) -> None:
    """One alert carries OpsGenie's ``Alert`` fields, details included."""
    alert = (await api.get(f"/v2/alerts/{ALERT_IDS[2]}")).json()["data"]
    assert {"id", "tinyId", "alias", "message", "status", "acknowledged", "priority"} <= set(alert)
    assert {"tags", "createdAt", "updatedAt", "description", "details", "entity"} <= set(alert)
    assert alert["report"] == {"ackTime": 240000, "acknowledgedBy": "ada@example.com"}


async def test_get_unknown_alert_is_404(api: httpx.AsyncClient) -> None:
    """An unknown identifier answers 404 ``Alert does not exist``."""
    response = await api.get("/v2/alerts/nope", params={"identifierType": "alias"})
    assert response.status_code == 404
    assert response.json()["message"] == "Alert does not exist"


async def test_get_with_bad_identifier_type_is_422(api: httpx.AsyncClient) -> None:
    """An ``identifierType`` other than id, alias or tiny answers 422."""
    response = await api.get("/v2/alerts/2", params={"identifierType": "name"})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["identifierType"]


async def test_list_is_newest_first_and_paged(api: httpx.AsyncClient) -> None:
    """The list is sorted by createdAt, newest first, with paging links and totalCount."""
    response = await api.get("/v2/alerts", params={"limit": 2})
    body = response.json()
    assert [alert["tinyId"] for alert in body["data"]] == ["5", "4"]
    assert set(body["paging"]) == {"first", "next", "last"}
    assert body["paging"]["next"].endswith("offset=2&limit=2")
    assert body["totalCount"] == 5
    assert response.headers["x-paging-next"] == body["paging"]["next"]


async def test_list_items_leave_out_details(api: httpx.AsyncClient) -> None:
    """List items are OpsGenie's ``BaseAlert``: no description, details or entity."""
    items = (await api.get("/v2/alerts")).json()["data"]
    assert not {"description", "details", "entity", "actions"} & set(items[0])


async def test_list_sorts_as_asked(api: httpx.AsyncClient) -> None:
    """``sort`` and ``order`` choose the order."""
    assert await tiny_ids(api, sort="tinyId", order="asc") == ["1", "2", "3", "4", "5"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status:closed", ["1"]),
        ("status:open", ["5", "4", "3", "2"]),
        ("acknowledged:true", ["2"]),
        ("priority:P1", ["5", "2"]),
        ("status:open AND tag:database", ["2"]),
        ("disk", ["2"]),
        ('message:"payments-worker"', ["5"]),
        ("alias:web-01-cpu", ["3"]),
        ("tinyId:4", ["4"]),
        ("acknowledged:false status:closed", ["1"]),
    ],
)
async def test_list_filters_by_query(
    api: httpx.AsyncClient, query: str, expected: list[str]
) -> None:
    """``query`` filters the list."""
    assert await tiny_ids(api, query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "colour:red",
        "status:snoozed",
        "acknowledged:maybe",
        "priority:P9",
        "status:",
        "a OR b",
        'message:"open',
        "disk " * 250,
    ],
)
async def test_list_with_unreadable_query_is_422(api: httpx.AsyncClient, query: str) -> None:
    """A query the demo cannot read answers 422 under ``errors.query``."""
    response = await api.get("/v2/alerts", params={"query": query})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["query"]
    assert response.json()["message"].startswith("Invalid query parameter 'query': ")


async def test_list_links_keep_the_query(api: httpx.AsyncClient) -> None:
    """Paging links carry ``query`` on."""
    response = await api.get("/v2/alerts", params={"query": "status:open", "limit": 2})
    assert "query=status%3Aopen" in response.json()["paging"]["next"]


async def test_list_with_limit_over_100_is_416(api: httpx.AsyncClient) -> None:
    """A page larger than 100 answers 416."""
    response = await api.get("/v2/alerts", params={"limit": 500})
    assert response.status_code == 416


@pytest.mark.parametrize(("query", "count"), [("", 5), ("status:open", 4), ("priority:P5", 0)])
async def test_count(api: httpx.AsyncClient, query: str, count: int) -> None:
    """``/v2/alerts/count`` answers ``{"count": N}`` for a query."""
    response = await api.get("/v2/alerts/count", params={"query": query})
    assert response.json()["data"] == {"count": count}


async def test_acknowledge_records_the_user(api: httpx.AsyncClient) -> None:
    """Acknowledging marks the alert and names the user in its report."""
    await act(api, "POST", "/v2/alerts/3/acknowledge?identifierType=tiny", json={"user": "ada"})
    alert = (await api.get(f"/v2/alerts/{ALERT_IDS[3]}")).json()["data"]
    assert alert["acknowledged"] is True
    assert alert["report"]["acknowledgedBy"] == "ada"


async def test_acknowledging_again_keeps_the_first_acknowledgement(
    api: httpx.AsyncClient,
) -> None:
    """A second acknowledgement succeeds and leaves the first one on record."""
    status = await act(
        api, "POST", "/v2/alerts/2/acknowledge?identifierType=tiny", json={"user": "x"}
    )
    alert = (await api.get(f"/v2/alerts/{ALERT_IDS[2]}")).json()["data"]
    assert status["isSuccess"] is True
    assert alert["report"]["acknowledgedBy"] == "ada@example.com"


async def test_close_closes(api: httpx.AsyncClient) -> None:
    """Closing sets the status to closed."""
    status = await act(api, "POST", f"/v2/alerts/{ALERT_IDS[4]}/close")
    alert = (await api.get(f"/v2/alerts/{ALERT_IDS[4]}")).json()["data"]
    assert (status["status"], alert["status"], alert["report"]["closedBy"]) == (
        "Closed",
        "closed",
        "API",
    )


async def test_delete_removes(api: httpx.AsyncClient) -> None:
    """A deleted alert is gone."""
    status = await act(api, "DELETE", f"/v2/alerts/{ALERT_IDS[5]}")
    response = await api.get(f"/v2/alerts/{ALERT_IDS[5]}")
    assert (status["action"], status["isSuccess"]) == ("Delete", True)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "/v2/alerts/nope/acknowledge"),
        ("POST", "/v2/alerts/nope/close"),
        ("DELETE", "/v2/alerts/nope"),
    ],
)
async def test_action_on_unknown_alert_fails_in_request_status(
    api: httpx.AsyncClient, method: str, url: str
) -> None:
    """An action on an unknown alert is accepted, and its request status says it failed."""
    status = await act(api, method, url)
    assert (status["isSuccess"], status["success"], status["status"]) == (
        False,
        False,
        "Alert does not exist",
    )


async def test_request_status_names_the_alerts_integration(api: httpx.AsyncClient) -> None:
    """A request status names the integration the new alert shows, as OpsGenie's does."""
    status = await create(api, message="Disk full")
    alert = (await api.get(f"/v2/alerts/{status['alertId']}")).json()["data"]
    assert status["integrationId"] == alert["integration"]["id"]


async def test_failed_request_status_names_the_integration(api: httpx.AsyncClient) -> None:
    """A failed action's request status still names the integration that asked."""
    created = await create(api, message="Disk full")
    status = await act(api, "POST", "/v2/alerts/nope/close")
    assert (status["isSuccess"], status["integrationId"]) == (False, created["integrationId"])
