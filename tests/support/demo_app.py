"""The Alerts API demo for the tests: a fresh app per test, its keys, clients and polling."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
from fastapi import FastAPI

from examples.alerts.api import Settings, create_app
from opsgenie_envelope import NotFound
from opsgenie_envelope.client import AsyncClient
from tests.support.asgi import make_client

KEY = "demo-key"
READONLY_KEY = "demo-readonly-key"
FULL = {"Authorization": f"GenieKey {KEY}"}
READONLY = {"Authorization": f"GenieKey {READONLY_KEY}"}
ALERT_IDS = {
    1: "70413a06-38d6-4c85-92b8-5ebc900d42e2",
    2: "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9",
    3: "a3c5e7f9-1b2d-4f6a-8c0e-2d4f6a8c0e1b",
    4: "b4d6f8a0-2c3e-4a7b-9d1f-3e5a7c9e1f2a",
    5: "c5e7a9b1-3d4f-4b8c-ae2a-4f6b8d0f2a3b",
}
"""The seeded alerts' IDs by tiny ID (1 is closed, 2 acknowledged)."""
ADA = "2b9a7e4c-6f3d-4a55-9c1e-3d8f0b7a6e21"
"""The seeded user ``ada@example.com``."""
POLLS = 200
"""Most status polls before a test gives up (10 ms apart: two seconds)."""
ENVIRONMENT = (
    "ALERTS_API_KEY",
    "ALERTS_READONLY_API_KEY",
    "ALERTS_RATE_LIMIT",
    "ALERTS_RATE_PERIOD",
    "ALERTS_PROCESSING_DELAY",
    "ALERTS_REDIS_URL",
    "ALERTS_REDIS_PREFIX",
)
"""The demo's settings variables: a served demo without them starts with its defaults."""


def demo(**settings: Any) -> FastAPI:
    """A new demo app with its own store; ``settings`` override :class:`Settings` defaults."""
    return create_app(Settings(**settings))


def raw_client(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """An httpx client on ``app`` over ASGI, sending the full-access key unless told."""
    return make_client(app, raise_app_exceptions=True, headers=FULL if headers is None else headers)


def library_client(app: FastAPI, **options: Any) -> AsyncClient:
    """The library's client on ``app`` over ASGI, sending the full-access key."""
    client: AsyncClient = make_client(
        app, raise_app_exceptions=True, client_class=AsyncClient, headers=FULL, **options
    )
    return client


async def poll_raw(client: httpx.AsyncClient, request_id: str) -> dict[str, Any]:
    """The request status of ``request_id``, polled (bounded) until it is processed."""
    for _ in range(POLLS):
        response = await client.get(f"/v2/alerts/requests/{request_id}")
        if response.status_code == 200:
            status: dict[str, Any] = response.json()["data"]
            return status
        assert response.status_code == 404, response.text
        await anyio.sleep(0.01)
    raise AssertionError(f"request {request_id} was not processed")


async def poll(client: AsyncClient, request_id: str) -> dict[str, Any]:
    """:func:`poll_raw` through the library's client: ``NotFound`` until processed."""
    for _ in range(POLLS):
        try:
            envelope = await client.get(f"/v2/alerts/requests/{request_id}")
        except NotFound:
            await anyio.sleep(0.01)
            continue
        status: dict[str, Any] = envelope.data
        return status
    raise AssertionError(f"request {request_id} was not processed")
