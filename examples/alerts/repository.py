"""Storage for the Alerts API demo: alerts and users, in this process's memory by default.

The sample data lives in ``seed``; the Redis backend, shared by every worker process, in
``redis_store``. Request statuses and rate limits are the library's
(``opsgenie_envelope.request_status`` and ``opsgenie_envelope.ratelimit``).

Plain Python, no web framework: the API module turns ``None`` into ``NotFound`` and
:class:`QueryError` into a 422; writes return an ``Outcome``, which the request status shows.

Shapes follow OpsGenie's Alert API: an alert renders as OpsGenie's ``Alert`` (one alert) or
``BaseAlert`` (list items), a processed write as ``AlertRequestStatus``, its notes and logs as
``AlertNote`` and ``AlertLog`` (each with the ``offset`` cursor they are paged by).

Fields longer than OpsGenie documents are cut to its limits (message 130 characters, alias
512, description 15,000, details 8,000 in total, tags 20 of 50, entity 512, source 100,
note 25,000, user 100, actions 10 of 50), as OpsGenie does. An alert keeps its newest
:data:`MAX_ENTRIES` notes and as many log lines.
"""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from opsgenie_envelope.request_status import Outcome

__all__ = [
    "IDENTIFIER_TYPES",
    "MAX_ENTRIES",
    "MAX_RESPONDERS",
    "NO_ALERT",
    "PRIORITIES",
    "RESPONDER_TYPES",
    "SORT_FIELDS",
    "Actor",
    "Alert",
    "AlertStore",
    "Failed",
    "IdentifierType",
    "Match",
    "NewAlert",
    "QueryError",
    "User",
    "clip_details",
    "clip_tags",
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

MAX_ENTRIES = 1000
"""Notes, and log lines, an alert keeps (the newest)."""

RESPONDER_TYPES = ("user", "team", "escalation", "schedule")
"""OpsGenie's responder types (its ``Responder`` model)."""

# OpsGenie's documented limits; longer values are cut, as OpsGenie does.
_LIMITS = {
    "message": 130,
    "alias": 512,
    "description": 15000,
    "entity": 512,
    "source": 100,
    "note": 25000,
    "user": 100,
}
_MAX_TAGS, _MAX_TAG = 20, 50
_MAX_ACTIONS, _MAX_ACTION = 10, 50
_MAX_DETAILS = 8000
"""Characters of all ``details`` keys and values together."""
MAX_RESPONDERS = 50
"""Responders (and ``visibleTo`` entries) an alert keeps; more in a create are cut."""
_NAMES = uuid.UUID("6c0b1d4e-8f3a-4b2c-9d5e-7a1f0e2b3c4d")
"""Namespace of the IDs the demo gives responders known only by name."""
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


class Failed(Exception):
    """An action that cannot apply to the alert: its text is the request status's."""


def clip(name: str, value: str) -> str:
    """``value`` cut to OpsGenie's limit for the field ``name``."""
    return value[: _LIMITS[name]]


def clip_tags(tags: Iterable[str], keep: Sequence[str] = ()) -> list[str]:
    """``keep`` then ``tags``, each cut to 50 characters, without repeats, 20 at most."""
    return list(dict.fromkeys([*keep, *(tag[:_MAX_TAG] for tag in tags)]))[:_MAX_TAGS]


def clip_details(
    details: Mapping[str, str], keep: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``keep`` updated with ``details``, pairs kept while keys and values total 8,000
    characters (the first pairs win)."""
    merged = {**(keep or {}), **details}
    out: dict[str, str] = {}
    used = 0
    for key, value in merged.items():
        used += len(key) + len(value)
        if used > _MAX_DETAILS:
            break
        out[key] = value
    return out


def responder(kind: str, ident: str | None, name: str | None) -> dict[str, str]:
    """OpsGenie's ``Responder`` ``{type, id}``: the given ID, else a stable one for the name."""
    if ident:
        return {"type": kind, "id": ident[: _LIMITS["alias"]]}
    return {"type": kind, "id": str(uuid.uuid5(_NAMES, f"{kind}:{name or ''}"))}


@dataclass(frozen=True)
class Actor:
    """Who acts and what they add: ``user``, ``note`` and ``source`` of an action's body."""

    user: str = ""
    note: str = ""
    source: str = ""

    @property
    def owner(self) -> str:
        """The name logs and notes show: the user, else ``API``."""
        return clip("user", self.user) or "API"


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
    responders: tuple[dict[str, str], ...] = ()
    visible_to: tuple[dict[str, str], ...] = ()
    actions: tuple[str, ...] = ()
    user: str = ""
    note: str = ""

    def clipped(self) -> NewAlert:
        """The same alert with every field cut to OpsGenie's limits."""
        return NewAlert(
            message=clip("message", self.message),
            priority=self.priority,
            alias=None if self.alias is None else clip("alias", self.alias),
            description=clip("description", self.description),
            tags=tuple(clip_tags(self.tags)),
            details=clip_details(self.details),
            entity=clip("entity", self.entity),
            source=clip("source", self.source),
            responders=_unique(self.responders)[:MAX_RESPONDERS],
            visible_to=_unique(self.visible_to)[:MAX_RESPONDERS],
            actions=tuple(dict.fromkeys(a[:_MAX_ACTION] for a in self.actions))[:_MAX_ACTIONS],
            user=clip("user", self.user),
            note=clip("note", self.note),
        )


def _unique(responders: Iterable[dict[str, str]]) -> tuple[dict[str, str], ...]:
    """Responders without repeats, in order."""
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for one in responders:
        seen.setdefault((one["type"], one["id"]), {"type": one["type"], "id": one["id"]})
    return tuple(seen.values())


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
    responders: list[dict[str, str]] = field(default_factory=list)
    visible_to: list[dict[str, str]] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    snoozed_until: datetime | None = None
    entries: int = 0
    """Notes and log lines written so far: the sequence in their ``offset`` cursors."""

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
            responders=[dict(r) for r in new.responders],
            visible_to=[dict(r) for r in new.visible_to],
            actions=list(new.actions),
        )

    def snoozed(self, now: datetime | None = None) -> bool:
        """Whether a snooze is in effect."""
        return self.snoozed_until is not None and self.snoozed_until > (now or utc_now())

    def entry(self, now: datetime, **fields: str) -> dict[str, str]:
        """A new note or log line at ``now``, with the next ``offset`` cursor."""
        self.entries += 1
        at = int(now.timestamp() * 1000)
        cursor = f"{at:013d}_{self.entries:012d}"
        return {**fields, "createdAt": timestamp(now), "offset": cursor}

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
        snoozed = self.snoozed()
        data: dict[str, Any] = {
            "id": self.id,
            "tinyId": str(self.tiny_id),
            "alias": self.alias,
            "message": self.message,
            "status": self.status,
            "acknowledged": self.acknowledged,
            "isSeen": self.acknowledged,
            "tags": list(self.tags),
            "snoozed": snoozed,
            "count": self.count,
            "lastOccurredAt": timestamp(self.last_occurred_at),
            "createdAt": timestamp(self.created_at),
            "updatedAt": timestamp(self.updated_at),
            "source": self.source,
            "owner": self.owner,
            "priority": self.priority,
            "responders": [dict(r) for r in self.responders],
            "integration": dict(_INTEGRATION),
            "report": dict(self.report),
        }
        if snoozed and self.snoozed_until is not None:
            data["snoozedUntil"] = timestamp(self.snoozed_until)
        if full:
            data["actions"] = list(self.actions)
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
    for one store shared by every worker. The domain logic (deduplication and every action)
    lives here once; a backend only overrides the storage primitives (``_all``, ``_get``,
    ``_put``, ``_remove``, ``_next_tiny``, ``_users``, ``_writing``, ``_append``,
    ``_entries``).

    Args:
        clock: the current time (UTC), for timestamps.
    """

    where = "in memory"
    """Where the data lives, for the start-up banner."""

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self.clock = clock
        self.alerts: dict[str, Alert] = {}
        self.users: dict[str, User] = {}
        self.journal: dict[tuple[str, str], list[dict[str, str]]] = {}
        """(``"note"`` or ``"log"``, alert ID) → the alert's notes or log lines, oldest first."""
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
        self.journal.pop(("note", alert_id), None)
        self.journal.pop(("log", alert_id), None)

    async def _append(self, kind: str, alert_id: str, entry: dict[str, str]) -> None:
        """Keep a note (``kind="note"``) or log line (``"log"``); the newest MAX_ENTRIES stay."""
        entries = self.journal.setdefault((kind, alert_id), [])
        entries.append(entry)
        del entries[:-MAX_ENTRIES]

    async def _entries(self, kind: str, alert_id: str) -> list[dict[str, str]]:
        """An alert's notes or log lines, oldest first."""
        return list(self.journal.get((kind, alert_id), ()))

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
            by = Actor(new.user, new.note, new.source)
            existing = None if new.alias is None else await self.find(new.alias, "alias")
            if existing is not None and existing.status == "open":
                existing.count += 1
                existing.last_occurred_at = existing.updated_at = now
                await self._record(existing, now, "Alert occurred again", by, "system")
                return _done("Alert deduplicated", existing)
            alert = await self.add(new, created_at=now)
            await self._record(
                alert, now, f"Alert created via {_INTEGRATION['name']}", by, "system"
            )
            return _done("Created alert", alert)

    async def _record(
        self, alert: Alert, now: datetime, log: str, by: Actor, kind: str = "alertAction"
    ) -> None:
        """Store ``alert``, a log line of what happened and the actor's note, if any."""
        entry = alert.entry(now, log=log, type=kind, owner=by.owner)
        note = alert.entry(now, note=clip("note", by.note), owner=by.owner) if by.note else None
        await self._put(alert)
        await self._append("log", alert.id, entry)
        if note is not None:
            await self._append("note", alert.id, note)

    async def notes(self, alert: Alert) -> list[dict[str, str]]:
        """The alert's notes, oldest first: OpsGenie's ``AlertNote`` each."""
        return await self._entries("note", alert.id)

    async def logs(self, alert: Alert) -> list[dict[str, str]]:
        """The alert's log lines, oldest first: OpsGenie's ``AlertLog`` each."""
        return await self._entries("log", alert.id)

    async def _act(
        self,
        identifier: str,
        identifier_type: IdentifierType,
        done: str,
        change: Callable[[Alert, datetime], str | None],
        by: Actor | None = None,
    ) -> Outcome:
        """Apply ``change`` to one alert, atomically, and log it.

        ``change`` returns the log line of what it changed (``None``: nothing changed) or
        raises :class:`Failed`; the actor's note, if any, is added either way.
        """
        by = by or Actor()
        async with self._writing():
            alert = await self.find(identifier, identifier_type)
            if alert is None:
                return _failed(NO_ALERT)
            now = self.clock()
            try:
                log = change(alert, now)
            except Failed as exc:
                return _failed(str(exc))
            if log is not None:
                alert.updated_at = now
            await self._record(alert, now, log or f"{done}: no change", by)
            return _done(done, alert)

    async def acknowledge(
        self, identifier: str, identifier_type: IdentifierType, by: Actor | None = None
    ) -> Outcome:
        """Acknowledge an alert (again is fine)."""
        owner = (by or Actor()).owner

        def acknowledge(alert: Alert, now: datetime) -> str | None:
            if alert.acknowledged:
                return None
            alert.acknowledged = True
            alert.report["ackTime"] = millis(now - alert.created_at)
            alert.report["acknowledgedBy"] = owner
            return f"Alert acknowledged by {owner}"

        return await self._act(identifier, identifier_type, "Acknowledged", acknowledge, by)

    async def unacknowledge(
        self, identifier: str, identifier_type: IdentifierType, by: Actor | None = None
    ) -> Outcome:
        """Take back an acknowledgement (of an unacknowledged alert is fine)."""

        def unacknowledge(alert: Alert, now: datetime) -> str | None:
            if not alert.acknowledged:
                return None
            alert.acknowledged = False
            return "Alert unacknowledged"

        return await self._act(identifier, identifier_type, "Unacknowledged", unacknowledge, by)

    async def close(
        self, identifier: str, identifier_type: IdentifierType, by: Actor | None = None
    ) -> Outcome:
        """Close an alert (again is fine)."""
        owner = (by or Actor()).owner

        def close(alert: Alert, now: datetime) -> str | None:
            if alert.status == "closed":
                return None
            alert.status = "closed"
            alert.report["closeTime"] = millis(now - alert.created_at)
            alert.report["closedBy"] = owner
            return f"Alert closed by {owner}"

        return await self._act(identifier, identifier_type, "Closed", close, by)

    async def snooze(
        self,
        identifier: str,
        identifier_type: IdentifierType,
        until: datetime,
        by: Actor | None = None,
    ) -> Outcome:
        """Snooze an alert until ``until`` (a time in the future, checked by the caller)."""

        def snooze(alert: Alert, now: datetime) -> str | None:
            alert.snoozed_until = until
            return f"Alert snoozed until {timestamp(until)}"

        return await self._act(identifier, identifier_type, "Snoozed", snooze, by)

    async def update(
        self,
        identifier: str,
        identifier_type: IdentifierType,
        name: Literal["message", "description", "priority"],
        value: str,
        by: Actor | None = None,
    ) -> Outcome:
        """Set the alert's message, description or priority (checked by the caller)."""
        value = value if name == "priority" else clip(name, value)

        def update(alert: Alert, now: datetime) -> str | None:
            if getattr(alert, name) == value:
                return None
            setattr(alert, name, value)
            return f"Alert {name} updated"

        return await self._act(identifier, identifier_type, f"Updated {name}", update, by)

    async def add_note(
        self, identifier: str, identifier_type: IdentifierType, by: Actor
    ) -> Outcome:
        """Add ``by.note`` to the alert's notes."""
        return await self._act(
            identifier, identifier_type, "Added note", lambda alert, now: "Note added", by
        )

    async def tag(
        self,
        identifier: str,
        identifier_type: IdentifierType,
        tags: Sequence[str],
        *,
        remove: bool = False,
        by: Actor | None = None,
    ) -> Outcome:
        """Add (or remove) tags: 20 at most, of 50 characters each."""

        gone = set(tags)

        def tag(alert: Alert, now: datetime) -> str | None:
            if remove:
                kept = [t for t in alert.tags if t not in gone]
            else:
                kept = clip_tags(tags, keep=alert.tags)
            if kept == alert.tags:
                return None
            alert.tags = kept
            return f"Tags {'removed' if remove else 'added'}: {', '.join(tags)}"[:500]

        done = "Removed tags" if remove else "Added tags"
        return await self._act(identifier, identifier_type, done, tag, by)

    async def add_details(
        self,
        identifier: str,
        identifier_type: IdentifierType,
        details: Mapping[str, str],
        by: Actor | None = None,
    ) -> Outcome:
        """Add custom properties (8,000 characters in all, the alert's own first)."""

        def add(alert: Alert, now: datetime) -> str | None:
            merged = clip_details(details, keep=alert.details)
            if merged == alert.details:
                return None
            alert.details = merged
            return f"Details added: {', '.join(details)}"[:500]

        return await self._act(identifier, identifier_type, "Added details", add, by)

    async def remove_details(
        self,
        identifier: str,
        identifier_type: IdentifierType,
        keys: Sequence[str],
        by: Actor | None = None,
    ) -> Outcome:
        """Remove custom properties by key."""

        gone = set(keys)

        def remove(alert: Alert, now: datetime) -> str | None:
            kept = {k: v for k, v in alert.details.items() if k not in gone}
            if kept == alert.details:
                return None
            alert.details = kept
            return f"Details removed: {', '.join(keys)}"[:500]

        return await self._act(identifier, identifier_type, "Removed details", remove, by)

    async def add_responder(
        self,
        identifier: str,
        identifier_type: IdentifierType,
        added: dict[str, str],
        done: str = "Added responder",
        by: Actor | None = None,
    ) -> Outcome:
        """Add a responder (``{type, id}``); escalating adds the escalation."""

        def add(alert: Alert, now: datetime) -> str | None:
            if added in alert.responders:
                return None
            if len(alert.responders) >= MAX_RESPONDERS:
                raise Failed(f"An alert has at most {MAX_RESPONDERS} responders")
            alert.responders.append(dict(added))
            return f"{done}: {added['type']} {added['id']}"

        return await self._act(identifier, identifier_type, done, add, by)

    async def custom_action(
        self,
        identifier: str,
        identifier_type: IdentifierType,
        name: str,
        by: Actor | None = None,
    ) -> Outcome:
        """Run one of the alert's custom ``actions`` (an action it lacks fails)."""

        def run(alert: Alert, now: datetime) -> str | None:
            if name not in alert.actions:
                raise Failed("Action is not available for the alert")
            return f"Custom action {name} executed"

        return await self._act(identifier, identifier_type, "Executed custom action", run, by)

    async def assign(
        self,
        identifier: str,
        identifier_type: IdentifierType,
        owner: str,
        by: Actor | None = None,
    ) -> Outcome:
        """Make a user (by ID or username) the alert's owner."""
        user = await self.user(owner)

        def assign(alert: Alert, now: datetime) -> str | None:
            if user is None:
                raise Failed("User does not exist")
            if alert.owner == user.username:
                return None
            alert.owner = user.username
            return f"Alert assigned to {user.username}"

        return await self._act(identifier, identifier_type, "Assigned", assign, by)

    async def delete(self, identifier: str, identifier_type: IdentifierType) -> Outcome:
        """Delete an alert."""
        async with self._writing():
            alert = await self.find(identifier, identifier_type)
            if alert is None:
                return _failed(NO_ALERT)
            await self._remove(alert.id)
            return _done("Deleted", alert)

    async def responder(self, kind: str, ident: str | None, name: str | None) -> dict[str, str]:
        """``{type, id}`` of a responder given by ID, or by name or username.

        A demo user is found by username; other names get a stable ID of their own.
        """
        if kind == "user" and not ident and name:
            found = await self.user(name)
            if found is not None:
                return {"type": "user", "id": found.id}
        return responder(kind, ident, name)

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
