"""Storage for the Alerts API demo: alerts and users, in this process's memory by default.

The sample data lives in ``seed``; the Redis backend, shared by every worker process, in
``redis_store``. Request statuses and rate limits are the library's
(``opsgenie_envelope.request_status`` and ``opsgenie_envelope.ratelimit``).

Plain Python, no web framework: the API module turns ``None`` into ``NotFound`` and
:class:`QueryError` into a 422; writes return an ``Outcome``, which the request status shows.

Shapes follow OpsGenie's Alert API: an alert renders as OpsGenie's ``Alert`` (one alert) or
``BaseAlert`` (list items), a processed write as ``AlertRequestStatus``.
"""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from opsgenie_envelope.request_status import Outcome

__all__ = [
    "IDENTIFIER_TYPES",
    "NO_ALERT",
    "PRIORITIES",
    "SORT_FIELDS",
    "Alert",
    "AlertStore",
    "IdentifierType",
    "Match",
    "NewAlert",
    "QueryError",
    "User",
    "millis",
    "parse_query",
]

PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
"""OpsGenie's alert priorities, most urgent first."""

IdentifierType = Literal["id", "alias", "tiny"]
IDENTIFIER_TYPES: tuple[IdentifierType, ...] = ("id", "alias", "tiny")

SORT_FIELDS = (
    "createdAt",
    "updatedAt",
    "lastOccurredAt",
    "tinyId",
    "alias",
    "message",
    "status",
    "acknowledged",
    "count",
)
"""The fields ``GET /v2/alerts`` sorts by (a subset of OpsGenie's)."""

NO_ALERT = "Alert does not exist"
"""The status of an action on an unknown alert."""

MAX_QUERY = 1000
"""Longest ``query`` accepted, as for OpsGenie's saved searches."""

# OpsGenie's documented limits; longer values are cut, as OpsGenie does.
_LIMITS = {"message": 130, "alias": 512, "description": 15000, "entity": 512, "source": 100}
_MAX_TAGS, _MAX_TAG = 20, 50
_INTEGRATION = {
    "id": "4513b7ea-3b91-438f-b7e4-e3e54af9147c",
    "name": "Default API",
    "type": "API",
}


def timestamp(moment: datetime) -> str:
    """OpsGenie's time format: UTC, milliseconds, ``Z`` (``2017-03-21T20:32:52.353Z``)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


class QueryError(ValueError):
    """A ``query`` the demo cannot read; its text says why."""


@dataclass(frozen=True)
class NewAlert:
    """The checked fields of a create request."""

    message: str
    priority: str = "P3"
    alias: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    details: dict[str, str] = field(default_factory=dict)
    entity: str = ""
    source: str = ""

    def clipped(self) -> NewAlert:
        """The same alert with every field cut to OpsGenie's limits."""
        return NewAlert(
            message=self.message[: _LIMITS["message"]],
            priority=self.priority,
            alias=None if self.alias is None else self.alias[: _LIMITS["alias"]],
            description=self.description[: _LIMITS["description"]],
            tags=tuple(dict.fromkeys(tag[:_MAX_TAG] for tag in self.tags))[:_MAX_TAGS],
            details=dict(self.details),
            entity=self.entity[: _LIMITS["entity"]],
            source=self.source[: _LIMITS["source"]],
        )


