"""The demo's GenieKey authentication, read-only key, rate limit, settings and start-up."""

from __future__ import annotations

import anyio
import pytest
from fastapi import FastAPI

from examples.alerts.api import Settings, create_app
from tests.support.demo_app import ENVIRONMENT, FULL, READONLY, demo, poll_raw, raw_client

pytestmark = pytest.mark.anyio

WRITES = [
    ("POST", "/v2/alerts", {"message": "Disk full"}),
    ("POST", "/v2/alerts/2/acknowledge?identifierType=tiny", None),
    ("POST", "/v2/alerts/2/close?identifierType=tiny", None),
    ("DELETE", "/v2/alerts/2?identifierType=tiny", None),
]


@pytest.mark.parametrize(
    "authorization",
    [None, "GenieKey nope", "Bearer demo-key", "GenieKey", "demo-key", "GenieKey demo-key2"],
)
async def test_missing_or_unknown_key_is_401(authorization: str | None) -> None:
    """No key, another scheme or an unknown key answers 401 ``Could not authenticate``."""
    headers = {} if authorization is None else {"Authorization": authorization}
    async with raw_client(demo(), headers=headers) as api:
        response = await api.get("/v2/alerts")
    assert response.status_code == 401
    assert response.json()["message"] == "Could not authenticate"
    assert response.headers["www-authenticate"] == "GenieKey"


async def test_scheme_is_case_insensitive() -> None:
    """``geniekey <key>`` authenticates like ``GenieKey <key>``."""
    async with raw_client(demo(), headers={"Authorization": "geniekey demo-key"}) as api:
        response = await api.get("/v2/alerts/count")
    assert response.status_code == 200


async def test_readonly_key_reads() -> None:
    """The read-only key lists alerts."""
    async with raw_client(demo(), headers=READONLY) as api:
        response = await api.get("/v2/alerts")
    assert response.status_code == 200
    assert len(response.json()["data"]) == 5


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
async def test_readonly_key_cannot_write(
    method: str, url: str, body: dict[str, str] | None
) -> None:
    """The read-only key on a write answers 403 with code 40301."""
    async with raw_client(demo(), headers=READONLY) as api:
        response = await api.request(method, url, json=body)
    assert response.status_code == 403
    assert response.json()["code"] == 40301


async def test_refused_write_changes_nothing() -> None:
    """A write refused to the read-only key leaves the alert as it was."""
    app = demo()
    async with raw_client(app, headers=READONLY) as api:
        await api.post("/v2/alerts/5/close?identifierType=tiny")
        alert = (await api.get("/v2/alerts/5?identifierType=tiny")).json()["data"]
    assert alert["status"] == "open"


async def test_over_the_rate_limit_is_429_with_headers() -> None:
    """One request past the limit answers 429 with Retry-After and OpsGenie's headers."""
    async with raw_client(demo(rate_limit=2)) as api:
        statuses = [(await api.get("/v2/alerts/count")).status_code for _ in range(2)]
        response = await api.get("/v2/alerts/count")
    assert statuses == [200, 200]
    assert response.status_code == 429
    assert response.json()["message"] == "You are making too many requests!"
    assert {
        name: response.headers[name]
        for name in (
            "retry-after",
            "x-ratelimit-state",
            "x-ratelimit-reason",
            "x-ratelimit-period-in-sec",
        )
    } == {
        "retry-after": "60",
        "x-ratelimit-state": "THROTTLED",
        "x-ratelimit-reason": "API_KEY",
        "x-ratelimit-period-in-sec": "60",
    }


async def test_retry_after_counts_down_to_the_next_window() -> None:
    """``Retry-After`` is the time left in the window, rounded up."""
    async with raw_client(demo(rate_limit=1, rate_period=4)) as api:
        await api.get("/v2/alerts/count")
        await anyio.sleep(1.2)
        response = await api.get("/v2/alerts/count")
    assert (response.headers["retry-after"], response.headers["x-ratelimit-period-in-sec"]) == (
        "3",
        "4",
    )


async def test_rate_limit_resets_after_the_window() -> None:
    """A new window allows requests again."""
    async with raw_client(demo(rate_limit=1, rate_period=1)) as api:
        await api.get("/v2/alerts/count")
        throttled = await api.get("/v2/alerts/count")
        await anyio.sleep(1.1)
        response = await api.get("/v2/alerts/count")
    assert (throttled.status_code, response.status_code) == (429, 200)


async def test_rate_limit_is_per_key() -> None:
    """One key's full window does not throttle the other key."""
    app = demo(rate_limit=1)
    async with raw_client(app) as api:
        await api.get("/v2/alerts/count")
        throttled = await api.get("/v2/alerts/count")
        other = await api.get("/v2/alerts/count", headers=READONLY)
    assert (throttled.status_code, other.status_code) == (429, 200)


async def test_unauthenticated_requests_use_no_quota() -> None:
    """Requests refused with 401 do not count against a key's limit."""
    async with raw_client(demo(rate_limit=1), headers={}) as api:
        await api.get("/v2/alerts/count", headers={"Authorization": "GenieKey nope"})
        response = await api.get("/v2/alerts/count", headers=FULL)
    assert response.status_code == 200


