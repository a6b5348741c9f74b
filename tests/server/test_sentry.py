"""Sentry: every event of a request tagged with its ID; one event per exception, grouped.

Tested against the real sentry-sdk, initialised as an app would (its default integrations,
which wrap Starlette and FastAPI apps in Sentry's ASGI middleware), with a transport that
keeps what would be sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sentry_sdk
from fastapi import FastAPI
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.asgi import SentryAsgiMiddleware
from sentry_sdk.transport import Transport
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from opsgenie_envelope import EnvelopeMiddleware, request_id_from_exception
from opsgenie_envelope.sentry import SentryIntegration
from tests.support.asgi import make_client
from tests.support.server import running

pytestmark = pytest.mark.anyio

log = logging.getLogger("tests.sentry")


class Capture(Transport):
    """A Sentry transport that keeps every envelope instead of sending it."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []
        self.before_send_tags: list[dict[str, str]] = []
        self.hint_ids: list[str | None] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def items(self, kind: str) -> list[dict[str, Any]]:
        """The payloads of one kind: ``event`` (errors, messages) or ``transaction``."""
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == kind and item.payload.json is not None
        ]

    def before_send(self, event: Any, hint: Any) -> Any:
        """Keep what ``before_send`` can see of the request ID."""
        self.before_send_tags.append(dict(event.get("tags") or {}))
        exc_info = hint.get("exc_info")
        self.hint_ids.append(request_id_from_exception(exc_info[1] if exc_info else None))
        return event


@pytest.fixture
def sentry() -> Iterator[Capture]:
    """Sentry initialised with its defaults and tracing on; reset afterwards."""
    transport = Capture()
    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=transport,
        traces_sample_rate=1.0,
        before_send=transport.before_send,
    )
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


async def _boom(request: Request) -> Response:
    raise RuntimeError("database password is hunter2")


async def _report(request: Request) -> Response:
    sentry_sdk.capture_message("quota nearly used")
    log.error("payment provider slow")
    return JSONResponse({"ok": True})


ROUTES: list[BaseRoute] = [Route("/boom", _boom), Route("/report", _report)]


def starlette_app(**options: Any) -> Starlette:
    """A Starlette app with the middleware and the integration."""
    middleware = Middleware(EnvelopeMiddleware, integrations=[SentryIntegration()], **options)
    return Starlette(routes=ROUTES, middleware=[middleware])


def fastapi_app(**options: Any) -> FastAPI:
    """The same routes in FastAPI."""
    app = FastAPI(routes=ROUTES)
    app.add_middleware(EnvelopeMiddleware, integrations=[SentryIntegration()], **options)
    return app


@pytest.fixture(params=[starlette_app, fastapi_app], ids=["starlette", "fastapi"])
def make_app(request: pytest.FixtureRequest) -> Callable[..., ASGIApp]:
    """The sample app factory, once for Starlette and once for FastAPI."""
    factory: Callable[..., ASGIApp] = request.param
    return factory


async def test_exception_event_is_tagged(sentry: Capture, make_app: Callable[..., ASGIApp]) -> None:
    """The unhandled exception's event, captured after the 500, has ``request_id``."""
    async with make_client(make_app()) as client:
        response = await client.get("/boom")
    [event] = sentry.items("event")
    assert event["tags"]["request_id"] == response.headers["x-request-id"]


async def test_every_event_of_the_request_is_tagged(
    sentry: Capture, make_app: Callable[..., ASGIApp]
) -> None:
    """A message, a logged error and the transaction of one request all carry its ID."""
    async with make_client(make_app()) as client:
        response = await client.get("/report")
    events = sentry.items("event") + sentry.items("transaction")
    assert len(events) == 3
    assert {e["tags"]["request_id"] for e in events} == {response.headers["x-request-id"]}


async def test_exception_value_has_no_request_note(
    sentry: Capture, make_app: Callable[..., ASGIApp]
) -> None:
    """Two requests failing alike send the same exception value, type and frames: one issue."""
    async with make_client(make_app()) as client:
        first = await client.get("/boom")
        second = await client.get("/boom")
    exceptions = [e["exception"]["values"][-1] for e in sentry.items("event")]
    assert [e["value"] for e in exceptions] == ["database password is hunter2"] * 2
    assert exceptions[0]["type"] == exceptions[1]["type"] == "RuntimeError"
    frames = [[(f["function"], f["lineno"]) for f in e["stacktrace"]["frames"]] for e in exceptions]
    assert frames[0] == frames[1]
    tags = [e["tags"]["request_id"] for e in sentry.items("event")]
    assert tags == [first.headers["x-request-id"], second.headers["x-request-id"]]


async def test_other_notes_are_kept(sentry: Capture) -> None:
    """Only the request-ID note is removed; the app's own notes stay in the value."""

    async def noted(request: Request) -> Response:
        exc = RuntimeError("failed")
        exc.add_note("while charging card 42")
        raise exc

    app = Starlette(
        routes=[Route("/noted", noted)],
        middleware=[Middleware(EnvelopeMiddleware, integrations=[SentryIntegration()])],
    )
    async with make_client(app) as client:
        await client.get("/noted")
    [event] = sentry.items("event")
    assert event["exception"]["values"][-1]["value"] == "failed\nwhile charging card 42"


async def test_before_send_sees_the_request_id(sentry: Capture) -> None:
    """``before_send`` reads the ID from the event's tags and from the exception."""
    async with make_client(starlette_app()) as client:
        response = await client.get("/boom")
    request_id = response.headers["x-request-id"]
    assert [tags.get("request_id") for tags in sentry.before_send_tags] == [request_id]
    assert sentry.hint_ids == [request_id]


async def test_the_tag_does_not_outlive_the_request(sentry: Capture) -> None:
    """An event captured after the request has no ``request_id``."""
    async with make_client(starlette_app()) as client:
        await client.get("/report")
    sentry_sdk.capture_message("after the request")
    last = sentry.items("event")[-1]
    assert last["message"] == "after the request"
    assert "request_id" not in (last.get("tags") or {})


async def test_without_sentry_isolation_events_are_still_tagged(sentry: Capture) -> None:
    """Wrapped outside Sentry's middleware: the request's events are tagged, no scope is."""
    app = EnvelopeMiddleware(Starlette(routes=ROUTES), integrations=[SentryIntegration()])
    async with make_client(app) as client:
        report = await client.get("/report")
        boom = await client.get("/boom")
    sentry_sdk.capture_message("after the requests")
    tags = [(e.get("tags") or {}).get("request_id") for e in sentry.items("event")]
    ids = [report.headers["x-request-id"], boom.headers["x-request-id"]]
    assert tags == [ids[0], ids[0], ids[1], None]


def test_one_event_per_exception_over_uvicorn(sentry: Capture) -> None:
    """Behind uvicorn, which also logs the exception: still exactly one error event."""
    with running(fastapi_app()) as url:
        response = httpx.get(f"{url}/boom")
        deadline = time.monotonic() + 5
        while not sentry.items("event") and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # a second event, if any, would follow the log record at once
    [event] = sentry.items("event")
    assert event["tags"]["request_id"] == response.headers["x-request-id"]


async def test_sentry_middleware_inside_is_refused() -> None:
    """SentryAsgiMiddleware inside EnvelopeMiddleware: refused when the middleware is built."""
    inner = SentryAsgiMiddleware(Starlette(routes=ROUTES))
    with pytest.raises(ValueError, match="SentryAsgiMiddleware sits inside EnvelopeMiddleware"):
        EnvelopeMiddleware(inner, integrations=[SentryIntegration()])
