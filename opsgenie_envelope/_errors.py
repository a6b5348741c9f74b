"""The error taxonomy: typed errors that handlers raise and the middleware renders.

Status and internal code beside each name::

    ApiError ............................ base of every error below
    ├── ClientError ..................... 4xx not listed below
    │   ├── BadRequest .................. 400
    │   ├── Unauthenticated ............. 401
    │   ├── PaymentRequired ............. 402
    │   ├── Forbidden ................... 403  code 40301
    │   │   └── NotSupported ............ 403  code 40302
    │   ├── NotFound .................... 404
    │   ├── MethodNotAllowed ............ 405  (keeps ``Allow``)
    │   ├── NotAcceptable ............... 406
    │   ├── Conflict .................... 409
    │   ├── Gone ........................ 410
    │   ├── ContentTooLarge ............. 413  (the middleware's ``max_body_size``)
    │   ├── UnsupportedMediaType ........ 415
    │   ├── RangeNotSatisfiable ......... 416
    │   ├── UnprocessableEntity ......... 422  (field ``errors``)
    │   ├── PreconditionRequired ........ 428
    │   └── TooManyRequests ............. 429  (``Retry-After``, ``X-RateLimit-*``)
    └── ServerError ..................... 5xx not listed below
        ├── InternalServerError ......... 500
        ├── NotImplementedYet ........... 501
        └── ServiceUnavailable .......... 503  (``Retry-After``)

Every class's status, and every instance's, is 400-599: a subclass with another status is
refused where it is defined, ``status_code=`` outside it where it is given (``ValueError``).
Redirects and other answers that are not errors are no ``ApiError``: the middleware renders
them on a path of their own.

Apps define their own errors by subclassing, with their own status and code::

    class AlertLocked(Conflict):
        code = 40901
        default_message = "Alert is locked by another operation"

The client (``opsgenie_envelope.client``) raises a twin of each class for error envelopes:
``opsgenie_envelope.client.NotFound`` is a ``NotFound`` too, and adds what the client read
(``request_id``, ``took``, ``response``) under the client's root, ``RequestFailed``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from typing import Any, ClassVar, Self

from ._options import check_int, check_seconds
from ._wire import (
    DEFAULT_RATE_LIMIT_REASON,
    RATE_LIMIT_PERIOD_HEADER,
    RATE_LIMIT_REASON_HEADER,
    RATE_LIMIT_STATE_HEADER,
    RETRY_AFTER_HEADER,
    THROTTLED,
)

__all__ = [
    "ApiError",
    "BadRequest",
    "ClientError",
    "Conflict",
    "ContentTooLarge",
    "Forbidden",
    "Gone",
    "InternalServerError",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotFound",
    "NotImplementedYet",
    "NotSupported",
    "PaymentRequired",
    "PreconditionRequired",
    "RangeNotSatisfiable",
    "ServerError",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthenticated",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "error_class_for",
]


class ApiError(Exception):
    """Base of every error the middleware renders as an OpsGenie error envelope.

    Raise it (or a subclass) anywhere in a request; the middleware answers with
    ``status_code`` and a body ``{"code"?, "message", "errors"?, "took", "requestId"}``.

    Args:
        message: human-readable text; the class's ``default_message`` when omitted.
        errors: field name → problem, rendered as ``errors`` (e.g. for 422).
        headers: extra response headers (``Allow``, ``WWW-Authenticate``, ...).
        code: internal code overriding the class's ``code``.
        status_code: HTTP status overriding the class's ``status_code``.

    Example::

        raise NotFound("Alert does not exist")
        raise UnprocessableEntity(errors={"priority": "should be one of [ P1, P2, P3, P4, P5 ]"})
    """

    status_code: int = 500
    code: int | None = None
    default_message: ClassVar[str] = "Internal Server Error"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        status = cls.status_code
        if isinstance(status, bool) or not isinstance(status, int):
            raise TypeError(f"{cls.__name__}.status_code must be an int, got {status!r}")
        if not 400 <= status <= 599:
            raise ValueError(
                f"{cls.__name__}.status_code must be 400..599, got {status}: an ApiError is an"
                " error answer (a redirect or other answer is not raised as one)"
            )

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        code: int | None = None,
        status_code: int | None = None,
    ) -> None:
        self.message: str = self.default_message if message is None else message
        self.errors: dict[str, str] | None = dict(errors) if errors else None
        # Any mutable mapping: the client's errors hold the response's (case-insensitive).
        self.headers: MutableMapping[str, str] = dict(headers) if headers else {}
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = check_int("status_code", status_code, minimum=400, maximum=599)
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code})"


class ClientError(ApiError):
    """A 4xx error: the request cannot be served as sent."""

    status_code = 400
    default_message = "Bad Request"


class ServerError(ApiError):
    """A 5xx error: the back end failed to serve a valid request."""

    status_code = 500
    default_message = "Internal Server Error"


class BadRequest(ClientError):
    """400: the request is malformed (for example, its JSON body does not parse)."""

    status_code = 400
    default_message = "Invalid JSON body"


class Unauthenticated(ClientError):
    """401: no or unknown credentials."""

    status_code = 401
    default_message = "Could not authenticate"


class PaymentRequired(ClientError):
    """402: the account's plan does not allow the action."""

    status_code = 402
    default_message = "The account cannot do this action because of its subscription plan"


