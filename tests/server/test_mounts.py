"""Mounted apps and routers: typed errors raised anywhere below the middleware answer as
themselves, and mounted apps' documentation stays untouched without being listed."""

from __future__ import annotations

import logging

import pytest
from fastapi import APIRouter, Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from opsgenie_envelope import EnvelopeMiddleware, NotFound, TooManyRequests
from opsgenie_envelope.fastapi import install
from tests.support.asgi import make_client

pytestmark = pytest.mark.anyio


def _alert(alert_id: str) -> dict[str, str]:
    """What both mounted apps answer: an alert, or a raised missing, throttled or broken."""
    if alert_id == "missing":
        raise NotFound("Alert does not exist")
    if alert_id == "busy":
        raise TooManyRequests(retry_after=2, reason="API_KEY", period=60)
    if alert_id == "broken":
        raise RuntimeError("secret-token-123")
    return {"id": alert_id}


def _fastapi_sub() -> FastAPI:
    """A FastAPI app to mount, answering :func:`_alert`."""
    sub = FastAPI(title="sub")

    @sub.get("/alerts/{alert_id}")
    async def get_alert(alert_id: str) -> dict[str, str]:
        return _alert(alert_id)

    return sub


async def _starlette_endpoint(request: Request) -> Response:
    return JSONResponse(_alert(request.path_params["alert_id"]))


def _starlette_sub() -> Starlette:
    """A Starlette app to mount, answering :func:`_alert` too."""
    return Starlette(routes=[Route("/alerts/{alert_id}", _starlette_endpoint)])


def _fastapi_parent() -> FastAPI:
    """FastAPI with the envelope, mounting a FastAPI app at /fa and a Starlette app at /st."""
    parent = FastAPI()
    install(parent)
    parent.mount("/fa", _fastapi_sub())
    parent.mount("/st", _starlette_sub())
    return parent


def _starlette_parent() -> Starlette:
    """Starlette with the envelope, mounting a FastAPI app at /fa and a Starlette app at /st."""
    return Starlette(
        routes=[Mount("/fa", _fastapi_sub()), Mount("/st", _starlette_sub())],
        middleware=[Middleware(EnvelopeMiddleware)],
    )


PARENTS = {"fastapi-parent": _fastapi_parent, "starlette-parent": _starlette_parent}
MOUNTS = ["/fa", "/st"]


@pytest.fixture(params=list(PARENTS))
def parent(request: pytest.FixtureRequest) -> Starlette:
    """The parent app, once as FastAPI and once as Starlette."""
    return PARENTS[request.param]()


@pytest.mark.parametrize("mount", MOUNTS)
async def test_not_found_in_a_mounted_app_is_a_404_envelope(parent: Starlette, mount: str) -> None:
    """``raise NotFound`` inside a mounted app answers 404 with its message, not a 500."""
    async with make_client(parent) as client:
        response = await client.get(f"{mount}/alerts/missing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["message"] == "Alert does not exist"
    assert body["requestId"] == response.headers["x-request-id"]
    assert set(body) == {"message", "took", "requestId"}


@pytest.mark.parametrize("mount", MOUNTS)
async def test_throttled_in_a_mounted_app_keeps_its_headers(parent: Starlette, mount: str) -> None:
    """A ``TooManyRequests`` raised in a mounted app answers 429 with each of its headers once."""
    async with make_client(parent) as client:
        response = await client.get(f"{mount}/alerts/busy")
    assert response.status_code == 429
    assert response.headers.get_list("retry-after") == ["2"]
    assert response.headers.get_list("x-ratelimit-reason") == ["API_KEY"]
    assert response.headers.get_list("x-ratelimit-state") == ["THROTTLED"]
    assert response.headers.get_list("x-ratelimit-period-in-sec") == ["60"]
    assert response.json()["message"] == "You are making too many requests!"


@pytest.mark.parametrize("mount", MOUNTS)
async def test_success_in_a_mounted_app_is_enveloped(parent: Starlette, mount: str) -> None:
    """A mounted app's JSON answer is wrapped once, by the parent's middleware."""
    async with make_client(parent) as client:
        response = await client.get(f"{mount}/alerts/7")
    assert response.status_code == 200
    assert response.json()["data"] == {"id": "7"}


@pytest.mark.parametrize("mount", MOUNTS)
@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/alerts/broken", 500, "Internal Server Error"),  # any other exception
        ("/nothing-here", 404, "Resource or handler not found"),  # the mounted router's own
    ],
)
async def test_other_failures_in_a_mounted_app_are_envelopes(
    parent: Starlette, mount: str, path: str, status: int, message: str
) -> None:
    """An unexpected exception or a missing route in a mounted app answers its envelope."""
    async with make_client(parent) as client:
        response = await client.get(f"{mount}{path}")
    assert response.status_code == status
    assert response.json()["message"] == message
    assert "secret-token-123" not in response.text
    assert response.json()["requestId"] == response.headers["x-request-id"]


async def test_unexpected_error_in_a_mounted_app_is_re_raised_with_the_id() -> None:
    """The exception still reaches the server, once, with the request ID as a note."""
    async with make_client(_fastapi_parent(), raise_app_exceptions=True) as client:
        with pytest.raises(RuntimeError, match="secret-token-123") as raised:
            await client.get("/fa/alerts/broken")
    assert any(note.startswith("request_id: ") for note in raised.value.__notes__)


