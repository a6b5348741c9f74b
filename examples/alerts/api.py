"""An OpsGenie-style Alerts API built with opsgenie_envelope: the library's demo.

Serve it with ``uvicorn examples.alerts.api:app --host 127.0.0.1 --port 8000`` (``demo``
extra). It mirrors a slice of OpsGenie's Alert API (same paths, request and response
shapes) and shows the library at work:

* ``install(app, message_key="result")``: ``EnvelopeMiddleware`` makes every answer an
  envelope, and ``/docs`` shows those envelopes and the errors each route raises; the 202 of a
  write reads ``{"data": null, "result": "Request will be processed", "took", "requestId"}``.
* Writes are processed in the background, under the 202's request ID
  (``get_request_id()``): poll ``GET /v2/alerts/requests/{requestId}`` until it is known.
* Typed errors: 401, 403 (40301), 404, 415, 422 with ``errors``, 429 with ``X-RateLimit-*``.
* ``Pager`` for ``GET /v2/alerts``; ``Expander`` for ``GET /v2/users/{id}?expand=contact``.

Endpoints::

    POST   /v2/alerts                            create (202)
    GET    /v2/alerts/requests/{requestId}       status of a write; 404 until processed
    GET    /v2/alerts/{identifier}               one alert (identifierType=id|alias|tiny)
    GET    /v2/alerts                            list: query, offset, limit, sort, order
    GET    /v2/alerts/count                      {"count": N} for a query
    POST   /v2/alerts/{identifier}/acknowledge   acknowledge (202)
    POST   /v2/alerts/{identifier}/close         close (202)
    DELETE /v2/alerts/{identifier}               delete (202)
    GET    /v2/users/{identifier}                a user by ID or username; expand=contact

Settings come from the environment (see :class:`Settings`); storage is in memory, seeded
with five alerts and three users at start-up.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Path, Query, Request, Security
from fastapi.security import APIKeyHeader
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field

from examples.alerts.auth import Caller, Gate, RateLimiter
from examples.alerts.repository import (
    PRIORITIES,
    SORT_FIELDS,
    AlertStore,
    IdentifierType,
    Match,
    NewAlert,
    QueryError,
    RequestStatus,
    parse_query,
)
from examples.alerts.seed import seed
from opsgenie_envelope import (
    Expander,
    Expansion,
    Forbidden,
    NotFound,
    Page,
    Pager,
    TooManyRequests,
    Unauthenticated,
    UnprocessableEntity,
    __version__,
    docs_paths,
    get_request_id,
    set_message,
)
from opsgenie_envelope.fastapi import envelope, errors, install

__all__ = ["Settings", "app", "create_app"]

DEFAULT_API_KEY = "demo-key"
DEFAULT_READONLY_API_KEY = "demo-readonly-key"
DEFAULT_RATE_LIMIT = 600
RATE_PERIOD = 60
DOCS_ASSETS = "/docs-assets"
"""Where Swagger UI's and ReDoc's scripts and styles are served from (no CDN)."""
ACCEPTED = "Request will be processed"


@dataclass(frozen=True)
class Settings:
    """The demo's settings, checked once.

    Attributes:
        api_key: the full-access key (``ALERTS_API_KEY``, default ``demo-key``).
        readonly_api_key: the read-only key (``ALERTS_READONLY_API_KEY``, default
            ``demo-readonly-key``).
        rate_limit: requests per minute and key (``ALERTS_RATE_LIMIT``, default 600).
        processing_delay: seconds a write waits before it is processed
            (``ALERTS_PROCESSING_DELAY``, default 0): shows why clients poll.
        seed: start with the sample alerts and users.
        from_environment: the names of the variables the values above came from.
    """

    api_key: str = DEFAULT_API_KEY
    readonly_api_key: str = DEFAULT_READONLY_API_KEY
    rate_limit: int = DEFAULT_RATE_LIMIT
    processing_delay: float = 0.0
    seed: bool = True
    from_environment: frozenset[str] = field(default=frozenset())

    def __post_init__(self) -> None:
        for name in ("api_key", "readonly_api_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
                raise ValueError(f"{name} must be a non-empty string without spaces")
        if self.api_key == self.readonly_api_key:
            raise ValueError("api_key and readonly_api_key must differ")
        if isinstance(self.rate_limit, bool) or not isinstance(self.rate_limit, int):
            raise TypeError("rate_limit must be an int")
        if self.rate_limit < 1:
            raise ValueError("rate_limit must be at least 1 request per minute")
        if not (math.isfinite(self.processing_delay) and 0 <= self.processing_delay <= 60):
            raise ValueError("processing_delay must be between 0 and 60 seconds")

    @classmethod
    def from_environment_variables(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Read ``ALERTS_API_KEY``, ``ALERTS_READONLY_API_KEY``, ``ALERTS_RATE_LIMIT`` and
        ``ALERTS_PROCESSING_DELAY``; unset ones keep their defaults.

        Raises ``ValueError`` naming the variable when a value is unusable.
        """
        values: dict[str, Any] = {}
        names = {
            "ALERTS_API_KEY": ("api_key", str),
            "ALERTS_READONLY_API_KEY": ("readonly_api_key", str),
            "ALERTS_RATE_LIMIT": ("rate_limit", int),
            "ALERTS_PROCESSING_DELAY": ("processing_delay", float),
        }
        for variable, (name, kind) in names.items():
            raw = environ.get(variable)
            if raw is None:
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


