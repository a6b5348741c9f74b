"""structlog: ``add_request_id`` puts the request's ID in every event, wherever it is logged.

Tested with structlog's own capture helper (``capture_logs``) and its ``ProcessorFormatter``
for the standard-library records a server writes.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
import structlog
from fastapi import BackgroundTasks, FastAPI
from structlog.testing import capture_logs
from structlog.typing import EventDict

from opsgenie_envelope import EnvelopeMiddleware
from opsgenie_envelope._exception_id import tag_exception
from opsgenie_envelope.structlog import add_request_id
from tests.support.asgi import make_client
from tests.support.server import running

pytestmark = pytest.mark.anyio

log = structlog.get_logger("tests.structlog")
CONCURRENCY = 50


def app() -> FastAPI:
    """Routes that log from an async handler, a sync handler and background tasks."""
    app = FastAPI()
    app.add_middleware(EnvelopeMiddleware)

    @app.get("/async")
    async def in_async(n: str) -> dict[str, str]:
        await asyncio.sleep(0)
        log.info("async handler", n=n)
        return {"n": n}

    @app.get("/sync")
    def in_sync(n: str) -> dict[str, str]:  # run in the thread pool
        log.info("sync handler", n=n)
        return {"n": n}

    def sync_task(n: str) -> None:
        log.info("sync background task", n=n)

    async def async_task(n: str) -> None:
        await asyncio.sleep(0)
        log.info("async background task", n=n)

    @app.get("/background")
    async def in_background(n: str, tasks: BackgroundTasks) -> dict[str, str]:
        tasks.add_task(sync_task, n)
        tasks.add_task(async_task, n)
        return {"n": n}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("database password is hunter2")

    return app


async def _served(path: str) -> tuple[dict[str, str], list[EventDict]]:
    """Serve ``CONCURRENCY`` concurrent requests; return each one's ID and the events."""
    with capture_logs(processors=[add_request_id]) as events:
        async with make_client(app()) as client:
            responses = await asyncio.gather(
                *(client.get(path, params={"n": str(n)}) for n in range(CONCURRENCY))
            )
    ids = {r.json()["data"]["n"]: r.headers["x-request-id"] for r in responses}
    return ids, events


@pytest.mark.parametrize("path", ["/async", "/sync"])
async def test_handler_events_carry_their_request_id(path: str) -> None:
    """Async and sync (thread-pool) handlers: each event has its own request's ID."""
    ids, events = await _served(path)
    assert len(events) == CONCURRENCY
    assert all(e["request_id"] == ids[e["n"]] for e in events)


async def test_background_task_events_carry_their_request_id() -> None:
    """Sync and async background tasks, run after the response, still log the request's ID."""
    ids, events = await _served("/background")
    assert len(events) == 2 * CONCURRENCY
    assert {e["event"] for e in events} == {"sync background task", "async background task"}
    assert all(e["request_id"] == ids[e["n"]] for e in events)


def test_outside_a_request_no_key_is_added() -> None:
    """No request, no exception: the event is left as it is."""
    with capture_logs(processors=[add_request_id]) as events:
        log.info("starting up")
        log.info("no exception here", exc_info=False)
    assert ["request_id" in e for e in events] == [False, False]


def test_explicit_request_id_is_kept() -> None:
    """An event that names its own ``request_id`` keeps it."""
    event = add_request_id(None, "info", {"event": "x", "request_id": "upstream-7"})
    assert event["request_id"] == "upstream-7"


@pytest.mark.parametrize("form", ["instance", "tuple", "true"])
def test_escaped_exception_gives_its_id(form: str) -> None:
    """After the request, ``exc_info`` in any of structlog's forms leads to the ID."""
    exc = RuntimeError("boom")
    tag_exception(exc, "req-1")
    try:
        raise exc
    except RuntimeError:
        exc_info = {"instance": exc, "tuple": sys.exc_info(), "true": True}[form]
        event = add_request_id(None, "error", {"event": "failed", "exc_info": exc_info})
    assert event["request_id"] == "req-1"


class Lines(logging.Handler):
    """Keeps each record as rendered by structlog's ProcessorFormatter (JSON)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=[add_request_id],
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(),
                ],
            )
        )
        self.lines: list[dict[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(orjson.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[Lines]:
    """uvicorn's records, rendered through structlog."""
    handler = Lines()
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(handler)
    yield handler
    uvicorn_log.removeHandler(handler)


def test_server_exception_record_has_request_id(lines: Lines) -> None:
    """uvicorn's "Exception in ASGI application", through ProcessorFormatter: the ID, once."""
    with running(app()) as url:
        response = httpx.get(f"{url}/boom")
        deadline = time.monotonic() + 5
        while not any("exception" in line for line in lines.lines):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.05)  # a second record, if any, would follow at once
    [failure] = [line for line in lines.lines if "exception" in line]
    assert failure["event"].startswith("Exception in ASGI application")
    assert failure["request_id"] == response.headers["x-request-id"]
    assert "RuntimeError: database password is hunter2" in failure["exception"]
