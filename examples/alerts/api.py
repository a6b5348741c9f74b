"""An OpsGenie-style Alerts API built with opsgenie_envelope: the library's demo.

Serve it with ``uvicorn examples.alerts.api:app --host 127.0.0.1 --port 8000`` (``demo``
extra), or on Redis with any number of workers::

    ALERTS_REDIS_URL=redis://127.0.0.1:6379/0 uvicorn examples.alerts.api:app --workers 4

It mirrors a slice of OpsGenie's Alert API (same paths, request and response shapes) and
shows the library at work:

* ``install(app, message_key="result")``: ``EnvelopeMiddleware`` makes every answer an
  envelope, and ``/docs`` shows those envelopes and the errors each route raises; the 202 of a
  write reads ``{"result": "Request will be processed", "took", "requestId"}``, as OpsGenie's.
* ``RequestTracker`` (``opsgenie_envelope.request_status``): writes are processed in the background
  under the 202's request ID; poll ``GET /v2/alerts/requests/{requestId}`` until it is known.
* ``RateLimit`` (``opsgenie_envelope.ratelimit``): per API key, 429 with ``X-RateLimit-*``.
* Typed errors: 401, 403 (40301), 404, 415, 422 with ``errors``, 429, 503.
* Every path answers with or without its trailing slash (``ignore_trailing_slash``), as
  OpsGenie's Node SDK sends ``POST /v2/alerts/``.
* ``Pager`` for ``GET /v2/alerts``; ``Expander`` for ``GET /v2/users/{id}?expand=contact``
  (which adds OpsGenie's ``userContacts``): each dependency is the route's one declaration,
  so ``/docs`` shows the paging (416 too) and the expandable names (400 too) without anything
  more.

Endpoints::

    POST   /v2/alerts                            create (202)
    GET    /v2/alerts/requests/{requestId}       status of a write; 404 until processed
    GET    /v2/alerts/{identifier}               one alert (identifierType=id|alias|tiny)
    GET    /v2/alerts                            list: query, offset, limit, sort, order
    GET    /v2/alerts/count                      {"count": N} for a query
    POST   /v2/alerts/{identifier}/acknowledge   acknowledge (202)
    POST   /v2/alerts/{identifier}/unacknowledge take back an acknowledgement (202)
    POST   /v2/alerts/{identifier}/close         close (202)
    POST   /v2/alerts/{identifier}/snooze        snooze until endTime (202)
    POST   /v2/alerts/{identifier}/assign        make a user the owner (202)
    POST   /v2/alerts/{identifier}/escalate      add an escalation as responder (202)
    POST   /v2/alerts/{identifier}/responders    add a responder (202)
    POST   /v2/alerts/{identifier}/teams         add a team (202)
    POST   /v2/alerts/{identifier}/actions/{name} run one of the alert's custom actions (202)
    POST   /v2/alerts/{identifier}/tags          add tags (202); DELETE ?tags=a,b removes
    POST   /v2/alerts/{identifier}/details       add details (202); DELETE ?keys=a,b removes
    POST   /v2/alerts/{identifier}/notes         add a note (202)
    GET    /v2/alerts/{identifier}/notes         notes, cursor-paged (offset, direction)
    GET    /v2/alerts/{identifier}/logs          the alert's log, cursor-paged
    PUT    /v2/alerts/{identifier}/message       update the message (202)
    PUT    /v2/alerts/{identifier}/description   update the description (202)
    PUT    /v2/alerts/{identifier}/priority      update the priority (202)
    DELETE /v2/alerts/{identifier}               delete (202)
    GET    /v2/users/{identifier}                a user by ID or username; expand=contact

Every action takes ``identifierType`` (``id``, ``alias``, ``tiny``) and answers 202; its
request status names OpsGenie's action (``Update Message``, ``Add Note``, ...). Prometheus
Alertmanager's ``opsgenie_configs`` (with ``update_alerts: true``) and OpsGenie's SDKs drive
these unchanged.

Settings come from the environment (see :class:`Settings`). By default everything (alerts,
request statuses, rate limits) lives in the process's memory, seeded with five alerts and
three users: one worker. With ``ALERTS_REDIS_URL`` it all lives in Redis, so any number of
workers (``uvicorn --workers 4``) and hosts serve one consistent API.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response, Security
from fastapi.security import APIKeyHeader
from fastapi_offline import FastAPIOffline

from examples.alerts.auth import FAILED_ATTEMPTS, Caller, Gate, current_account
from examples.alerts.bodies import (
    AlertActionIn,
    AssignIn,
    CreateAlertIn,
    DescriptionIn,
    DetailsIn,
    EscalateIn,
    MessageIn,
    NoteIn,
    PriorityIn,
    RecipientIn,
    ResponderIn,
    SnoozeIn,
    TagsIn,
    TeamIn,
    actor,
)
from examples.alerts.repository import (
    NO_ALERT,
    PRIORITIES,
    SORT_FIELDS,
    Actor,
    Alert,
    AlertStore,
    IdentifierType,
    Match,
    QueryError,
    parse_query,
)
from examples.alerts.seed import seed
from opsgenie_envelope import (
    CursorPage,
    CursorPager,
    Expander,
    Expansion,
    Forbidden,
    NotFound,
    Page,
    Pager,
    ServiceUnavailable,
    TooManyRequests,
    Unauthenticated,
    UnprocessableEntity,
    __version__,
)
from opsgenie_envelope.fastapi import errors, install, query, rate_limited
from opsgenie_envelope.ratelimit import RateLimit
from opsgenie_envelope.request_status import Outcome, RedisRequestStore, RequestTracker

__all__ = ["Settings", "app", "create_app"]

DEFAULT_API_KEY = "demo-key"
DEFAULT_READONLY_API_KEY = "demo-readonly-key"
DEFAULT_RATE_LIMIT = 600
DEFAULT_RATE_PERIOD = 60
DEFAULT_REDIS_PREFIX = "alerts:"
_PREFIX = re.compile(r"[A-Za-z0-9_.:-]{1,48}")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+sentinel://", "redis+cluster://")
"""The forms of ``ALERTS_REDIS_URL``: one server, a Sentinel-managed master, a Cluster."""
DOCS_ASSETS = "/docs-assets"
MAX_BODY_SIZE = 512 * 1024
"""The largest request body (413 past it): OpsGenie's field limits (message 130, alias 512,
description 15,000, details 8,000, note 25,000 characters, ...) add up to about 50,000
characters, at most 6 bytes each once JSON-escaped (``\\uXXXX``)."""
"""Where Swagger UI's and ReDoc's scripts and styles are served from (no CDN)."""


@dataclass(frozen=True)
class Settings:
    """The demo's settings, checked once.

    Attributes:
        api_key: the full-access key (``ALERTS_API_KEY``, default ``demo-key``).
        readonly_api_key: the read-only key (``ALERTS_READONLY_API_KEY``, default
            ``demo-readonly-key``).
        rate_limit: requests per period and key (``ALERTS_RATE_LIMIT``, default 600).
        rate_period: the rate limit's window in seconds (``ALERTS_RATE_PERIOD``, default 60).
        processing_delay: seconds a write waits before it is processed
            (``ALERTS_PROCESSING_DELAY``, default 0): shows why clients poll.
        redis_url: keep alerts, request statuses and rate limits in this Redis
            (``ALERTS_REDIS_URL``, e.g. ``redis://127.0.0.1:6379/0``,
            ``redis+sentinel://127.0.0.1:26379/mymaster`` or
            ``redis+cluster://127.0.0.1:7000,127.0.0.1:7001``) instead of in memory.
        redis_prefix: put before the demo's Redis key names (``ALERTS_REDIS_PREFIX``,
            default ``alerts:``): several demos can share one Redis.
        seed: start with the sample alerts and users.
        from_environment: the names of the variables the values above came from.
    """

    api_key: str = DEFAULT_API_KEY
    readonly_api_key: str = DEFAULT_READONLY_API_KEY
    rate_limit: int = DEFAULT_RATE_LIMIT
    rate_period: int = DEFAULT_RATE_PERIOD
    processing_delay: float = 0.0
    redis_url: str | None = None
    redis_prefix: str = DEFAULT_REDIS_PREFIX
    seed: bool = True
    from_environment: frozenset[str] = field(default=frozenset())

    def __post_init__(self) -> None:
        for name in ("api_key", "readonly_api_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
                raise ValueError(f"{name} must be a non-empty string without spaces")
        if self.api_key == self.readonly_api_key:
            raise ValueError("api_key and readonly_api_key must differ")
        for name in ("rate_limit", "rate_period"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int")
            if value < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.redis_url is not None and not self.redis_url.startswith(REDIS_SCHEMES):
            raise ValueError(
                "redis_url must read like redis://127.0.0.1:6379/0, "
                "redis+sentinel://host:26379/service or redis+cluster://host:7000,host:7001"
            )
        if not _PREFIX.fullmatch(self.redis_prefix):
            raise ValueError("redis_prefix must be 1..48 characters of [A-Za-z0-9_.:-]")
        if not (math.isfinite(self.processing_delay) and 0 <= self.processing_delay <= 60):
            raise ValueError("processing_delay must be between 0 and 60 seconds")

    @classmethod
    def from_environment_variables(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Read ``ALERTS_API_KEY``, ``ALERTS_READONLY_API_KEY``, ``ALERTS_RATE_LIMIT``,
        ``ALERTS_RATE_PERIOD``, ``ALERTS_PROCESSING_DELAY``, ``ALERTS_REDIS_URL`` and
        ``ALERTS_REDIS_PREFIX``; unset (or empty) ones keep their defaults.

        Raises ``ValueError`` naming the variable when a value is unusable.
        """
        values: dict[str, Any] = {}
        names = {
            "ALERTS_API_KEY": ("api_key", str),
            "ALERTS_READONLY_API_KEY": ("readonly_api_key", str),
            "ALERTS_RATE_LIMIT": ("rate_limit", int),
            "ALERTS_RATE_PERIOD": ("rate_period", int),
            "ALERTS_PROCESSING_DELAY": ("processing_delay", float),
            "ALERTS_REDIS_URL": ("redis_url", str),
            "ALERTS_REDIS_PREFIX": ("redis_prefix", str),
        }
        for variable, (name, kind) in names.items():
            raw = environ.get(variable)
            if raw is None or (kind is str and name.startswith("redis") and not raw.strip()):
                continue
            try:
                values[name] = kind(raw.strip())
            except ValueError:
                raise ValueError(f"{variable} should be {kind.__name__}, got {raw!r}") from None
        try:
            return cls(**values, from_environment=frozenset(v for v in names if v in environ))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid ALERTS_* setting: {exc}") from None


