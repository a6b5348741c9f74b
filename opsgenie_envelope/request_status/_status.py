"""What a background write came to: the ``Outcome`` work returns, the ``RequestStatus`` served.

``RequestStatus.to_json()`` is OpsGenie's request status (``AlertRequestStatus``,
``IncidentRequestStatus``): ``success``, ``action``, ``processedAt``, ``isSuccess``,
``status``, then the entity fields (``alertId``, ``alias``, ``integrationId``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .._options import check_bool, check_str, check_type

__all__ = ["LOST", "UNEXPECTED", "Outcome", "RequestStatus", "timestamp"]

LOST = "Request processing stopped before it finished"
"""``status`` of a request whose worker stopped (crash, kill, shutdown) while processing it:
the write may or may not have been applied."""

UNEXPECTED = "Request could not be processed"
"""``status`` of a request whose work raised an unexpected exception (logged, never shown)."""

_RESERVED = frozenset({"success", "action", "processedAt", "isSuccess", "status"})


def timestamp(moment: datetime) -> str:
    """OpsGenie's time format: UTC, milliseconds, ``Z`` (``2017-03-21T20:32:52.353Z``)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a write came to, returned by the work given to ``RequestTracker.accept``.

    Args:
        status: OpsGenie's text, e.g. ``"Created alert"`` or ``"Alert does not exist"``.
        success: whether the write did what was asked.
        fields: the entity fields shown beside it, e.g. ``{"alertId": ..., "alias": ...}``
            (JSON values; not ``success``, ``action``, ``processedAt``, ``isSuccess``,
            ``status``).

    Work may also raise an :class:`~opsgenie_envelope.ApiError`: its message becomes a failed
    outcome's status.

    Example::

        Outcome("Created alert", fields={"alertId": alert.id, "alias": alert.alias})
        Outcome("Alert does not exist", success=False)
    """

    status: str
    success: bool = True
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_str("status", self.status)
        check_bool("success", self.success)
        check_type("fields", self.fields, Mapping, "a mapping of names to JSON values")
        clash = _RESERVED.intersection(self.fields)
        if clash:
            raise ValueError(f"fields may not set {sorted(clash)}: they are the status's own")
        object.__setattr__(self, "fields", dict(self.fields))


@dataclass(frozen=True, slots=True)
class RequestStatus:
    """A processed request, as ``GET .../requests/{requestId}`` reports it."""

    request_id: str
    action: str
    processed_at: datetime
    success: bool
    status: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The ``data`` of the request-status answer, in OpsGenie's key order."""
        return {
            "success": self.success,
            "action": self.action,
            "processedAt": timestamp(self.processed_at),
            "isSuccess": self.success,
            "status": self.status,
            **self.fields,
        }
