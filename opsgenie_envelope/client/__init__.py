"""The other side of the wire: httpx clients that read OpsGenie envelopes.

Needs the ``client`` extra (``pip install "opsgenie-envelope[client]"``), which brings httpx.

* :class:`Client` / :class:`AsyncClient` wrap ``httpx.Client`` / ``httpx.AsyncClient``
  (every httpx option still applies); a request returns an :class:`Envelope`.
* :func:`unwrap` reads any ``httpx.Response`` the same way.
* Error envelopes raise the server's own taxonomy (``NotFound``, ``NotSupported``, ...).
* 503, 429 and connection failures of idempotent methods are retried per :class:`Retry`.
* ``paginate`` follows ``paging.next``; ``expand=[...]`` asks for expanded fields.
* :class:`TestClientTransport` runs the sync :class:`Client` over an ASGI app in tests.

What a request can raise::

    ApiError and its taxonomy ...... an error envelope, as the server raised it, with
                                     request_id, took and response
    RequestFailed .................. root of the client's own failures:
    ├── NotAnEnvelope .............. a body that is not an envelope (a proxy's HTML 502)
    ├── RetriesExhausted ........... attempts or time budget used up; ``last_error``
    └── PagingError ................ page limit reached, or ``next`` leaves the origin
    httpx.TransportError ........... a connection failure that was not retried

Example::

    from opsgenie_envelope import NotFound
    from opsgenie_envelope.client import Client

    with Client(base_url="https://api.opsgenie.com") as client:
        try:
            alert = client.get("/v2/alerts/1").data
        except NotFound as exc:
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
from ._errors import NotAnEnvelope, PagingError, RequestFailed, RetriesExhausted
from ._paging import DEFAULT_MAX_PAGES
from ._retry import IDEMPOTENT_METHODS, Retry
from ._testclient import TestClientTransport

__all__ = [
    "DEFAULT_MAX_PAGES",
    "DEFAULT_RETRY",
    "IDEMPOTENT_METHODS",
    "AsyncClient",
    "Client",
    "Envelope",
    "NotAnEnvelope",
    "Paging",
    "PagingError",
    "RequestFailed",
    "RequestOptions",
    "RetriesExhausted",
    "Retry",
    "TestClientTransport",
    "unwrap",
]

# The client's own errors read as ``opsgenie_envelope.client.NotAnEnvelope`` in tracebacks.
for _error in (NotAnEnvelope, PagingError, RequestFailed, RetriesExhausted):
    _error.__module__ = __name__
del _error
