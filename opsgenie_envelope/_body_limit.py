"""``max_body_size``: refuse a request body larger than the limit, without reading it whole.

Two checks, both answering 413 (:class:`~opsgenie_envelope.ContentTooLarge`):

* a declared ``Content-Length`` over the limit is refused before the app runs, so not one
  byte of the body is read;
* a body without a length (``Transfer-Encoding: chunked``, HTTP/2) is counted as the app
  reads it: the ``receive`` that delivers the byte over the limit raises instead.

A body that declares its length needs no counting: the server never delivers more than
``Content-Length`` bytes. Frameworks read the body before any dependency runs (FastAPI
parses JSON before authentication), so this is the one place the limit can hold.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope

from ._errors import ContentTooLarge
from ._options import check_int

__all__ = ["DEFAULT_MAX_BODY_SIZE", "HTTP1", "check_max_body_size", "limit_framed_body"]

DEFAULT_MAX_BODY_SIZE = 1_048_576
"""The default ``max_body_size``: 1 MiB, far more than any JSON API request needs."""

HTTP1 = ("1.0", "1.1")
"""HTTP versions where a request with neither ``Content-Length`` nor chunking has no body."""


def check_max_body_size(value: object) -> int | None:
    """``value`` if it can be ``max_body_size`` (bytes, at least 1, or ``None``); else raise."""
    return None if value is None else check_int("max_body_size", value, minimum=1)


def _too_large() -> HTTPException:
    # An HTTPException, not an ApiError: FastAPI turns any other exception raised while it
    # reads the body into a 400, but lets this one through, and every layer maps it to 413.
    return HTTPException(413, ContentTooLarge.default_message)


def limit_framed_body(
    scope: Scope, receive: Receive, limit: int, length: bytes | None, chunked: bool
) -> tuple[Receive, bool]:
    """The ``receive`` to hand the app, and whether the declared length is already over.

    ``length`` is the request's last ``Content-Length`` value (``None`` without one) and
    ``chunked`` whether it sent a ``Transfer-Encoding``. ``receive`` is returned as it is when
    the body declares its length (or has none); it is wrapped in a byte counter only when the
    length is unknown.
    """
    if length is not None and not chunked:
        try:
            return receive, int(length) > limit
        except ValueError:
            return receive, False  # the server refuses a malformed length itself
    if not chunked and scope.get("http_version", "1.1") in HTTP1:
        return receive, False  # HTTP/1 without a length or chunking: no body

    received = 0

    async def counted() -> Message:
        nonlocal received
        if received > limit:
            raise _too_large()
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large()
        return message

    return counted, False
