"""Rate limits on ``limits`` in memory: OpsGenie's 429, keys, strategies, options, placement."""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from opsgenie_envelope import EnvelopeMiddleware, TooManyRequests, set_caller
from opsgenie_envelope.fastapi import install, rate_limited
from opsgenie_envelope.ratelimit import (
    BoundedMemoryStorage,
    RateLimit,
    RateLimitMiddleware,
    by_api_key,
    by_client_address,
    digest,
)
from tests.support.asgi import call_asgi, make_client, make_scope
from tests.support.openapi_check import assert_documented
from tests.support.stateful import (
    alerts_endpoint,
    authenticated_fastapi,
    key,
    limited_fastapi,
    limited_starlette,
    plain_app,
    throttle_headers,
)

pytestmark = pytest.mark.anyio

ALICE, BOB = key("alice-key"), key("bob-key")
KEYS = {"alice-key": "alice", "bob-key": "bob", "s3cret-api-key": "s3cret-api-key"}


async def test_dependency_answers_opsgenie_429_over_the_limit() -> None:
    """Past the limit, the FastAPI dependency answers 429 with OpsGenie's headers and message."""
    async with make_client(limited_fastapi(RateLimit("2/minute")), headers=ALICE) as client:
        allowed = [(await client.get("/alerts")).status_code for _ in range(2)]
        throttled = await client.get("/alerts")
    assert allowed == [200, 200]
    assert throttled.status_code == 429
    assert throttled.json()["message"] == "You are making too many requests!"
    assert throttled.json()["requestId"] == throttled.headers["x-request-id"]
    assert throttle_headers(throttled) == {
        "retry-after": "60",
        "x-ratelimit-state": "THROTTLED",
        "x-ratelimit-reason": "API_KEY",
        "x-ratelimit-period-in-sec": "60",
    }


def test_app_wide_dependency_lets_websockets_connect_uncounted() -> None:
    """Under an app-wide ``Depends(limit)``, websocket routes connect and are not counted."""
    with TestClient(limited_fastapi(RateLimit("2/minute")), headers=ALICE) as client:
        received = []
        for _ in range(3):
            with client.websocket_connect("/ws") as websocket:
                received.append(websocket.receive_json())
        statuses = [client.get("/alerts").status_code for _ in range(3)]
    assert received == [{"count": 5}] * 3
    assert statuses == [200, 200, 429]


async def test_middleware_answers_429_in_starlette() -> None:
    """``RateLimitMiddleware`` inside ``EnvelopeMiddleware`` limits a plain Starlette app."""
    async with make_client(limited_starlette("1/hour"), headers=ALICE) as client:
        first = await client.get("/alerts")
        second = await client.get("/alerts")
    assert (first.status_code, first.json()["data"]) == (200, {"count": 5})
    assert second.status_code == 429
    assert throttle_headers(second)["x-ratelimit-period-in-sec"] == "3600"


async def test_allowed_answers_say_the_state_is_ok() -> None:
    """Under the limit the dependency's answer says ``X-RateLimit-State: OK``, as OpsGenie's
    200s do, with the reason and period and no ``Retry-After``."""
    async with make_client(limited_fastapi(RateLimit("5/minute")), headers=ALICE) as client:
        response = await client.get("/alerts")
    assert response.status_code == 200
    assert throttle_headers(response) == {
        "x-ratelimit-state": "OK",
        "x-ratelimit-reason": "API_KEY",
        "x-ratelimit-period-in-sec": "60",
    }


async def test_middleware_answers_under_the_limit_say_ok() -> None:
    """``RateLimitMiddleware`` adds ``X-RateLimit-State: OK`` to the answers it lets through."""
    async with make_client(limited_starlette("2/hour"), headers=ALICE) as client:
        response = await client.get("/alerts")
    assert throttle_headers(response) == {
        "x-ratelimit-state": "OK",
        "x-ratelimit-reason": "API_KEY",
        "x-ratelimit-period-in-sec": "3600",
    }


async def test_dependency_documents_its_headers() -> None:
    """``Depends(limit)`` documents the 429 and, on the 200, the headers of the OK state;
    the answers are what the document says."""
    app = limited_fastapi(RateLimit("1/minute"))
    doc = app.openapi()
    responses = doc["paths"]["/alerts"]["get"]["responses"]
    assert {"X-RateLimit-State", "X-RateLimit-Reason", "X-RateLimit-Period-In-Sec"} <= set(
        responses["200"]["headers"]
    )
    assert "429" in responses
    async with make_client(app, headers=ALICE) as client:
        for _ in range(2):
            assert_documented(doc, "/alerts", await client.get("/alerts"))


