"""JSON that is not JSON: JSON Lines labelled ``application/json`` are never presented as an
envelope. Seen before the envelope opens, they pass through untouched; seen after, the
connection is aborted rather than a broken body closed as a complete one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Message

from opsgenie_envelope import EnvelopeMiddleware
from opsgenie_envelope._render import (
    chunk_end,
    continues_json_lines,
    holds_json_lines,
    opens_json_lines,
)
from tests.support.asgi import call_asgi, make_client
from tests.support.server import running

pytestmark = pytest.mark.anyio

LINES = [b'{"id":"1","status":"open"}\n', b'{"id":"2","status":"closed"}\n']
JSON = "application/json"
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_one_pretty_printed_value_never_reads_as_json_lines(value: Any) -> None:
    """Any JSON value, however indented, is one value: never taken for JSON Lines."""
    assert not holds_json_lines(json.dumps(value, indent=2).encode())


@given(st.lists(json_values, min_size=2, max_size=4))
def test_values_on_lines_read_as_json_lines(values: list[Any]) -> None:
    """Two or more compact values one per line are JSON Lines."""
    lines = (json.dumps(v, separators=(",", ":")).encode() for v in values)
    assert holds_json_lines(b"\n".join(lines) + b"\n")


def test_first_chunk_that_is_a_whole_line_opens_json_lines() -> None:
    """A stream whose first chunk is one object and a newline reads as JSON Lines."""
    assert opens_json_lines(LINES[0])
    assert opens_json_lines(b'{"id":"1"}\n{"id":"2"}')  # two lines in the first chunk
    assert not opens_json_lines(b'[{"id":"1"},\n')
    assert not opens_json_lines(b"{\n")


def test_json_lines_across_two_chunks_are_seen() -> None:
    """A value ending one chunk and another starting the next, a newline between, are seen."""
    assert continues_json_lines(chunk_end(b'{"id":"1"}'), b'\n{"id":"2"}')
    assert not continues_json_lines(chunk_end(b'{"id":"1"}'), b',\n{"id":"2"}')


def _streaming(chunks: Iterable[bytes], media_type: str = JSON) -> Starlette:
    """An app that streams ``chunks`` at /s and sends them whole at /w, behind the envelope."""
    parts = list(chunks)

    async def generate() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    async def stream(request: Request) -> Response:
        return StreamingResponse(generate(), media_type=media_type)

    async def whole(request: Request) -> Response:
        return Response(b"".join(parts), media_type=media_type)

    return Starlette(
        routes=[Route("/s", stream), Route("/w", whole)],
        middleware=[Middleware(EnvelopeMiddleware)],
    )


async def test_whole_json_lines_body_is_untouched() -> None:
    """A whole JSON Lines body labelled JSON goes out as the app sent it, headers added."""
    async with make_client(_streaming(LINES)) as client:
        response = await client.get("/w")
    assert response.status_code == 200
    assert response.content == b"".join(LINES)
    assert response.headers["content-length"] == str(len(b"".join(LINES)))
    assert response.headers["x-request-id"]


async def test_streamed_json_lines_are_untouched() -> None:
    """A stream of JSON lines labelled JSON passes through untouched."""
    async with make_client(_streaming(LINES)) as client:
        response = await client.get("/s")
    assert response.status_code == 200
    assert response.content == b"".join(LINES)
    assert response.headers["x-response-time"]


async def test_pretty_printed_stream_is_wrapped() -> None:
    """A JSON document streamed line by line, indented, is still one value: wrapped."""
    document = json.dumps([{"id": "1", "tags": ["a", "b"]}, {"id": "2"}], indent=2)
    chunks = [line.encode() + b"\n" for line in document.split("\n")]
    async with make_client(_streaming(chunks)) as client:
        response = await client.get("/s")
    assert response.json()["data"] == json.loads(document)


async def test_ndjson_media_type_is_untouched() -> None:
    """``application/x-ndjson`` is passed through, as every non-JSON type is."""
    async with make_client(_streaming(LINES, "application/x-ndjson")) as client:
        response = await client.get("/s")
    assert response.content == b"".join(LINES)


async def _aborted(chunks: list[bytes]) -> tuple[list[Message], BaseException]:
    """Stream ``chunks`` through the envelope; return what was sent and what was raised."""
    sent: list[Message] = []
    with pytest.raises(RuntimeError) as raised:
        await call_asgi(_streaming(chunks), "/s", sent=sent)
    return sent, raised.value


async def test_json_lines_seen_after_opening_abort_the_body() -> None:
    """Lines that show only after the envelope opened stop the body unfinished."""
    sent, error = await _aborted([b'{"id":', b'"1"}\n{"id":"2"}\n'])
    assert "holds JSON Lines" in str(error)
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert bodies[-1]["more_body"] is True
    assert any(note.startswith("request_id: ") for note in error.__notes__)


async def test_json_lines_split_between_chunks_abort_the_body() -> None:
    """A newline between two chunks' values is JSON Lines too: the body is not closed."""
    sent, error = await _aborted([b'{"id":"1"}', b'\n{"id":"2"}'])
    assert "holds JSON Lines" in str(error)
    assert all(m.get("more_body") for m in sent if m["type"] == "http.response.body")


async def test_stream_ending_in_text_aborts_the_body() -> None:
    """A stream labelled JSON that does not end as JSON is not closed as an envelope."""
    _, error = await _aborted([b"[1,", b"2] and then some text"])
    assert "does not end as JSON" in str(error)


@pytest.mark.server
def test_real_server_aborts_the_connection() -> None:
    """Behind uvicorn the client sees an incomplete body, never a complete envelope."""
    app = _streaming([b'{"id":', b'"1"}\n{"id":"2"}\n'])
    with running(app) as url, pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{url}/s", timeout=5)
