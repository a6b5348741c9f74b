"""The demo's memory store on its own: what the API cannot show directly."""

from __future__ import annotations

import pytest

from examples.alerts.repository import AlertStore, NewAlert
from examples.alerts.seed import seed

pytestmark = pytest.mark.anyio


async def test_sample_data_loads_with_tiny_ids_one_to_five() -> None:
    """Seeding stores five alerts, tiny IDs 1..5, and the next alert gets tiny ID 6."""
    store = AlertStore()
    seed(store)
    alerts = await store.search(lambda alert: True, "tinyId", "asc", 0, 100)
    created = await store.add(NewAlert(message="Disk full"))
    assert [alert.tiny_id for alert in alerts[0]] == [1, 2, 3, 4, 5]
    assert created.tiny_id == 6