@dataclass(frozen=True)
class Demo:
    """What the routes share, kept on ``app.state.demo``."""

    settings: Settings
    store: AlertStore
    gate: Gate
    limit: RateLimit
    requests: RequestTracker


# Dependencies ---------------------------------------------------------------------------

genie_key = APIKeyHeader(
    name="Authorization",
    scheme_name="GenieKey",
    description="`GenieKey <key>`; the demo prints its keys at start-up.",
    auto_error=False,
)


def _demo(request: Request) -> Demo:
    demo: Demo = request.app.state.demo
    return demo


DemoState = Annotated[Demo, Depends(_demo)]


@rate_limited
async def reader(
    request: Request,
    response: Response,
    demo: DemoState,
    authorization: Annotated[str | None, Security(genie_key)],
) -> Caller:
    """Any known key (401 otherwise), within its rate limit (429 otherwise; under it, the
    answer says ``X-RateLimit-State: OK``)."""
    caller = await demo.gate.admit(request)  # the header is read by genie_key, not here
    await demo.limit.check(request, response)  # counts the caller admit() verified
    return caller


async def writer(caller: Annotated[Caller, Depends(reader)]) -> Caller:
    """A key with write access (403, code 40301, for the read-only key)."""
    caller.check_write()
    return caller


IdentifierParam = Annotated[
    IdentifierType, Query(alias="identifierType", description="How to read `identifier`.")
]
QueryParam = Annotated[
    str, Query(description="Filter such as `status:open priority:P1 tag:web disk`.")
]
alert_pages = Pager(sort_fields=SORT_FIELDS, default_sort="createdAt", max_offset=20000)
entry_pages = CursorPager()
"""Notes and logs page by cursor, as OpsGenie's do."""


