"""Small apps for the rate-limit and asynchronous-request tests (and the served ones)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
from fastapi import Depends, FastAPI, WebSocket
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opsgenie_envelope import EnvelopeMiddleware, Unauthenticated, genie_key, set_caller
from opsgenie_envelope.fastapi import install
from opsgenie_envelope.ratelimit import RateLimit, RateLimitMiddleware, digest
from opsgenie_envelope.request_status import Outcome, RedisRequestStore, RequestTracker, Work

__all__ = [
    "STATUS_KEYS",
    "THROTTLE_HEADERS",
    "alerts_endpoint",
    "authenticated_fastapi",
    "key",
    "limited_fastapi",
    "limited_starlette",
    "owned_app",
    "plain_app",
    "served_limit_app",
    "served_requests_app",
    "sleeping",
    "throttle_headers",
    "tracked_app",
]

STATUS_KEYS = ["success", "action", "processedAt", "isSuccess", "status", "alertId", "alias"]
"""The keys of OpsGenie's ``AlertRequestStatus``, in the order it sends them."""

THROTTLE_HEADERS = (
    "retry-after",
    "x-ratelimit-state",
    "x-ratelimit-reason",
    "x-ratelimit-period-in-sec",
)


def key(value: str) -> dict[str, str]:
    """The ``Authorization`` header of GenieKey ``value``."""
    return {"Authorization": f"GenieKey {value}"}


def throttle_headers(response: httpx.Response) -> dict[str, str]:
    """The 429 headers of ``response`` that are present, by lower-case name."""
    return {name: response.headers[name] for name in THROTTLE_HEADERS if name in response.headers}


def limited_fastapi(limit: RateLimit) -> FastAPI:
    """A FastAPI app whose every route depends on ``limit``: ``GET /alerts``, websocket ``/ws``."""
    app = FastAPI(dependencies=[Depends(limit)])

    @app.get("/alerts")
    async def alerts() -> dict[str, int]:
        return {"count": 5}

    @app.websocket("/ws")
    async def feed(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"count": 5})
        await websocket.close()

    install(app)
    return app


def authenticated_fastapi(limit: RateLimit, keys: dict[str, str]) -> FastAPI:
    """``GET /alerts`` behind a GenieKey check (``keys``: key -> caller), then ``limit``.

    The documented order: authenticate, ``set_caller``, then count; a refused key is a 401.
    """

    async def caller(request: Request) -> None:
        found = keys.get(genie_key(request) or "")
        if found is None:
            raise Unauthenticated()
        set_caller(request, found)
        await limit.check(request)

    app = FastAPI(dependencies=[Depends(caller)])

    @app.get("/alerts")
    async def alerts() -> dict[str, int]:
        return {"count": 5}

    install(app)
    return app


async def alerts_endpoint(request: Request) -> Response:
    """``{"count": 5}``: the endpoint behind the Starlette rate-limit tests."""
    return JSONResponse({"count": 5})


def plain_app() -> Starlette:
    """A Starlette app without middleware: ``GET /alerts``."""
    return Starlette(routes=[Route("/alerts", alerts_endpoint)])


def limited_starlette(limit: RateLimit | str, **options: Any) -> Starlette:
    """A Starlette app behind EnvelopeMiddleware then RateLimitMiddleware: ``GET /alerts``."""
    return Starlette(
        routes=[Route("/alerts", alerts_endpoint)],
        middleware=[
            Middleware(EnvelopeMiddleware),
            Middleware(RateLimitMiddleware, limit=limit, **options),
        ],
    )


def tracked_app(requests: RequestTracker, work: Work, **envelope: Any) -> FastAPI:
    """``POST /v2/alerts`` accepts ``work(body)`` (action ``Create``); the status route serves it.

    ``envelope`` are ``install()`` options (``message_key="result"`` unless given).
    """
    app = FastAPI()
    install(app, **{"message_key": "result", **envelope})

    @app.post("/v2/alerts", status_code=202)
    async def create(body: dict[str, Any]) -> None:
        await requests.accept(work, body, action="Create")

    @app.get("/v2/alerts/requests/{request_id}")
    async def status(request_id: str) -> dict[str, Any]:
        return await requests.status_data(request_id)

    return app


def owned_app(requests: RequestTracker, work: Work) -> FastAPI:
    """Like :func:`tracked_app`, statuses owned by the ``X-Tenant`` header (the app's auth)."""
    app = FastAPI()
    install(app, message_key="result")

    @app.post("/v2/alerts", status_code=202)
    async def create(body: dict[str, Any], request: Request) -> None:
        await requests.accept(work, body, action="Create", owner=request.headers["x-tenant"])

    @app.get("/v2/alerts/requests/{request_id}")
    async def status(request_id: str, request: Request) -> dict[str, Any]:
        return await requests.status_data(request_id, owner=request.headers["x-tenant"])

    return app


def sleeping(seconds: float) -> Work:
    """Work that takes ``seconds``, then succeeds with ``Created alert``."""

    async def work(body: dict[str, Any]) -> Outcome:
        await asyncio.sleep(seconds)
        return Outcome("Created alert")

    return work


def served_limit_app() -> Starlette:
    """``GET /alerts`` behind ``RateLimitMiddleware`` (50/minute), for the served hostile tests.

    ``TEST_KEY=header`` keys the limit on the raw ``Authorization`` value (digested), with a
    memory storage of at most 1,000 keys: every made-up key is a key, and the storage must
    still stay bounded. Otherwise the default key (verified caller, else the address).
    """
    options: dict[str, Any] = {}
    if os.environ.get("TEST_KEY") == "header":

        def by_header(connection: HTTPConnection) -> str:
            return digest(connection.headers.get("authorization", ""))

        options = {"key": by_header, "storage_options": {"max_keys": 1000}}
    return limited_starlette("50/minute", **options)


def served_requests_app() -> FastAPI:
    """The app a test serves in its own process to kill it: work that never ends, on Redis.

    Reads ``TEST_REDIS_URL``, ``TEST_REDIS_PREFIX`` and ``TEST_LEASE`` from the environment.
    """
    store = RedisRequestStore(
        os.environ["TEST_REDIS_URL"], key_prefix=os.environ["TEST_REDIS_PREFIX"]
    )
    lease = float(os.environ["TEST_LEASE"])
    return tracked_app(RequestTracker(store, lease=lease), sleeping(3600))
