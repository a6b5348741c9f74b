"""Sentry: every event of a request tagged with its ``request_id``, grouping left intact.

Needs the ``sentry`` extra (``pip install "opsgenie-envelope[sentry]"``), which brings
sentry-sdk 2.x. ``sentry_sdk.init()`` with its Starlette/FastAPI integrations (on by default)
wraps the app in Sentry's ASGI middleware, which gives each request its own isolation scope.

:class:`SentryIntegration`:

* tags that isolation scope with ``request_id``, so every event of the request carries it:
  errors, messages, log events and the transaction, including the event for the unhandled
  exception that Sentry captures after the middleware answered the 500;
* tags events captured during the request, or about an exception that escaped it, even
  where no Sentry ASGI middleware isolates the request (the tag is then set on the event,
  never on a scope other requests share);
* removes the middleware's ``request_id: <id>`` note from the exception value, where Sentry
  appends exception notes: with it, every event's value would differ and an issue's events
  would no longer be grouped together (by exception type and stack trace).

Sentry still sends one event per exception. In ``before_send`` the ID is
``event["tags"]["request_id"]`` (and :func:`~opsgenie_envelope.request_id_from_exception`
reads it from ``hint["exc_info"]``).

Example::

    import sentry_sdk
    from fastapi import FastAPI
    from opsgenie_envelope import EnvelopeMiddleware
    from opsgenie_envelope.sentry import SentryIntegration

    sentry_sdk.init(dsn="https://key@o0.ingest.sentry.io/0")
    app = FastAPI()
    app.add_middleware(EnvelopeMiddleware, integrations=[SentryIntegration()])
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

try:
    import sentry_sdk
    from sentry_sdk.integrations import asgi as _sentry_asgi
    from sentry_sdk.scope import add_global_event_processor
except ImportError as exc:
    raise ImportError(
        'opsgenie_envelope.sentry needs sentry-sdk: pip install "opsgenie-envelope[sentry]"'
    ) from exc

from starlette.types import ASGIApp, Scope

from ._context import get_request_id
from ._exception_id import NOTE_PREFIX, request_id_from_exception
from ._integration import Integration
from ._stack import wrapped_apps

__all__ = ["TAG", "SentryIntegration"]

TAG = "request_id"
"""The tag holding the request ID."""

# Set by Sentry's ASGI middleware while it serves a request in its own isolation scope.
_IN_SENTRY_REQUEST: ContextVar[bool] | None = getattr(
    _sentry_asgi, "_asgi_middleware_applied", None
)
_registered = False


def _strip_note(event: dict[str, Any], note: str) -> None:
    """Remove the request-ID note from the exception values Sentry built."""
    line = "\n" + note
    for value in (event.get("exception") or {}).get("values") or ():
        text = value.get("value")
        if isinstance(text, str):
            # Notes follow the message, one a line: the note is the last such line.
            head, found, tail = text.rpartition(line)
            if found and (not tail or tail.startswith("\n")):
                value["value"] = head + tail


def _process(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """Tag the event with its request ID; drop the ID note from exception values."""
    exc_info = hint.get("exc_info") if hint else None
    escaped = request_id_from_exception(exc_info[1]) if exc_info else None
    if escaped is not None:
        _strip_note(event, NOTE_PREFIX + escaped)
    request_id = get_request_id() or escaped
    if request_id is not None:
        tags = event.get("tags")
        if not isinstance(tags, dict):
            tags = event["tags"] = {}
        tags.setdefault(TAG, request_id)
    return event


class SentryIntegration(Integration):
    """Tag every Sentry event of a request with ``request_id``; keep issue grouping intact.

    Example::

        sentry_sdk.init(dsn=...)
        app.add_middleware(EnvelopeMiddleware, integrations=[SentryIntegration()])
    """

    def __init__(self) -> None:
        global _registered
        if _IN_SENTRY_REQUEST is None:
            raise RuntimeError(
                f"opsgenie_envelope.sentry: sentry-sdk {sentry_sdk.VERSION} does not say "
                "when its ASGI middleware isolates a request; use sentry-sdk 2.x"
            )
        if not _registered:
            add_global_event_processor(_process)  # type: ignore[arg-type]
            _registered = True

    def check(self, app: ASGIApp) -> None:
        """Refuse Sentry's ASGI middleware inside ``EnvelopeMiddleware``."""
        for layer in wrapped_apps(app):
            if isinstance(layer, _sentry_asgi.SentryAsgiMiddleware):
                raise ValueError(
                    "opsgenie_envelope.sentry: SentryAsgiMiddleware sits inside "
                    "EnvelopeMiddleware, so the request ID is issued before Sentry isolates "
                    "the request. Add SentryAsgiMiddleware after EnvelopeMiddleware, or let "
                    "sentry_sdk.init() wrap the app (its Starlette and FastAPI integrations)."
                )

    def on_request(self, scope: Scope, request_id: str) -> None:
        """Tag the request's isolation scope, when Sentry's ASGI middleware made one."""
        assert _IN_SENTRY_REQUEST is not None
        if _IN_SENTRY_REQUEST.get(False):
            sentry_sdk.get_isolation_scope().set_tag(TAG, request_id)
