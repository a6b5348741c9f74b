"""Asynchronous requests, as OpsGenie answers writes: 202 now, the outcome when polled.

* :class:`RequestTracker`: ``accept`` a write (202, ``result: "Request will be processed"``,
  the request ID), process it in the background, serve ``GET .../requests/{requestId}``
  with :meth:`RequestTracker.status_data` (404 with ``X-Opsgenie-Errortype:
  RequestNotProcessed`` until processed, then ``success``,
  ``action``, ``processedAt``, ``isSuccess``, ``status`` and the entity fields).
* :class:`Outcome`: what the work returns; :class:`RequestStatus`: what is served.
* Stores: :class:`MemoryRequestStore` (default, one process) and :class:`RedisRequestStore`
  (``redis`` extra; many processes and hosts, with a TTL), or your own
  :class:`RequestStore`.

A worker that dies while processing stops renewing its lease: when the lease runs out
(``lease``, 60 s by default), the status reads ``success: false`` with ``status``
:data:`LOST`. The write may or may not have been applied: check before retrying.

Example::

    from opsgenie_envelope.request_status import RequestTracker

    tracker = RequestTracker("redis://127.0.0.1:6379/0", lease=30)
"""

from __future__ import annotations

from ._redis import RedisRequestStore
from ._status import LOST, UNEXPECTED, Outcome, RequestStatus
from ._store import DEFAULT_TTL, MemoryRequestStore, RequestStore, StoreUnavailable
from ._tracker import ACCEPTED, NOT_FOUND, NOT_PROCESSED, RequestTracker, Work

__all__ = [
    "ACCEPTED",
    "DEFAULT_TTL",
    "LOST",
    "NOT_FOUND",
    "NOT_PROCESSED",
    "UNEXPECTED",
    "MemoryRequestStore",
    "Outcome",
    "RedisRequestStore",
    "RequestStatus",
    "RequestStore",
    "RequestTracker",
    "StoreUnavailable",
    "Work",
]
