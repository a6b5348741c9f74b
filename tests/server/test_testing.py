"""``opsgenie_envelope.testing`` and its pytest plugin: stable IDs and ``took`` for users'
tests, through Starlette's TestClient on an app built before the test."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from opsgenie_envelope import NotFound, is_valid_request_id
from opsgenie_envelope.fastapi import install
from opsgenie_envelope.request_status import Outcome, RequestTracker
from opsgenie_envelope.testing import request_id, stable_envelopes
from tests.support.stateful import tracked_app

ROOT = Path(__file__).resolve().parents[2]


def _app() -> FastAPI:
    """A user's app, built (as a module-level app is) before any test runs."""
    app = FastAPI()
    install(app)

    @app.get("/v2/alerts/{alert_id}")
    async def get_alert(alert_id: str) -> dict[str, str]:
        if alert_id == "missing":
            raise NotFound("Alert does not exist")
        return {"id": alert_id}

    return app


APP = _app()


def test_request_id_is_a_valid_uuid_shaped_id() -> None:
    """``request_id(n)`` passes the allowlist and reads as a UUID4."""
    assert request_id(1) == "00000000-0000-4000-8000-000000000001"
    assert is_valid_request_id(request_id(123))


@pytest.mark.parametrize(
    ("n", "error"),
    [(0, ValueError), (-1, ValueError), (10**12, ValueError), (True, TypeError), ("1", TypeError)],
)
def test_request_id_refuses_what_is_not_a_count(n: object, error: type[Exception]) -> None:
    """Numbers start at 1 and fit 12 digits; what is no int is a ``TypeError``."""
    with pytest.raises(error, match="n must be"):
        request_id(n)  # type: ignore[arg-type]


def test_whole_bodies_can_be_compared() -> None:
    """Inside ``stable_envelopes`` successive requests get ``request_id(1)``, ``(2)``, took 0.0."""
    with stable_envelopes() as stable, TestClient(APP) as client:
        first = client.get("/v2/alerts/1")
        second = client.get("/v2/alerts/missing")
    assert first.json() == {"data": {"id": "1"}, "took": 0.0, "requestId": request_id(1)}
    assert second.json() == {
        "message": "Alert does not exist",
        "took": 0.0,
        "requestId": request_id(2),
    }
    assert (first.headers["x-request-id"], first.headers["x-response-time"]) == (
        request_id(1),
        "0.0",
    )
    assert stable.issued == [request_id(1), request_id(2)]


def test_accepted_writes_get_successive_ids() -> None:
    """``RequestTracker.accept`` draws no ID of its own: 202s get ``request_id(1)``, ``(2)``."""

    async def created(body: dict[str, Any]) -> Outcome:
        return Outcome("Created alert")

    app = tracked_app(RequestTracker(), created)
    with stable_envelopes() as stable, TestClient(app) as client:
        ids = [client.post("/v2/alerts", json={}).json()["requestId"] for _ in range(2)]
    assert ids == [request_id(1), request_id(2)]
    assert stable.issued == ids


def test_took_can_be_fixed_to_any_value() -> None:
    """``took=0.005`` is what every body and ``X-Response-Time`` report."""
    with stable_envelopes(took=0.005, first=7) as stable, TestClient(APP) as client:
        response = client.get("/v2/alerts/1")
    assert response.json()["took"] == stable.took == 0.005
    assert response.headers["x-response-time"] == "0.005"
    assert response.json()["requestId"] == request_id(7)


def test_ids_and_time_are_real_again_after() -> None:
    """Leaving the block restores fresh UUID4s and the measured ``took``."""
    with stable_envelopes(took=3.0):
        pass
    with TestClient(APP) as client:
        response = client.get("/v2/alerts/1")
    assert response.json()["requestId"] != request_id(1)
    assert is_valid_request_id(response.json()["requestId"])
    assert response.json()["took"] < 3.0


def test_nested_blocks_restore_the_outer_one() -> None:
    """An inner block's IDs stop where it ends; the outer one's go on."""
    with stable_envelopes() as outer, TestClient(APP) as client:
        client.get("/v2/alerts/1")
        with stable_envelopes(first=100):
            inner = client.get("/v2/alerts/1")
        after = client.get("/v2/alerts/1")
    assert inner.json()["requestId"] == request_id(100)
    assert after.json()["requestId"] == request_id(2)
    assert outer.issued == [request_id(1), request_id(2)]


@pytest.mark.parametrize(
    ("took", "error"), [(-1, ValueError), (float("nan"), ValueError), ("0", TypeError)]
)
def test_took_must_be_a_duration(took: float, error: type[Exception]) -> None:
    """A negative or non-finite ``took`` is refused before anything changes."""
    with pytest.raises(error, match="took"), stable_envelopes(took=took):
        pass  # pragma: no cover


def test_pytest_plugin_gives_the_fixture(tmp_path: Path) -> None:
    """A user's suite with the plugin enabled gets ``stable_envelopes`` as a fixture."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["opsgenie_envelope.pytest_plugin"]\n')
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            from fastapi import FastAPI
            from starlette.testclient import TestClient
            from opsgenie_envelope.fastapi import install
            from opsgenie_envelope.testing import request_id

            app = FastAPI()
            install(app)

            @app.get("/ping")
            async def ping() -> dict[str, bool]:
                return {"pong": True}

            def test_ping(stable_envelopes) -> None:
                with TestClient(app) as client:
                    body = client.get("/ping").json()
                assert body == {"data": {"pong": True}, "took": 0.0, "requestId": request_id(1)}
                assert stable_envelopes.issued == [request_id(1)]
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_stable_envelopes_injects_instead_of_patching() -> None:
    """Inside the block no module global changes: ``uuid4_hex`` called by an app stays random."""
    from opsgenie_envelope import _request_id, uuid4_hex

    pop = _request_id._pop
    with stable_envelopes(), TestClient(APP) as client:
        assert _request_id._pop is pop
        assert uuid4_hex() != request_id(1)
        assert client.get("/v2/alerts/1").json()["requestId"] == request_id(1)


def test_an_app_built_inside_the_block_is_stable_then_its_own_again() -> None:
    """A middleware made inside the block takes its IDs; after it, fresh UUID4s again."""
    with stable_envelopes():
        app = _app()
        with TestClient(app) as client:
            inside = client.get("/v2/alerts/1").json()["requestId"]
    with TestClient(app) as client:
        after = client.get("/v2/alerts/1").json()["requestId"]
    assert inside == request_id(1)
    assert after != request_id(2)
    assert is_valid_request_id(after)


def test_a_custom_generator_keeps_its_ids_inside_the_block() -> None:
    """``generator=`` given to the middleware wins over the block's IDs; ``took`` is fixed."""
    app = FastAPI()
    install(app, generator=lambda: "custom-id")

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    with stable_envelopes(took=0.25) as stable, TestClient(app) as client:
        body = client.get("/ping").json()
    assert (body["requestId"], body["took"]) == ("custom-id", 0.25)
    assert stable.issued == []


def test_the_clock_option_measures_took() -> None:
    """``took`` is the clock's reading when the answer starts minus its reading on arrival."""
    readings = iter([100.0, 100.302])
    app = FastAPI()
    install(app, clock=lambda: next(readings))

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    with TestClient(app) as client:
        response = client.get("/ping")
    assert response.json()["took"] == 0.302
    assert response.headers["x-response-time"] == "0.302"
