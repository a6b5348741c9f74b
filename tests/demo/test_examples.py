"""The example app: its document is valid and agrees with what it sends."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from examples.quickstart import app
from tests.support.asgi import make_client
from tests.support.openapi_check import assert_documented

pytestmark = pytest.mark.anyio


def test_quickstart_document_is_valid() -> None:
    """The example app's document passes the OpenAPI validator."""
    validate(app.openapi())


QUICKSTART_CASES = [
    ("GET", "/v2/alerts", "/v2/alerts", {}),
    ("GET", "/v2/alerts/70413a06-38d6-4c85-92b8-5ebc900d42e2", "/v2/alerts/{alert_id}", {}),
    ("GET", "/v2/alerts/nope", "/v2/alerts/{alert_id}", {}),
    ("POST", "/v2/alerts", "/v2/alerts", {"json": {"message": "Disk full"}}),
    ("POST", "/v2/alerts", "/v2/alerts", {"json": {}}),
]


@pytest.mark.parametrize(
    ("method", "url", "template", "kwargs"),
    QUICKSTART_CASES,
    ids=[f"{m} {u} {k}" for m, u, _, k in QUICKSTART_CASES],
)
async def test_quickstart_wire_agrees_with_its_document(
    method: str, url: str, template: str, kwargs: dict[str, Any]
) -> None:
    """The example app's answers validate against its document (as ``/docs`` shows it)."""
    async with make_client(app) as client:
        response = await client.request(method, url, **kwargs)
    assert_documented(app.openapi(), template, response)


DEMO_KEY = {"authorization": "GenieKey demo-key"}
READONLY_KEY = {"authorization": "GenieKey demo-readonly-key"}
DEMO_CASES = [
    ("GET", "/v2/alerts?limit=2", "/v2/alerts", DEMO_KEY, None),
    ("GET", "/v2/alerts/count", "/v2/alerts/count", DEMO_KEY, None),
    ("GET", "/v2/alerts/nope", "/v2/alerts/{identifier}", DEMO_KEY, None),
    ("GET", "/v2/alerts", "/v2/alerts", {}, None),
    ("POST", "/v2/alerts", "/v2/alerts", DEMO_KEY, {"message": "Disk full"}),
    ("POST", "/v2/alerts", "/v2/alerts", DEMO_KEY, {"priority": "P9"}),
    ("POST", "/v2/alerts", "/v2/alerts", READONLY_KEY, {"message": "Disk full"}),
    ("GET", "/v2/alerts/requests/unknown", "/v2/alerts/requests/{requestId}", DEMO_KEY, None),
]


def test_demo_document_is_valid() -> None:
    """The demo's document passes the OpenAPI validator."""
    from examples.alerts.api import create_app

    validate(create_app().openapi())


@pytest.mark.parametrize(
    ("method", "url", "template", "headers", "body"),
    DEMO_CASES,
    ids=[f"{m} {u} {sorted(h.values())} {b}" for m, u, _, h, b in DEMO_CASES],
)
async def test_demo_wire_agrees_with_its_document(
    method: str, url: str, template: str, headers: dict[str, str], body: Any
) -> None:
    """The demo's answers (success, 401, 403, 404, 422, 202) validate against its ``/docs``."""
    from examples.alerts.api import create_app

    demo = create_app()
    async with make_client(demo) as client:
        response = await client.request(method, url, headers=headers, json=body)
    assert_documented(demo.openapi(), template, response)
