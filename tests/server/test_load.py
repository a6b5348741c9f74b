"""Load and isolation: thousands of concurrent requests keep their own IDs; memory stays flat."""

from __future__ import annotations

import asyncio
import gc
import logging
import tracemalloc
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opsgenie_envelope import EnvelopeMiddleware, RequestIdFilter, get_request_id, set_message
from tests.support.apps import starlette_app
from tests.support.asgi import make_client
from tests.support.server import running

CONCURRENCY = 2000
log = logging.getLogger("tests.load")


class Collect(logging.Handler):
    """Keeps (request_id stamped by the filter, message) of each record."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RequestIdFilter())
        self.seen: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.request_id, record.getMessage()))  # type: ignore[attr-defined]


def isolation_app() -> Starlette:
    """Each request logs and echoes its ID across several awaits, and sets a message on some."""

    async def echo(request: Request) -> Response:
        token = request.query_params["n"]
        first = get_request_id()
        for _ in range(3):
            await asyncio.sleep(0)
        log.info("token %s", token)
        if int(token) % 2:
            set_message(f"odd {token}")
        return JSONResponse({"n": token, "first": first, "last": get_request_id()})

    return Starlette(routes=[Route("/echo", echo)], middleware=[Middleware(EnvelopeMiddleware)])


def check(responses: list[httpx.Response], collected: Collect) -> None:
    """Every response has its own ID everywhere, and no state crossed to another request."""
    ids = [r.headers["x-request-id"] for r in responses]
    assert len(set(ids)) == len(responses)
    logged = {message.split()[1]: request_id for request_id, message in collected.seen}
    for response in responses:
        body = response.json()
        data = body["data"]
        assert (
            body["requestId"] == data["first"] == data["last"] == response.headers["x-request-id"]
        )
        assert logged[data["n"]] == body["requestId"]
        assert body.get("message") == (f"odd {data['n']}" if int(data["n"]) % 2 else None)


@pytest.fixture
def collected() -> Any:
    """Log records of ``tests.load`` with the filter's request ID."""
    handler = Collect()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield handler
    log.removeHandler(handler)


@pytest.mark.anyio
async def test_concurrent_requests_in_process(collected: Collect) -> None:
    """2,000 concurrent requests through one app: own ID in header, body, handler and log."""
    async with make_client(isolation_app()) as client:
        responses = await asyncio.wait_for(
            asyncio.gather(*(client.get("/echo", params={"n": i}) for i in range(CONCURRENCY))), 60
        )
    check(list(responses), collected)
    assert get_request_id() is None


async def fetch(port: int, n: int) -> httpx.Response:
    """One raw HTTP/1.1 request on its own connection (lighter than a pooled client)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /echo?n=%d HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % n)
        raw = await reader.read()
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [(name, value) for name, _, value in (line.partition(": ") for line in lines)]
    return httpx.Response(int(status_line.split()[1]), headers=headers, content=body)


@pytest.mark.server
def test_concurrent_requests_over_uvicorn(collected: Collect) -> None:
    """2,000 concurrent connections to uvicorn on 127.0.0.1: the same isolation holds."""

    async def run(port: int) -> list[httpx.Response]:
        requests = (fetch(port, i) for i in range(CONCURRENCY))
        return list(await asyncio.wait_for(asyncio.gather(*requests), 120))

    with running(isolation_app(), backlog=4096) as url:
        responses = asyncio.run(run(int(url.rsplit(":", 1)[1])))
    assert all(r.status_code == 200 for r in responses)
    check(responses, collected)


@pytest.mark.anyio
async def test_soak_memory_is_flat() -> None:
    """3,000 mixed requests (success, errors, 500s, streams) leave memory where it was."""
    paths = [
        "/v2/alerts/1",
        "/fail/not-found",
        "/fail/boom",
        "/r/stream",
        "/r/html",
        "/no/route",
        "/r/created",
    ]
    async with make_client(starlette_app()) as client:

        async def burst(count: int) -> None:
            for i in range(count):
                response = await client.get(paths[i % len(paths)])
                assert "x-request-id" in response.headers

        await burst(500)  # warm caches, pools and lazy imports
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            await burst(3000)
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
    assert after - before < 256 * 1024, f"grew by {after - before} bytes"
