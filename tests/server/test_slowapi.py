"""slowapi's ``RateLimitExceeded`` answered as OpsGenie's 429, on each path slowapi raises it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request
from slowapi import Limiter
from slowapi.middleware import SlowAPIASGIMiddleware, SlowAPIMiddleware
from slowapi.util import get_remote_address

from opsgenie_envelope.fastapi import install
from opsgenie_envelope.ratelimit import Reason, install_slowapi, slowapi_handler
from tests.support.asgi import make_client
from tests.support.stateful import throttle_headers

pytestmark = pytest.mark.anyio


def decorated_app(reason: Reason = "API_KEY", limit: str = "2/minute") -> FastAPI:
    """A route limited with slowapi's decorator (``limit``), answering with ``reason``."""
    limiter = Limiter(key_func=get_remote_address)
    app = FastAPI()
    app.state.limiter = limiter

    @app.get("/alerts")
    @limiter.limit(limit)
    async def alerts(request: Request) -> dict[str, int]:
        return {"count": 5}

    install(app)
    install_slowapi(app, reason=reason)
    return app


def default_limited_app(middleware: type[SlowAPIMiddleware | SlowAPIASGIMiddleware]) -> FastAPI:
    """Every route limited by slowapi's ``default_limits`` (1 an hour) through ``middleware``."""
    app = FastAPI()
    app.state.limiter = Limiter(key_func=get_remote_address, default_limits=["1/hour"])

    @app.get("/alerts")
    async def alerts() -> dict[str, int]:
        return {"count": 5}

    app.add_middleware(middleware)  # before install(): inside EnvelopeMiddleware
    install(app)
    install_slowapi(app, reason="IP_ADDRESS")
    return app


async def third(app: FastAPI) -> httpx.Response:
    """The answer to the third request in a row."""
    async with make_client(app) as client:
        for _ in range(2):
            await client.get("/alerts")
        return await client.get("/alerts")


async def test_decorated_route_answers_opsgenie_429() -> None:
    """A decorated route past its limit: the envelope, the reason given, the limit's period."""
    response = await third(decorated_app())
    headers = throttle_headers(response)
    assert response.status_code == 429
    assert response.json()["message"] == "You are making too many requests!"
    assert headers["x-ratelimit-reason"] == "API_KEY"
    assert headers["x-ratelimit-period-in-sec"] == "60"
    assert headers["x-ratelimit-state"] == "THROTTLED"
    assert 55 <= int(headers["retry-after"]) <= 60


async def test_reason_is_sent_once() -> None:
    """Only the reason given goes out: no default ``ACCOUNT`` beside it."""
    response = await third(decorated_app("INTEGRATION"))
    assert response.headers.get_list("x-ratelimit-reason") == ["INTEGRATION"]


@pytest.mark.parametrize("middleware", [SlowAPIMiddleware, SlowAPIASGIMiddleware])
async def test_default_limits_through_slowapi_middleware(
    middleware: type[SlowAPIMiddleware | SlowAPIASGIMiddleware],
) -> None:
    """Limits applied by either slowapi middleware answer the same 429."""
    async with make_client(default_limited_app(middleware)) as client:
        first = await client.get("/alerts")
        second = await client.get("/alerts")
    assert first.status_code == 200
    assert second.status_code == 429
    assert throttle_headers(second)["x-ratelimit-reason"] == "IP_ADDRESS"
    assert throttle_headers(second)["x-ratelimit-period-in-sec"] == "3600"


async def test_reason_can_depend_on_the_request() -> None:
    """A reason function sees the request."""
    app = decorated_app(lambda request: request.headers.get("x-kind", "ACCOUNT"), "1/minute")
    async with make_client(app) as client:
        await client.get("/alerts")
        response = await client.get("/alerts", headers={"x-kind": "INTEGRATION"})
    assert throttle_headers(response)["x-ratelimit-reason"] == "INTEGRATION"


def test_bad_reason_is_refused() -> None:
    """A reason that cannot be a header value is refused at once."""
    with pytest.raises(ValueError, match="reason"):
        slowapi_handler("two\nlines")
