"""Conformance behind real servers started on 127.0.0.1: uvicorn, hypercorn and granian."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from tests.support.processes import Served, available, serve

pytestmark = pytest.mark.server

SERVERS = [s for s in ("uvicorn", "hypercorn", "granian") if available(s)]


@pytest.fixture(scope="module", params=SERVERS)
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    """The sample Starlette app behind each installed server."""
    with serve(request.param, "tests.support.served:starlette") as running:
        yield running


def raw(url: str, request: bytes) -> bytes:
    """Send raw bytes, read until the server closes."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(request)
        data = []
        while chunk := sock.recv(65536):
            data.append(chunk)
    return b"".join(data)


def test_uvicorn_and_hypercorn_are_covered() -> None:
    """The two required servers are installed (granian joins when it installs)."""
    assert {"uvicorn", "hypercorn"} <= set(SERVERS)


def test_success_envelope(served: Served) -> None:
    """Success: envelope, both headers, exact Content-Length."""
    response = httpx.get(f"{served.url}/v2/alerts/1")
    body = response.json()
    assert body["requestId"] == response.headers["x-request-id"] == body["data"]["seen"]
    assert str(body["took"]) == response.headers["x-response-time"]
    assert int(response.headers["content-length"]) == len(response.content)


def test_error_envelope(served: Served) -> None:
    """Raised error and router 404: error envelopes with both headers."""
    raised = httpx.get(f"{served.url}/fail/not-found")
    missing = httpx.get(f"{served.url}/nowhere")
    assert (raised.status_code, raised.json()["message"]) == (404, "Alert does not exist")
    assert missing.json()["message"] == "Resource or handler not found"
    assert raised.headers["x-request-id"] != missing.headers["x-request-id"]


def test_head(served: Served) -> None:
    """HEAD: the GET's headers, no body."""
    get = httpx.get(f"{served.url}/r/list")
    answer = raw(served.url, b"HEAD /r/list HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = dict(line.lower().split(b": ", 1) for line in head.split(b"\r\n")[1:])
    assert answer.startswith(b"HTTP/1.1 200")
    # Each answer carries its own ``took`` ("0.0", "0.001"): only its width may differ.
    took_width = len(lines[b"x-response-time"]) - len(get.headers["x-response-time"])
    assert int(lines[b"content-length"]) == int(get.headers["content-length"]) + took_width
    assert b"x-request-id" in lines
    assert body == b""


def test_stream(served: Served) -> None:
    """A streamed JSON body arrives as one valid envelope."""
    response = httpx.get(f"{served.url}/r/stream")
    assert response.json()["data"] == [{"n": 1}, {"n": 2}]


def test_non_json_pass_through(served: Served) -> None:
    """HTML passes untouched, with the headers."""
    response = httpx.get(f"{served.url}/r/html")
    assert response.text == "<h1>hello</h1>"
    assert "x-request-id" in response.headers


def test_unhandled_exception(served: Served) -> None:
    """A 500 envelope without exception text; the server logs the traceback once."""
    before = len(served.output())
    response = httpx.get(f"{served.url}/fail/boom")
    assert response.status_code == 500
    assert "hunter2" not in response.text
    deadline = time.monotonic() + 5
    while (
        "RuntimeError: database password" not in served.output()[before:]
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    time.sleep(0.1)
    logged = served.output()[before:]
    assert logged.count("RuntimeError: database password") == 1
    assert logged.count("Traceback (most recent call last)") == 1


@pytest.mark.parametrize("server", [s for s in SERVERS if s != "granian"])
def test_server_log_names_the_request(server: str) -> None:
    """Servers that print exception notes (uvicorn, hypercorn) show the request ID in that log."""
    with serve(server, "tests.support.served:starlette") as running:
        response = httpx.get(f"{running.url}/fail/boom")
        marker = f"request_id: {response.headers['x-request-id']}"
        deadline = time.monotonic() + 5
        while marker not in running.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.output().count(marker) == 1


def test_mid_stream_failure_is_not_presented_complete(served: Served) -> None:
    """A stream failing mid-body is cut off: the client never gets a complete envelope."""
    try:
        response = httpx.get(f"{served.url}/r/stream-fails")
    except httpx.HTTPError:
        return  # the connection was aborted
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)
