"""Clients that lie, against a real uvicorn: made-up keys, huge bodies, guessed keys.

Memory is read from ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``) of the server process.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.processes import Served, memory_kib, serve

pytestmark = pytest.mark.server

MIB = 1024


@pytest.fixture
def demo() -> Iterator[Served]:
    """The Alerts API demo (in memory) behind uvicorn."""
    with serve("uvicorn", "examples.alerts.api:app", env={"ALERTS_RATE_LIMIT": "600"}) as running:
        yield running


def made_up_keys(url: str, count: int) -> list[int]:
    """``count`` requests, each with a fresh random GenieKey; their status codes."""
    with httpx.Client(base_url=url) as client:
        return [
            client.get(
                "/alerts", headers={"Authorization": f"GenieKey {secrets.token_hex(16)}"}
            ).status_code
            for _ in range(count)
        ]


def test_made_up_keys_share_one_bucket_over_uvicorn() -> None:
    """3,000 random GenieKeys before authentication: 50 answers, then 429 (one address)."""
    with serve("uvicorn", "tests.support.stateful:served_limit_app", ["--factory"]) as served:
        codes = made_up_keys(served.url, 3000)
    assert codes.count(200) == 50
    assert codes.count(429) == 2950


def test_memory_storage_stays_bounded_over_uvicorn() -> None:
    """Even keyed on every made-up value, the server's memory stops growing at max_keys."""
    environment = {"TEST_KEY": "header"}
    with serve(
        "uvicorn", "tests.support.stateful:served_limit_app", ["--factory"], environment
    ) as served:
        made_up_keys(served.url, 1000)  # fills the storage to its bound
        filled = memory_kib(served.pid)["VmRSS"]
        codes = made_up_keys(served.url, 3000)
        after = memory_kib(served.pid)["VmRSS"]
    assert codes.count(200) == 3000  # each made-up key is a bucket here, by design
    assert after - filled < 4 * MIB


def send_head(url: str, head: bytes, body_chunks: int = 0) -> tuple[bytes, int]:
    """Send ``head`` then up to ``body_chunks`` chunked 64 KiB chunks; the answer, chunks sent."""
    parts = urlsplit(url)
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head)
        chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
        try:
            for _ in range(body_chunks):
                sock.sendall(chunk)
                sent += 1
        except OSError:
            pass  # the server answered and closed: it will not read the rest
        answer = b""
        try:
            while part := sock.recv(65536):
                answer += part
                if b"\r\n\r\n" in answer:
                    break
        except OSError:
            pass
    return answer, sent


def test_huge_declared_body_is_413_before_it_is_read(demo: Served) -> None:
    """A 200 MiB Content-Length without a key: 413 at once, server memory unchanged."""
    before = memory_kib(demo.pid)["VmHWM"]
    head = (
        b"POST /v2/alerts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 209715200\r\n\r\n"
    )
    answer, _ = send_head(demo.url, head)
    after = memory_kib(demo.pid)["VmHWM"]
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert after - before < 4 * MIB


def test_huge_chunked_body_stops_at_the_limit(demo: Served) -> None:
    """200 MiB sent chunked: the app stops at the limit with a 413; server memory stays flat."""
    before = memory_kib(demo.pid)["VmHWM"]
    head = (
        b"POST /v2/alerts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    answer, _ = send_head(demo.url, head, body_chunks=3200)
    after = memory_kib(demo.pid)["VmHWM"]
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert after - before < 16 * MIB


def test_guessed_keys_are_throttled_over_uvicorn(demo: Served) -> None:
    """700 wrong keys from one address: 10 answers of 401, then 429."""
    with httpx.Client(base_url=demo.url) as client:
        codes = [
            client.get("/v2/alerts", headers={"Authorization": f"GenieKey guess-{n}"}).status_code
            for n in range(700)
        ]
    assert codes.count(401) == 10
    assert codes.count(429) == 690
