"""Request ID generation and the allowlist for incoming IDs."""

from __future__ import annotations

import re
import uuid

import pytest

from opsgenie_envelope import is_valid_request_id, uuid4_hex


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