def test_documented_on_routes_of_a_checking_dependency() -> None:
    """``fastapi.rate_limited`` documents a dependency that calls ``check`` itself."""
    limit = RateLimit("5/minute")

    @rate_limited
    async def checked(request: Request, response: Response) -> None:
        await limit.check(request, response)

    app = FastAPI()

    @app.get("/alerts", dependencies=[Depends(checked)])
    async def alerts() -> dict[str, int]:
        return {"count": 5}

    install(app)
    headers = app.openapi()["paths"]["/alerts"]["get"]["responses"]["200"]["headers"]
    assert "X-RateLimit-State" in headers


async def test_unlimited_requests_carry_no_state() -> None:
    """A key function returning ``None`` leaves the request uncounted: no ``OK`` is claimed."""
    limit = RateLimit("5/minute", key=lambda connection: None)
    async with make_client(limited_fastapi(limit), headers=ALICE) as client:
        response = await client.get("/alerts")
    assert throttle_headers(response) == {}


async def test_retry_after_is_the_time_left_in_the_window() -> None:
    """``Retry-After`` counts down to the end of the fixed window, rounded up."""
    async with make_client(limited_fastapi(RateLimit("1/4 seconds")), headers=ALICE) as client:
        await client.get("/alerts")
        await anyio.sleep(1.2)
        throttled = await client.get("/alerts")
    assert throttle_headers(throttled)["retry-after"] == "3"


async def test_moving_window_frees_as_the_oldest_request_ages() -> None:
    """With the moving window, a slot frees one period after the request that took it."""
    limit = RateLimit("2/2 seconds", strategy="moving-window")
    async with make_client(limited_fastapi(limit), headers=ALICE) as client:
        await client.get("/alerts")
        await anyio.sleep(1.0)
        await client.get("/alerts")
        throttled = await client.get("/alerts")
        await anyio.sleep(1.1)
        freed = await client.get("/alerts")
    assert throttled.status_code == 429
    assert throttle_headers(throttled)["retry-after"] == "1"
    assert freed.status_code == 200


async def test_every_limit_of_several_applies() -> None:
    """``"2/second;3/minute"``: the per-second limit first, then the per-minute one, each with its period."""
    limit = RateLimit("2/second;3/minute")
    async with make_client(limited_fastapi(limit), headers=ALICE) as client:
        burst = [(await client.get("/alerts")).status_code for _ in range(3)]
        per_second = await client.get("/alerts")
        await anyio.sleep(1.1)
        third = await client.get("/alerts")
        per_minute = await client.get("/alerts")
    assert burst == [200, 200, 429]
    assert throttle_headers(per_second)["x-ratelimit-period-in-sec"] == "1"
    assert third.status_code == 200
    assert throttle_headers(per_minute)["x-ratelimit-period-in-sec"] == "60"


async def test_each_api_key_has_its_own_count() -> None:
    """Alice's full window does not throttle Bob, once the app authenticated each."""
    async with make_client(authenticated_fastapi(RateLimit("1/minute"), KEYS)) as client:
        await client.get("/alerts", headers=ALICE)
        alice = await client.get("/alerts", headers=ALICE)
        bob = await client.get("/alerts", headers=BOB)
    assert (alice.status_code, bob.status_code) == (429, 200)


async def test_requests_without_a_key_count_by_address() -> None:
    """Without a verified caller, requests count against the client address, keys or not."""
    async with make_client(limited_fastapi(RateLimit("2/minute"))) as client:
        await client.get("/alerts")
        anonymous = await client.get("/alerts", headers={"Authorization": "Bearer x"})
        keyed = await client.get("/alerts", headers=ALICE)
    assert (anonymous.status_code, keyed.status_code) == (200, 429)


async def test_random_unverified_keys_share_the_address_bucket() -> None:
    """A fresh made-up GenieKey per request is no fresh bucket: the address is throttled."""
    async with make_client(limited_fastapi(RateLimit("5/minute"))) as client:
        codes = [
            (await client.get("/alerts", headers=key(f"made-up-{n}"))).status_code
            for n in range(50)
        ]
    assert codes.count(200) == 5
    assert codes.count(429) == 45


async def test_address_key_reports_ip_address() -> None:
    """``key="address"`` counts per client address and says ``IP_ADDRESS``."""
    async with make_client(limited_fastapi(RateLimit("1/minute", key="address"))) as client:
        await client.get("/alerts", headers=ALICE)
        throttled = await client.get("/alerts", headers=BOB)
    assert throttle_headers(throttled)["x-ratelimit-reason"] == "IP_ADDRESS"


