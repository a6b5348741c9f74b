"""The per-request context: reading the ID and setting envelope extras."""

from __future__ import annotations

import pytest

from opsgenie_envelope import get_request_id, set_message
from opsgenie_envelope._context import set_envelope_field


def test_get_request_id_outside_request_is_none() -> None:
    """Outside a request there is no ID."""
    assert get_request_id() is None


def test_set_message_outside_request_raises() -> None:
    """``set_message`` outside a request says why it cannot work."""
    with pytest.raises(RuntimeError, match="no request"):
        set_message("hello")


def test_set_envelope_field_outside_request_raises() -> None:
    """Setting an envelope field outside a request raises."""
    with pytest.raises(RuntimeError, match="no request"):
        set_envelope_field("totalCount", 1)


def test_set_message_requires_text() -> None:
    """A non-string message is a TypeError."""
    with pytest.raises(TypeError, match="str"):
        set_message(42)  # type: ignore[arg-type]
