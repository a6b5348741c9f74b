"""The errors only the client raises; error envelopes raise the server's own taxonomy.

Everything a request made with the client can raise, with the status beside each name::

    opsgenie_envelope.ApiError ........ an error envelope, as the server raised it (4xx, 5xx;
    │                                   its taxonomy: ``opsgenie_envelope._errors``), with
    │                                   request_id, took and response
    RequestFailed ..................... root of the client's own failures
    ├── NotAnEnvelope ................. any status: a body that is not an envelope
    │                                   (a proxy's HTML 502)
    ├── RetriesExhausted .............. the last attempt's status (or none): attempts or time
    │                                   budget used up; ``last_error``
    └── PagingError ................... no status: page limit reached, or ``next`` leaves
                                        the origin
    httpx.TransportError .............. no status: a connection failure that was not
                                        retried (httpx's own)

``except (ApiError, RequestFailed)`` catches everything the client decides to raise.
"""

from __future__ import annotations

import httpx

from .._errors import ApiError

__all__ = [
    "EXCERPT_CHARS",
    "Failure",
    "NotAnEnvelope",
    "PagingError",
    "RequestFailed",
    "RetriesExhausted",
]

EXCERPT_CHARS = 200
"""Most characters of a non-envelope body quoted in :class:`NotAnEnvelope`."""


class RequestFailed(Exception):
    """Root of the failures the client raises of its own (not error envelopes).

    Catch it to handle every way the client gave up on a request that the server did not
    answer with an error envelope: :class:`NotAnEnvelope`, :class:`RetriesExhausted`,
    :class:`PagingError`.
    """


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
