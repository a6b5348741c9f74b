"""The Alerts API demo's request bodies: OpsGenie's payload models, checked.

Field names and limits follow OpsGenie's Alert API (``CreateAlertPayload``,
``AlertActionPayload``, ``SnoozeAlertPayload``, ...); longer values are cut by the store, as
OpsGenie does, and a value no alert can take answers 422 with OpsGenie's texts.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from examples.alerts.repository import (
    MAX_RESPONDERS,
    PRIORITIES,
    RESPONDER_TYPES,
    Actor,
    AlertStore,
    NewAlert,
)
from opsgenie_envelope import UnprocessableEntity

__all__ = [
    "AlertActionIn",
    "AssignIn",
    "CreateAlertIn",
    "DescriptionIn",
    "DetailsIn",
    "EscalateIn",
    "MessageIn",
    "NoteIn",
    "PriorityIn",
    "RecipientIn",
    "ResponderIn",
    "SnoozeIn",
    "TagsIn",
    "TeamIn",
    "actor",
]


class RecipientIn(BaseModel):
    """OpsGenie's ``Recipient``: a type and an ID, name or username.

    Without ``type`` (OpsGenie's Python SDK sends ``TeamRecipient(name=...)`` as
    ``{"name": ...}``), one with a ``username`` is a user and another the route's default
    (a team; an escalation when escalating).
    """

    type: str = Field("", description="user, team, escalation or schedule.")
    id: str | None = None
    name: str | None = None
    username: str | None = None

    def kind(self, default: str = "team") -> str:
        """The recipient's type, given or inferred."""
        return self.type or ("user" if self.username else default)

    def problem(self, types: tuple[str, ...] = RESPONDER_TYPES) -> str | None:
        """Why this recipient cannot be used, or ``None``."""
        if self.kind(types[0] if len(types) == 1 else "team") not in types:
            return f"type should be one of [ {', '.join(types)} ]"
        if not (self.id or self.name or self.username):
            return "should have an id, a name or a username"
        return None

    async def resolved(self, store: AlertStore, default: str = "team") -> dict[str, str]:
        """OpsGenie's ``Responder``: ``{type, id}``."""
        return await store.responder(self.kind(default), self.id, self.name or self.username)


class AlertActionIn(BaseModel):
    """OpsGenie's ``AlertActionPayload``: who acts, a note to add, where it comes from."""

    user: str | None = Field(None, description="Who acts (100 characters).")
    source: str | None = Field(None, description="Where the action comes from.")
    note: str | None = Field(None, description="A note to add with the action (25,000).")

    def actor(self) -> Actor:
        """The actor of the action."""
        return Actor(self.user or "", self.note or "", self.source or "")


def actor(body: AlertActionIn | None) -> Actor:
    """The actor of an action whose body is optional."""
    return body.actor() if body is not None else Actor()


class CreateAlertIn(AlertActionIn):
    """The body of ``POST /v2/alerts``; OpsGenie's field names and limits (longer is cut)."""

    model_config = ConfigDict(json_schema_extra={"required": ["message"]}, populate_by_name=True)

    message: str | None = Field(None, description="Message of the alert (130 characters).")
    alias: str | None = Field(None, description="Your ID of the alert, the deduplication key.")
    description: str | None = Field(None, description="Details (15,000 characters).")
    priority: str | None = Field(
        None, description="P1 to P5; P3 when absent.", json_schema_extra={"enum": list(PRIORITIES)}
    )
    responders: list[RecipientIn] | None = Field(None, description="Who is notified.")
    visible_to: list[RecipientIn] | None = Field(
        None, alias="visibleTo", description="Teams and users who see the alert."
    )
    actions: list[str] | None = Field(None, description="Custom actions (10, of 50 each).")
    tags: list[str] | None = Field(None, description="Labels (20, of 50 characters each).")
    details: dict[str, str] | None = Field(
        None, description="Custom key-value properties (8,000 characters in all)."
    )
    entity: str | None = Field(None, description="The domain the alert is about (512).")
    source: str | None = Field(
        None, description="Where the alert comes from; the caller's IP address when absent."
    )

    async def checked(self, store: AlertStore, default_source: str = "") -> NewAlert:
        """The alert to create; ``UnprocessableEntity`` with OpsGenie's texts otherwise.

        ``default_source`` is the ``source`` when the body has none: OpsGenie uses the
        caller's IP address.
        """
        errors: dict[str, str] = {}
        message = (self.message or "").strip()
        if not message:
            errors["message"] = "Message can not be empty."
        priority = self.priority if self.priority is not None else "P3"
        if priority not in PRIORITIES:
            errors["priority"] = f"should be one of [ {', '.join(PRIORITIES)} ]"
        for name, recipients in (("responders", self.responders), ("visibleTo", self.visible_to)):
            problems = [r.problem() for r in recipients or ()]
            if any(problems):
                errors[name] = next(p for p in problems if p)
        if errors:
            raise UnprocessableEntity(errors=errors)
        return NewAlert(
            message=message,
            priority=priority,
            alias=self.alias or None,
            description=self.description or "",
            tags=tuple(self.tags or ()),
            details=dict(self.details or {}),
            entity=self.entity or "",
            source=self.source or default_source,
            # Only the kept ones are resolved: a body of 10,000 responders costs 50 look-ups.
            responders=tuple(
                [await r.resolved(store) for r in (self.responders or [])[:MAX_RESPONDERS]]
            ),
            visible_to=tuple(
                [await r.resolved(store) for r in (self.visible_to or [])[:MAX_RESPONDERS]]
            ),
            actions=tuple(self.actions or ()),
            user=self.user or "",
            note=self.note or "",
        )


class SnoozeIn(AlertActionIn):
    """OpsGenie's ``SnoozeAlertPayload``."""

    end_time: datetime = Field(alias="endTime", description="When the snooze ends.")


class AssignIn(AlertActionIn):
    """OpsGenie's ``AssignAlertPayload``: the new owner, by ID or username."""

    owner: RecipientIn = Field(description='`{"id": ...}` or `{"username": ...}`.')


class EscalateIn(AlertActionIn):
    """OpsGenie's ``EscalateAlertToNextPayload``: the escalation, by ID or name."""

    escalation: RecipientIn


class ResponderIn(AlertActionIn):
    """OpsGenie's ``AddResponderToAlertPayload``: a user or a team."""

    responder: RecipientIn


class TeamIn(AlertActionIn):
    """OpsGenie's ``AddTeamToAlertPayload``: a team by ID or name."""

    team: RecipientIn


class TagsIn(AlertActionIn):
    """OpsGenie's ``AddTagsToAlertPayload``."""

    tags: list[str] = Field(description="Tags to add (20 in all, of 50 characters).")


class DetailsIn(AlertActionIn):
    """OpsGenie's ``AddDetailsToAlertPayload``."""

    details: dict[str, str] = Field(description="Properties to add (8,000 characters in all).")


class NoteIn(AlertActionIn):
    """OpsGenie's ``AddNoteToAlertPayload``: ``note`` is required."""

    model_config = ConfigDict(json_schema_extra={"required": ["note"]})


class MessageIn(BaseModel):
    """OpsGenie's ``UpdateAlertMessagePayload``."""

    message: str = Field(description="The new message (130 characters).")


class DescriptionIn(BaseModel):
    """OpsGenie's ``UpdateAlertDescriptionPayload``."""

    description: str = Field(description="The new description (15,000 characters).")


class PriorityIn(BaseModel):
    """OpsGenie's ``UpdateAlertPriorityPayload``."""

    priority: str = Field(json_schema_extra={"enum": list(PRIORITIES)})