async def test_mounted_fastapi_docs_are_untouched(parent: Starlette) -> None:
    """A mounted FastAPI app's OpenAPI document and Swagger UI are served untouched."""
    async with make_client(parent) as client:
        schema = await client.get("/fa/openapi.json")
        page = await client.get("/fa/docs")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "sub"
    assert "x-request-id" in schema.headers
    assert page.status_code == 200
    assert "/fa/openapi.json" in page.text
    assert "x-response-time" in page.headers


async def test_docs_of_apps_mounted_two_levels_deep_are_untouched() -> None:
    """Docs of a FastAPI app mounted inside a mounted Starlette app stay untouched."""
    inner = FastAPI(title="inner", openapi_url="/spec.json")
    middle = Starlette(routes=[Mount("/v2", inner)])
    outer = Starlette(routes=[Mount("/api", middle)], middleware=[Middleware(EnvelopeMiddleware)])
    async with make_client(outer) as client:
        response = await client.get("/api/v2/spec.json")
    assert response.json()["info"]["title"] == "inner"


async def test_mount_with_path_parameters_is_still_served() -> None:
    """A mount with parameters has no fixed docs URL; its routes are enveloped as usual."""
    outer = FastAPI()
    install(outer)
    outer.mount("/{tenant}/api", _fastapi_sub())
    async with make_client(outer) as client:
        found = await client.get("/acme/api/alerts/1")
        missing = await client.get("/acme/api/alerts/missing")
    assert found.json()["data"] == {"id": "1"}
    assert missing.status_code == 404


async def test_router_prefixes_and_dependencies_raise_as_themselves() -> None:
    """Typed errors from an ``APIRouter`` route and its dependency keep their status."""

    async def require_key(request: Request) -> None:
        if "authorization" not in request.headers:
            raise TooManyRequests(reason="API_KEY")

    router = APIRouter(prefix="/v2/alerts", dependencies=[Depends(require_key)])

    @router.get("/{alert_id}")
    async def get_alert(alert_id: str) -> dict[str, str]:
        raise NotFound(f"Alert {alert_id} does not exist")

    app = FastAPI()
    install(app)
    app.include_router(router, prefix="/api")
    async with make_client(app) as client:
        throttled = await client.get("/api/v2/alerts/1")
        missing = await client.get("/api/v2/alerts/1", headers={"authorization": "GenieKey k"})
    assert throttled.status_code == 429
    assert throttled.headers.get_list("x-ratelimit-reason") == ["API_KEY"]
    assert (missing.status_code, missing.json()["message"]) == (404, "Alert 1 does not exist")


async def test_a_mounted_app_with_its_own_middleware_is_enveloped_once() -> None:
    """A mounted app that installs the envelope too answers one envelope, one ID."""
    sub = _fastapi_sub()
    install(sub)
    parent = FastAPI()
    install(parent)
    parent.mount("/fa", sub)
    async with make_client(parent) as client:
        found = await client.get("/fa/alerts/3")
        missing = await client.get("/fa/alerts/missing")
    assert found.json()["data"] == {"id": "3"}
    assert found.headers.get_list("x-request-id") == [found.json()["requestId"]]
    assert missing.status_code == 404


async def test_held_500_is_sent_when_no_exception_follows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A handler's own 500 answer, not followed by an exception, is still one 500 envelope."""

    async def fails(request: Request) -> Response:
        return Response("database down", status_code=500, media_type="text/plain")

    app = Starlette(routes=[Route("/x", fails)], middleware=[Middleware(EnvelopeMiddleware)])
    with caplog.at_level(logging.ERROR, logger="opsgenie_envelope"):
        async with make_client(app) as client:
            response = await client.get("/x")
    assert response.status_code == 500
    assert response.json()["message"] == "database down"
    assert not caplog.records


async def test_a_mounted_apps_own_500_handler_answer_is_kept() -> None:
    """A 500 that a mounted app's exception handler wrote is its answer, sent as it said."""

    async def oops(request: Request, exc: Exception) -> Response:
        return JSONResponse({"message": "Alert store unavailable", "code": 50001}, 500)

    sub = Starlette(routes=[Route("/alerts/{alert_id}", _starlette_endpoint)])
    sub.add_exception_handler(Exception, oops)
    parent = FastAPI()
    install(parent)
    parent.mount("/st", sub)
    async with make_client(parent) as client:
        response = await client.get("/st/alerts/broken")
    assert response.status_code == 500
    assert (response.json()["message"], response.json()["code"]) == (
        "Alert store unavailable",
        50001,
    )


async def test_app_returning_without_an_answer_gets_the_500_envelope(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An app that returns before answering gets the 500 envelope, logged once with the ID."""

    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    with caplog.at_level(logging.ERROR, logger="opsgenie_envelope"):
        async with make_client(EnvelopeMiddleware(silent)) as client:
            response = await client.get("/x")
    assert response.status_code == 500
    assert response.json()["message"] == "Internal Server Error"
    assert [r.getMessage() for r in caplog.records] == [
        "the app returned without a complete response; answered 500 (request_id="
        f"{response.headers['x-request-id']})"
    ]
