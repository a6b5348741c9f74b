"""Success envelopes (SPEC §3): splicing, key order, pass-through, streaming, HEAD."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.apps import ALERT

pytestmark = pytest.mark.anyio

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


async def test_json_body_becomes_data(client: httpx.AsyncClient) -> None:
    """A handler's JSON object is returned under ``data``."""
    response = await client.get("/v2/alerts/1")
    body = response.json()
    assert response.status_code == 200
    assert {k: body["data"][k] for k in ALERT} == ALERT


async def test_key_order_is_data_took_request_id(client: httpx.AsyncClient) -> None:
    """Keys come in SPEC order: data, took, requestId."""
    response = await client.get("/r/list")
    assert list(response.json()) == ["data", "took", "requestId"]
    assert response.content.startswith(b'{"data":[1,2,3],"took":')


async def test_payload_bytes_are_spliced_verbatim(client: httpx.AsyncClient) -> None:
    """The handler's bytes appear unchanged inside the envelope (no re-serialisation)."""
    response = await client.get("/r/enveloped")
    assert response.content == b'{"data":{"a":1},"took":0.1,"requestId":"upstream-1"}'