async def test_async_key_function_and_unlimited_requests() -> None:
    """An async key function decides the key; ``None`` leaves a request unlimited."""

    async def by_team(connection: HTTPConnection) -> str | None:
        return connection.headers.get("x-team")

    limit = RateLimit("1/minute", key=by_team, reason="INTEGRATION")
    async with make_client(limited_fastapi(limit)) as client:
        unlimited = [(await client.get("/alerts")).status_code for _ in range(3)]
        await client.get("/alerts", headers={"x-team": "ops"})
        throttled = await client.get("/alerts", headers={"x-team": "ops"})
    assert unlimited == [200, 200, 200]
    assert throttle_headers(throttled)["x-ratelimit-reason"] == "INTEGRATION"


async def test_sync_key_function_defaults_to_account() -> None:
    """A sync key function works as well; its default reason is ``ACCOUNT``."""
    limit = RateLimit("1/minute", key=lambda connection: "everyone")
    async with make_client(limited_fastapi(limit)) as client:
        await client.get("/alerts", headers=ALICE)
        throttled = await client.get("/alerts", headers=BOB)
    assert throttle_headers(throttled)["x-ratelimit-reason"] == "ACCOUNT"


async def test_key_function_returning_a_non_string_is_a_500_without_details() -> None:
    """A key function returning something else is a bug: a plain 500, no exception text."""
    limit = RateLimit("1/minute", key=lambda connection: 42)  # type: ignore[arg-type,return-value]
    async with make_client(limited_fastapi(limit)) as client:
        response = await client.get("/alerts")
    assert response.status_code == 500
    assert response.json()["message"] == "Internal Server Error"


async def test_storage_keys_hold_a_digest_of_the_api_key() -> None:
    """The API key reaches the storage only as its digest."""
    limit = RateLimit("5/minute", name="keys")
    app = authenticated_fastapi(limit, KEYS)
    async with make_client(app, headers=key("s3cret-api-key")) as client:
        await client.get("/alerts")
    stored = " ".join(limit.storage.storage)  # type: ignore[attr-defined]  # MemoryStorage's Counter
    assert "s3cret" not in stored
    assert digest("s3cret-api-key") in stored


def test_digest_is_stable_one_way_and_short() -> None:
    """The same value gives the same 32-hex digest, which does not contain the value."""
    assert digest("abc") == digest("abc") != digest("abd")
    assert len(digest("abc")) == 32
    assert "abc" not in digest("abc" * 10)


def test_key_functions_read_the_scope() -> None:
    """``by_api_key`` reads the caller the app set, else the address; ``by_client_address``."""
    scope = make_scope(headers=[(b"authorization", b"geniekey  k1 ")])
    assert by_api_key(HTTPConnection(scope)) == "ip:127.0.0.1"
    set_caller(HTTPConnection(scope), "account-1")
    assert by_api_key(HTTPConnection(scope)) == f"key:{digest('account-1')}"
    assert by_client_address(HTTPConnection(scope)) == "ip:127.0.0.1"
    assert by_client_address(HTTPConnection({**scope, "client": None})) == "ip:unknown"


@pytest.mark.parametrize(
    ("options", "error", "named"),
    [
        ({"limit": "lots"}, ValueError, "limit"),
        ({"limit": "0/minute"}, ValueError, "limit"),
        ({"limit": 5}, TypeError, "limit"),
        ({"strategy": "leaky-bucket"}, ValueError, "strategy"),
        ({"key": "user"}, ValueError, "key"),
        ({"key": 5}, TypeError, "key"),
        ({"reason": "two words"}, ValueError, "reason"),
        ({"name": "a b"}, ValueError, "name"),
        ({"on_storage_error": "ignore"}, ValueError, "on_storage_error"),
        ({"storage_retry_after": 0}, ValueError, "storage_retry_after"),
        ({"storage_retry_after": True}, TypeError, "storage_retry_after"),
        ({"storage": 5}, TypeError, "storage"),
        ({"storage": "ftp://example"}, ValueError, "storage"),
        ({"storage_options": [1]}, TypeError, "storage_options"),
    ],
)
def test_bad_options_fail_at_construction(
    options: dict[str, Any], error: type[Exception], named: str
) -> None:
    """A bad option raises at construction, naming it."""
    arguments = {"limit": "1/minute", **options}
    with pytest.raises(error, match=named):
        RateLimit(**arguments)


