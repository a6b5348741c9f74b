"""The demo's memory store on its own: what the API cannot show directly."""

from __future__ import annotations

import pytest

from examples.alerts.repository import AlertStore, NewAlert, clip_details, clip_tags
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


async def test_visible_to_is_kept() -> None:
    """``visibleTo`` is stored with the alert (OpsGenie's ``Alert`` has no field to show it)."""
    store = AlertStore()
    team = {"type": "team", "id": "t-1"}
    outcome = await store.create(NewAlert(message="Disk full", visible_to=(team, team)))
    alert = await store.find(outcome.fields["alertId"])
    assert alert is not None
    assert alert.visible_to == [team]


def test_details_are_kept_until_8000_characters() -> None:
    """Pairs are kept in order while keys and values total 8,000 characters; the rest go."""
    details = {f"k{n}": "v" * 1998 for n in range(5)}  # 2,000 characters each
    kept = clip_details(details)
    assert list(kept) == ["k0", "k1", "k2", "k3"]


def test_added_details_keep_the_alerts_own_first() -> None:
    """Merged details keep what the alert had before what is added."""
    kept = clip_details({"new": "x" * 7990}, keep={"old": "value"})
    assert list(kept) == ["old"]


def test_tags_are_cut_and_unique() -> None:
    """Tags are cut to 50 characters, without repeats, 20 at most, the alert's first."""
    tags = clip_tags(["a" * 60, "a" * 70, *[f"t{n}" for n in range(30)]], keep=["own"])
    assert tags[:2] == ["own", "a" * 50]
    assert len(tags) == 20
