"""The apps every benchmark compares: one route each, answering the same payload.

Each variant is what a user could ship instead of (or beside) ``EnvelopeMiddleware``:

* ``bare``: Starlette answering ``JSONResponse(payload)``, the 1.00 every ratio is read against;
* ``noop``: the same behind a pure-ASGI middleware that does nothing (the floor for any layer);
* ``headers``: behind a pure-ASGI middleware that only appends two fixed headers (the floor
  for any middleware that adds ``X-Request-ID`` and ``X-Response-Time``);
* ``correlation``: behind asgi-correlation-id (``X-Request-ID`` header only, no envelope);
* ``basehttp``: behind a typical hand-written ``BaseHTTPMiddleware`` envelope that collects,
  parses and re-serialises the body;
* ``handler``: a handler that builds the envelope and headers itself;
* ``minimal``: the least an envelope middleware can do (:class:`MinimalEnvelopeMiddleware`):
  the floor for ``ours``, which does the same plus every check and case of the SPEC;
* ``ours``: behind :class:`~opsgenie_envelope.EnvelopeMiddleware`;
* ``error-bare`` / ``error-ours``: the route raises; a plain Starlette exception handler renders
  ``{"message": ...}`` vs our middleware rendering a raised ``NotFound``;
* ``fastapi-bare`` / ``fastapi-ours``: a FastAPI route returning the payload, without and with us.

The observability integrations, each measured against the same set-up without it (so the
ratio is what the integration adds, not what the tracer or error reporter costs):

* ``otel-off`` / ``otel-on`` / ``otel-ids``: ours inside OpenTelemetry's ASGI middleware (SDK
  tracer, spans recorded, none exported); ``otel-on`` adds ``OpenTelemetryIntegration``,
  ``otel-ids`` also issues trace-derived IDs (``trace_request_id``);
* ``sentry-off`` / ``sentry-on``: ours inside Sentry's ASGI middleware with an active client
  (:func:`sentry_client`); ``sentry-on`` adds ``SentryIntegration``;
* ``structlog-off`` / ``structlog-on``: the handler logs one structlog event rendered as JSON;
  ``structlog-on`` adds ``add_request_id`` to the processors.

``stream_app`` builds a multi-chunk JSON stream (for the peak-memory check).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sentry_sdk
import structlog
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.asgi import SentryAsgiMiddleware
from sentry_sdk.transport import Transport
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsgenie_envelope import EnvelopeMiddleware, NotFound
from opsgenie_envelope._request_id import uuid4_hex
from opsgenie_envelope.otel import OpenTelemetryIntegration, trace_request_id
from opsgenie_envelope.sentry import SentryIntegration
from opsgenie_envelope.structlog import add_request_id

__all__ = [
    "COMPARED",
    "ERROR_PATH",
    "PATH",
    "SIZES",
    "VARIANTS",
    "Variant",
    "build",
    "payload",
    "payload_bytes",
    "sentry_client",
    "stream_app",
]

PATH = "/payload"
ERROR_PATH = "/error"
ERROR_MESSAGE = "Alert does not exist"

COMPARED = ("bare", "noop", "headers", "correlation", "basehttp", "handler", "minimal", "ours")
"""The variants of the ~100 B comparison, bare Starlette first, in the order tables show them."""

SIZES: dict[str, int] = {"tiny": 100, "10k": 10 * 1024, "1m": 1024 * 1024}
"""Payload sizes by name: the JSON the handler answers is about this many bytes."""

_ALERT = {
    "id": "70413a06-38d6-4c85-92b8-5ebc900d42e2",
    "message": "Our servers are in danger",
    "priority": "P1",
}


def payload(size: str) -> Any:
    """The payload of about ``SIZES[size]`` bytes: one alert, or a list of alerts."""
    target = SIZES[size]
    if target <= 200:
        return dict(_ALERT)

    def item(i: int) -> dict[str, Any]:
        return {
            "id": f"70413a06-38d6-4c85-92b8-{i:012x}",
            "message": "Our servers are in danger",
            "priority": "P1",
            "count": i,
            "tags": ["db", "prod"],
        }

    one = len(payload_json(item(0)))
    return [item(i) for i in range(max(1, round((target - 2) / (one + 1))))]


def payload_json(value: Any) -> bytes:
    """Serialise as Starlette's ``JSONResponse`` does."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def payload_bytes(size: str) -> bytes:
    """The payload of ``size``, serialised once."""
    return payload_json(payload(size))