async def load_contact(user: dict[str, Any], request: Request) -> list[dict[str, Any]]:
    """The ``userContacts`` of ``expand=contact``: the user's contact methods."""
    found = await _demo(request).store.user(user["id"])
    return [dict(contact) for contact in found.contacts] if found is not None else []


# OpsGenie's users expand "contact" into "userContacts" (its User model).
user_expand = Expander({"contact": load_contact}, keys={"contact": "userContacts"})


def _match(query: str) -> Match:
    try:
        return parse_query(query)
    except QueryError as exc:
        raise UnprocessableEntity.at(query={"query": str(exc)}) from None


async def _accept(demo: Demo, action: str, write: Callable[[], Awaitable[Outcome]]) -> None:
    """Answer 202 and run ``write`` in the background, under this request's ID."""

    async def work() -> Outcome:
        if demo.settings.processing_delay:
            await anyio.sleep(demo.settings.processing_delay)
        return await write()

    await demo.requests.accept(work, action=action, owner=current_account())


# Routes ---------------------------------------------------------------------------------

router = APIRouter(responses=errors(Unauthenticated, TooManyRequests, ServiceUnavailable))
Read = [Depends(reader)]
Write = [Depends(writer)]


@router.post(
    "/v2/alerts",
    status_code=202,
    tags=["alerts"],
    dependencies=Write,
    responses=errors(Forbidden),
)
async def create_alert(body: CreateAlertIn, request: Request, demo: DemoState) -> None:
    """Accept an alert for creation; poll the request status for the outcome."""
    new = await body.checked(demo.store, request.client.host if request.client else "")
    await _accept(demo, "Create", lambda: demo.store.create(new))


