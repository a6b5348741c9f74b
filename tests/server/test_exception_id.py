"""The request ID an exception carries out of its request: the note and the attribute."""

from __future__ import annotations

import logging
import sys

import pytest
from starlette.types import Message

from opsgenie_envelope import RequestIdFilter, request_id_from_exception
from opsgenie_envelope._exception_id import tag_exception
from tests.support.apps import starlette_app
from tests.support.asgi import call_asgi, header

pytestmark = pytest.mark.anyio


def test_tag_adds_one_note_and_the_id() -> None:
    """A tagged exception has the note for tracebacks and the ID for code."""
    exc = RuntimeError("boom")
    tag_exception(exc, "req-1")
    assert exc.__notes__ == ["request_id: req-1"]
    assert request_id_from_exception(exc) == "req-1"


def test_tag_again_keeps_one_note() -> None:
    """An exception object raised again in a later request names only the latest request."""
    exc = RuntimeError("boom")
    exc.add_note("the app's own note")
    tag_exception(exc, "req-1")
    tag_exception(exc, "req-2")
    assert exc.__notes__ == ["the app's own note", "request_id: req-2"]
    assert request_id_from_exception(exc) == "req-2"


def test_wrapping_exception_leads_to_the_id() -> None:
    """An exception raised from a tagged one (``__cause__`` or ``__context__``) leads to it."""
    inner = ValueError("inner")
    tag_exception(inner, "req-1")
    outer = RuntimeError("outer")
    outer.__cause__ = inner
    assert request_id_from_exception(outer) == "req-1"


def test_untagged_exception_has_no_id() -> None:
    """An exception that never left a request, or none at all, gives ``None``."""
    assert request_id_from_exception(RuntimeError("x")) is None
    assert request_id_from_exception(None) is None


async def test_escaped_exception_carries_the_response_id() -> None:
    """The exception the server receives names the ID the client got."""
    sent: list[Message] = []
    with pytest.raises(RuntimeError) as caught:
        await call_asgi(starlette_app(), "/fail/boom", sent=sent)
    [request_id] = header(sent[0], b"x-request-id")
    assert request_id_from_exception(caught.value) == request_id.decode()


def test_log_filter_reads_the_exception_after_the_request() -> None:
    """A record about an escaped exception, logged outside the request, gets its ID."""
    exc = RuntimeError("boom")
    tag_exception(exc, "req-1")
    try:
        raise exc
    except RuntimeError:
        record = logging.LogRecord(
            "uvicorn.error", logging.ERROR, __file__, 1, "Exception", None, sys.exc_info()
        )
    assert RequestIdFilter().filter(record)
    assert record.request_id == "req-1"  # type: ignore[attr-defined]