@dataclass
class Alert:
    """One alert, as stored."""

    id: str
    tiny_id: int
    alias: str
    message: str
    priority: str
    created_at: datetime
    updated_at: datetime
    last_occurred_at: datetime
    description: str = ""
    tags: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    entity: str = ""
    source: str = ""
    owner: str = ""
    status: Literal["open", "closed"] = "open"
    acknowledged: bool = False
    count: int = 1
    report: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def made(cls, new: NewAlert, alert_id: str, tiny_id: int, created_at: datetime) -> Alert:
        """A new alert from the checked fields of a create request, cut to OpsGenie's limits."""
        new = new.clipped()
        return cls(
            id=alert_id,
            tiny_id=tiny_id,
            alias=new.alias or alert_id,  # OpsGenie's default alias is the alert's ID
            message=new.message,
            priority=new.priority,
            created_at=created_at,
            updated_at=created_at,
            last_occurred_at=created_at,
            description=new.description,
            tags=list(new.tags),
            details=dict(new.details),
            entity=new.entity,
            source=new.source,
        )

    def sort_key(self, name: str) -> Any:
        """The value ``GET /v2/alerts`` sorts on for ``sort=name``."""
        values: dict[str, Any] = {
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "lastOccurredAt": self.last_occurred_at,
            "tinyId": self.tiny_id,
            "alias": self.alias,
            "message": self.message.lower(),
            "status": self.status,
            "acknowledged": self.acknowledged,
            "count": self.count,
        }
        return values[name]

    def to_json(self, *, full: bool = True) -> dict[str, Any]:
        """OpsGenie's ``Alert`` (``full``) or ``BaseAlert`` (list items, without details)."""
        data: dict[str, Any] = {
            "id": self.id,
            "tinyId": str(self.tiny_id),
            "alias": self.alias,
            "message": self.message,
            "status": self.status,
            "acknowledged": self.acknowledged,
            "isSeen": self.acknowledged,
            "tags": list(self.tags),
            "snoozed": False,
            "count": self.count,
            "lastOccurredAt": timestamp(self.last_occurred_at),
            "createdAt": timestamp(self.created_at),
            "updatedAt": timestamp(self.updated_at),
            "source": self.source,
            "owner": self.owner,
            "priority": self.priority,
            "responders": [],
            "integration": dict(_INTEGRATION),
            "report": dict(self.report),
        }
        if full:
            data["actions"] = []
            data["entity"] = self.entity
            data["description"] = self.description
            data["details"] = dict(self.details)
        return data


@dataclass
class User:
    """A user and the contacts ``expand=contact`` loads (OpsGenie's ``UserContact`` each)."""

    id: str
    username: str
    full_name: str
    role: str
    created_at: datetime
    time_zone: str = "Europe/London"
    locale: str = "en_GB"
    contacts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """OpsGenie's ``User``, without ``userContacts`` (``expand=contact`` adds them)."""
        return {
            "blocked": False,
            "verified": True,
            "id": self.id,
            "username": self.username,
            "fullName": self.full_name,
            "role": {"id": self.role, "name": self.role},
            "timeZone": self.time_zone,
            "locale": self.locale,
            "createdAt": timestamp(self.created_at),
        }


Match = Callable[[Alert], bool]


def _term(name: str, value: str) -> Match:
    """One ``field:value`` test."""
    if name == "status":
        if value not in ("open", "closed"):
            raise QueryError("status should be one of [ open, closed ]")
        return lambda alert: alert.status == value
    if name == "acknowledged":
        if value not in ("true", "false"):
            raise QueryError("acknowledged should be one of [ true, false ]")
        return lambda alert: alert.acknowledged == (value == "true")
    if name == "priority":
        if value not in PRIORITIES:
            raise QueryError(f"priority should be one of [ {', '.join(PRIORITIES)} ]")
        return lambda alert: alert.priority == value
    if name in ("tag", "tags"):
        return lambda alert: value in alert.tags
    if name == "alias":
        return lambda alert: alert.alias == value
    if name == "tinyId":
        return lambda alert: str(alert.tiny_id) == value
    if name in ("message", "source", "owner", "entity"):
        needle = value.lower()
        return lambda alert: needle in str(getattr(alert, name)).lower()
    raise QueryError(
        "fields should be among [ status, acknowledged, priority, tag, alias, tinyId, "
        "message, source, owner, entity ]"
    )