@router.get(
    "/v2/alerts/requests/{requestId}",
    tags=["alerts"],
    dependencies=Read,
    responses=errors(NotFound),
)
async def get_request_status(
    request_id: Annotated[str, Path(alias="requestId")], demo: DemoState
) -> dict[str, Any]:
    """The outcome of a write; 404 while it is unknown or not yet processed."""
    return await demo.requests.status_data(request_id, owner=current_account())


@router.get("/v2/alerts/count", tags=["alerts"], dependencies=Read)
async def count_alerts(demo: DemoState, query: QueryParam = "") -> dict[str, int]:
    """How many alerts match ``query``."""
    return {"count": await demo.store.count(_match(query))}


@router.get("/v2/alerts", tags=["alerts"], dependencies=Read)
async def list_alerts(
    demo: DemoState,
    page: Annotated[Page, Depends(query(alert_pages))],
    query: QueryParam = "",
) -> list[dict[str, Any]]:
    """A page of the alerts matching ``query``, newest first by default."""
    match = _match(query)
    rows, total = await demo.store.search(
        match, page.sort or "createdAt", page.order, page.offset, page.limit
    )
    return page.items([alert.to_json(full=False) for alert in rows], total=total)


@router.get(
    "/v2/alerts/{identifier}", tags=["alerts"], dependencies=Read, responses=errors(NotFound)
)
async def get_alert(
    identifier: str, demo: DemoState, identifier_type: IdentifierParam = "id"
) -> dict[str, Any]:
    """One alert by ID, alias or tiny ID."""
    alert = await demo.store.find(identifier, identifier_type)
    if alert is None:
        raise NotFound(NO_ALERT)
    return alert.to_json()


