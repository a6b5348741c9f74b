"""One reading of ``Authorization: GenieKey``, and the caller an app verified."""

from __future__ import annotations

import pytest
from starlette.requests import HTTPConnection

from opsgenie_envelope import Unauthenticated, genie_key, get_caller, set_caller
from opsgenie_envelope.ratelimit import RateLimit
from tests.support.asgi import make_client, make_scope
from tests.support.stateful import authenticated_fastapi, key


def connection(*values: bytes) -> HTTPConnection:
    return HTTPConnection(make_scope(headers=[(b"authorization", value) for value in values]))


@pytest.mark.parametrize(
    "value", [b"GenieKey k1", b"geniekey k1", b"  GENIEKEY \t k1 \t", b"GenieKey  k1"]
)
def test_one_spelling_of_a_key(value: bytes) -> None:
    """Case of the scheme and ASCII spaces or tabs around the key do not change the key."""
    assert genie_key(connection(value)) == "k1"


@pytest.mark.parametrize("value", [b"", b"Bearer k1", b"Basic azE6"])
def test_no_genie_key(value: bytes) -> None:
    """No header, or another scheme: no key (the app decides; limits count the address)."""
    assert genie_key(connection(value) if value else connection()) is None


@pytest.mark.parametrize(
    "value",
    [
        "GenieKey k1\xa0".encode("latin-1"),
        "GenieKey \x85k1".encode("latin-1"),
        "GenieKey k1\u3000".encode(),
        b"GenieKey k1\x00",
        b"GenieKey k\x0b1",
        b"GenieKey k1 k2",
        b"GenieKey",
        b"GenieKey " + b"k" * 513,
    ],
)
def test_ambiguous_keys_are_401(value: bytes) -> None:
    """Non-ASCII, control or inner space characters, no key, or too long: 401, not a new key."""
    with pytest.raises(Unauthenticated):
        genie_key(connection(value))


def test_two_authorization_headers_are_401() -> None:
    """Two Authorization headers could be read two ways: 401."""
    with pytest.raises(Unauthenticated):
        genie_key(connection(b"GenieKey k1", b"GenieKey k2"))


def test_caller_is_recorded_on_the_connection() -> None:
    """set_caller records the verified caller; get_caller reads it back."""
    conn = connection()
    assert get_caller(conn) is None
    set_caller(conn, "account-1")
    assert get_caller(conn) == "account-1"
    with pytest.raises(ValueError, match="caller"):
        set_caller(conn, "")


@pytest.mark.anyio
async def test_unicode_spellings_of_a_key_do_not_multiply_its_quota() -> None:
    """Spellings of one key with Unicode spaces are 401s; the ASCII ones share one bucket."""
    app = authenticated_fastapi(RateLimit("5/minute"), {"k1": "alice"})
    spellings = ["k1", " k1", "k1 ", "\tk1", "k1\xa0", "\xa0k1", "k1\x85", "\x85k1"] * 2
    async with make_client(app) as client:
        codes = []
        for spelling in spellings:
            headers = [(b"authorization", b"GenieKey " + spelling.encode("latin-1"))]
            codes.append((await client.get("/alerts", headers=headers)).status_code)
        final = await client.get("/alerts", headers=key("k1"))
    assert codes.count(200) == 5
    assert codes.count(401) == 8
    assert final.status_code == 429