def parse_query(query: str) -> Match:
    """Read a simple OpsGenie-style query: ``status:open priority:P1 tag:web disk``.

    Terms are ``field:value`` (quote values with spaces: ``message:"disk full"``) or bare
    words searched in the message; all must hold (an explicit ``AND`` is allowed). The
    empty query matches every alert. Raises :class:`QueryError` for anything else.
    """
    if len(query) > MAX_QUERY:
        raise QueryError(f"query should be at most {MAX_QUERY} characters")
    try:
        words = shlex.split(query)
    except ValueError:
        raise QueryError("query has an unclosed quote") from None
    tests: list[Match] = []
    for word in words:
        if word == "AND":
            continue
        if word in ("OR", "NOT"):
            raise QueryError(f"{word} is not supported by this demo: terms are joined by AND")
        name, colon, value = word.partition(":")
        if not colon:
            tests.append(_term("message", word))
        elif not name or not value:
            raise QueryError("terms should read field:value")
        else:
            tests.append(_term(name, value))
    return lambda alert: all(test(alert) for test in tests)


class AlertStore:
    """Alerts and users, in this process's memory: the default, needing nothing.

    Each worker process has its own copy: see :class:`~examples.alerts.redis_store.RedisAlertStore`
    for one store shared by every worker. The domain logic (deduplication, acknowledge,
    close, delete) lives here once; a backend only overrides the storage primitives
    (``_all``, ``_get``, ``_put``, ``_remove``, ``_next_tiny``, ``_users``, ``_writing``).

    Args:
        clock: the current time (UTC), for timestamps.
    """

    where = "in memory"
    """Where the data lives, for the start-up banner."""

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self.clock = clock
        self.alerts: dict[str, Alert] = {}
        self.users: dict[str, User] = {}
        self._last_tiny = 0

    # Storage primitives: overridden by other backends --------------------------------

    async def _all(self) -> list[Alert]:
        return list(self.alerts.values())

    async def _get(self, alert_id: str) -> Alert | None:
        return self.alerts.get(alert_id)

    async def _put(self, alert: Alert) -> None:
        self.alerts[alert.id] = alert

    async def _remove(self, alert_id: str) -> None:
        self.alerts.pop(alert_id, None)

    async def _next_tiny(self) -> int:
        self._last_tiny += 1
        return self._last_tiny

    async def _users(self) -> list[User]:
        return list(self.users.values())

    def _writing(self) -> AbstractAsyncContextManager[None]:
        """Held around each read-modify-write. In memory nothing is needed: a mutation never
        waits, so coroutines on one event loop never see half of one."""
        return nullcontext()

    def load(self, users: Iterable[User], alerts: Iterable[Alert]) -> None:
        """Store the sample data (see ``seed``), replacing what has the same IDs."""
        self.users.update((user.id, user) for user in users)
        for alert in alerts:
            self.alerts[alert.id] = alert
            self._last_tiny = max(self._last_tiny, alert.tiny_id)

    async def sizes(self) -> tuple[int, int]:
        """How many alerts and users are stored."""
        return len(await self._all()), len(await self._users())

    async def aclose(self) -> None:
        """Release connections (none in memory)."""

    # Alerts -------------------------------------------------------------------------

    async def find(self, identifier: str, identifier_type: IdentifierType = "id") -> Alert | None:
        """The alert with this ID, tiny ID or alias (an open alert first), or ``None``."""
        if identifier_type == "id":
            return await self._get(identifier)
        alerts = await self._all()
        if identifier_type == "tiny":
            return next((a for a in alerts if str(a.tiny_id) == identifier), None)
        candidates = [a for a in alerts if a.alias == identifier]
        candidates.sort(key=lambda a: (a.status == "open", a.created_at), reverse=True)
        return candidates[0] if candidates else None

    async def search(
        self, match: Match, sort: str, order: Literal["asc", "desc"], offset: int, limit: int
    ) -> tuple[list[Alert], int]:
        """One page of the alerts ``match`` accepts, sorted; and how many it accepts."""
        found = [alert for alert in await self._all() if match(alert)]
        found.sort(key=lambda a: (a.sort_key(sort), a.tiny_id), reverse=order == "desc")
        return found[offset : offset + limit], len(found)

    async def count(self, match: Match) -> int:
        """How many alerts ``match`` accepts."""
        return sum(1 for alert in await self._all() if match(alert))

    async def add(
        self, new: NewAlert, *, created_at: datetime | None = None, alert_id: str | None = None
    ) -> Alert:
        """Store a new alert (no deduplication) and return it."""
        alert_id = alert_id or str(uuid.uuid4())
        alert = Alert.made(new, alert_id, await self._next_tiny(), created_at or self.clock())
        await self._put(alert)
        return alert

    async def create(self, new: NewAlert) -> Outcome:
        """Create an alert, or count one more occurrence of the open alert with its alias."""
        async with self._writing():
            now = self.clock()
            new = new.clipped()
            existing = None if new.alias is None else await self.find(new.alias, "alias")
            if existing is not None and existing.status == "open":
                existing.count += 1
                existing.last_occurred_at = existing.updated_at = now
                await self._put(existing)
                return _done("Alert deduplicated", existing)
            return _done("Created alert", await self.add(new, created_at=now))

    async def _act(
        self,
        identifier: str,
        identifier_type: IdentifierType,
        done: str,
        change: Callable[[Alert, datetime], bool],
    ) -> Outcome:
        """Apply ``change`` (which says whether it changed anything) to one alert, atomically."""
        async with self._writing():
            alert = await self.find(identifier, identifier_type)
            if alert is None:
                return _failed(NO_ALERT)
            if change(alert, self.clock()):
                await self._put(alert)
            return _done(done, alert)

    async def acknowledge(
        self, identifier: str, identifier_type: IdentifierType, user: str | None = None
    ) -> Outcome:
        """Acknowledge an alert (again is fine)."""

        def acknowledge(alert: Alert, now: datetime) -> bool:
            if alert.acknowledged:
                return False
            alert.acknowledged = True
            alert.updated_at = now
            alert.report["ackTime"] = millis(now - alert.created_at)
            alert.report["acknowledgedBy"] = user or "API"
            return True

        return await self._act(identifier, identifier_type, "Acknowledged", acknowledge)

    async def close(
        self, identifier: str, identifier_type: IdentifierType, user: str | None = None
    ) -> Outcome:
        """Close an alert (again is fine)."""

        def close(alert: Alert, now: datetime) -> bool:
            if alert.status == "closed":
                return False
            alert.status = "closed"
            alert.updated_at = now
            alert.report["closeTime"] = millis(now - alert.created_at)
            alert.report["closedBy"] = user or "API"
            return True

        return await self._act(identifier, identifier_type, "Closed", close)

    async def delete(self, identifier: str, identifier_type: IdentifierType) -> Outcome:
        """Delete an alert."""
        async with self._writing():
            alert = await self.find(identifier, identifier_type)
            if alert is None:
                return _failed(NO_ALERT)
            await self._remove(alert.id)
            return _done("Deleted", alert)

    # Users --------------------------------------------------------------------------

    async def user(self, identifier: str) -> User | None:
        """The user with this ID or username."""
        users = await self._users()
        return next((u for u in users if identifier in (u.id, u.username)), None)


def _done(status: str, alert: Alert) -> Outcome:
    """A successful outcome about ``alert``, with the fields OpsGenie reports beside it."""
    fields = {"integrationId": _INTEGRATION["id"], "alertId": alert.id, "alias": alert.alias}
    return Outcome(status, fields=fields)


def _failed(status: str) -> Outcome:
    """A failed outcome: the integration that asked, as OpsGenie reports it."""
    return Outcome(status, success=False, fields={"integrationId": _INTEGRATION["id"]})


def millis(delta: timedelta) -> int:
    """A duration in whole milliseconds, as OpsGenie's ``report`` counts them."""
    return int(delta.total_seconds() * 1000)
