"""Integration hooks: which are called, when, with what, and what a failing one does."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import ASGIApp, Scope

from opsgenie_envelope import EnvelopeConfig, EnvelopeMiddleware, Integration, get_request_id
from opsgenie_envelope._integration import prepare_integrations
from tests.support.apps import starlette_app
from tests.support.asgi import call_asgi, make_client

pytestmark = pytest.mark.anyio


class Recorder(Integration):
    """Records every hook call, with what the request looked like at that moment."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        self.exceptions: list[tuple[Exception, str]] = []

    def on_request(self, scope: Scope, request_id: str) -> None:
        self.requests.append((request_id, get_request_id()))

    def on_exception(self, exc: Exception, scope: Scope) -> None:
        self.exceptions.append((exc, scope["opsgenie_envelope.request_id"]))


class Refuses(Integration):
    """Refuses every app at start-up."""

    def check(self, app: ASGIApp) -> None:
        raise ValueError("refused: wrong order")


class FailsOnRequest(Integration):
    """Breaks every request."""

    def on_request(self, scope: Scope, request_id: str) -> None:
        raise RuntimeError("hook broke")


class FailsOnException(Integration):
    """Breaks while an exception is reported."""

    def on_exception(self, exc: Exception, scope: Scope) -> None:
        raise RuntimeError("hook broke")


async def _app(scope: Any, receive: Any, send: Any) -> None:
    """A do-nothing ASGI app."""


async def test_on_request_sees_the_issued_id() -> None:
    """``on_request`` gets the request's ID, already readable through ``get_request_id``."""
    recorder = Recorder()
    async with make_client(starlette_app(integrations=[recorder])) as client:
        response = await client.get("/v2/alerts/1")
    request_id = response.headers["x-request-id"]
    assert recorder.requests == [(request_id, request_id)]


async def test_on_request_runs_for_refused_and_excluded_requests() -> None:
    """Every answered request has an ID, so every one reaches ``on_request``."""
    recorder = Recorder()
    async with make_client(starlette_app(integrations=[recorder])) as client:
        refused = await client.get("/v2/alerts/1", headers={"accept": "text/html"})
        docs = await client.get("/docs")
    assert refused.status_code == 406
    assert [r[0] for r in recorder.requests] == [
        refused.headers["x-request-id"],
        docs.headers["x-request-id"],
    ]


async def test_on_exception_runs_before_the_500() -> None:
    """An unexpected exception reaches ``on_exception`` before anything is sent."""
    sent: list[Any] = []
    seen_when_called: list[int] = []

    class Watch(Integration):
        def on_exception(self, exc: Exception, scope: Scope) -> None:
            seen_when_called.append(len(sent))

    with pytest.raises(RuntimeError):
        await call_asgi(starlette_app(integrations=[Watch()]), "/fail/boom", sent=sent)
    assert seen_when_called == [0]
    assert sent[0]["status"] == 500


async def test_on_exception_gets_the_exception_and_its_request() -> None:
    """The hook receives the exception itself, raised in the request it names."""
    recorder = Recorder()
    async with make_client(starlette_app(integrations=[recorder])) as client:
        response = await client.get("/fail/boom")
    [(exc, request_id)] = recorder.exceptions
    assert isinstance(exc, RuntimeError)
    assert request_id == response.headers["x-request-id"]


@pytest.mark.parametrize("path", ["/fail/not-found", "/fail/http-exception", "/r/text-error"])
async def test_on_exception_skips_answered_errors(path: str) -> None:
    """Taxonomy and framework errors are answers, not failures: no hook call."""
    recorder = Recorder()
    async with make_client(starlette_app(integrations=[recorder])) as client:
        await client.get(path)
    assert recorder.exceptions == []


async def test_on_exception_skips_failures_after_the_response_started() -> None:
    """A stream failing mid-body goes on to the outer layers untouched: no hook call."""
    recorder = Recorder()
    with pytest.raises(RuntimeError):
        await call_asgi(starlette_app(integrations=[recorder]), "/r/stream-fails")
    assert recorder.exceptions == []


async def test_failing_on_request_answers_500_envelope() -> None:
    """A broken ``on_request`` fails its request like the app would: a 500 envelope."""
    async with make_client(starlette_app(integrations=[FailsOnRequest()])) as client:
        response = await client.get("/v2/alerts/1")
    assert response.status_code == 500
    assert response.json()["requestId"] == response.headers["x-request-id"]


async def test_failing_on_exception_still_answers_500(caplog: pytest.LogCaptureFixture) -> None:
    """A broken ``on_exception`` is logged as a warning; the 500 envelope still goes out."""
    async with make_client(starlette_app(integrations=[FailsOnException()])) as client:
        response = await client.get("/fail/boom")
    assert response.status_code == 500
    assert response.json()["message"] == "Internal Server Error"
    warnings = [r for r in caplog.records if r.name == "opsgenie_envelope"]
    assert [r.levelname for r in warnings] == ["WARNING"]


def test_only_overridden_hooks_are_called() -> None:
    """Hooks left as the base class's no-ops are not collected: they cost nothing."""
    on_request, on_exception = prepare_integrations((Integration(), FailsOnException()), _app)
    assert on_request == ()
    assert len(on_exception) == 1


def test_check_refuses_at_construction() -> None:
    """An integration's start-up check runs when the middleware is built."""
    with pytest.raises(ValueError, match="wrong order"):
        EnvelopeMiddleware(_app, integrations=[Refuses()])


@pytest.mark.parametrize("value", [Recorder(), "otel", [object()], None])
def test_bad_integrations_are_refused(value: object) -> None:
    """``integrations`` must be an iterable of ``Integration`` objects (TypeError names it)."""
    with pytest.raises(TypeError, match="integrations"):
        EnvelopeConfig(integrations=value)  # type: ignore[arg-type]


def test_integrations_are_kept_as_a_tuple() -> None:
    """Any iterable is accepted and stored as a tuple."""
    recorder = Recorder()
    assert EnvelopeConfig(integrations=iter([recorder])).integrations == (recorder,)
