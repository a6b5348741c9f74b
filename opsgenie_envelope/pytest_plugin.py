"""pytest fixtures for apps that use opsgenie_envelope.

Enable it in the root ``conftest.py`` (or with ``-p opsgenie_envelope.pytest_plugin``)::

    pytest_plugins = ["opsgenie_envelope.pytest_plugin"]

then ask for ``stable_envelopes`` in a test::

    from opsgenie_envelope.testing import request_id

    def test_get_alert(stable_envelopes, client) -> None:
        response = client.get("/v2/alerts/1")
        assert response.json()["requestId"] == request_id(1) == stable_envelopes.issued[0]
        assert response.json()["took"] == 0.0
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import testing

__all__ = ["stable_envelopes"]


@pytest.fixture
def stable_envelopes() -> Iterator[testing.StableEnvelopes]:
    """Predictable request IDs (``request_id(1)``, ``request_id(2)``, ...) and ``took`` 0.0."""
    with testing.stable_envelopes() as stable:
        yield stable