class Forbidden(ClientError):
    """403, code 40301: the caller may not perform this operation."""

    status_code = 403
    code = 40301
    default_message = "You are not allowed to perform this operation"


class NotSupported(Forbidden):
    """403, code 40302: the request is understood but not supported."""

    code = 40302
    default_message = "The request is not supported"


class NotFound(ClientError):
    """404: the resource or handler does not exist."""

    status_code = 404
    default_message = "Resource or handler not found"


class MethodNotAllowed(ClientError):
    """405: the route exists but not for this method; pass ``Allow`` in ``headers``."""

    status_code = 405
    default_message = "Method Not Allowed"


class NotAcceptable(ClientError):
    """406: the ``Accept`` header rules out JSON."""

    status_code = 406
    default_message = "Requested format is not supported"


class Conflict(ClientError):
    """409: the ID or name conflicts with another entity."""

    status_code = 409
    default_message = "ID or name conflicts with another entity"


class Gone(ClientError):
    """410: the feature is deprecated and no longer served."""

    status_code = 410
    default_message = "Feature is deprecated"


class ContentTooLarge(ClientError):
    """413: the request body is larger than the middleware's ``max_body_size``."""

    status_code = 413
    default_message = "Request body is too large"


class UnsupportedMediaType(ClientError):
    """415: the request body's ``Content-Type`` is not JSON."""

    status_code = 415
    default_message = "Request body format is not supported"


class RangeNotSatisfiable(ClientError):
    """416: the requested range (offset, limit) is not supported."""

    status_code = 416
    default_message = "The given range is not supported"


# Each part of a request where a field can be invalid, as the 422 message names it.
_PARTS: dict[str, tuple[str, str]] = {
    "path": ("path parameter", "path parameters"),
    "query": ("query parameter", "query parameters"),
    "header": ("header", "headers"),
    "cookie": ("cookie", "cookies"),
    "body": ("body field", "body fields"),
}


class UnprocessableEntity(ClientError):
    """422: the request parsed but some of its fields are invalid; details go in ``errors``.

    The default message is OpsGenie's, about the body; :meth:`at` says which part of the
    request (path, query, header, cookie, body) the invalid fields are in.
    """

    status_code = 422
    default_message = "Request body is not processable. Please check the errors."

    @classmethod
    def at(
        cls,
        *,
        path: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        header: Mapping[str, str] | None = None,
        cookie: Mapping[str, str] | None = None,
        body: Mapping[str, str] | None = None,
    ) -> Self:
        """A 422 whose message says what is wrong and where; each keyword: field → problem.

        Body fields alone keep OpsGenie's message. Otherwise one invalid field is named
        with its problem, several by part and name; ``errors`` maps every field to its
        problem (two problems of one name in two parts are joined with ``"; "``).

        Example::

            raise UnprocessableEntity.at(query={"limit": "should be an integer"})
            # "Invalid query parameter 'limit': should be an integer"
        """
        located = {"path": path, "query": query, "header": header, "cookie": cookie, "body": body}
        errors: dict[str, str] = {}
        named: list[str] = []
        for part, fields in located.items():
            if not fields:
                continue
            for field, problem in fields.items():
                known = errors.get(field)
                errors[field] = problem if known is None else f"{known}; {problem}"
            one, many = _PARTS[part]
            names = ", ".join(f"'{field}'" for field in fields)
            named.append(f"{one if len(fields) == 1 else many} {names}")
        if not named or (len(named) == 1 and body):
            return cls(errors=errors)
        if len(errors) == 1 and len(named) == 1:
            (problem,) = errors.values()
            return cls(f"Invalid {named[0]}: {problem}", errors=errors)
        listed = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
        return cls(f"Invalid {listed}. Please check the errors.", errors=errors)


