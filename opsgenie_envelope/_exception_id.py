"""The request ID an exception carries out of its request.

An unexpected exception is re-raised after the 500 is answered, so the server logs it once;
by then the request's context is gone and :func:`get_request_id` is ``None``. The middleware
therefore tags the exception itself: a note (``request_id: <id>``, printed under the
traceback by uvicorn and hypercorn) and an attribute that log filters, structlog processors
and error reporters read through :func:`request_id_from_exception`.
"""

from __future__ import annotations

__all__ = ["NOTE_PREFIX", "request_id_from_exception", "tag_exception"]

NOTE_PREFIX = "request_id: "
"""How the request-ID note reads: ``request_id: 8a88410f-...``."""

_ATTRIBUTE = "opsgenie_envelope_request_id"
_MAX_CHAIN = 16


def tag_exception(exc: BaseException, request_id: str) -> None:
    """Attach ``request_id`` to ``exc``: one note and one attribute.

    An exception object raised again in a later request keeps one note, the latest.
    """
    previous = vars(exc).get(_ATTRIBUTE)
    notes = getattr(exc, "__notes__", None)
    if previous is not None and isinstance(notes, list) and NOTE_PREFIX + previous in notes:
        notes.remove(NOTE_PREFIX + previous)
    vars(exc)[_ATTRIBUTE] = request_id
    exc.add_note(NOTE_PREFIX + request_id)


def request_id_from_exception(exc: BaseException | None) -> str | None:
    """Return the ID of the request ``exc`` escaped from, or ``None``.

    Follows ``__cause__`` / ``__context__`` when an outer layer wrapped the exception.
    Meant for code that sees the exception after the request ended, e.g. Sentry's
    ``before_send`` or a log filter reading ``record.exc_info``.

    Example::

        def before_send(event, hint):
            exc_info = hint.get("exc_info")
            request_id = request_id_from_exception(exc_info[1] if exc_info else None)
            ...
    """
    for _ in range(_MAX_CHAIN):
        if exc is None:
            return None
        request_id = vars(exc).get(_ATTRIBUTE)
        if isinstance(request_id, str):
            return request_id
        exc = exc.__cause__ or exc.__context__
    return None