# Request bodies -------------------------------------------------------------------------


class CreateAlertIn(BaseModel):
    """The body of ``POST /v2/alerts``; OpsGenie's field names and limits."""

    model_config = ConfigDict(json_schema_extra={"required": ["message"]})

    message: str | None = Field(None, description="Message of the alert (130 characters).")
    alias: str | None = Field(None, description="Your ID of the alert, the deduplication key.")
    description: str | None = Field(None, description="Details (15,000 characters).")
    priority: str | None = Field(
        None, description="P1 to P5; P3 when absent.", json_schema_extra={"enum": list(PRIORITIES)}
    )
    tags: list[str] | None = Field(None, description="Labels (20, of 50 characters each).")
    details: dict[str, str] | None = Field(None, description="Custom key-value properties.")
    entity: str | None = Field(None, description="The domain the alert is about.")
    source: str | None = Field(
        None, description="Where the alert comes from; the caller's IP address when absent."
    )

    def checked(self, default_source: str = "") -> NewAlert:
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
        )


class AlertActionIn(BaseModel):
    """The optional body of acknowledge and close (``source`` and ``note`` are not kept)."""

    user: str | None = Field(None, description="Who acts (shown in the alert's report).")
    source: str | None = None
    note: str | None = None


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


async def reader(
    demo: DemoState, authorization: Annotated[str | None, Security(genie_key)]
) -> Caller:
    """Any known key (401 otherwise), within its rate limit (429 otherwise)."""
    return demo.gate.admit(authorization)


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


async def load_contact(user: dict[str, Any], request: Request) -> list[dict[str, Any]]:
    """The ``contact`` of ``expand=contact``: the user's contact methods."""
    found = _demo(request).store.user(user["id"])
    return [dict(contact) for contact in found.contacts] if found is not None else []


user_expand = Expander({"contact": load_contact})


def _match(query: str) -> Match:
    try:
        return parse_query(query)
    except QueryError as exc:
        raise UnprocessableEntity(errors={"query": str(exc)}) from None


def _accept(demo: Demo, tasks: BackgroundTasks, action: Callable[[], RequestStatus]) -> None:
    """Answer 202 and run ``action`` after the answer, under this request's ID."""
    request_id = get_request_id()
    if request_id is None:  # only without EnvelopeMiddleware, which create_app always adds
        raise RuntimeError("the Alerts API must run behind EnvelopeMiddleware")
    tasks.add_task(_process, demo, request_id, action)
    set_message(ACCEPTED)


async def _process(demo: Demo, request_id: str, action: Callable[[], RequestStatus]) -> None:
    if demo.settings.processing_delay:
        await anyio.sleep(demo.settings.processing_delay)
    demo.store.record(request_id, action())


# Routes ---------------------------------------------------------------------------------

router = APIRouter(responses=errors(Unauthenticated, TooManyRequests))
Read = [Depends(reader)]
Write = [Depends(writer)]


@router.post(
    "/v2/alerts",
    status_code=202,
    tags=["alerts"],
    dependencies=Write,
    responses=errors(Forbidden),
)
async def create_alert(
    body: CreateAlertIn, request: Request, demo: DemoState, tasks: BackgroundTasks
) -> None:
    """Accept an alert for creation; poll the request status for the outcome."""
    new = body.checked(request.client.host if request.client else "")
    _accept(demo, tasks, lambda: demo.store.create(new))


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
    status = demo.store.request_status(request_id)
    if status is None:
        raise NotFound("Request not found. It might not be processed yet.")
    return status.to_json()


@router.get("/v2/alerts/count", tags=["alerts"], dependencies=Read)
async def count_alerts(demo: DemoState, query: QueryParam = "") -> dict[str, int]:
    """How many alerts match ``query``."""
    return {"count": demo.store.count(_match(query))}


