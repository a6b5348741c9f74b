"""The demo's users resource: ``GET /v2/users/{identifier}`` and ``expand=contact``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.demo_app import ADA, demo, raw_client

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    """A raw client, with the full-access key, on a freshly seeded demo."""
    async with raw_client(demo()) as client:
        yield client


async def test_user_lists_contact_as_expandable(api: httpx.AsyncClient) -> None:
    """A user answers with ``expandable: ["contact"]`` and no contacts unless asked."""
    body = (await api.get(f"/v2/users/{ADA}")).json()
    assert body["expandable"] == ["contact"]
    assert body["data"]["username"] == "ada@example.com"
    assert not {"contact", "userContacts"} & set(body["data"])


async def test_expand_contact_adds_user_contacts(api: httpx.AsyncClient) -> None:
    """``expand=contact`` adds OpsGenie's ``userContacts`` to ``data``."""
    body = (await api.get(f"/v2/users/{ADA}", params={"expand": "contact"})).json()
    assert body["data"]["userContacts"] == [
        {
            "to": "ada@example.com",
            "id": "0f6a1c2e-7b3d-4e58-a9c4-1d2e3f4a5b6c",
            "contactMethod": "email",
            "enabled": True,
            "disabledReason": "",
        }
    ]
    assert "contact" not in body["data"]


async def test_user_by_username(api: httpx.AsyncClient) -> None:
    """A user is found by username as well as by ID."""
    response = await api.get("/v2/users/ada@example.com")
    assert response.json()["data"]["id"] == ADA


async def test_unknown_user_is_404(api: httpx.AsyncClient) -> None:
    """An unknown user answers 404."""
    response = await api.get("/v2/users/nobody@example.com")
    assert response.status_code == 404
    assert response.json()["message"] == "User does not exist"


async def test_unknown_expand_is_400(api: httpx.AsyncClient) -> None:
    """An unknown ``expand`` name answers 400 listing ``contact``."""
    response = await api.get(f"/v2/users/{ADA}", params={"expand": "teams"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"expand": "should be one of [ contact ]"}
