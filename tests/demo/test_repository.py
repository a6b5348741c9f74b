"""The demo's store on its own: what the API cannot show directly."""

from __future__ import annotations

from examples.alerts.repository import AlertStore, NewAlert


def test_store_keeps_only_the_newest_request_statuses() -> None:
    """Past ``max_request_statuses``, the oldest request status is forgotten."""
    store = AlertStore(max_request_statuses=2)
    for request_id in ("r1", "r2", "r3"):
        store.record(request_id, store.create(NewAlert(message=request_id)))
    assert list(store.requests) == ["r2", "r3"]
    assert store.request_status("r1") is None
