"""The Alerts API demo's sample data: three users and five alerts, with fixed IDs.

Fixed IDs (and tiny IDs 1 to 5) keep the documented examples working from one run to the next;
times are relative to the store's clock, so the alerts are always minutes old.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from examples.alerts.repository import Alert, AlertStore, NewAlert, User, millis

__all__ = ["sample", "seed"]

_USERS = (
    ("2b9a7e4c-6f3d-4a55-9c1e-3d8f0b7a6e21", "ada@example.com", "Ada Lovelace", "Admin"),
    ("8c4d2f19-0a7b-4e63-b5d2-91f6c3e8a704", "grace@example.com", "Grace Hopper", "User"),
    ("e17f5a38-c9d4-4b02-8e6a-5f2b7d1c9a83", "alan@example.com", "Alan Turing", "User"),
)
_CONTACT_IDS = (
    "0f6a1c2e-7b3d-4e58-a9c4-1d2e3f4a5b6c",
    "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
    "9e8d7c6b-5a4f-4e3d-b2c1-0a9b8c7d6e5f",
)
_ALERTS: tuple[tuple[str, int, dict[str, Any]], ...] = (
    # (id, minutes ago, fields)
    (
        "70413a06-38d6-4c85-92b8-5ebc900d42e2",
        50,
        {
            "message": "Nightly backup of billing-db failed",
            "priority": "P2",
            "alias": "backup-billing-db",
            "tags": ["backup", "database"],
            "entity": "billing-db",
            "source": "cron",
            "closed_by": "grace@example.com",
        },
    ),
    (
        "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9",
        40,
        {
            "message": "Disk /var is 95% full on db-01",
            "priority": "P1",
            "alias": "db-01-disk-var",
            "tags": ["disk", "database"],
            "entity": "db-01",
            "source": "prometheus",
            "description": "Free space on /var fell below 5% (12 GiB of 240 GiB).",
            "details": {"mount": "/var", "used": "95%"},
            "acknowledged_by": "ada@example.com",
        },
    ),
    (
        "a3c5e7f9-1b2d-4f6a-8c0e-2d4f6a8c0e1b",
        30,
        {
            "message": "CPU above 90% for 10 minutes on web-01",
            "priority": "P2",
            "alias": "web-01-cpu",
            "tags": ["cpu", "web"],
            "entity": "web-01",
            "source": "prometheus",
            "details": {"host": "web-01", "cpu": "93%"},
        },
    ),
    (
        "b4d6f8a0-2c3e-4a7b-9d1f-3e5a7c9e1f2a",
        20,
        {
            "message": "TLS certificate for api.example.com expires in 7 days",
            "priority": "P3",
            "alias": "cert-api-example-com",
            "tags": ["tls"],
            "entity": "api.example.com",
            "source": "cert-checker",
        },
    ),
    (
        "c5e7a9b1-3d4f-4b8c-ae2a-4f6b8d0f2a3b",
        10,
        {
            "message": "Heartbeat missed: payments-worker",
            "priority": "P1",
            "alias": "heartbeat-payments-worker",
            "tags": ["heartbeat"],
            "entity": "payments-worker",
            "source": "heartbeat",
        },
    ),
)


def sample(now: datetime) -> tuple[list[User], list[Alert]]:
    """Three users and five alerts (one acknowledged, one closed), tiny IDs 1 to 5."""
    users = [
        User(
            id=user_id,
            username=username,
            full_name=name,
            role=role,
            created_at=now - timedelta(days=30),
            contacts=[  # OpsGenie's UserContact
                {
                    "to": username,
                    "id": contact_id,
                    "contactMethod": "email",
                    "enabled": True,
                    "disabledReason": "",
                }
            ],
        )
        for (user_id, username, name, role), contact_id in zip(_USERS, _CONTACT_IDS, strict=True)
    ]
    alerts = []
    for tiny_id, (alert_id, minutes_ago, fields) in enumerate(_ALERTS, start=1):
        created = now - timedelta(minutes=minutes_ago)
        extra = dict(fields)
        acknowledged_by = extra.pop("acknowledged_by", None)
        closed_by = extra.pop("closed_by", None)
        extra["tags"] = tuple(extra["tags"])
        alert = Alert.made(NewAlert(**extra), alert_id, tiny_id, created)
        handled = created + timedelta(minutes=4)  # someone acted four minutes later
        if acknowledged_by is not None:
            alert.acknowledged = True
            alert.owner = acknowledged_by
            alert.report.update(ackTime=millis(handled - created), acknowledgedBy=acknowledged_by)
            alert.updated_at = handled
        if closed_by is not None:
            alert.status = "closed"
            alert.report.update(closeTime=millis(handled - created), closedBy=closed_by)
            alert.updated_at = handled
        alerts.append(alert)
    return users, alerts


def seed(store: AlertStore) -> None:
    """Load :func:`sample` into ``store``; in Redis only once, whatever the number of workers.

    IDs are fixed, so the documented examples work from one run to the next.
    """
    store.load(*sample(store.clock()))
