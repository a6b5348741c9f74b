"""Helpers for testing apps that use opsgenie_envelope: stable request IDs and ``took``.

An envelope carries two values that change on every run, ``requestId`` and ``took``. Inside
:func:`stable_envelopes` every ``EnvelopeMiddleware`` of the process issues the IDs
:func:`request_id` gives, in order (``request_id(1)`` for the first request, and so on), and
reports a fixed ``took``, so a test can compare whole bodies and headers::

    from starlette.testclient import TestClient
    from opsgenie_envelope.testing import request_id, stable_envelopes

    def test_get_alert() -> None:
        with stable_envelopes(), TestClient(app) as client:
            response = client.get("/v2/alerts/1")
        assert response.json() == {"data": {"id": "1"}, "took": 0.0, "requestId": request_id(1)}
        assert response.headers["X-Request-ID"] == request_id(1)

It works with apps built before the test (a module-level ``app``), whatever their options,
except a custom ``generator``, whose IDs stay its own. It works by injection: every
``EnvelopeMiddleware`` of the process takes the block's ID source and clock as if they were
its ``generator`` and ``clock`` options, and its own again when the block ends (an app built
inside the block too). Nothing else changes: :func:`~opsgenie_envelope.uuid4_hex` called by
your app still gives random IDs. For pytest, the same as a fixture:
``pytest_plugins = ["opsgenie_envelope.pytest_plugin"]`` in the root ``conftest.py``, then
a test asks for ``stable_envelopes``. Nothing here imports pytest, httpx or a test client.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ._context import current_scope
from ._middleware import injected
from ._options import check_int, check_seconds

__all__ = ["StableEnvelopes", "request_id", "stable_envelopes"]

_TEMPLATE = "00000000-0000-4000-8000-{:012d}"
_LIMIT = 10**12


def request_id(n: int) -> str:
    """The ID of the ``n``-th request (from 1) inside :func:`stable_envelopes`.

    A UUID4-shaped string, so it passes the same checks as a real ID:
    ``request_id(1) == "00000000-0000-4000-8000-000000000001"``.
    """
    return _TEMPLATE.format(check_int("n", n, minimum=1, maximum=_LIMIT - 1))


class StableEnvelopes:
    """What :func:`stable_envelopes` fixed: the IDs issued so far, in order, and ``took``.

    Attributes:
        took: the ``took`` (and ``X-Response-Time``) of every response, in seconds.
        issued: the request IDs handed out, oldest first (``issued[-1]`` is the last one).
    """

    def __init__(self, took: float, first: int) -> None:
        self.took = took
        self.issued: list[str] = []
        self._next = first
        self._lock = threading.Lock()  # the app may run in another thread (TestClient)

    def next_id(self) -> str:
        """Issue the next ID: the ``generator`` injected into the middleware."""
        with self._lock:
            issued = request_id(self._next)
            self._next += 1
            self.issued.append(issued)
        return issued

    def clock(self) -> float:
        """The ``clock`` injected into the middleware: ``took`` reads as :attr:`took`.

        It reads 0.0 when a request arrives (no request is being served yet in its context)
        and ``took`` once it is being served, so every answer reports ``took`` exactly.
        """
        return 0.0 if current_scope.get() is None else self.took


@contextmanager
def stable_envelopes(*, took: float = 0.0, first: int = 1) -> Iterator[StableEnvelopes]:
    """Make request IDs and ``took`` predictable in every ``EnvelopeMiddleware``, for a while.

    Args:
        took: the ``took`` every response reports, in seconds (rounded to 3 decimals as
            usual): ``0.0`` by default.
        first: the number of the first ID: ``request_id(first)``.

    Yields the :class:`StableEnvelopes` that records the IDs issued. Process-wide, as time and
    randomness are: do not use it in tests that run at the same time in one process.
    """
    seconds = check_seconds("took", took, zero=True)
    check_int("first", first, minimum=1, maximum=_LIMIT - 1)
    state = StableEnvelopes(round(seconds, 3), first)
    with injected(state.next_id, state.clock):
        yield state
