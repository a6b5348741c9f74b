"""The other side of the wire: httpx clients that read OpsGenie envelopes.

Needs the ``client`` extra (``pip install "opsgenie-envelope[client]"``), which brings httpx.

* :class:`Client` / :class:`AsyncClient` wrap ``httpx.Client`` / ``httpx.AsyncClient``
  (every httpx option still applies); a request returns an :class:`Envelope`.
* :func:`unwrap` reads any ``httpx.Response`` the same way.
* Error envelopes raise the client's twin of the server's class: ``client.NotFound`` is an
  ``opsgenie_envelope.NotFound`` too, and carries ``request_id``, ``took`` and ``response``.
* 503, 429 and connection failures of idempotent methods are retried per :class:`Retry`.
* ``paginate`` follows ``paging.next``; ``expand=[...]`` asks for expanded fields.
* :class:`TestClientTransport` runs the sync :class:`Client` over an ASGI app in tests.

What a request can raise::

    RequestFailed .................. root of everything the client raises:
    ├── ApiError ................... an error envelope; request_id, took, response; its tree
    │   ├── ClientError ............ mirrors the server's (NotFound, TooManyRequests, ...),
    │   └── ServerError ............ each class a subclass of the server's class of that name
    ├── NotAnEnvelope .............. a body that is not an envelope (a proxy's HTML 502)
    ├── RetriesExhausted ........... attempts or time budget used up; ``last_error``
    └── PagingError ................ page limit reached, or ``next`` leaves the origin
    httpx.TransportError ........... a connection failure that was not retried

Example::

    from opsgenie_envelope.client import Client, NotFound

    with Client(base_url="https://api.opsgenie.com") as client:
        try:
            alert = client.get("/v2/alerts/1").data
        except NotFound as exc:  # also caught by ``except opsgenie_envelope.NotFound``
            print(exc.message, exc.request_id)
"""

from __future__ import annotations

try:
    import httpx  # noqa: F401  (fail here, with the fix, when the extra is missing)
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without httpx
    raise ImportError(
        'opsgenie_envelope.client needs httpx: pip install "opsgenie-envelope[client]"'
    ) from exc

from ._client import DEFAULT_RETRY, AsyncClient, Client, RequestOptions
from ._envelope import Envelope, Paging, unwrap
from ._errors import (
    ApiError,
    BadRequest,
    ClientError,
    Conflict,
    ContentTooLarge,
    Forbidden,
    Gone,
    InternalServerError,
    MethodNotAllowed,
    NotAcceptable,
    NotAnEnvelope,
    NotFound,
    NotImplementedYet,
    NotSupported,
    PagingError,
    PaymentRequired,
    PreconditionRequired,
    RangeNotSatisfiable,
    RequestFailed,
    RetriesExhausted,
    ServerError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthenticated,
    UnprocessableEntity,
    UnsupportedMediaType,
)
from ._paging import DEFAULT_MAX_PAGES
from ._retry import IDEMPOTENT_METHODS, Retry
from ._testclient import TestClientTransport

__all__ = [
    "DEFAULT_MAX_PAGES",
    "DEFAULT_RETRY",
    "IDEMPOTENT_METHODS",
    "ApiError",
    "AsyncClient",
    "BadRequest",
    "Client",
    "ClientError",
    "Conflict",
    "ContentTooLarge",
    "Envelope",
    "Forbidden",
    "Gone",
    "InternalServerError",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotAnEnvelope",
    "NotFound",
    "NotImplementedYet",
    "NotSupported",
    "Paging",
    "PagingError",
    "PaymentRequired",
    "PreconditionRequired",
    "RangeNotSatisfiable",
    "RequestFailed",
    "RequestOptions",
    "RetriesExhausted",
    "Retry",
    "ServerError",
    "ServiceUnavailable",
    "TestClientTransport",
    "TooManyRequests",
    "Unauthenticated",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "unwrap",
]

# The errors read as ``opsgenie_envelope.client.NotFound`` in tracebacks, reprs and pickles.
for _name in __all__:
    _value = globals()[_name]
    if isinstance(_value, type) and issubclass(_value, RequestFailed):
        _value.__module__ = __name__
del _name, _value
