"""OpenTelemetry: the request ID on the server span, and exceptions recorded on it.

Needs the ``otel`` extra (``pip install "opsgenie-envelope[otel]"``), which brings
``opentelemetry-api``; the server span comes from OpenTelemetry's ASGI instrumentation
(``FastAPIInstrumentor.instrument_app(app)``, or ``OpenTelemetryMiddleware`` around the app).

* :class:`OpenTelemetryIntegration` sets ``request_id`` on the server span of every request
  and, for an unexpected exception, records it on that span (an ``exception`` event and an
  ERROR status) before the 500 is answered: the span ends with that answer, so the exception
  would otherwise never reach it.
* :func:`trace_request_id` issues request IDs derived from the server span:
  ``<trace id>-<span id>``, unique per request, with a UUID4 where no server span is current.
* :class:`TraceContextFilter` stamps log records with the request ID, trace ID and span ID.

The server span must be started *around* the middleware: OpenTelemetry's ASGI middleware
added after ``EnvelopeMiddleware`` (``app.add_middleware`` puts later ones outside), or
``FastAPIInstrumentor.instrument_app(app)``, which always wraps every user middleware. Inside
it, the span starts after the request ID is issued and ends before the middleware answers,
so :class:`OpenTelemetryIntegration` refuses that order when the app starts.

Example::

    from fastapi import FastAPI
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opsgenie_envelope import EnvelopeMiddleware
    from opsgenie_envelope.otel import OpenTelemetryIntegration, trace_request_id

    app = FastAPI()
    app.add_middleware(
        EnvelopeMiddleware,
        integrations=[OpenTelemetryIntegration()],
        generator=trace_request_id,
    )
    FastAPIInstrumentor.instrument_app(app)
"""

from __future__ import annotations

import logging

try:
    from opentelemetry import trace
except ImportError as exc:
    raise ImportError(
        'opsgenie_envelope.otel needs opentelemetry-api: pip install "opsgenie-envelope[otel]"'
    ) from exc

from starlette.types import ASGIApp, Scope

from ._integration import Integration
from ._logging import RequestIdFilter
from ._options import check_str
from ._request_id import uuid4_hex
from ._stack import wrapped_apps

__all__ = ["OpenTelemetryIntegration", "TraceContextFilter", "trace_request_id"]

_get_current_span = trace.get_current_span
_ERROR = trace.StatusCode.ERROR


def _otel_middleware_class() -> type | None:
    try:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    except ImportError:  # without the ASGI instrumentation there is no such layer to find
        return None
    return OpenTelemetryMiddleware


class OpenTelemetryIntegration(Integration):
    """Put the request ID on the server span; record unexpected exceptions on it.

    Args:
        attribute: the span attribute holding the request ID.

    Example::

        app.add_middleware(EnvelopeMiddleware, integrations=[OpenTelemetryIntegration()])
        FastAPIInstrumentor.instrument_app(app)
    """

    def __init__(self, *, attribute: str = "request_id") -> None:
        self.attribute = check_str("attribute", attribute)

    def check(self, app: ASGIApp) -> None:
        """Refuse an ``OpenTelemetryMiddleware`` inside ``EnvelopeMiddleware``."""
        middleware = _otel_middleware_class()
        if middleware is None:
            return
        for layer in wrapped_apps(app):
            if isinstance(layer, middleware):
                raise ValueError(
                    "opsgenie_envelope.otel: OpenTelemetryMiddleware sits inside "
                    "EnvelopeMiddleware, so its server span starts after the request ID is "
                    "issued and ends before the answer is sent. Add OpenTelemetryMiddleware "
                    "after EnvelopeMiddleware (app.add_middleware puts later ones outside), or "
                    "use FastAPIInstrumentor.instrument_app(app)."
                )

    def on_request(self, scope: Scope, request_id: str) -> None:
        """Set the request ID on the current (server) span."""
        span = _get_current_span()
        if span.is_recording():
            span.set_attribute(self.attribute, request_id)

    def on_exception(self, exc: Exception, scope: Scope) -> None:
        """Record ``exc`` on the current (server) span, as OpenTelemetry's own layers do."""
        span = _get_current_span()
        if span.is_recording():
            span.record_exception(exc)
            span.set_status(_ERROR, f"{type(exc).__name__}: {exc}")


def trace_request_id() -> str:
    """Issue a request ID from the current server span: ``<trace id>-<span id>`` in hex.

    Every request gets its own server span, so two requests sharing an incoming
    ``traceparent`` still get different IDs, and the trace ID an operator is given leads
    straight to the trace. Where no span of this process is current (no instrumentation,
    or a span context that is invalid or remote) it issues a UUID4 instead: never the
    all-zero context, never the caller's span.

    Example::

        app.add_middleware(EnvelopeMiddleware, generator=trace_request_id)
    """
    context = _get_current_span().get_span_context()
    if not context.is_valid or context.is_remote:
        return uuid4_hex()
    return f"{context.trace_id:032x}-{context.span_id:016x}"


class TraceContextFilter(RequestIdFilter):
    """A :class:`~opsgenie_envelope.RequestIdFilter` that also stamps the trace context.

    Adds ``record.request_id``, ``record.trace_id`` and ``record.span_id`` (hex, or
    ``default`` where no valid span is current).

    Example::

        handler = logging.StreamHandler()
        handler.addFilter(TraceContextFilter())
        handler.setFormatter(logging.Formatter(
            "%(levelname)s [%(request_id)s trace=%(trace_id)s] %(message)s"
        ))
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp the record; never drops it."""
        super().filter(record)
        context = _get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = f"{context.trace_id:032x}"
            record.span_id = f"{context.span_id:016x}"
        else:
            record.trace_id = record.span_id = self.default
        return True
