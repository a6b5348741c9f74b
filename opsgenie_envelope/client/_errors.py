"""Everything the client raises: one root, ``RequestFailed``, error envelopes included.

Error envelopes raise the client's twin of the class the server raised: it derives from that
server class (``except opsgenie_envelope.NotFound`` still catches it) and from the client's
``ApiError``, which adds what the client read (``request_id``, ``took``, ``response``).
With the status beside each name::

    RequestFailed ..................... root of everything the client raises
    ├── ApiError ...................... an error envelope (any 4xx, 5xx); request_id, took,
    │   │                               response; also ``opsgenie_envelope.ApiError``
    │   ├── ClientError ............... 4xx not listed below
    │   │   ├── BadRequest ............ 400
    │   │   ├── Unauthenticated ....... 401
    │   │   ├── PaymentRequired ....... 402
    │   │   ├── Forbidden ............. 403  code 40301
    │   │   │   └── NotSupported ...... 403  code 40302
    │   │   ├── NotFound .............. 404
    │   │   ├── MethodNotAllowed ...... 405
    │   │   ├── NotAcceptable ......... 406
    │   │   ├── Conflict .............. 409
    │   │   ├── Gone .................. 410
    │   │   ├── ContentTooLarge ....... 413
    │   │   ├── UnsupportedMediaType .. 415
    │   │   ├── RangeNotSatisfiable ... 416
    │   │   ├── UnprocessableEntity ... 422
    │   │   ├── PreconditionRequired .. 428
    │   │   └── TooManyRequests ....... 429  (``retry_after``, ``reason``, ``period``)
    │   └── ServerError ............... 5xx not listed below
    │       ├── InternalServerError ... 500
    │       ├── NotImplementedYet ..... 501
    │       └── ServiceUnavailable .... 503  (``retry_after``)
    ├── NotAnEnvelope ................. any status: a body that is not an envelope
    │                                   (a proxy's HTML 502)
    ├── RetriesExhausted .............. the last attempt's status (or none): attempts or time
    │                                   budget used up; ``last_error``
    └── PagingError ................... no status: page limit reached, or ``next`` leaves
                                        the origin
    httpx.TransportError .............. no status: a connection failure that was not
                                        retried (httpx's own)

Each twin ``X`` derives from ``opsgenie_envelope.X`` and from the twin of ``X``'s parent, so
``except opsgenie_envelope.client.ClientError`` catches every 4xx the client reads.
``except RequestFailed`` catches everything the client decides to raise.
"""

from __future__ import annotations

from typing import Any

import httpx

from .. import _errors as server

__all__ = [
    "EXCERPT_CHARS",
    "ApiError",
    "BadRequest",
    "ClientError",
    "Conflict",
    "ContentTooLarge",
    "Failure",
    "Forbidden",
    "Gone",
    "InternalServerError",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotAnEnvelope",
    "NotFound",
    "NotImplementedYet",
    "NotSupported",
    "PagingError",
    "PaymentRequired",
    "PreconditionRequired",
    "RangeNotSatisfiable",
    "RequestFailed",
    "RetriesExhausted",
    "ServerError",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthenticated",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "error_class_for",
]

EXCERPT_CHARS = 200
"""Most characters of a non-envelope body quoted in :class:`NotAnEnvelope`."""


