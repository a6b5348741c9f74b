"""Retries: 503 backoff, 429 ``Retry-After``, connection failures, attempts and budget."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from opsgenie_envelope.client import (
    DEFAULT_RETRY,
    Client,
    NotAnEnvelope,
    NotFound,
    RetriesExhausted,
    Retry,
    ServiceUnavailable,
    TooManyRequests,
)
from tests.support.client_app import FakeTime, asgi_client, client_app

pytestmark = pytest.mark.anyio

RID = "610e618e-7138-4898-9c70-c4eef2d68bf8"
OK = httpx.Response(200, json={"data": {"ok": True}, "took": 0.0, "requestId": RID})
UNAVAILABLE = httpx.Response(503, json={"message": "Back-end servers are at capacity"})

Handler = Callable[[httpx.Request], httpx.Response]


def scripted(*answers: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A transport handler giving ``answers`` in turn (the last one repeats), and its log."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    return handler, seen


def sync_client(handler: Handler, time: FakeTime, retry: Retry | None = DEFAULT_RETRY) -> Client:
    """A sync client on a scripted transport, sleeping on ``time``, jitter factor 0.75."""
    return Client(
        transport=httpx.MockTransport(handler),
        base_url="https://api.example.com",
        retry=retry,
        sleep=time.sleep,
        clock=time.clock,
        random=lambda: 0.5,
    )


async def test_503_503_200_succeeds_after_three_attempts() -> None:
    """Two 503s then a 200: the third attempt's envelope is returned."""
    app, time = client_app(), FakeTime()
    async with asgi_client(app, time) as client:
        envelope = await client.get("/flaky", params={"key": "a", "fail": 2})
    assert envelope.data == {"attempt": 3}
    assert app.state.hits["/flaky:a"] == 3
    assert len(time.sleeps) == 2


async def test_503_backoff_doubles_with_jitter() -> None:
    """503 waits grow as ``backoff * 2**n`` scaled by the jitter factor, up to the cap."""
    app, time = client_app(), FakeTime()
    retry = Retry(attempts=5, backoff=1.0, max_backoff=3.0)
    async with asgi_client(app, time, retry=retry) as client:
        await client.get("/flaky", params={"key": "b", "fail": 4})
    assert time.sleeps == [0.75, 1.5, 2.25, 2.25]


@pytest.mark.parametrize(("rand", "factor"), [(0.0, 0.5), (0.999, 0.9995)])
def test_jitter_spans_half_to_full_backoff(rand: float, factor: float) -> None:
    """The jitter scales a backoff by a factor in [0.5, 1)."""
    assert Retry(backoff=2.0).backoff_for(2, lambda: rand) == pytest.approx(4.0 * factor)


async def test_503_retry_after_is_honoured() -> None:
    """A 503 with ``Retry-After`` waits exactly that long."""
    app, time = client_app(), FakeTime()
    async with asgi_client(app, time, retry=Retry(attempts=2)) as client:
        with pytest.raises(RetriesExhausted):
            await client.get("/raise/ServiceUnavailable")
    assert time.sleeps == [5.0]


async def test_429_waits_retry_after() -> None:
    """A 429 waits its ``Retry-After`` before the retry that succeeds."""
    app, time = client_app(), FakeTime()
    async with asgi_client(app, time) as client:
        envelope = await client.get("/flaky", params={"key": "c", "fail": 1, "retry_after": 2})
    assert envelope.data == {"attempt": 2}
    assert time.sleeps == [2.0]


def test_429_falls_back_to_rate_limit_period() -> None:
    """Without ``Retry-After``, a 429 waits ``X-RateLimit-Period-In-Sec``."""
    throttled = httpx.Response(
        429,
        headers={"x-ratelimit-period-in-sec": "7"},
        json={"message": "You are making too many requests!"},
    )
    handler, seen = scripted(throttled, OK)
    time = FakeTime()
    with sync_client(handler, time) as client:
        assert client.get("/v2/alerts").data == {"ok": True}
    assert time.sleeps == [7.0]
    assert len(seen) == 2


async def test_persistent_429_stops_at_the_budget() -> None:
    """A 429 that never ends stops once the next wait would pass the time budget."""
    app, time = client_app(), FakeTime()
    retry = Retry(attempts=100, budget=10.0)
    async with asgi_client(app, time, retry=retry) as client:
        with pytest.raises(RetriesExhausted) as info:
            await client.get("/flaky", params={"key": "d", "fail": 1000, "retry_after": 3})
    assert time.sleeps == [3.0, 3.0, 3.0]
    assert info.value.attempts == 4 == app.state.hits["/flaky:d"]
    assert info.value.elapsed == 9.0
    assert type(info.value.last_error) is TooManyRequests
    assert "budget" in str(info.value)


async def test_retry_after_beyond_budget_ends_at_once() -> None:
    """A ``Retry-After`` longer than the budget left ends retrying without sleeping."""
    app, time = client_app(), FakeTime()
    async with asgi_client(app, time, retry=Retry(budget=30.0)) as client:
        with pytest.raises(RetriesExhausted) as info:
            await client.get("/flaky", params={"key": "e", "fail": 1, "retry_after": 60})
    assert time.sleeps == []
    assert info.value.attempts == 1 == app.state.hits["/flaky:e"]


