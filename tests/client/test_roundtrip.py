"""Round trips through the middleware: what the server raises, the client raises again."""

from __future__ import annotations

import pytest

from opsgenie_envelope import (
    MethodNotAllowed,
    ServiceUnavailable,
    TooManyRequests,
    UnprocessableEntity,
)
from opsgenie_envelope.client import ApiError, AsyncClient, NotFound
from tests.support.apps import ALERT, fastapi_app
from tests.support.client_app import TAXONOMY, FakeTime, asgi_client, assert_round_trip, client_app

pytestmark = pytest.mark.anyio


def sample_client() -> AsyncClient:
    """A client on the FastAPI sample app, not retrying."""
    return asgi_client(fastapi_app(), FakeTime(), retry=None)


@pytest.mark.parametrize("name", sorted(TAXONOMY))
async def test_taxonomy_round_trips(name: str) -> None:
    """Each error raised on the server is raised on the client: same class and fields."""
    async with asgi_client(client_app(), FakeTime(), retry=None) as client:
        with pytest.raises(ApiError) as info:
            await client.get(f"/raise/{name}")
    assert_round_trip(name, info.value)


async def test_throttle_fields_round_trip() -> None:
    """``TooManyRequests`` keeps ``retry_after``, ``reason`` and ``period``."""
    sent = TAXONOMY["TooManyRequests"]()
    assert isinstance(sent, TooManyRequests)
    async with asgi_client(client_app(), FakeTime(), retry=None) as client:
        with pytest.raises(TooManyRequests) as info:
            await client.get("/raise/TooManyRequests")
    got = info.value
    assert (got.retry_after, got.reason, got.period) == (sent.retry_after, sent.reason, sent.period)
    assert got.headers["x-ratelimit-state"] == "THROTTLED"


async def test_service_unavailable_keeps_retry_after() -> None:
    """``ServiceUnavailable`` keeps ``retry_after``."""
    async with asgi_client(client_app(), FakeTime(), retry=None) as client:
        with pytest.raises(ServiceUnavailable) as info:
            await client.get("/raise/ServiceUnavailable")
    assert info.value.retry_after == 5


async def test_method_not_allowed_keeps_allow() -> None:
    """``MethodNotAllowed`` carries the server's ``Allow`` header."""
    async with asgi_client(client_app(), FakeTime(), retry=None) as client:
        with pytest.raises(MethodNotAllowed) as info:
            await client.get("/raise/MethodNotAllowed")
    assert info.value.headers["allow"] == "GET"


async def test_head_error_round_trips() -> None:
    """A HEAD that fails raises the class of its status, though it has no body."""
    async with asgi_client(client_app(), FakeTime(), retry=None) as client:
        with pytest.raises(NotFound) as info:
            await client.head("/raise/NotFound")
    assert info.value.request_id == info.value.headers["x-request-id"]


async def test_success_round_trips() -> None:
    """A handler's payload comes back as ``data``, with the server's request ID."""
    async with sample_client() as client:
        envelope = await client.get("/v2/alerts/1")
    assert {k: envelope.data[k] for k in ALERT} == ALERT
    assert envelope.request_id == envelope.data["seen"] == envelope.headers["x-request-id"]
    assert envelope.took == float(envelope.headers["x-response-time"])
    assert envelope.status_code == 200


async def test_created_message_round_trips() -> None:
    """A 201's ``message`` and headers come back."""
    async with sample_client() as client:
        envelope = await client.get("/r/created")
    assert (envelope.status_code, envelope.message) == (201, "Alert created")
    assert envelope.headers["location"] == "/v2/alerts/1"


async def test_opsgenie_result_round_trips() -> None:
    """A 202 rendered with OpsGenie's ``result`` key reads as the message."""
    app = fastapi_app(message_key="result")
    async with asgi_client(app, FakeTime()) as client:
        envelope = await client.post("/accepted")
    assert (envelope.status_code, envelope.message) == (202, "Request will be processed")
    assert "result" in envelope.response.json()


async def test_router_404_round_trips() -> None:
    """The framework's own 404 raises ``NotFound`` with OpsGenie's message."""
    async with sample_client() as client:
        with pytest.raises(NotFound) as info:
            await client.get("/no/such/route")
    assert info.value.message == "Resource or handler not found"


async def test_validation_errors_round_trip() -> None:
    """FastAPI's validation failure raises ``UnprocessableEntity`` with field errors."""
    async with sample_client() as client:
        with pytest.raises(UnprocessableEntity) as info:
            await client.post("/echo", json={"priority": "high"})
    assert info.value.errors is not None
    assert set(info.value.errors) == {"message", "priority"}
