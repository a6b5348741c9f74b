"""A logging filter that stamps every record with the current request ID."""

from __future__ import annotations

import logging

from ._context import get_request_id
from ._exception_id import request_id_from_exception

__all__ = ["RequestIdFilter"]


class RequestIdFilter(logging.Filter):
    """Add ``record.request_id`` (the current request's ID, or ``default`` outside one).

    A record logged after the request ended about an exception that escaped it (the
    server's "Exception in ASGI application") gets the ID that exception carries.

    Example::

        handler = logging.StreamHandler()
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(logging.Formatter("%(levelname)s [%(request_id)s] %(message)s"))
    """

    def __init__(self, name: str = "", default: str = "-") -> None:
        super().__init__(name)
        self.default = default

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp the record; never drops it."""
        request_id = get_request_id()
        if request_id is None and record.exc_info:
            request_id = request_id_from_exception(record.exc_info[1])
        record.request_id = self.default if request_id is None else request_id
        return True
