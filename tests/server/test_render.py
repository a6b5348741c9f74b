"""The pure rendering functions, without ASGI."""

from __future__ import annotations

import orjson
import pytest

from opsgenie_envelope._render import (
    DATA_PREFIX,
    format_took,
    no_entity,
    render_error,
    render_extras,
    splice_whole,
    success_suffix,
)


def _envelope(payload: bytes, extras: dict[str, object] | None = None) -> bytes:
    """A success envelope composed as the middleware splices it."""
    return DATA_PREFIX + payload + success_suffix(render_extras(extras), b"0.005", b"rid")


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.0, b"0.0"),
        (0.0004, b"0.0"),
        (0.0049, b"0.005"),
        (0.302, b"0.302"),
        (1.5, b"1.5"),
        (12.34567, b"12.346"),
        (-0.1, b"0.0"),
    ],
)
def test_format_took(seconds: float, expected: bytes) -> None:
    """``took`` is rounded to 3 decimals and always has a decimal point."""
    assert format_took(seconds) == expected


def test_payload_is_spliced_as_bytes() -> None:
    """The payload bytes are spliced as they are, with no re-serialisation."""
    body = _envelope(b'{"b":1,  "a":2}')
    assert body == b'{"data":{"b":1,  "a":2},"took":0.005,"requestId":"rid"}'


def test_render_extras_order() -> None:
    """Optional keys follow SPEC order whatever order they were set in."""
    extras = {"totalCount": 3, "paging": {"next": "u"}, "expandable": ["contact"], "message": "hi"}
    body = orjson.loads(_envelope(b"[]", extras))
    assert list(body) == [
        "data",
        "message",
        "expandable",
        "paging",
        "totalCount",
        "took",
        "requestId",
    ]


def test_render_extras_skips_none() -> None:
    """Keys without a value are left out."""
    assert render_extras({"message": None, "paging": None}) == b""
    assert render_extras(None) == b""


@pytest.mark.parametrize(
    ("key", "expected"),
    [("message", ["message"]), ("result", ["result"]), ("both", ["message", "result"])],
)
def test_render_extras_message_key(key: str, expected: list[str]) -> None:
    """The message renders under ``message``, ``result`` or both."""
    rendered = orjson.loads(b"{" + render_extras({"message": "m"}, key)[1:] + b"}")  # type: ignore[arg-type]
    assert list(rendered) == expected


def test_message_is_escaped() -> None:
    """A message with quotes and newlines stays valid JSON."""
    body = _envelope(b"1", {"message": 'say "hi"\n'})
    assert orjson.loads(body)["message"] == 'say "hi"\n'


def test_success_suffix() -> None:
    """The suffix closes the envelope."""
    assert success_suffix(b"", b"0.1", b"id") == b',"took":0.1,"requestId":"id"}'


def test_splice_whole_is_prefix_payload_and_suffix() -> None:
    """One whole body's envelope, in one join, is the prefix, the payload and the suffix."""
    extras = render_extras({"message": "Created"})
    assert splice_whole(b"[1]", extras, b"0.1", b"id") == (
        DATA_PREFIX + b"[1]" + success_suffix(extras, b"0.1", b"id")
    )


def test_render_error_order_and_optional_keys() -> None:
    """Errors render code, message, errors, took, requestId; absent keys are left out."""
    full = orjson.loads(render_error("m", b"0.001", b"r", code=40301, errors={"f": "bad"}))
    assert list(full) == ["code", "message", "errors", "took", "requestId"]
    bare = orjson.loads(render_error("m", b"0.001", b"r"))
    assert list(bare) == ["message", "took", "requestId"]


def test_render_error_escapes_message() -> None:
    """Error messages are JSON-escaped."""
    assert orjson.loads(render_error('a"b</script>', b"0.0", b"r"))["message"] == 'a"b</script>'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", True),
        (b"null", True),
        (b" \r\n null \t", True),
        (b"   ", True),
        (b"[null]", False),
        (b'"null"', False),
        (b"0", False),
        (b"nullnull", False),
        (b" " * 64 + b"null", False),
    ],
)
def test_no_entity_is_empty_blank_or_null(body: bytes, expected: bool) -> None:
    """Only an empty, blank or ``null`` body is no entity; anything else is spliced."""
    assert no_entity(body) is expected


def test_envelope_of_no_entity_is_the_suffix_without_its_comma() -> None:
    """``{`` and the suffix without its leading comma is a valid envelope without ``data``."""
    suffix = success_suffix(render_extras({"message": "Request will be processed"}), b"0.1", b"r")
    assert orjson.loads(b"{" + suffix[1:]) == {
        "message": "Request will be processed",
        "took": 0.1,
        "requestId": "r",
    }