def action(method: str, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """An alert action's route: 202, write access (403 for the read-only key)."""
    return router.api_route(
        path,
        methods=[method],
        status_code=202,
        tags=["alerts"],
        dependencies=Write,
        responses=errors(Forbidden),
    )


Identifier = Annotated[str, Path(description="The alert's ID, alias or tiny ID.")]


@action("POST", "/v2/alerts/{identifier}/acknowledge")
async def acknowledge_alert(
    identifier: Identifier,
    demo: DemoState,
    identifier_type: IdentifierParam = "id",
    body: AlertActionIn | None = None,
) -> None:
    """Accept an acknowledgement; an unknown alert shows in the request status."""
    by = actor(body)
    await _accept(
        demo, "Acknowledge", lambda: demo.store.acknowledge(identifier, identifier_type, by)
    )


@action("POST", "/v2/alerts/{identifier}/unacknowledge")
async def unacknowledge_alert(
    identifier: Identifier,
    demo: DemoState,
    identifier_type: IdentifierParam = "id",
    body: AlertActionIn | None = None,
) -> None:
    """Accept taking back an acknowledgement."""
    by = actor(body)
    await _accept(
        demo, "UnAcknowledge", lambda: demo.store.unacknowledge(identifier, identifier_type, by)
    )


@action("POST", "/v2/alerts/{identifier}/close")
async def close_alert(
    identifier: Identifier,
    demo: DemoState,
    identifier_type: IdentifierParam = "id",
    body: AlertActionIn | None = None,
) -> None:
    """Accept a close; an unknown alert shows in the request status."""
    by = actor(body)
    await _accept(demo, "Close", lambda: demo.store.close(identifier, identifier_type, by))


@action("POST", "/v2/alerts/{identifier}/snooze")
async def snooze_alert(
    identifier: Identifier, body: SnoozeIn, demo: DemoState, identifier_type: IdentifierParam = "id"
) -> None:
    """Accept a snooze until ``endTime``, which must be in the future (422 otherwise)."""
    until = body.end_time if body.end_time.tzinfo else body.end_time.replace(tzinfo=UTC)
    if until <= datetime.now(UTC):
        raise UnprocessableEntity(errors={"endTime": "should be in the future"})
    by = body.actor()
    await _accept(demo, "Snooze", lambda: demo.store.snooze(identifier, identifier_type, until, by))


def _recipient(name: str, recipient: RecipientIn, types: tuple[str, ...]) -> None:
    problem = recipient.problem(types)
    if problem is not None:
        raise UnprocessableEntity(errors={name: problem})


@action("POST", "/v2/alerts/{identifier}/assign")
async def assign_alert(
    identifier: Identifier, body: AssignIn, demo: DemoState, identifier_type: IdentifierParam = "id"
) -> None:
    """Accept making a user (by ID or username) the owner; an unknown user fails."""
    owner = body.owner.id or body.owner.username or body.owner.name
    if not owner:
        raise UnprocessableEntity(errors={"owner": "should have an id or a username"})
    by = body.actor()
    await _accept(demo, "Assign", lambda: demo.store.assign(identifier, identifier_type, owner, by))


@action("POST", "/v2/alerts/{identifier}/escalate")
async def escalate_alert(
    identifier: Identifier,
    body: EscalateIn,
    demo: DemoState,
    identifier_type: IdentifierParam = "id",
) -> None:
    """Accept escalating to an escalation (by ID or name): it becomes a responder."""
    _recipient("escalation", body.escalation, ("escalation",))
    added = await body.escalation.resolved(demo.store, "escalation")
    by = body.actor()
    await _accept(
        demo,
        "Escalate",
        lambda: demo.store.add_responder(identifier, identifier_type, added, "Escalated", by),
    )


@action("POST", "/v2/alerts/{identifier}/responders")
async def add_responder(
    identifier: Identifier,
    body: ResponderIn,
    demo: DemoState,
    identifier_type: IdentifierParam = "id",
) -> None:
    """Accept adding a user or team responder (by ID, name or username)."""
    _recipient("responder", body.responder, ("user", "team"))
    added = await body.responder.resolved(demo.store)
    by = body.actor()
    await _accept(
        demo,
        "Add Responder",
        lambda: demo.store.add_responder(identifier, identifier_type, added, by=by),
    )


@action("POST", "/v2/alerts/{identifier}/teams")
async def add_team(
    identifier: Identifier, body: TeamIn, demo: DemoState, identifier_type: IdentifierParam = "id"
) -> None:
    """Accept adding a team (by ID or name) as responder."""
    _recipient("team", body.team, ("team",))
    added = await body.team.resolved(demo.store)
    by = body.actor()
    await _accept(
        demo,
        "Add Team",
        lambda: demo.store.add_responder(identifier, identifier_type, added, "Added team", by),
    )


@action("POST", "/v2/alerts/{identifier}/actions/{actionName}")
async def execute_custom_action(
    identifier: Identifier,
    action_name: Annotated[str, Path(alias="actionName", description="One of `actions`.")],
    demo: DemoState,
    identifier_type: IdentifierParam = "id",
    body: AlertActionIn | None = None,
) -> None:
    """Accept running one of the alert's custom ``actions``; another one fails."""
    by = actor(body)
    await _accept(
        demo,
        "Execute Custom Action",
        lambda: demo.store.custom_action(identifier, identifier_type, action_name, by),
    )


def _listed(name: str, values: list[str]) -> list[str]:
    """Comma-separated values (``a,b`` or ``a, b``), at least one."""
    found = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if not found:
        raise UnprocessableEntity.at(query={name: "should name at least one value"})
    return found


@action("POST", "/v2/alerts/{identifier}/tags")
async def add_tags(
    identifier: Identifier, body: TagsIn, demo: DemoState, identifier_type: IdentifierParam = "id"
) -> None:
    """Accept adding tags (20 in all, of 50 characters each)."""
    tags, by = [t for t in body.tags if t.strip()], body.actor()
    if not tags:
        raise UnprocessableEntity(errors={"tags": "should name at least one tag"})
    await _accept(
        demo, "Add Tags", lambda: demo.store.tag(identifier, identifier_type, tags, by=by)
    )


ActorQuery = Annotated[str | None, Query(description="Who acts; a note; where it comes from.")]


@action("DELETE", "/v2/alerts/{identifier}/tags")
async def remove_tags(
    identifier: Identifier,
    demo: DemoState,
    tags: Annotated[list[str], Query(description="Tags to remove, comma-separated.")],
    identifier_type: IdentifierParam = "id",
    user: ActorQuery = None,
    note: ActorQuery = None,
    source: ActorQuery = None,
) -> None:
    """Accept removing tags."""
    names, by = _listed("tags", tags), Actor(user or "", note or "", source or "")
    await _accept(
        demo,
        "Remove Tags",
        lambda: demo.store.tag(identifier, identifier_type, names, remove=True, by=by),
    )


@action("POST", "/v2/alerts/{identifier}/details")
async def add_details(
    identifier: Identifier,
    body: DetailsIn,
    demo: DemoState,
    identifier_type: IdentifierParam = "id",
) -> None:
    """Accept adding custom properties (8,000 characters in all)."""
    if not body.details:
        raise UnprocessableEntity(errors={"details": "should hold at least one property"})
    details, by = dict(body.details), body.actor()
    await _accept(
        demo,
        "Add Details",
        lambda: demo.store.add_details(identifier, identifier_type, details, by),
    )


@action("DELETE", "/v2/alerts/{identifier}/details")
async def remove_details(
    identifier: Identifier,
    demo: DemoState,
    keys: Annotated[list[str], Query(description="Keys to remove, comma-separated.")],
    identifier_type: IdentifierParam = "id",
    user: ActorQuery = None,
    note: ActorQuery = None,
    source: ActorQuery = None,
) -> None:
    """Accept removing custom properties by key."""
    names, by = _listed("keys", keys), Actor(user or "", note or "", source or "")
    await _accept(
        demo,
        "Remove Details",
        lambda: demo.store.remove_details(identifier, identifier_type, names, by),
    )


@action("POST", "/v2/alerts/{identifier}/notes")
async def add_note(
    identifier: Identifier, body: NoteIn, demo: DemoState, identifier_type: IdentifierParam = "id"
) -> None:
    """Accept adding a note (25,000 characters)."""
    if not (body.note or "").strip():
        raise UnprocessableEntity(errors={"note": "Note can not be empty."})
    by = body.actor()
    await _accept(demo, "Add Note", lambda: demo.store.add_note(identifier, identifier_type, by))


async def _alert(demo: Demo, identifier: str, identifier_type: IdentifierType) -> Alert:
    alert = await demo.store.find(identifier, identifier_type)
    if alert is None:
        raise NotFound(NO_ALERT)
    return alert


EntryPage = Annotated[CursorPage, Depends(query(entry_pages))]


@router.get(
    "/v2/alerts/{identifier}/notes",
    tags=["alerts"],
    dependencies=Read,
    responses=errors(NotFound),
)
async def list_notes(
    identifier: Identifier,
    demo: DemoState,
    page: EntryPage,
    identifier_type: IdentifierParam = "id",
) -> list[dict[str, str]]:
    """The alert's notes, newest first by default, paged by their ``offset`` cursor."""
    alert = await _alert(demo, identifier, identifier_type)
    return page.select(await demo.store.notes(alert), cursor=lambda note: note["offset"])


@router.get(
    "/v2/alerts/{identifier}/logs",
    tags=["alerts"],
    dependencies=Read,
    responses=errors(NotFound),
)
async def list_logs(
    identifier: Identifier,
    demo: DemoState,
    page: EntryPage,
    identifier_type: IdentifierParam = "id",
) -> list[dict[str, str]]:
    """What happened to the alert (creation, every action), paged by ``offset`` cursor."""
    alert = await _alert(demo, identifier, identifier_type)
    return page.select(await demo.store.logs(alert), cursor=lambda log: log["offset"])


async def _update(
    demo: Demo,
    identifier: str,
    identifier_type: IdentifierType,
    name: Literal["message", "description", "priority"],
    value: str,
) -> None:
    """Accept setting one field, as ``PUT .../{name}`` does: OpsGenie's ``Update <Name>``."""
    action = f"Update {name.title()}"
    await _accept(demo, action, lambda: demo.store.update(identifier, identifier_type, name, value))


@action("PUT", "/v2/alerts/{identifier}/message")
async def update_message(
    identifier: Identifier,
    body: MessageIn,
    demo: DemoState,
    identifier_type: IdentifierParam = "id",
) -> None:
    """Accept a new message (130 characters; longer is cut)."""
    message = body.message.strip()
    if not message:
        raise UnprocessableEntity(errors={"message": "Message can not be empty."})
    await _update(demo, identifier, identifier_type, "message", message)


@action("PUT", "/v2/alerts/{identifier}/description")
async def update_description(
    identifier: Identifier,
    body: DescriptionIn,
    demo: DemoState,
    identifier_type: IdentifierParam = "id",
) -> None:
    """Accept a new description (15,000 characters; longer is cut)."""
    await _update(demo, identifier, identifier_type, "description", body.description)


@action("PUT", "/v2/alerts/{identifier}/priority")
async def update_priority(
    identifier: Identifier,
    body: PriorityIn,
    demo: DemoState,
    identifier_type: IdentifierParam = "id",
) -> None:
    """Accept a new priority, P1 to P5."""
    if body.priority not in PRIORITIES:
        raise UnprocessableEntity(
            errors={"priority": f"should be one of [ {', '.join(PRIORITIES)} ]"}
        )
    await _update(demo, identifier, identifier_type, "priority", body.priority)


@router.delete(
    "/v2/alerts/{identifier}",
    status_code=202,
    tags=["alerts"],
    dependencies=Write,
    responses=errors(Forbidden),
)
async def delete_alert(
    identifier: str,
    demo: DemoState,
    identifier_type: IdentifierParam = "id",
) -> None:
    """Accept a deletion; an unknown alert shows in the request status."""
    await _accept(demo, "Delete", lambda: demo.store.delete(identifier, identifier_type))


@router.get(
    "/v2/users/{identifier}",
    tags=["users"],
    dependencies=Read,
    responses=errors(NotFound),
)
async def get_user(
    identifier: str,
    demo: DemoState,
    expansion: Annotated[Expansion, Depends(query(user_expand))],
) -> dict[str, Any]:
    """A user by ID or username; ``expand=contact`` adds ``userContacts``."""
    user = await demo.store.user(identifier)
    if user is None:
        raise NotFound("User does not exist")
    return await expansion.apply(user.to_json())


# The app --------------------------------------------------------------------------------


async def banner(demo: Demo) -> str:
    """What the demo prints at start-up: where state lives, the data, the keys, the limit."""
    settings = demo.settings

    def key(variable: str, value: str) -> str:
        if variable in settings.from_environment:
            return f"from {variable} (not shown)"
        return f"GenieKey {value}  (default; set {variable} to change)"

    example = (
        "$ALERTS_API_KEY" if "ALERTS_API_KEY" in settings.from_environment else settings.api_key
    )
    if settings.redis_url is None:
        state = (
            "in this process only: every worker has its own alerts, request statuses and rate"
            " limits (set ALERTS_REDIS_URL to share them)"
        )
    else:
        state = f"alerts, request statuses and rate limits {demo.store.where}"
    alerts, users = await demo.store.sizes()
    return "\n".join(
        [
            f"Alerts API demo (opsgenie_envelope {__version__}): "
            f"{alerts} alerts and {users} users {demo.store.where}.",
            f"  state:        {state}",
            f"  full access:  Authorization: {key('ALERTS_API_KEY', settings.api_key)}",
            "  read-only:    Authorization: "
            + key("ALERTS_READONLY_API_KEY", settings.readonly_api_key),
            f"  rate limit:   {settings.rate_limit} requests per {settings.rate_period} s per key"
            " (ALERTS_RATE_LIMIT, ALERTS_RATE_PERIOD)",
            f"  try:          curl -H 'Authorization: GenieKey {example}' <server>/v2/alerts",
        ]
    )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    demo: Demo = app.state.demo
    print(await banner(demo), flush=True)
    yield
    await demo.requests.aclose(grace=10)  # finish the writes in hand before stopping
    await demo.store.aclose()
    await demo.limit.aclose()
    await demo.gate.aclose()


def _stores(settings: Settings) -> tuple[AlertStore, RateLimit, RequestTracker]:
    """The alert store, the rate limit and the request statuses: in memory, or all in Redis."""
    limit = f"{settings.rate_limit}/{settings.rate_period} seconds"
    url, prefix = settings.redis_url, settings.redis_prefix
    if url is None:
        return AlertStore(), RateLimit(limit, key="api_key"), RequestTracker()
    from examples.alerts.redis_store import RedisAlertStore  # needs redis-py

    # One client for the alerts and the request statuses: the library's, made for any of
    # the three forms of the URL (a redis:// URL reaching a cluster node is refused here).
    statuses = RedisRequestStore(url, key_prefix=f"{prefix}request:")
    return (
        RedisAlertStore(url, prefix=prefix, client=statuses.client),
        RateLimit(limit, key="api_key", storage=url, name=f"{prefix}api"),
        RequestTracker(statuses),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the Alerts API.

    Args:
        settings: the demo's settings; read from the environment when omitted.

    The sample data is stored here rather than at start-up, so the app answers the same
    when no server runs its lifespan (``httpx.ASGITransport``, ``--lifespan off``); the
    lifespan prints the keys. In Redis, the first worker to start stores it, once.
    """
    settings = Settings.from_environment_variables() if settings is None else settings
    store, limit, requests = _stores(settings)
    if settings.seed:
        seed(store)
    keys = {
        settings.api_key: ("ALERTS_API_KEY", True),
        settings.readonly_api_key: ("ALERTS_READONLY_API_KEY", False),
    }
    # FastAPIOffline serves /docs and /redoc with their assets from its own package, so both
    # pages work without a network.
    app = FastAPIOffline(
        title="Alerts API",
        summary="A slice of OpsGenie's Alert API, served with opsgenie_envelope.",
        version=__version__,
        lifespan=_lifespan,
        static_url=DOCS_ASSETS,
    )
    # Its documentation pages are routes of their own (docs_url is None): name them; the
    # OpenAPI document's URL is excluded anyway.
    documentation = {"/docs", "/docs/oauth2-redirect", "/redoc"}
    # OpsGenie's 202 text goes under "result"; bodies must be JSON (415 otherwise); OpsGenie's
    # Node SDK posts to /v2/alerts/ and /v2/alerts/{id}/acknowledge/: served, not redirected.
    # install() adds EnvelopeMiddleware and makes /docs show the envelopes.
    install(
        app,
        message_key="result",
        require_json_body=True,
        ignore_trailing_slash=True,
        exclude_paths=documentation,
        max_body_size=MAX_BODY_SIZE,
    )
    # Failed authentications, per client address: on Redis when the demo is, so that every
    # worker counts them together.
    failures = RateLimit(
        FAILED_ATTEMPTS,
        key="address",
        storage=settings.redis_url or "memory://",
        name=f"{settings.redis_prefix}auth",
    )
    app.state.demo = Demo(settings, store, Gate(keys, failures), limit, requests)
    app.include_router(router)
    return app


app = create_app()