def test_retry_after_http_date_in_the_past_retries_at_once() -> None:
    """A ``Retry-After`` HTTP-date already past means no wait before the retry."""
    past = httpx.Response(
        503, headers={"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, json={"message": "busy"}
    )
    handler, _ = scripted(past, OK)
    time = FakeTime()
    with sync_client(handler, time) as client:
        assert client.get("/v2/alerts").data == {"ok": True}
    assert time.sleeps == [0.0]


def test_retry_after_http_date_beyond_budget_ends_at_once() -> None:
    """A ``Retry-After`` HTTP-date past the budget ends retrying without sleeping."""
    later = httpx.Response(
        429, headers={"retry-after": "Fri, 01 Jan 2100 00:00:00 GMT"}, json={"message": "slow"}
    )
    handler, seen = scripted(later, OK)
    time = FakeTime()
    client = sync_client(handler, time)
    with client, pytest.raises(RetriesExhausted):
        client.get("/v2/alerts")
    assert time.sleeps == []
    assert len(seen) == 1


async def test_attempts_bound_the_retries() -> None:
    """A persistent 503 is tried ``attempts`` times in all."""
    app, time = client_app(), FakeTime()
    async with asgi_client(app, time, retry=Retry(attempts=3)) as client:
        with pytest.raises(RetriesExhausted) as info:
            await client.get("/flaky", params={"key": "f", "fail": 1000})
    assert app.state.hits["/flaky:f"] == 3 == info.value.attempts
    assert len(time.sleeps) == 2
    assert "3 attempts allowed" in str(info.value)


async def test_exhausted_error_carries_the_last_envelope_error() -> None:
    """``RetriesExhausted`` carries the last error envelope, as the cause too."""
    app, time = client_app(), FakeTime()
    async with asgi_client(app, time, retry=Retry(attempts=2)) as client:
        with pytest.raises(RetriesExhausted) as info:
            await client.get("/flaky", params={"key": "g", "fail": 1000})
    last = info.value.last_error
    assert isinstance(last, ServiceUnavailable)
    assert info.value.__cause__ is last
    assert info.value.response is last.response
    assert last.request_id == last.response.headers["x-request-id"]


def test_connection_error_is_retried_for_get() -> None:
    """A GET whose connection fails is retried."""
    handler, seen = scripted(httpx.ConnectError("refused"), OK)
    time = FakeTime()
    with sync_client(handler, time) as client:
        assert client.get("/v2/alerts").data == {"ok": True}
    assert len(seen) == 2
    assert time.sleeps == [0.375]


def test_connection_error_is_not_retried_for_post() -> None:
    """A POST whose connection fails is not retried: it may have reached the server."""
    handler, seen = scripted(httpx.ReadError("reset"), OK)
    with sync_client(handler, FakeTime()) as client, pytest.raises(httpx.ReadError):
        client.post("/v2/alerts", json={"message": "x"})
    assert len(seen) == 1


def test_exhausted_connection_failures_carry_the_last_one() -> None:
    """Connection failures that outlast the attempts end in ``RetriesExhausted``."""
    handler, seen = scripted(httpx.ConnectTimeout("slow"))
    client = sync_client(handler, FakeTime(), Retry(attempts=3))
    with client, pytest.raises(RetriesExhausted) as info:
        client.get("/v2/alerts")
    assert isinstance(info.value.last_error, httpx.ConnectTimeout)
    assert info.value.response is None
    assert len(seen) == 3


def test_503_is_retried_for_post() -> None:
    """A 503 is retried whatever the method: the back end did not take the request."""
    handler, seen = scripted(UNAVAILABLE, OK)
    with sync_client(handler, FakeTime()) as client:
        assert client.post("/v2/alerts", json={"message": "x"}).data == {"ok": True}
    assert [r.content for r in seen] == [b'{"message":"x"}'] * 2


def test_streamed_body_is_not_retried() -> None:
    """A body streamed from a generator cannot be sent twice, so its 503 is raised."""

    def body() -> Iterator[bytes]:
        yield b'{"message": "x"}'

    handler, seen = scripted(UNAVAILABLE, OK)
    with sync_client(handler, FakeTime()) as client, pytest.raises(ServiceUnavailable):
        client.post("/v2/alerts", content=body())
    assert len(seen) == 1


async def test_other_errors_are_not_retried() -> None:
    """A 404 is raised at once."""
    app, time = client_app(), FakeTime()
    async with asgi_client(app, time) as client:
        with pytest.raises(NotFound):
            await client.get("/raise/NotFound")
    assert app.state.hits["/raise/NotFound:"] == 1
    assert time.sleeps == []


async def test_no_retry_policy_raises_the_error_itself() -> None:
    """With ``retry=None`` a 503 raises ``ServiceUnavailable`` after one attempt."""
    app, time = client_app(), FakeTime()
    async with asgi_client(app, time, retry=None) as client:
        with pytest.raises(ServiceUnavailable):
            await client.get("/flaky", params={"key": "h"})
    assert app.state.hits["/flaky:h"] == 1


def test_proxy_503_page_is_retried() -> None:
    """A 503 that is not an envelope (a proxy's page) is retried like any 503."""
    page = httpx.Response(503, headers={"content-type": "text/html"}, content=b"<h1>busy</h1>")
    handler, seen = scripted(page)
    client = sync_client(handler, FakeTime(), Retry(attempts=2))
    with client, pytest.raises(RetriesExhausted) as info:
        client.get("/v2/alerts")
    assert isinstance(info.value.last_error, NotAnEnvelope)
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"attempts": 0}, ValueError),
        ({"attempts": 2.0}, TypeError),
        ({"budget": -1.0}, ValueError),
        ({"backoff": float("nan")}, ValueError),
        ({"max_backoff": "8"}, TypeError),
    ],
)
def test_bad_policy_is_refused(options: dict[str, object], error: type[Exception]) -> None:
    """A ``Retry`` with a bad option fails at construction, naming the option."""
    with pytest.raises(error, match=next(iter(options))):
        Retry(**options)  # type: ignore[arg-type]