class NoopMiddleware:
    """A pure-ASGI middleware that only passes the call on: what any extra layer costs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class TwoHeadersMiddleware:
    """A pure-ASGI middleware that appends two fixed headers to every response start."""

    HEADERS = (
        (b"x-request-id", b"8a88410f-3129-483d-87b7-b09ffdb1ac2c"),
        (b"x-response-time", b"0.0"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


_CURRENT_ID: contextvars.ContextVar[str] = contextvars.ContextVar("minimal_request_id")


class MinimalEnvelopeMiddleware:
    """The least an envelope middleware does, written out in one closure: the floor for ours.

    It issues an ID (our batched UUID4s) and publishes it in a context variable, reads the
    clock twice, holds the start, splices one whole JSON body into ``{"data":...}`` and sets
    ``Content-Length``, ``X-Request-ID`` and ``X-Response-Time``. Nothing else: no 406, 415 or
    413, no error rendering, no streams, no exclusions, no ``took`` formatting beyond 0.0.
    Right only for the benchmark's one JSON route.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid4_hex()
        rid = request_id.encode()
        held: Message = {}

        async def splice(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                held = message
                return
            took = b"0.0" if time.perf_counter() - started < 0.0005 else b"0.001"
            out = b"".join(
                (b'{"data":', message["body"], b',"took":', took, b',"requestId":"', rid, b'"}')
            )
            headers = [pair for pair in held["headers"] if pair[0] != b"content-length"]
            headers.append((b"content-length", b"%d" % len(out)))
            headers.append((b"x-request-id", rid))
            headers.append((b"x-response-time", took))
            held["headers"] = headers
            await send(held)
            message["body"] = out
            await send(message)

        token = _CURRENT_ID.set(request_id)
        try:
            await self.app(scope, receive, splice)
        finally:
            _CURRENT_ID.reset(token)


class NaiveEnvelopeMiddleware(BaseHTTPMiddleware):
    """The envelope as it is typically hand-written: collect, parse, wrap, re-serialise."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        response = await call_next(request)
        chunks: list[bytes] = []
        async for chunk in response.body_iterator:  # type: ignore[attr-defined]
            chunks.append(chunk if isinstance(chunk, bytes) else str(chunk).encode())
        body = b"".join(chunks)
        took = round(time.perf_counter() - started, 3)
        headers = {
            k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")
        }
        headers["x-request-id"] = request_id
        headers["x-response-time"] = str(took)
        if not response.headers.get("content-type", "").startswith("application/json"):
            return Response(
                body,
                status_code=response.status_code,
                headers=headers,
                media_type=response.headers.get("content-type"),
            )
        data = json.loads(body) if body else None
        if response.status_code < 400:
            envelope: dict[str, Any] = {"data": data}
        else:
            envelope = data if isinstance(data, dict) else {"message": "error"}
        envelope["took"] = took
        envelope["requestId"] = request_id
        return JSONResponse(envelope, status_code=response.status_code, headers=headers)


def _payload_route(size: str, raw: bool) -> Route:
    if raw:
        body = payload_bytes(size)

        async def answer_raw(request: Request) -> Response:
            return Response(body, media_type="application/json")

        return Route(PATH, answer_raw)
    value = payload(size)

    async def answer(request: Request) -> Response:
        return JSONResponse(value)

    return Route(PATH, answer)


def _handler_route(size: str) -> Route:
    value = payload(size)

    async def answer(request: Request) -> Response:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        took = round(time.perf_counter() - started, 3)
        return JSONResponse(
            {"data": value, "took": took, "requestId": request_id},
            headers={"x-request-id": request_id, "x-response-time": str(took)},
        )

    return Route(PATH, answer)


async def _raise_http(request: Request) -> Response:
    raise HTTPException(404, ERROR_MESSAGE)


async def _raise_ours(request: Request) -> Response:
    raise NotFound(ERROR_MESSAGE)


async def _render_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"message": exc.detail}, status_code=exc.status_code)


def _fastapi(size: str, ours: bool) -> FastAPI:
    app = FastAPI()
    if ours:
        app.add_middleware(EnvelopeMiddleware)
    value: dict[str, Any] = payload(size)

    @app.get(PATH)
    async def answer() -> dict[str, Any]:
        return value

    return app


_TRACER_PROVIDER = TracerProvider()  # records spans; no processor, so none is exported


def _otel(**options: Any) -> Callable[[str, bool], ASGIApp]:
    def make(size: str, raw: bool) -> ASGIApp:
        app = Starlette(
            routes=[_payload_route(size, raw)],
            middleware=[Middleware(EnvelopeMiddleware, **options)],
        )
        return OpenTelemetryMiddleware(app, tracer_provider=_TRACER_PROVIDER)

    return make


class _Discard(Transport):
    """A Sentry transport that drops what it is given."""

    def capture_envelope(self, envelope: Envelope) -> None:
        return None


@contextlib.contextmanager
def sentry_client() -> Iterator[None]:
    """An active Sentry client (nothing sent) for the Sentry variants; removed on exit.

    Without default integrations, so nothing is patched: the apps are wrapped in Sentry's
    ASGI middleware by hand, and other variants in the same process stay untouched.
    """
    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=_Discard(),
        default_integrations=False,
        auto_enabling_integrations=False,
    )
    try:
        yield
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


def _sentry(integrated: bool) -> Callable[[str, bool], ASGIApp]:
    def make(size: str, raw: bool) -> ASGIApp:
        integrations = [SentryIntegration()] if integrated else []
        app = Starlette(
            routes=[_payload_route(size, raw)],
            middleware=[Middleware(EnvelopeMiddleware, integrations=integrations)],
        )
        return SentryAsgiMiddleware(app)

    return make


def _structlog(*processors: Any) -> Callable[[str, bool], ASGIApp]:
    def make(size: str, raw: bool) -> ASGIApp:
        value = payload(size)
        logger = structlog.wrap_logger(
            structlog.ReturnLogger(),
            processors=[
                *processors,
                structlog.processors.add_log_level,
                structlog.processors.JSONRenderer(),
            ],
        )

        async def answer(request: Request) -> Response:
            logger.info("alert served", alert_id=_ALERT["id"])
            return JSONResponse(value)

        return Starlette(routes=[Route(PATH, answer)], middleware=[Middleware(EnvelopeMiddleware)])

    return make


@dataclass(frozen=True)
class Variant:
    """A benchmark variant: its name, what it is, the path to request, how to build it.

    ``context``, when set, is entered around building and serving the variant (the Sentry
    variants need an active client).
    """

    name: str
    label: str
    path: str
    build: Callable[[str, bool], ASGIApp]
    context: Callable[[], contextlib.AbstractContextManager[None]] | None = None


def _starlette(*middleware: Middleware) -> Callable[[str, bool], ASGIApp]:
    def make(size: str, raw: bool) -> ASGIApp:
        return Starlette(routes=[_payload_route(size, raw)], middleware=list(middleware))

    return make


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("bare", "bare Starlette", PATH, _starlette()),
        Variant("noop", "no-op pure-ASGI middleware", PATH, _starlette(Middleware(NoopMiddleware))),
        Variant(
            "headers",
            "pure-ASGI middleware adding two fixed headers",
            PATH,
            _starlette(Middleware(TwoHeadersMiddleware)),
        ),
        Variant(
            "correlation",
            "asgi-correlation-id (ID header only)",
            PATH,
            _starlette(Middleware(CorrelationIdMiddleware)),
        ),
        Variant(
            "basehttp",
            "hand-written BaseHTTPMiddleware envelope",
            PATH,
            _starlette(Middleware(NaiveEnvelopeMiddleware)),
        ),
        Variant(
            "handler",
            "envelope built in the handler",
            PATH,
            lambda size, raw: Starlette(routes=[_handler_route(size)]),
        ),
        Variant(
            "minimal",
            "minimal envelope middleware (the floor: ID, clock, splice)",
            PATH,
            _starlette(Middleware(MinimalEnvelopeMiddleware)),
        ),
        Variant("ours", "EnvelopeMiddleware", PATH, _starlette(Middleware(EnvelopeMiddleware))),
        Variant(
            "error-bare",
            "error: Starlette exception handler, JSON body",
            ERROR_PATH,
            lambda size, raw: Starlette(
                routes=[Route(ERROR_PATH, _raise_http)],
                exception_handlers={HTTPException: _render_http_error},
            ),
        ),
        Variant(
            "error-ours",
            "error: EnvelopeMiddleware renders NotFound",
            ERROR_PATH,
            lambda size, raw: Starlette(
                routes=[Route(ERROR_PATH, _raise_ours)],
                middleware=[Middleware(EnvelopeMiddleware)],
            ),
        ),
        Variant("fastapi-bare", "bare FastAPI", PATH, lambda size, raw: _fastapi(size, False)),
        Variant(
            "fastapi-ours",
            "FastAPI + EnvelopeMiddleware",
            PATH,
            lambda size, raw: _fastapi(size, True),
        ),
        Variant("otel-off", "OpenTelemetry ASGI + EnvelopeMiddleware", PATH, _otel()),
        Variant(
            "otel-on",
            "... + OpenTelemetryIntegration",
            PATH,
            _otel(integrations=[OpenTelemetryIntegration()]),
        ),
        Variant(
            "otel-ids",
            "... + OpenTelemetryIntegration + trace_request_id",
            PATH,
            _otel(integrations=[OpenTelemetryIntegration()], generator=trace_request_id),
        ),
        Variant(
            "sentry-off", "Sentry ASGI + EnvelopeMiddleware", PATH, _sentry(False), sentry_client
        ),
        Variant(
            "sentry-on",
            "... + SentryIntegration",
            PATH,
            _sentry(True),
            sentry_client,
        ),
        Variant("structlog-off", "one structlog event per request", PATH, _structlog()),
        Variant("structlog-on", "... + add_request_id", PATH, _structlog(add_request_id)),
    )
}


def build(name: str, size: str = "tiny", raw: bool = False) -> ASGIApp:
    """Build variant ``name`` answering the payload of ``size`` (``raw``: pre-serialised bytes)."""
    return VARIANTS[name].build(size, raw)


CHUNK = 64 * 1024
"""Size of one chunk of the streamed JSON body."""


def stream_app(total: int, ours: bool) -> ASGIApp:
    """An app streaming a JSON array of about ``total`` bytes in ``CHUNK``-sized chunks.

    The chunks are produced as they are sent (one block object, reused): the app itself never
    holds the body, so a peak that grows with ``total`` can only come from a middleware.
    """
    one = payload_json(payload("tiny"))
    block = b",".join([one] * max(1, CHUNK // (len(one) + 1)))
    first, more = b"[" + block, b"," + block
    count = max(1, total // len(block))

    async def chunks() -> AsyncIterator[bytes]:
        yield first
        for _ in range(count - 1):
            yield more
        yield b"]"

    async def answer(request: Request) -> Response:
        return StreamingResponse(chunks(), media_type="application/json")

    middleware = [Middleware(EnvelopeMiddleware)] if ours else []
    return Starlette(routes=[Route(PATH, answer)], middleware=middleware)
