"""Per-request context: the request ID and envelope extras, readable anywhere in a request."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from starlette.types import Scope

from ._options import check_type
from ._wire import MESSAGE

__all__ = ["REQUEST_ID_KEY", "get_request_id", "set_message"]

REQUEST_ID_KEY = "opsgenie_envelope.request_id"
"""Scope key holding the request ID (``scope["opsgenie_envelope.request_id"]``)."""

EXTRAS_KEY = "opsgenie_envelope.extras"
"""Scope key holding the optional envelope keys a handler set (message, paging, ...)."""

REPLAYED_KEY = "opsgenie_envelope.replayed"
"""Scope key set on a request served a second time at its other path
(``ignore_trailing_slash``): layers inside the envelope count it once (rate limits)."""

# Holds the current request's ASGI scope: handlers run in the same context (Starlette copies
# it into the thread pool for sync handlers), and the scope is the one per-request object
# the middleware already has, so setting the variable allocates nothing new.
current_scope: ContextVar[Scope | None] = ContextVar("opsgenie_envelope.scope", default=None)


def get_request_id() -> str | None:
    """Return the ID of the request being served, or ``None`` outside a request.

    Example::

        logger.info("alert created", extra={"request_id": get_request_id()})
    """
    scope = current_scope.get()
    if scope is None:
        return None
    request_id: str | None = scope.get(REQUEST_ID_KEY)
    return request_id


def _extras() -> dict[str, Any]:
    scope = current_scope.get()
    if scope is None:
        raise RuntimeError("no request is being served by EnvelopeMiddleware")
    extras: dict[str, Any] | None = scope.get(EXTRAS_KEY)
    if extras is None:
        extras = scope[EXTRAS_KEY] = {}
    return extras


def set_message(message: str) -> None:
    """Add a human-friendly ``message`` to the success envelope of the current request.

    Meant for 201 Created and 202 Accepted answers. With the middleware's
    ``message_key="result"`` it is rendered as OpsGenie's ``result`` instead.

    Example::

        @app.post("/v2/alerts", status_code=202)
        async def create_alert(body: AlertIn) -> None:
            set_message("Request will be processed")
    """
    _extras()[MESSAGE] = check_type("message", message, str, "a str")


def set_envelope_field(name: str, value: Any) -> None:
    """Set an optional envelope key (``expandable``, ``paging``, ``totalCount``)."""
    _extras()[name] = value
