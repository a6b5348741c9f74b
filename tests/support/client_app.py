"""What the client tests talk to: an app (taxonomy, flaky routes, a paged list), a fake clock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from opsgenie_envelope import (
    ApiError,
    BadRequest,
    ClientError,
    Conflict,
    EnvelopeMiddleware,
    Forbidden,
    Gone,
    InternalServerError,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    NotImplementedYet,
    NotSupported,
    PaymentRequired,
    PreconditionRequired,
    RangeNotSatisfiable,
    ServerError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthenticated,
    UnprocessableEntity,
    UnsupportedMediaType,
    client,
)
from opsgenie_envelope._context import set_envelope_field
from opsgenie_envelope.client import AsyncClient
from tests.support.asgi import make_client


class AlertLocked(Conflict):
    """An app's own error: the client knows only its closest taxonomy class, ``Conflict``."""

    code = 40901
    default_message = "Alert is locked by another operation"


TAXONOMY: dict[str, Callable[[], ApiError]] = {
    "BadRequest": lambda: BadRequest("Invalid JSON body: line 1 column 2"),
    "Unauthenticated": lambda: Unauthenticated(),
    "PaymentRequired": lambda: PaymentRequired(),
    "Forbidden": lambda: Forbidden(),
    "NotSupported": lambda: NotSupported("Heartbeats cannot be pinged by this key"),
    "NotFound": lambda: NotFound("Alert does not exist"),
    "MethodNotAllowed": lambda: MethodNotAllowed(headers={"Allow": "GET"}),
    "NotAcceptable": lambda: NotAcceptable(),
    "Conflict": lambda: Conflict("Alias already used"),
    "Gone": lambda: Gone(),
    "UnsupportedMediaType": lambda: UnsupportedMediaType(),
    "RangeNotSatisfiable": lambda: RangeNotSatisfiable(),
    "UnprocessableEntity": lambda: UnprocessableEntity(
        errors={"priority": "should be one of [ P1, P2, P3, P4, P5 ]", "message": "is blank"}
    ),
    "PreconditionRequired": lambda: PreconditionRequired(),
    "TooManyRequests": lambda: TooManyRequests(retry_after=2, reason="API_KEY", period=60),
    "InternalServerError": lambda: InternalServerError(),
    "NotImplementedYet": lambda: NotImplementedYet(),
    "ServiceUnavailable": lambda: ServiceUnavailable(retry_after=5),
    "ClientError": lambda: ClientError("I'm a teapot", status_code=418),
    "ServerError": lambda: ServerError("Upstream timed out", status_code=504),
    "AlertLocked": lambda: AlertLocked(),
}
"""Errors a route raises by name: every taxonomy class, unlisted statuses, an app's own."""


def assert_round_trip(name: str, got: client.ApiError) -> None:
    """``got``, raised by the client, matches ``TAXONOMY[name]`` as the server raised it.

    The client's twin of the same class (an app's own error comes back as its closest
    taxonomy class), so an instance of the server's class too; same message, code, field
    errors and status, with the response's request ID and time.
    """
    sent = TAXONOMY[name]()
    expected = Conflict if isinstance(sent, AlertLocked) else type(sent)
    assert type(got) is getattr(client, expected.__name__)
    assert isinstance(got, expected)
    assert (got.message, got.code, got.errors, got.status_code) == (
        sent.message,
        sent.code,
        sent.errors,
        sent.status_code,
    )
    assert got.request_id == got.response.headers["x-request-id"]
    assert got.took == float(got.response.headers["x-response-time"])


PROXY_PAGE = "<html><body><h1>502 Bad Gateway</h1><hr>nginx/1.25.3</body></html>"


def client_app(**options: Any) -> Starlette:
    """The app behind ``EnvelopeMiddleware``; ``options`` go to the middleware.

    ``app.state.hits`` counts requests per path and ``key`` query parameter, and
    ``app.state.urls`` lists the URLs the paged list served.
    """
    hits: Counter[str] = Counter()
    urls: list[str] = []

    def count(request: Request) -> int:
        hits[f"{request.url.path}:{request.query_params.get('key', '')}"] += 1
        return hits[f"{request.url.path}:{request.query_params.get('key', '')}"]

    async def raise_error(request: Request) -> Response:
        count(request)
        raise TAXONOMY[request.path_params["name"]]()

    async def flaky(request: Request) -> Response:
        """Fails ``fail`` times (503, or 429 with ``retry_after``), then answers."""
        attempt = count(request)
        query = request.query_params
        if attempt <= int(query.get("fail", "2")):
            if "retry_after" in query:
                raise TooManyRequests(retry_after=float(query["retry_after"]))
            raise ServiceUnavailable()
        return JSONResponse({"attempt": attempt})

    async def alerts(request: Request) -> Response:
        """A paged list of ``total`` items, OpsGenie style (``offset``, ``limit``)."""
        urls.append(str(request.url))
        query = request.query_params
        total, offset, limit = (
            int(query.get(k, d)) for k, d in (("total", 7), ("offset", 0), ("limit", 3))
        )
        page = [{"n": n} for n in range(offset, min(total, offset + limit))]
        paging = {"first": str(request.url.include_query_params(offset=0))}
        if offset + limit < total:
            paging["next"] = str(request.url.include_query_params(offset=offset + limit))
        if offset > 0:
            paging["prev"] = str(request.url.include_query_params(offset=max(0, offset - limit)))
        last = max(0, (total - 1) // limit * limit)
        paging["last"] = str(request.url.include_query_params(offset=last))
        set_envelope_field("paging", paging)
        set_envelope_field("totalCount", total)
        return JSONResponse(page)

    async def echo(request: Request) -> Response:
        """What the client sent: the query and its ``X-Request-ID``."""
        count(request)
        return JSONResponse(
            {
                "query": dict(request.query_params),
                "requestIdHeader": request.headers.get("x-request-id"),
            }
        )

    app = Starlette(
        routes=[
            Route("/raise/{name}", raise_error, methods=["GET", "HEAD", "POST"]),
            Route("/flaky", flaky, methods=["GET", "POST"]),
            Route("/v2/alerts", alerts),
            Route("/echo", echo, methods=["GET", "POST"]),
        ],
        middleware=[Middleware(EnvelopeMiddleware, **options)],
    )
    app.state.hits = hits
    app.state.urls = urls
    return app


def behind_proxy(app: ASGIApp) -> ASGIApp:
    """``app`` behind a proxy that answers ``/proxy-down`` itself, with an HTML 502 page."""

    async def proxy(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/proxy-down":
            await HTMLResponse(PROXY_PAGE, status_code=502)(scope, receive, send)
        else:
            await app(scope, receive, send)

    return proxy


class FakeTime:
    """A clock that moves only when slept on, and remembers every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        """The current fake time."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the clock at once instead of waiting."""
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        """``sleep`` for the async client."""
        self.sleep(seconds)


def asgi_client(app: ASGIApp, time: FakeTime, **options: Any) -> AsyncClient:
    """An ``AsyncClient`` on ``app`` over ASGI, sleeping on ``time``, jitter factor 0.75."""
    client: AsyncClient = make_client(
        app,
        raise_app_exceptions=True,
        client_class=AsyncClient,
        sleep=time.async_sleep,
        clock=time.clock,
        random=lambda: 0.5,
        **options,
    )
    return client