def test_settings_default_without_environment() -> None:
    """With no ALERTS_* variables, the documented defaults apply: in memory, 600 a minute."""
    settings = Settings.from_environment_variables({})
    assert (settings.api_key, settings.readonly_api_key, settings.rate_limit) == (
        "demo-key",
        "demo-readonly-key",
        600,
    )
    assert (settings.rate_period, settings.redis_url, settings.redis_prefix) == (
        60,
        None,
        "alerts:",
    )


def test_settings_read_the_environment() -> None:
    """ALERTS_* variables set the keys, the rate limit and the processing delay."""
    settings = Settings.from_environment_variables(
        {
            "ALERTS_API_KEY": "k1",
            "ALERTS_READONLY_API_KEY": "k2",
            "ALERTS_RATE_LIMIT": " 30 ",
            "ALERTS_RATE_PERIOD": "10",
            "ALERTS_PROCESSING_DELAY": "0.5",
            "ALERTS_REDIS_URL": "redis://127.0.0.1:6379/2",
            "ALERTS_REDIS_PREFIX": "team-a:",
        }
    )
    assert (settings.api_key, settings.readonly_api_key) == ("k1", "k2")
    assert (settings.rate_limit, settings.rate_period, settings.processing_delay) == (30, 10, 0.5)
    assert (settings.redis_url, settings.redis_prefix) == ("redis://127.0.0.1:6379/2", "team-a:")
    assert settings.from_environment == set(ENVIRONMENT)


def test_empty_redis_url_keeps_the_demo_in_memory() -> None:
    """``ALERTS_REDIS_URL=`` (set but empty) means no Redis, as when it is unset."""
    assert Settings.from_environment_variables({"ALERTS_REDIS_URL": " "}).redis_url is None


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"ALERTS_RATE_LIMIT": "lots"}, "ALERTS_RATE_LIMIT"),
        ({"ALERTS_RATE_LIMIT": "0"}, "rate_limit"),
        ({"ALERTS_RATE_PERIOD": "-1"}, "rate_period"),
        ({"ALERTS_REDIS_URL": "127.0.0.1:6379"}, "redis_url"),
        ({"ALERTS_REDIS_PREFIX": "a b"}, "redis_prefix"),
        ({"ALERTS_PROCESSING_DELAY": "nan"}, "processing_delay"),
        ({"ALERTS_API_KEY": ""}, "api_key"),
        ({"ALERTS_READONLY_API_KEY": "demo-key"}, "must differ"),
    ],
)
def test_bad_settings_fail_at_start_up(environ: dict[str, str], named: str) -> None:
    """An unusable ALERTS_* value stops the start with a message naming it."""
    with pytest.raises(ValueError, match=named):
        Settings.from_environment_variables(environ)


def test_create_app_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without settings, ``create_app`` takes them from the environment."""
    monkeypatch.setenv("ALERTS_RATE_LIMIT", "7")
    app: FastAPI = create_app()
    assert app.state.demo.settings.rate_limit == 7


async def test_start_up_prints_the_default_keys(capsys: pytest.CaptureFixture[str]) -> None:
    """At start-up the demo prints its data and the default keys to use."""
    app = demo()
    async with app.router.lifespan_context(app):
        printed = capsys.readouterr().out
    assert "5 alerts and 3 users in memory" in printed
    assert "in this process only" in printed
    assert "Authorization: GenieKey demo-key " in printed
    assert "Authorization: GenieKey demo-readonly-key " in printed


async def test_start_up_hides_keys_from_the_environment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Keys set in the environment are named, not printed."""
    settings = Settings.from_environment_variables(
        {"ALERTS_API_KEY": "s3cret-full", "ALERTS_READONLY_API_KEY": "s3cret-ro"}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        printed = capsys.readouterr().out
    assert "s3cret" not in printed
    assert "from ALERTS_API_KEY (not shown)" in printed


async def test_unicode_spellings_of_a_key_are_401_not_new_buckets() -> None:
    """``\\xa0``/``\\x85`` around a valid key are 401s; ASCII spellings share the key's quota."""
    app = demo(rate_limit=5)
    spellings = ["demo-key", " demo-key", "demo-key\t", "demo-key\xa0", "\x85demo-key"] * 3
    async with raw_client(app, headers={}) as client:
        codes = []
        for spelling in spellings:
            value = b"GenieKey " + spelling.encode("latin-1")
            response = await client.get("/v2/alerts", headers=[(b"authorization", value)])
            codes.append(response.status_code)
    assert codes.count(200) == 5
    assert codes.count(401) == 6
    assert codes.count(429) == 4


async def test_failed_authentication_is_throttled_by_address() -> None:
    """Past 10 failures a minute an address gets 429, not another 401 to guess with."""
    async with raw_client(demo(), headers={}) as client:
        codes = [
            (
                await client.get("/v2/alerts", headers={"Authorization": f"GenieKey guess-{n}"})
            ).status_code
            for n in range(700)
        ]
        valid = await client.get("/v2/alerts", headers=FULL)
    assert codes.count(401) == 10
    assert codes.count(429) == 690
    assert valid.status_code == 200  # the right key still works: failures are not its quota


async def test_request_statuses_are_owned_by_the_account() -> None:
    """The read-only key of the same account reads a status the full key's write accepted."""
    async with raw_client(demo()) as client:
        accepted = await client.post("/v2/alerts", json={"message": "Disk full"})
        request_id = accepted.json()["requestId"]
        status = await poll_raw(client, request_id)
        shared = await client.get(f"/v2/alerts/requests/{request_id}", headers=READONLY)
    assert status["success"] is True
    assert shared.status_code == 200
