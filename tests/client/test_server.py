"""The client against a real ``uvicorn`` on 127.0.0.1: round trips, retries, paging."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from opsgenie_envelope import TooManyRequests
from opsgenie_envelope.client import (
    ApiError,
    AsyncClient,
    Client,
    NotAnEnvelope,
    NotFound,
    RetriesExhausted,
    Retry,
)
from tests.support.client_app import TAXONOMY, FakeTime, assert_round_trip, behind_proxy, client_app

pytestmark = [pytest.mark.anyio, pytest.mark.server]


@dataclass
class Served:
    """A running server: its base URL and the app behind it."""

    url: str
    app: Starlette


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """``client_app`` (trusting incoming IDs) behind a proxy, served by uvicorn."""
    app = client_app(trust_incoming_id=True)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(behind_proxy(app), lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    host, port = sock.getsockname()
    yield Served(f"http://{host}:{port}", app)
    server.should_exit = True
    thread.join(10)
    sock.close()


def client(served: Served, fake: FakeTime, **options: object) -> Client:
    """A sync client on the server, sleeping on ``fake``."""
    return Client(
        base_url=served.url,
        sleep=fake.sleep,
        clock=fake.clock,
        **options,  # type: ignore[arg-type]
    )


def closed_port_url() -> str:
    """The URL of a local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        host, port = sock.getsockname()
    return f"http://{host}:{port}"


def test_success_over_http(served: Served) -> None:
    """A GET returns the envelope with the ID and time the server sent."""
    with client(served, FakeTime()) as c:
        envelope = c.get("/echo", expand=["contact"])
    assert envelope.data["query"] == {"expand": "contact"}
    assert envelope.request_id == envelope.headers["x-request-id"]
    assert envelope.took == float(envelope.headers["x-response-time"])


@pytest.mark.parametrize("name", sorted(TAXONOMY))
def test_taxonomy_round_trips_over_http(served: Served, name: str) -> None:
    """Each error the server raises comes back as the same class with the same fields."""
    with client(served, FakeTime(), retry=None) as c, pytest.raises(ApiError) as info:
        c.post(f"/raise/{name}")
    assert_round_trip(name, info.value)


def test_head_error_has_no_body_and_still_round_trips(served: Served) -> None:
    """Over real HTTP a HEAD error has no body; the client still raises ``NotFound``."""
    with client(served, FakeTime()) as c, pytest.raises(NotFound) as info:
        c.head("/raise/NotFound")
    assert info.value.response.content == b""
    assert info.value.request_id == info.value.headers["x-request-id"]


def test_503_503_200_over_http(served: Served) -> None:
    """Two 503s then a 200 succeed on the third attempt."""
    fake = FakeTime()
    with client(served, fake) as c:
        envelope = c.get("/flaky", params={"key": "server-1", "fail": 2})
    assert envelope.data == {"attempt": 3}
    assert len(fake.sleeps) == 2


async def test_persistent_429_stops_at_budget_over_http(served: Served) -> None:
    """A 429 that never ends stops at the budget, carrying the last ``TooManyRequests``."""
    fake = FakeTime()
    async with AsyncClient(
        base_url=served.url,
        retry=Retry(attempts=50, budget=5.0),
        sleep=fake.async_sleep,
        clock=fake.clock,
    ) as c:
        with pytest.raises(RetriesExhausted) as info:
            await c.get("/flaky", params={"key": "server-2", "fail": 1000, "retry_after": 2})
    assert fake.sleeps == [2.0, 2.0]
    assert isinstance(info.value.last_error, TooManyRequests)
    assert served.app.state.hits["/flaky:server-2"] == 3


def test_refused_connection_is_retried_for_get() -> None:
    """A GET to a port nothing listens on is retried, then gives up with the connect error."""
    fake = FakeTime()
    c = Client(
        base_url=closed_port_url(), retry=Retry(attempts=3), sleep=fake.sleep, clock=fake.clock
    )
    with c, pytest.raises(RetriesExhausted) as info:
        c.get("/v2/alerts")
    assert isinstance(info.value.last_error, httpx.ConnectError)
    assert info.value.attempts == 3
    assert len(fake.sleeps) == 2


def test_refused_connection_is_not_retried_for_post() -> None:
    """A POST to a port nothing listens on raises the connect error at once."""
    fake = FakeTime()
    c = Client(base_url=closed_port_url(), sleep=fake.sleep, clock=fake.clock)
    with c, pytest.raises(httpx.ConnectError):
        c.post("/v2/alerts", json={"message": "x"})
    assert fake.sleeps == []


def test_proxy_page_over_http(served: Served) -> None:
    """A proxy's HTML 502 raises ``NotAnEnvelope`` with the status and the page's start."""
    with client(served, FakeTime()) as c, pytest.raises(NotAnEnvelope) as info:
        c.get("/proxy-down")
    assert info.value.status_code == 502
    assert "<h1>502 Bad Gateway</h1>" in info.value.excerpt
    assert "502 Bad Gateway" in str(info.value)


def test_paginate_over_http(served: Served) -> None:
    """Paging follows the server's absolute ``next`` links to the last page."""
    with client(served, FakeTime()) as c:
        items = list(c.paginate("/v2/alerts", params={"total": 5, "limit": 2}))
    assert items == [{"n": n} for n in range(5)]


async def test_own_request_id_over_http(served: Served) -> None:
    """The caller's ``X-Request-ID`` reaches a trusting server and comes back as the ID."""
    async with AsyncClient(base_url=served.url, request_id=lambda: "trace-4bf92f3577b34da6") as c:
        envelope = await c.get("/echo")
    assert envelope.data["requestIdHeader"] == "trace-4bf92f3577b34da6"
    assert envelope.request_id == "trace-4bf92f3577b34da6"