class PreconditionRequired(ClientError):
    """428: the entity is used by another entity."""

    status_code = 428
    default_message = "Entity is used by another entity"


class _RetryAfterMixin(ApiError):
    """Adds ``retry_after`` (seconds) rendered as an integer ``Retry-After`` header."""

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        errors: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message, errors=errors, headers=headers, code=code)
        self.retry_after: int | None = None
        if retry_after is not None:
            seconds = check_seconds("retry_after", retry_after, zero=True)
            self.retry_after = max(1, math.ceil(seconds))
            self.headers[RETRY_AFTER_HEADER] = str(self.retry_after)


class TooManyRequests(_RetryAfterMixin, ClientError):
    """429: the caller is throttled; wait ``Retry-After`` seconds, then retry.

    Sets OpsGenie's ``X-RateLimit-State: THROTTLED``, ``X-RateLimit-Reason`` and, when
    known, ``X-RateLimit-Period-In-Sec``; one given in ``headers`` is kept instead.

    Example::

        raise TooManyRequests(retry_after=1.5, reason="API_KEY", period=60)
    """

    status_code = 429
    default_message = "You are making too many requests!"

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        reason: str = DEFAULT_RATE_LIMIT_REASON,
        period: int | None = None,
        errors: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(
            message, retry_after=retry_after, errors=errors, headers=headers, code=code
        )
        self.reason = reason
        self.period = period
        defaults = {RATE_LIMIT_STATE_HEADER: THROTTLED, RATE_LIMIT_REASON_HEADER: reason}
        if period is not None:
            defaults[RATE_LIMIT_PERIOD_HEADER] = str(int(period))
        given = {name.lower() for name in self.headers}
        for name, value in defaults.items():
            if name.lower() not in given:  # headers given as such win, whatever their case
                self.headers[name] = value


class InternalServerError(ServerError):
    """500: an unexpected failure; the body never carries exception text by default."""

    status_code = 500
    default_message = "Internal Server Error"


class NotImplementedYet(ServerError):
    """501: the endpoint is planned but not implemented."""

    status_code = 501
    default_message = "Not Implemented"


class ServiceUnavailable(_RetryAfterMixin, ServerError):
    """503: the back end is at capacity; clients should retry, after ``Retry-After``."""

    status_code = 503
    default_message = "Back-end servers are at capacity"


_BY_STATUS: dict[int, type[ApiError]] = {
    cls.status_code: cls
    for cls in (
        BadRequest,
        Unauthenticated,
        PaymentRequired,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        Conflict,
        Gone,
        ContentTooLarge,
        UnsupportedMediaType,
        RangeNotSatisfiable,
        UnprocessableEntity,
        PreconditionRequired,
        TooManyRequests,
        InternalServerError,
        NotImplementedYet,
        ServiceUnavailable,
    )
}
_BY_CODE: dict[int, type[ApiError]] = {40301: Forbidden, 40302: NotSupported}


def error_class_for(status_code: int, code: int | None = None) -> type[ApiError]:
    """Return the taxonomy class for a status (and internal code), or the closest base.

    ``error_class_for(403, 40302)`` is ``NotSupported``; an unlisted 4xx is ``ClientError``,
    an unlisted 5xx ``ServerError``, anything else ``ApiError``.
    """
    if code is not None:
        by_code = _BY_CODE.get(code)
        if by_code is not None and by_code.status_code == status_code:
            return by_code
    cls = _BY_STATUS.get(status_code)
    if cls is not None:
        return cls
    if 400 <= status_code < 500:
        return ClientError
    if 500 <= status_code < 600:
        return ServerError
    return ApiError