class RequestFailed(Exception):
    """Root of everything the client raises: error envelopes and the client's own failures.

    Catch it to handle every way a request made with the client did not give an envelope:
    an error envelope (:class:`ApiError` and its tree), :class:`NotAnEnvelope`,
    :class:`RetriesExhausted`, :class:`PagingError`. Connection failures that are not
    retried stay httpx's own ``httpx.TransportError``.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from ``args`` and the attributes, not by calling ``__init__`` again: the
        # client's failures take other arguments than the message, yet pickle (to a worker
        # process, a log queue) like any exception.
        return _restore, (type(self), self.args, self.__dict__)


def _restore(
    cls: type[RequestFailed], args: tuple[Any, ...], state: dict[str, Any]
) -> RequestFailed:
    """An unpickled client error: ``args`` and attributes restored, ``__init__`` not run."""
    error = cls.__new__(cls, *args)
    error.__dict__.update(state)
    return error


class ApiError(server.ApiError, RequestFailed):
    """An error envelope the client read: the server's ``ApiError``, with what came with it.

    The client raises the twin of the class the server raised (``NotFound`` for a 404,
    ``NotSupported`` for 403 with code 40302, ``ClientError``/``ServerError``/``ApiError``
    for a status outside the table), with the envelope's ``message``, ``code`` and
    ``errors``, the response's ``status_code`` and ``headers`` (httpx's, read in any case),
    and these attributes. The client sets them on every error it raises; an error built by
    hand has ``request_id`` and ``took`` ``None`` and no ``response``.

    Example::

        try:
            client.get("/v2/alerts/1")
        except opsgenie_envelope.client.NotFound as exc:
            print(exc.message, exc.request_id, exc.took, exc.response.status_code)
    """

    request_id: str | None = None
    """The envelope's ``requestId``, else the ``X-Request-ID`` header."""
    took: float | None = None
    """The envelope's ``took`` in seconds, else the ``X-Response-Time`` header."""
    response: httpx.Response
    """The ``httpx.Response`` the error was read from."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status_code={self.status_code},"
            f" request_id={self.request_id!r})"
        )


class ClientError(server.ClientError, ApiError):
    """A 4xx error envelope, read by the client (``opsgenie_envelope.ClientError``)."""


class ServerError(server.ServerError, ApiError):
    """A 5xx error envelope, read by the client (``opsgenie_envelope.ServerError``)."""


class BadRequest(server.BadRequest, ClientError):
    """400, read by the client (``opsgenie_envelope.BadRequest``)."""


class Unauthenticated(server.Unauthenticated, ClientError):
    """401, read by the client (``opsgenie_envelope.Unauthenticated``)."""


class PaymentRequired(server.PaymentRequired, ClientError):
    """402, read by the client (``opsgenie_envelope.PaymentRequired``)."""


class Forbidden(server.Forbidden, ClientError):
    """403 code 40301, read by the client (``opsgenie_envelope.Forbidden``)."""


class NotSupported(server.NotSupported, Forbidden):
    """403 code 40302, read by the client (``opsgenie_envelope.NotSupported``)."""


class NotFound(server.NotFound, ClientError):
    """404, read by the client (``opsgenie_envelope.NotFound``)."""


class MethodNotAllowed(server.MethodNotAllowed, ClientError):
    """405, read by the client (``opsgenie_envelope.MethodNotAllowed``)."""


class NotAcceptable(server.NotAcceptable, ClientError):
    """406, read by the client (``opsgenie_envelope.NotAcceptable``)."""


class Conflict(server.Conflict, ClientError):
    """409, read by the client (``opsgenie_envelope.Conflict``)."""


class Gone(server.Gone, ClientError):
    """410, read by the client (``opsgenie_envelope.Gone``)."""


class ContentTooLarge(server.ContentTooLarge, ClientError):
    """413, read by the client (``opsgenie_envelope.ContentTooLarge``)."""


class UnsupportedMediaType(server.UnsupportedMediaType, ClientError):
    """415, read by the client (``opsgenie_envelope.UnsupportedMediaType``)."""


class RangeNotSatisfiable(server.RangeNotSatisfiable, ClientError):
    """416, read by the client (``opsgenie_envelope.RangeNotSatisfiable``)."""


class UnprocessableEntity(server.UnprocessableEntity, ClientError):
    """422, read by the client (``opsgenie_envelope.UnprocessableEntity``)."""


class PreconditionRequired(server.PreconditionRequired, ClientError):
    """428, read by the client (``opsgenie_envelope.PreconditionRequired``)."""


class TooManyRequests(server.TooManyRequests, ClientError):
    """429, read by the client (``opsgenie_envelope.TooManyRequests``)."""


class InternalServerError(server.InternalServerError, ServerError):
    """500, read by the client (``opsgenie_envelope.InternalServerError``)."""


class NotImplementedYet(server.NotImplementedYet, ServerError):
    """501, read by the client (``opsgenie_envelope.NotImplementedYet``)."""


class ServiceUnavailable(server.ServiceUnavailable, ServerError):
    """503, read by the client (``opsgenie_envelope.ServiceUnavailable``)."""


# Each server class → its client twin (a twin's first base is the class it mirrors), read from
# the classes above so that a new twin needs no second list.
_TWINS: dict[type[server.ApiError], type[ApiError]] = {
    value.__bases__[0]: value
    for value in list(globals().values())
    if isinstance(value, type) and issubclass(value, ApiError)
}


def error_class_for(status_code: int, code: int | None = None) -> type[ApiError]:
    """The client class an error envelope raises: the twin of the server's class.

    As ``opsgenie_envelope.error_class_for``: ``error_class_for(403, 40302)`` is
    :class:`NotSupported`, an unlisted 4xx :class:`ClientError`, an unlisted 5xx
    :class:`ServerError`, anything else :class:`ApiError`.
    """
    return _TWINS[server.error_class_for(status_code, code)]


class NotAnEnvelope(RequestFailed):
    """A response whose body is not an OpsGenie envelope, such as a proxy's HTML 502.

    Attributes:
        status_code: the response's HTTP status.
        excerpt: the start of the body, whitespace collapsed, at most ``EXCERPT_CHARS``.
        response: the ``httpx.Response``.
    """

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status_code = response.status_code
        text = " ".join(response.text[: EXCERPT_CHARS * 4].split())
        self.excerpt = text[:EXCERPT_CHARS] + ("..." if len(text) > EXCERPT_CHARS else "")
        content_type = response.headers.get("content-type", "no Content-Type")
        shown = repr(self.excerpt) if self.excerpt else "an empty body"
        super().__init__(
            f"{response.status_code} {response.reason_phrase}: expected an OpsGenie envelope,"
            f" got {content_type}: {shown}"
        )


Failure = ApiError | NotAnEnvelope | httpx.TransportError
"""What one attempt can fail with."""


class RetriesExhausted(RequestFailed):
    """Retrying stopped: the attempts or the time budget of the ``Retry`` policy ran out.

    Attributes:
        attempts: how many attempts were made.
        elapsed: seconds from the first attempt to giving up (by the client's clock).
        last_error: the last attempt's failure (an ``ApiError`` such as ``TooManyRequests``,
            a :class:`NotAnEnvelope`, or an ``httpx.TransportError``); also ``__cause__``.
        response: the last response, or ``None`` after a connection failure.
    """

    def __init__(self, attempts: int, elapsed: float, last_error: Failure, why: str) -> None:
        self.attempts = attempts
        self.elapsed = elapsed
        self.last_error = last_error
        self.response: httpx.Response | None = (
            None if isinstance(last_error, httpx.TransportError) else last_error.response
        )
        super().__init__(
            f"gave up after {attempts} attempt{'s' if attempts != 1 else ''}"
            f" in {elapsed:.3f}s ({why}); last error: {last_error!r}"
        )


class PagingError(RequestFailed):
    """Following ``paging.next`` cannot go on: too many pages, or a link to another origin.

    Attributes:
        pages: pages read so far.
        next_url: the ``paging.next`` link that was not followed.
    """

    def __init__(self, message: str, *, pages: int, next_url: str | None) -> None:
        self.pages = pages
        self.next_url = next_url
        super().__init__(message)
