"""Request ID generation and the allowlist for incoming IDs."""

from __future__ import annotations

import re
import uuid

import orjson
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from opsgenie_envelope import EnvelopeMiddleware, is_valid_request_id, uuid4_hex
from tests.support.asgi import call_asgi, make_client


def test_uuid4_hex_is_a_lowercase_uuid4() -> None:
    """Generated IDs parse as RFC 4122 version-4 UUIDs, lower-case."""
    for _ in range(1000):
        value = uuid4_hex()
        parsed = uuid.UUID(value)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == value


def test_uuid4_hex_is_random() -> None:
    """10,000 IDs are all different and every random hex position varies."""
    values = [uuid4_hex() for _ in range(10_000)]
    assert len(set(values)) == len(values)
    for position in (0, 9, 15, 20, 35):
        assert len({v[position] for v in values}) > 8


def test_variant_nibble_covers_all_four_values() -> None:
    """The variant digit takes each of 8, 9, a, b."""
    assert {uuid4_hex()[19] for _ in range(2000)} == set("89ab")


@pytest.mark.parametrize(
    "value",
    [
        "8a88410f-3129-483d-87b7-b09ffdb1ac2c",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "a",
        "x" * 128,
        "svc:req.1_2-3",
    ],
)
def test_allowlist_accepts(value: str) -> None:
    """UUIDs, trace IDs, ULIDs and the allowed charset pass."""
    assert is_valid_request_id(value)


@pytest.mark.parametrize(
    "value", ["", "x" * 129, "a b", "a\r\nb", "a\x00", "é", "a/b", 'a"b', "a\n"]
)
def test_allowlist_refuses(value: str) -> None:
    """Empty, too long, spaces, control and non-ASCII characters are refused."""
    assert not is_valid_request_id(value)


def test_allowlist_pattern_is_anchored() -> None:
    """A trailing newline does not sneak past the pattern."""
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", "abc\n") is None
    assert not is_valid_request_id("abc\n")


# -- a validator only narrows the allowlist ---------------------------------------------------

SPLICE = 'x","data":{"admin":true},"z":"'


def _trusting_everything() -> Starlette:
    async def alert(request: Request) -> JSONResponse:
        return JSONResponse({"id": "1"})

    return Starlette(
        routes=[Route("/alert", alert)],
        middleware=[
            Middleware(EnvelopeMiddleware, trust_incoming_id=True, validator=lambda _: True)
        ],
    )


@pytest.mark.anyio
async def test_permissive_validator_cannot_splice_json() -> None:
    """An ID a validator accepts but the allowlist refuses is replaced, never spliced."""
    async with make_client(_trusting_everything()) as client:
        response = await client.get("/alert", headers={"X-Request-ID": SPLICE})
    body = orjson.loads(response.content)
    assert "admin" not in str(body)
    assert body["requestId"] == response.headers["x-request-id"] != SPLICE
    assert uuid.UUID(body["requestId"]).version == 4


@pytest.mark.anyio
async def test_non_ascii_id_is_replaced_not_a_crash() -> None:
    """A non-ASCII incoming ID gets a fresh ID and an envelope (no UnicodeEncodeError)."""
    sent = await call_asgi(
        _trusting_everything(), "/alert", headers=[(b"x-request-id", "café-ß".encode())]
    )
    assert sent[0]["status"] == 200
    body = orjson.loads(sent[1]["body"])
    assert uuid.UUID(body["requestId"]).version == 4


@pytest.mark.anyio
async def test_raising_validator_refuses_the_id() -> None:
    """A validator that raises refuses the ID; the request is still served."""

    def broken(value: str) -> bool:
        raise RuntimeError("boom")

    app = Starlette(
        routes=[Route("/alert", lambda request: JSONResponse({}))],
        middleware=[Middleware(EnvelopeMiddleware, trust_incoming_id=True, validator=broken)],
    )
    async with make_client(app) as client:
        response = await client.get("/alert", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] != "abc-123"


@pytest.mark.anyio
async def test_narrowing_validator_still_applies() -> None:
    """A validator that refuses an allowlisted ID wins: it narrows."""
    app = Starlette(
        routes=[Route("/alert", lambda request: JSONResponse({}))],
        middleware=[
            Middleware(
                EnvelopeMiddleware, trust_incoming_id=True, validator=lambda v: v.startswith("t-")
            )
        ],
    )
    async with make_client(app) as client:
        kept = await client.get("/alert", headers={"X-Request-ID": "t-1"})
        refused = await client.get("/alert", headers={"X-Request-ID": "u-1"})
    assert kept.headers["x-request-id"] == "t-1"
    assert refused.headers["x-request-id"] != "u-1"
