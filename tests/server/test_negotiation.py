"""Media types: ``Accept`` negotiation (406) and JSON body enforcement (415)."""

from __future__ import annotations

import httpx
import pytest

from opsgenie_envelope._negotiation import accepts_json, is_json_media_type
from tests.support.apps import AppFactory
from tests.support.asgi import make_client


@pytest.mark.parametrize(
    "accept",
    [
        b"",
        b"*/*",
        b"application/json",
        b"application/*",
        b"text/html, application/json;q=0.5",
        b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        b"APPLICATION/JSON",
        b"application/json;q=0, application/json;q=0.3",
    ],
)
def test_accepts_json(accept: bytes) -> None:
    """These ``Accept`` values allow JSON."""
    assert accepts_json(accept)


@pytest.mark.parametrize(
    "accept",
    [
        b"text/html",
        b"application/xml",
        b"application/json;q=0",
        b"application/json;q=0, */*",
        b"*/*;q=0",
        b"application/json;q=bogus",
        b"image/png, " * 2000,
    ],
)
def test_rules_out_json(accept: bytes) -> None:
    """These ``Accept`` values rule JSON out (the most specific range decides)."""
    assert not accepts_json(accept)


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (b"application/json", True),
        (b"application/json; charset=utf-8", True),
        (b"Application/JSON", True),
        (b"application/problem+json", True),
        (b"application/vnd.api+json", True),
        (b"application/x-ndjson", False),
        (b"text/json-ish", False),
        (b"text/html", False),
        (b"", False),
    ],
)
def test_is_json_media_type(content_type: bytes, expected: bool) -> None:
    """JSON is ``application/json`` and ``application/*+json``."""
    assert is_json_media_type(content_type) is expected


@pytest.mark.anyio
async def test_accept_ruling_out_json_is_406(client: httpx.AsyncClient) -> None:
    """A request that accepts only HTML gets a 406 envelope (in JSON, for OpsGenie clients)."""
    response = await client.get("/v2/alerts/1", headers={"accept": "text/html"})
    assert response.status_code == 406
    assert response.json()["message"] == "Requested format is not supported"


@pytest.mark.anyio
async def test_406_does_not_run_the_handler(make_app: AppFactory) -> None:
    """The 406 answer comes before the handler runs."""
    async with make_client(make_app(), raise_app_exceptions=True) as client:
        response = await client.get("/fail/boom", headers={"accept": "image/png"})
    assert response.status_code == 406


@pytest.mark.anyio
async def test_negotiation_can_be_turned_off(make_app: AppFactory) -> None:
    """``negotiate=False`` serves JSON whatever ``Accept`` says."""
    async with make_client(make_app(negotiate=False)) as client:
        response = await client.get("/v2/alerts/1", headers={"accept": "text/html"})
    assert response.status_code == 200


@pytest.mark.anyio
async def test_excluded_paths_skip_negotiation(make_app: AppFactory) -> None:
    """Excluded paths are not negotiated (``/docs`` serves HTML to browsers)."""
    async with make_client(make_app(exclude_paths=["/r/html"])) as client:
        response = await client.get("/r/html", headers={"accept": "text/html"})
    assert response.status_code == 200


@pytest.mark.anyio
async def test_json_body_enforcement_is_off_by_default(client: httpx.AsyncClient) -> None:
    """Without ``require_json_body``, a text body reaches the handler."""
    response = await client.post(
        "/echo", content=b'{"message": "m"}', headers={"content-type": "text/plain"}
    )
    assert response.status_code != 415


@pytest.mark.anyio
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_non_json_body_is_415_when_enforced(
    make_app: AppFactory, content_type: str | None
) -> None:
    """With ``require_json_body``, a body that is not JSON is refused with 415."""
    headers = {"content-type": content_type} if content_type else {}
    async with make_client(make_app(require_json_body=True)) as client:
        response = await client.post("/echo", content=b"message=m", headers=headers)
    assert response.status_code == 415
    assert response.json()["message"] == "Request body format is not supported"


@pytest.mark.anyio
async def test_json_body_passes_enforcement(make_app: AppFactory) -> None:
    """A JSON body passes ``require_json_body``."""
    async with make_client(make_app(require_json_body=True)) as client:
        response = await client.post("/echo", json={"message": "m"})
    assert response.status_code == 200


@pytest.mark.anyio
async def test_bodyless_request_passes_enforcement(make_app: AppFactory) -> None:
    """A GET without a body is never refused for its content type."""
    async with make_client(make_app(require_json_body=True)) as client:
        response = await client.get("/v2/alerts/1", headers={"content-type": "text/plain"})
    assert response.status_code == 200