@router.get("/v2/alerts", tags=["alerts"], dependencies=Read, openapi_extra=envelope(paged=True))
async def list_alerts(
    demo: DemoState,
    page: Annotated[Page, Depends(alert_pages.query)],
    query: QueryParam = "",
) -> list[dict[str, Any]]:
    """A page of the alerts matching ``query``, newest first by default."""
    match = _match(query)
    rows, total = demo.store.search(
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
    alert = demo.store.find(identifier, identifier_type)
    if alert is None:
        raise NotFound("Alert does not exist")
    return alert.to_json()


@router.post(
    "/v2/alerts/{identifier}/acknowledge",
    status_code=202,
    tags=["alerts"],
    dependencies=Write,
    responses=errors(Forbidden),
)
async def acknowledge_alert(
    identifier: str,
    demo: DemoState,
    tasks: BackgroundTasks,
    identifier_type: IdentifierParam = "id",
    body: AlertActionIn | None = None,
) -> None:
    """Accept an acknowledgement; an unknown alert shows in the request status."""
    user = body.user if body is not None else None
    _accept(demo, tasks, lambda: demo.store.acknowledge(identifier, identifier_type, user))


@router.post(
    "/v2/alerts/{identifier}/close",
    status_code=202,
    tags=["alerts"],
    dependencies=Write,
    responses=errors(Forbidden),
)
async def close_alert(
    identifier: str,
    demo: DemoState,
    tasks: BackgroundTasks,
    identifier_type: IdentifierParam = "id",
    body: AlertActionIn | None = None,
) -> None:
    """Accept a close; an unknown alert shows in the request status."""
    user = body.user if body is not None else None
    _accept(demo, tasks, lambda: demo.store.close(identifier, identifier_type, user))


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
    tasks: BackgroundTasks,
    identifier_type: IdentifierParam = "id",
) -> None:
    """Accept a deletion; an unknown alert shows in the request status."""
    _accept(demo, tasks, lambda: demo.store.delete(identifier, identifier_type))


@router.get(
    "/v2/users/{identifier}",
    tags=["users"],
    dependencies=Read,
    responses=errors(NotFound),
    openapi_extra=envelope(expandable=["contact"]),
)
async def get_user(
    identifier: str,
    demo: DemoState,
    expansion: Annotated[Expansion, Depends(user_expand.query)],
) -> dict[str, Any]:
    """A user by ID or username; ``expand=contact`` adds the contact methods."""
    user = demo.store.user(identifier)
    if user is None:
        raise NotFound("User does not exist")
    return await expansion.apply(user.to_json())


# The app --------------------------------------------------------------------------------


def banner(demo: Demo) -> str:
    """What the demo prints at start-up: the data, the keys and the rate limit."""
    settings = demo.settings

    def key(variable: str, value: str) -> str:
        if variable in settings.from_environment:
            return f"from {variable} (not shown)"
        return f"GenieKey {value}  (default; set {variable} to change)"

    example = (
        "$ALERTS_API_KEY" if "ALERTS_API_KEY" in settings.from_environment else settings.api_key
    )
    return "\n".join(
        [
            f"Alerts API demo (opsgenie_envelope {__version__}): "
            f"{len(demo.store.alerts)} alerts and {len(demo.store.users)} users in memory.",
            f"  full access:  Authorization: {key('ALERTS_API_KEY', settings.api_key)}",
            "  read-only:    Authorization: "
            + key("ALERTS_READONLY_API_KEY", settings.readonly_api_key),
            f"  rate limit:   {settings.rate_limit} requests per minute per key"
            " (ALERTS_RATE_LIMIT)",
            f"  try:          curl -H 'Authorization: GenieKey {example}' <server>/v2/alerts",
        ]
    )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    print(banner(app.state.demo), flush=True)
    yield


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], float] = time.monotonic
) -> FastAPI:
    """Build the Alerts API.

    Args:
        settings: the demo's settings; read from the environment when omitted.
        clock: the rate limiter's monotonic clock (tests pass a fake one).

    The sample data is stored here rather than at start-up, so the app answers the same
    when no server runs its lifespan (``httpx.ASGITransport``, ``--lifespan off``); the
    lifespan prints the keys.
    """
    settings = Settings.from_environment_variables() if settings is None else settings
    store = AlertStore()
    if settings.seed:
        seed(store)
    keys = {
        settings.api_key: ("ALERTS_API_KEY", True),
        settings.readonly_api_key: ("ALERTS_READONLY_API_KEY", False),
    }
    gate = Gate(keys, RateLimiter(settings.rate_limit, RATE_PERIOD, clock))
    # FastAPIOffline serves /docs and /redoc with their assets from its own package, so both
    # pages work without a network.
    app = FastAPIOffline(
        title="Alerts API",
        summary="A slice of OpsGenie's Alert API, served with opsgenie_envelope.",
        version=__version__,
        lifespan=_lifespan,
        static_url=DOCS_ASSETS,
    )
    # Its documentation pages are routes of their own (docs_url is None): name them.
    documentation = {"/docs", "/docs/oauth2-redirect", "/redoc"}
    # OpsGenie's 202 text goes under "result"; bodies must be JSON (415 otherwise).
    # install() adds EnvelopeMiddleware and makes /docs show the envelopes.
    install(
        app,
        message_key="result",
        require_json_body=True,
        exclude_paths={*docs_paths(app), *documentation},
    )
    app.state.demo = Demo(settings, store, gate)
    app.include_router(router)
    return app


app = create_app()
