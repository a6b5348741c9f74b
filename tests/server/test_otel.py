"""OpenTelemetry: request IDs on server spans, exceptions recorded on them, trace-derived IDs.

Tested against the real SDK (in-memory span exporter) and the real ASGI/FastAPI
instrumentation, in every order the server span can take around the middleware.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import NoOpTracerProvider, SpanKind, StatusCode
from starlette.types import ASGIApp, Message

from opsgenie_envelope import EnvelopeMiddleware, is_valid_request_id
from opsgenie_envelope.otel import OpenTelemetryIntegration, TraceContextFilter, trace_request_id
from tests.support.apps import fastapi_app, starlette_app
from tests.support.asgi import make_client

pytestmark = pytest.mark.anyio

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = {"traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-01"}

ORDERS = ["instrument_app", "add_middleware_after", "wrapping_starlette"]
"""Where the server span starts: FastAPIInstrumentor, OpenTelemetryMiddleware added after
EnvelopeMiddleware (so outside it), or OpenTelemetryMiddleware wrapping a Starlette app."""

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))

Build = Callable[..., ASGIApp]


@pytest.fixture
def build(request: pytest.FixtureRequest) -> Iterator[Build]:
    """Builds the sample app with the middleware's ``options``, traced in one order."""
    exporter.clear()
    instrumented: list[FastAPI] = []

    def make(**options: object) -> ASGIApp:
        if request.param == "wrapping_starlette":
            return OpenTelemetryMiddleware(starlette_app(**options), tracer_provider=provider)
        app = fastapi_app(**options)
        if request.param == "instrument_app":
            FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
            instrumented.append(app)
        else:
            app.add_middleware(OpenTelemetryMiddleware, tracer_provider=provider)
        return app

    yield make
    for app in instrumented:  # also restores the BackgroundTask it patched
        FastAPIInstrumentor.uninstrument_app(app)


def server_spans() -> list[ReadableSpan]:
    """The finished server spans, oldest first."""
    return [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]


def hex_ids(span: ReadableSpan) -> tuple[str, str]:
    """The span's trace ID and span ID, in hex."""
    context = span.get_span_context()
    assert context is not None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def integrated(build: Build, **options: object) -> ASGIApp:
    """The sample app with the OpenTelemetry integration and trace-derived IDs."""
    return build(integrations=[OpenTelemetryIntegration()], generator=trace_request_id, **options)


