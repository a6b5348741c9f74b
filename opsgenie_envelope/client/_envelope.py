"""Reading responses: :class:`Envelope`, :class:`Paging` and :func:`unwrap`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from .._wire import (
    CODE,
    DATA,
    DEFAULT_RATE_LIMIT_REASON,
    ERRORS,
    EXPANDABLE,
    MESSAGE,
    NO_BODY_STATUSES,
    PAGING,
    PAGING_LINKS,
    RATE_LIMIT_PERIOD_HEADER,
    RATE_LIMIT_REASON_HEADER,
    REQUEST_ID,
    REQUEST_ID_HEADER,
    RESPONSE_TIME_HEADER,
    RESULT,
    TOOK,
    TOTAL_COUNT,
)
from ._errors import ApiError, NotAnEnvelope, ServiceUnavailable, TooManyRequests, error_class_for
from ._headers import parse_seconds, retry_after

__all__ = ["Envelope", "Paging", "unwrap"]

_PAGING_KEYS = frozenset(PAGING_LINKS)


@dataclass(frozen=True, slots=True)
class Paging:
    """The links of a paged list's ``paging`` object, as sent (absolute or relative to the
    request's URL: ``paginate()`` resolves them); ``None`` where absent."""

    first: str | None = None
    prev: str | None = None
    next: str | None = None
    last: str | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    """A success envelope, read: the payload, the optional keys and the raw response.

    Example::

        envelope = client.get("/v2/alerts/1")
        envelope.data["message"], envelope.request_id, envelope.took
    """

    data: Any
    """The payload: whatever JSON the handler returned; ``None`` when the answer carries no
    entity (no ``data`` key, as in a 202 ``{"result", "took", "requestId"}``, or no body)."""
    message: str | None
    """``message``, or OpsGenie's ``result`` on 202 Accepted."""
    expandable: tuple[str, ...] | None
    paging: Paging | None
    total_count: int | None
    took: float | None
    """Seconds the back end spent (``took``, else the ``X-Response-Time`` header)."""
    request_id: str | None
    """The server's ``requestId`` (else the ``X-Request-ID`` header)."""
    response: httpx.Response = field(repr=False)

    @property
    def status_code(self) -> int:
        """The response's HTTP status."""
        return self.response.status_code

    @property
    def headers(self) -> httpx.Headers:
        """The response's headers."""
        return self.response.headers


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _took(body: dict[str, Any], headers: httpx.Headers) -> float | None:
    took = _number(body.get(TOOK))
    return took if took is not None else parse_seconds(headers.get(RESPONSE_TIME_HEADER))


def _request_id(body: dict[str, Any], headers: httpx.Headers) -> str | None:
    request_id = body.get(REQUEST_ID)
    return request_id if isinstance(request_id, str) else headers.get(REQUEST_ID_HEADER)


def _paging(value: object) -> Paging | None:
    if not isinstance(value, dict):
        return None
    return Paging(**{k: v for k, v in value.items() if k in _PAGING_KEYS and isinstance(v, str)})


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The body as a JSON object, ``None`` for an empty body; else :class:`NotAnEnvelope`."""
    content = response.content
    if not content.strip():
        return None
    try:
        parsed = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise NotAnEnvelope(response) from None
    if not isinstance(parsed, dict):
        raise NotAnEnvelope(response)
    return parsed


def _error(response: httpx.Response, body: dict[str, Any]) -> ApiError:
    """The client's twin of the error an envelope stands for, with the envelope's fields."""
    status = response.status_code
    headers = response.headers
    message = body.get(MESSAGE)
    code = _int(body.get(CODE))
    raw_errors = body.get(ERRORS)
    errors = (
        {str(k): str(v) for k, v in raw_errors.items()} if isinstance(raw_errors, dict) else None
    )
    cls = error_class_for(status, code)
    error: ApiError
    if issubclass(cls, TooManyRequests):
        period = parse_seconds(headers.get(RATE_LIMIT_PERIOD_HEADER))
        error = cls(
            message,
            retry_after=retry_after(headers),
            reason=headers.get(RATE_LIMIT_REASON_HEADER, DEFAULT_RATE_LIMIT_REASON),
            period=None if period is None else int(period),
            errors=errors,
        )
    elif issubclass(cls, ServiceUnavailable):
        error = cls(message, retry_after=retry_after(headers), errors=errors)
    elif cls.status_code == status:
        error = cls(message, errors=errors)
    else:  # an unlisted status: ClientError or ServerError, with the status the wire said
        error = cls(message, errors=errors, status_code=status)
    # What the wire said wins over the class defaults.
    error.code = code
    error.headers = headers  # the response's: read in any case, as Envelope.headers
    error.request_id = _request_id(body, headers)
    error.took = _took(body, headers)
    error.response = response
    return error


def unwrap(response: httpx.Response) -> Envelope:
    """Read an httpx response as an OpsGenie envelope; raise its error when it is one.

    Error envelopes (4xx, 5xx) raise the client's twin of the class the server raised
    (``opsgenie_envelope.client.NotFound``, a ``opsgenie_envelope.NotFound`` too;
    ``NotSupported`` for 403/40302, ``ClientError``/``ServerError`` for unlisted statuses)
    with ``message``, ``code``, ``errors``, ``request_id``, ``took``, ``status_code``,
    ``headers`` and ``response``. A body that is not an envelope raises
    :class:`NotAnEnvelope`. A body may be missing only where HTTP sends none (HEAD, 1xx,
    204, 304, redirects). The response must have been read (not a stream left open).

    Example::

        envelope = unwrap(httpx.get("https://api.example.com/v2/alerts/1"))
        envelope.data, envelope.request_id
    """
    status = response.status_code
    try:
        is_head = response.request.method == "HEAD"
    except RuntimeError:  # a response built by hand, without its request: not a HEAD
        is_head = False
    body = _json_object(response)
    if status > 599:
        raise NotAnEnvelope(response)  # no error envelope has a status beyond 599
    if status >= 400:
        if body is None and is_head:
            raise _error(response, {})
        if body is None or not isinstance(body.get(MESSAGE), str):
            raise NotAnEnvelope(response)
        raise _error(response, body)
    if body is None:
        if not (is_head or status in NO_BODY_STATUSES or not 200 <= status < 300):
            raise NotAnEnvelope(response)
        body = {}
    elif DATA not in body and REQUEST_ID not in body:
        raise NotAnEnvelope(response)
    headers = response.headers
    message = body.get(MESSAGE, body.get(RESULT))
    expandable = body.get(EXPANDABLE)
    return Envelope(
        data=body.get(DATA),
        message=message if isinstance(message, str) else None,
        expandable=tuple(map(str, expandable)) if isinstance(expandable, list) else None,
        paging=_paging(body.get(PAGING)),
        total_count=_int(body.get(TOTAL_COUNT)),
        took=_took(body, headers),
        request_id=_request_id(body, headers),
        response=response,
    )
