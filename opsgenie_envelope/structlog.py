"""structlog: a processor that adds ``request_id`` to every event logged in a request.

Needs the ``structlog`` extra (``pip install "opsgenie-envelope[structlog]"``).

:func:`add_request_id` reads the ID the middleware issued for the request being served: in
async handlers, in sync handlers (Starlette runs them in a thread pool with a copy of the
request's context) and in background tasks (they run before the request ends). After the
request it reads the ID an escaped exception carries, so the server's own "Exception in ASGI
application" record gets it too when stdlib records go through structlog's
``ProcessorFormatter`` with the processor in its ``foreign_pre_chain``.

Example::

    import logging

    import structlog
    from opsgenie_envelope.structlog import add_request_id

    shared = [add_request_id, structlog.processors.add_log_level]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,  # stdlib records: uvicorn's, your libraries'
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    logging.getLogger().addHandler(handler)
"""

from __future__ import annotations

import sys

try:
    from structlog.typing import EventDict, WrappedLogger
except ImportError as exc:
    raise ImportError(
        'opsgenie_envelope.structlog needs structlog: pip install "opsgenie-envelope[structlog]"'
    ) from exc

from ._context import get_request_id
from ._exception_id import request_id_from_exception

__all__ = ["KEY", "add_request_id"]

KEY = "request_id"
"""The event key holding the request ID."""


def _escaped(exc_info: object) -> str | None:
    """The request ID carried by the exception an event's ``exc_info`` names."""
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        exc_info = exc_info[1]
    if isinstance(exc_info, BaseException):
        return request_id_from_exception(exc_info)
    return None


def add_request_id(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Add ``request_id`` to the event: the current request's, or the escaped exception's.

    An explicit ``request_id`` in the event is kept; outside a request, with no exception
    carrying an ID, the key is left out.
    """
    if KEY not in event_dict:
        request_id = get_request_id()
        if request_id is None and "exc_info" in event_dict:
            request_id = _escaped(event_dict["exc_info"])
        if request_id is not None:
            event_dict[KEY] = request_id
    return event_dict