@pytest.mark.parametrize("build", ORDERS, indirect=True)
@pytest.mark.parametrize("path", ["/v2/alerts/1", "/fail/not-found", "/fail/boom", "/nowhere"])
async def test_server_span_has_the_request_id(build: Build, path: str) -> None:
    """Every request's server span carries ``request_id``: success, errors, 500s, 404s."""
    async with make_client(integrated(build)) as client:
        response = await client.get(path)
    [span] = server_spans()
    assert span.attributes is not None
    assert span.attributes["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("build", ORDERS, indirect=True)
async def test_unhandled_exception_is_recorded_on_the_server_span(build: Build) -> None:
    """One ``exception`` event and an ERROR status, on the span that also shows the 500."""
    async with make_client(integrated(build)) as client:
        response = await client.get("/fail/boom")
    assert response.status_code == 500
    assert response.json()["message"] == "Internal Server Error"
    [span] = server_spans()
    events = [e for e in span.events if e.name == "exception"]
    assert len(events) == 1
    assert events[0].attributes is not None
    assert events[0].attributes["exception.type"] == "RuntimeError"
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None
    assert 500 in (
        span.attributes.get("http.status_code"),
        span.attributes.get("http.response.status_code"),
    )


async def test_exception_in_a_mounted_app_is_recorded_on_the_server_span() -> None:
    """A mounted app's own 500 is held back, so its exception is recorded before ours goes out."""
    exporter.clear()
    parent = FastAPI()
    sub = FastAPI()

    @sub.get("/boom")
    async def boom() -> None:
        raise RuntimeError("mounted failure")

    parent.mount("/sub", sub)  # a whole app: its ServerErrorMiddleware answers a plain 500
    parent.add_middleware(EnvelopeMiddleware, integrations=[OpenTelemetryIntegration()])
    parent.add_middleware(OpenTelemetryMiddleware, tracer_provider=provider)
    async with make_client(parent) as client:
        response = await client.get("/sub/boom")
    assert response.status_code == 500
    assert response.json()["message"] == "Internal Server Error"
    [span] = server_spans()
    events = [e for e in span.events if e.name == "exception"]
    assert len(events) == 1
    assert events[0].attributes is not None
    assert events[0].attributes["exception.type"] == "RuntimeError"
    assert span.attributes is not None
    assert span.attributes["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("build", ORDERS, indirect=True)
async def test_answered_errors_record_no_exception(build: Build) -> None:
    """A taxonomy error is an answer (404), not a failure: no exception event."""
    async with make_client(integrated(build)) as client:
        await client.get("/fail/not-found")
    [span] = server_spans()
    assert [e for e in span.events if e.name == "exception"] == []


@pytest.mark.parametrize("build", ["add_middleware_after"], indirect=True)
async def test_mid_stream_failure_is_recorded_once(build: Build) -> None:
    """After the response started, OpenTelemetry's own layer records it: once, not twice."""
    async with make_client(integrated(build)) as client:
        response = await client.get("/r/stream-fails")
    assert response.content == b'{"data":[{"n":1},'  # cut off: the connection would abort
    [span] = server_spans()
    assert len([e for e in span.events if e.name == "exception"]) == 1


@pytest.mark.parametrize("build", ORDERS, indirect=True)
async def test_trace_request_id_is_the_server_span(build: Build) -> None:
    """The ID is ``<trace id>-<span id>`` of the request's own server span."""
    async with make_client(integrated(build)) as client:
        response = await client.get("/v2/alerts/1")
    [span] = server_spans()
    assert response.headers["x-request-id"] == "-".join(hex_ids(span))
    assert is_valid_request_id(response.headers["x-request-id"])


@pytest.mark.parametrize("build", ORDERS, indirect=True)
async def test_shared_traceparent_still_gives_unique_ids(build: Build) -> None:
    """Two requests continuing one incoming trace share its trace ID, never a request ID."""
    async with make_client(integrated(build), headers=TRACEPARENT) as client:
        first = await client.get("/v2/alerts/1")
        second = await client.get("/v2/alerts/1")
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert ids[0] != ids[1]
    assert all(i.startswith(f"{TRACE_ID}-") for i in ids)


async def test_trace_request_id_without_a_span_is_a_uuid() -> None:
    """No instrumentation: a UUID4, never the all-zero context."""
    async with make_client(starlette_app(generator=trace_request_id)) as client:
        response = await client.get("/v2/alerts/1", headers=TRACEPARENT)
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 36
    assert request_id[14] == "4"
    assert "0" * 16 not in request_id


async def test_trace_request_id_refuses_the_callers_span() -> None:
    """With no SDK, the current span is the remote caller's: a UUID4, not its shared IDs."""
    app = OpenTelemetryMiddleware(
        starlette_app(generator=trace_request_id), tracer_provider=NoOpTracerProvider()
    )
    async with make_client(app, headers=TRACEPARENT) as client:
        first = await client.get("/v2/alerts/1")
        second = await client.get("/v2/alerts/1")
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert ids[0] != ids[1]
    assert not any(TRACE_ID in i for i in ids)


async def test_sampled_out_request_keeps_a_trace_derived_id() -> None:
    """A span the sampler drops still has its own IDs: the request ID uses them; no attribute."""
    unsampled = TracerProvider(sampler=ALWAYS_OFF)
    unsampled.add_span_processor(SimpleSpanProcessor(exporter))
    exporter.clear()
    app = OpenTelemetryMiddleware(
        starlette_app(integrations=[OpenTelemetryIntegration()], generator=trace_request_id),
        tracer_provider=unsampled,
    )
    async with make_client(app, headers=TRACEPARENT) as client:
        first = await client.get("/fail/boom")
        second = await client.get("/fail/boom")
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert ids[0] != ids[1]
    assert all(i.startswith(f"{TRACE_ID}-") for i in ids)
    assert exporter.get_finished_spans() == ()


async def _start_up(app: ASGIApp) -> None:
    """Send the app the lifespan start-up event, as a server does before any request."""
    events: list[Message] = [{"type": "lifespan.startup"}]

    async def receive() -> Message:
        return events.pop(0) if events else {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        return None

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)


async def test_otel_middleware_inside_is_refused_at_start_up() -> None:
    """OpenTelemetryMiddleware added before EnvelopeMiddleware (inside it): start-up fails."""
    app = FastAPI()
    app.add_middleware(OpenTelemetryMiddleware, tracer_provider=provider)
    app.add_middleware(EnvelopeMiddleware, integrations=[OpenTelemetryIntegration()])
    with pytest.raises(ValueError, match="OpenTelemetryMiddleware sits inside EnvelopeMiddleware"):
        await _start_up(app)


async def test_otel_middleware_outside_starts_up() -> None:
    """The same two layers the other way round start up."""
    app = FastAPI()
    app.add_middleware(EnvelopeMiddleware, integrations=[OpenTelemetryIntegration()])
    app.add_middleware(OpenTelemetryMiddleware, tracer_provider=provider)
    await _start_up(app)


@pytest.mark.parametrize("build", ["instrument_app"], indirect=True)
async def test_log_records_carry_request_and_trace_ids(
    build: Build, caplog: pytest.LogCaptureFixture
) -> None:
    """``TraceContextFilter``: a handler's record has the request ID and the span's trace."""
    log_filter = TraceContextFilter()
    caplog.handler.addFilter(log_filter)
    try:
        with caplog.at_level(logging.INFO, "tests.support.apps"):
            async with make_client(integrated(build)) as client:
                response = await client.get("/v2/alerts/1")
    finally:
        caplog.handler.removeFilter(log_filter)
    [record] = [r for r in caplog.records if r.name == "tests.support.apps"]
    [span] = server_spans()
    assert record.request_id == response.headers["x-request-id"]  # type: ignore[attr-defined]
    ids = (record.trace_id, record.span_id)  # type: ignore[attr-defined]
    assert ids == hex_ids(span)


def test_trace_filter_defaults_outside_a_span() -> None:
    """Outside a request and a span, each field gets the default."""
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    assert TraceContextFilter(default="none").filter(record)
    fields = (record.request_id, record.trace_id, record.span_id)  # type: ignore[attr-defined]
    assert fields == ("none", "none", "none")


def test_attribute_must_be_a_name() -> None:
    """The span attribute is checked at construction."""
    with pytest.raises(ValueError, match="attribute"):
        OpenTelemetryIntegration(attribute="")
