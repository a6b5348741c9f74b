"""Property-based checks over request IDs, query strings and header values."""

from __future__ import annotations

import asyncio
import contextlib
import re

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.types import ASGIApp, Message

from opsgenie_envelope import is_valid_request_id
from tests.support.apps import fastapi_app, starlette_app
from tests.support.asgi import call_asgi

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
APPS: dict[str, ASGIApp] = {
    "starlette": starlette_app(trust_incoming_id=True),
    "fastapi": fastapi_app(trust_incoming_id=True),
}
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

header_bytes = st.binary(max_size=300)
paths = st.sampled_from(
    [
        "/v2/alerts/1",
        "/fail/not-found",
        "/fail/boom",
        "/r/stream",
        "/r/html",
        "/nowhere",
        "/r/text-error",
    ]
)
app_names = st.sampled_from(sorted(APPS))


def run(
    app: ASGIApp, path: str, headers: list[tuple[bytes, bytes]], query: bytes = b""
) -> list[Message]:
    """Drive the app once, directly over ASGI; exceptions re-raised for the server are ignored."""
    sent: list[Message] = []

    async def go() -> None:
        # "/fail/boom" is re-raised for the server after the 500 went out.
        with contextlib.suppress(RuntimeError):
            await call_asgi(app, path, headers=[(b"host", b"t"), *headers], query=query, sent=sent)

    asyncio.run(go())
    return sent


def check_response(sent: list[Message], incoming: bytes | None = None) -> str:
    """Exactly one start with safe headers and one ID; JSON bodies are valid envelopes."""
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1
    headers = starts[0]["headers"]
    for name, value in headers:
        assert b"\r" not in value
        assert b"\n" not in value
        assert b"\x00" not in value
        assert b"\r" not in name
        assert b"\n" not in name
    ids = [v.decode() for k, v in headers if k == b"x-request-id"]
    assert len(ids) == 1
    request_id: str = ids[0]
    if incoming is not None and request_id.encode() == incoming:
        assert is_valid_request_id(request_id)
    else:
        assert UUID4.fullmatch(request_id)
    content_type = [v for k, v in headers if k == b"content-type"]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if content_type and content_type[0].startswith(b"application/json"):
        envelope = orjson.loads(body)
        assert envelope["requestId"] == request_id
        assert isinstance(envelope["took"], float)
        assert ("data" in envelope) != ("message" in envelope and starts[0]["status"] >= 400)
    return request_id


@PROPERTY
@given(app_name=app_names, path=paths, incoming=header_bytes)
def test_any_incoming_request_id(app_name: str, path: str, incoming: bytes) -> None:
    """Any X-Request-ID bytes: a valid envelope with the ID validated or freshly issued."""
    sent = run(APPS[app_name], path, [(b"x-request-id", incoming)])
    check_response(sent, incoming)


@PROPERTY
@given(app_name=app_names, value=st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True))
def test_allowlisted_ids_are_kept(app_name: str, value: str) -> None:
    """Any allowlisted incoming ID is used as it is, in header and body."""
    sent = run(APPS[app_name], "/v2/alerts/1", [(b"x-request-id", value.encode())])
    assert check_response(sent, value.encode()) == value


@PROPERTY
@given(app_name=app_names, path=paths, query=st.binary(max_size=500))
def test_any_query_string(app_name: str, path: str, query: bytes) -> None:
    """Any query string: one response, safe headers, a valid envelope when JSON."""
    check_response(run(APPS[app_name], path, [], query))


@PROPERTY
@given(app_name=app_names, path=paths, accept=header_bytes, extra=header_bytes)
def test_any_header_values(app_name: str, path: str, accept: bytes, extra: bytes) -> None:
    """Arbitrary Accept and other header values never break the response or reach its headers."""
    marked = b"zq9" + extra  # the marker cannot occur in what the app sends by itself
    headers = [(b"accept", accept), (b"x-anything", marked), (b"content-type", marked)]
    sent = run(APPS[app_name], path, headers)
    check_response(sent)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert all(b"zq9" not in value for _, value in start["headers"])
    assert all(b"zq9" not in m.get("body", b"") for m in sent)