def test_middleware_takes_a_limit_or_its_options_not_both() -> None:
    """``RateLimitMiddleware`` is given a ``RateLimit`` or options to build one."""
    with pytest.raises(TypeError, match="not both"):
        RateLimitMiddleware(plain_app(), limit=RateLimit("1/minute"), key="address")


def test_middleware_outside_the_envelope_is_refused_when_built() -> None:
    """Wrapped around ``EnvelopeMiddleware``, the rate limit could not be rendered: refused."""
    with pytest.raises(ValueError, match="inside EnvelopeMiddleware"):
        RateLimitMiddleware(EnvelopeMiddleware(plain_app()), limit="1/minute")


async def test_middleware_added_after_install_is_refused_on_first_request() -> None:
    """``add_middleware`` after the envelope puts the limit outside: the stack refuses to build."""
    app = plain_app()
    app.add_middleware(EnvelopeMiddleware)
    app.add_middleware(RateLimitMiddleware, limit="1/minute")
    with pytest.raises(ValueError, match="inside EnvelopeMiddleware"):
        await call_asgi(app, "/alerts")


async def test_middleware_without_any_envelope_raises() -> None:
    """With no ``EnvelopeMiddleware`` at all, a request raises a clear ``RuntimeError``."""
    with pytest.raises(RuntimeError, match="inside EnvelopeMiddleware"):
        await call_asgi(RateLimitMiddleware(plain_app(), limit="1/minute"), "/alerts")


async def test_middleware_passes_other_scopes_through() -> None:
    """Lifespan and websocket scopes go straight to the app, uncounted."""
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        return None

    middleware = RateLimitMiddleware(app, limit="1/minute")
    for kind in ("lifespan", "websocket", "websocket"):
        await middleware({"type": kind}, receive, send)
    assert seen == ["lifespan", "websocket", "websocket"]


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "unix:///run/redis.sock", "redis+unix:///run/redis.sock"]
)
async def test_redis_urls_make_a_redis_storage(url: str) -> None:
    """``redis://`` and redis-py's ``unix://`` socket URLs give a Redis storage (no connection yet)."""
    limit = RateLimit("1/minute", storage=url)
    assert type(limit.storage).__name__ == "RedisStorage"
    await limit.aclose()


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2001:db8:1:2:aaaa::1", "ip6:20010db800010002"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "ip6:20010db800010002"),
        ("::ffff:192.0.2.7", "ip:192.0.2.7"),
        ("192.0.2.7", "ip:192.0.2.7"),
    ],
)
def test_ipv6_clients_count_by_their_64(host: str, expected: str) -> None:
    """Every address of one IPv6 /64 is one client; a mapped IPv4 is its IPv4 address."""
    scope = {**make_scope(), "client": (host, 1234)}
    assert by_client_address(HTTPConnection(scope)) == expected


async def test_trailing_slash_replay_is_counted_once() -> None:
    """A request served again at its other path (ignore_trailing_slash) uses one hit, not two."""
    app = Starlette(
        routes=[Route("/alerts", alerts_endpoint)],
        middleware=[
            Middleware(EnvelopeMiddleware, ignore_trailing_slash=True),
            Middleware(RateLimitMiddleware, limit="2/minute", key="address"),
        ],
    )
    async with make_client(app) as client:
        codes = [(await client.get("/alerts/")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


async def test_memory_storage_is_bounded() -> None:
    """``memory://`` holds at most max_keys keys, however many distinct clients come."""
    limit = RateLimit("5/minute", key=by_client_address, storage_options={"max_keys": 100})
    for n in range(1000):
        scope = {**make_scope(), "client": (f"10.0.{n // 256}.{n % 256}", 1)}
        await limit.check(HTTPConnection(scope))
    assert isinstance(limit.storage, BoundedMemoryStorage)
    assert len(limit.storage) == 100


async def test_memory_storage_never_walks_every_key() -> None:
    """No hit starts limits' walk over all keys: the per-hit upkeep does not grow with keys."""
    limit = RateLimit("5/minute", key=by_client_address)
    for n in range(300):
        await limit.hit(f"made-up-{n}")
    assert isinstance(limit.storage, BoundedMemoryStorage)
    assert limit.storage.timer is None


async def test_memory_storage_moving_window_keeps_at_most_the_limit() -> None:
    """A busy moving-window key keeps no more entries than its limit reads."""
    limit = RateLimit("3/minute", strategy="moving-window")
    for _ in range(10):
        with pytest.raises(TooManyRequests) if _ >= 3 else contextlib.nullcontext():
            await limit.hit("busy")
    assert isinstance(limit.storage, BoundedMemoryStorage)
    (window,) = limit.storage.events.values()
    assert len(window) == 3
