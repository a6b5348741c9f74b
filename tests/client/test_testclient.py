"""The sync ``Client`` over an ASGI app through Starlette's TestClient, with httpx2 (what
Starlette prefers) and with httpx alone (what it warns about), by public API only."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.testclient import TestClient

from opsgenie_envelope import NotFound, Page, Pager
from opsgenie_envelope import client as client_errors
from opsgenie_envelope.client import Client, TestClientTransport
from opsgenie_envelope.fastapi import install, query

ROOT = Path(__file__).resolve().parents[2]
BASE = "http://testserver"
pages = Pager()


def _app() -> FastAPI:
    """A paged list, a missing alert, a lifespan that sets state, GZip outside."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.started = True
        yield

    app = FastAPI(lifespan=lifespan)
    install(app)
    app.add_middleware(GZipMiddleware, minimum_size=10)

    @app.get("/v2/alerts")
    async def list_alerts(page: Annotated[Page, Depends(query(pages))]) -> list[dict[str, int]]:
        return page.items(
            [{"n": n} for n in range(5)][page.offset : page.offset + page.limit], total=5
        )

    @app.get("/v2/alerts/{alert_id}")
    async def get_alert(alert_id: str, request: Request) -> dict[str, object]:
        if alert_id == "missing":
            raise NotFound("Alert does not exist")
        return {"id": alert_id, "started": getattr(request.app.state, "started", False)}

    return app


def test_starlette_uses_httpx2_here() -> None:
    """With httpx2 installed (the ``test`` extra), Starlette's TestClient is an httpx2 client."""
    assert not isinstance(TestClient(_app()), httpx.Client)


def test_sync_client_reads_envelopes_through_the_test_client() -> None:
    """``Client(transport=TestClientTransport(app))`` gets envelopes and raises errors."""
    with Client(transport=TestClientTransport(_app()), base_url=BASE, retry=None) as client:
        alert = client.get("/v2/alerts/1")
        with pytest.raises(client_errors.NotFound, match="Alert does not exist") as missing:
            client.get("/v2/alerts/missing")
    assert alert.data["id"] == "1"
    assert alert.request_id == alert.headers["x-request-id"]
    assert missing.value.request_id is not None


def test_paginate_follows_links_through_the_test_client() -> None:
    """``paginate`` follows ``paging.next`` (httpx URLs) across pages."""
    with Client(transport=TestClientTransport(_app()), base_url=BASE, retry=None) as client:
        items = list(client.paginate("/v2/alerts", limit=2))
    assert [item["n"] for item in items] == [0, 1, 2, 3, 4]


def test_compressed_answers_are_decoded_once() -> None:
    """A gzip answer reaches the client as sent and is decoded by httpx, once."""
    transport = TestClientTransport(_app())
    with Client(transport=transport, base_url=BASE, retry=None) as client:
        listed = client.get("/v2/alerts", headers={"accept-encoding": "gzip"}, params={"limit": 5})
    assert listed.headers["content-encoding"] == "gzip"
    assert len(listed.data) == 5


def test_an_entered_test_client_runs_the_lifespan() -> None:
    """Given a ``TestClient`` entered with ``with``, the app's lifespan has run."""
    with TestClient(_app()) as test_client:
        client = Client(transport=TestClientTransport(test_client), base_url=BASE, retry=None)
        assert client.get("/v2/alerts/1").data["started"] is True


def test_http_must_be_an_httpx_client() -> None:
    """An httpx2 ``TestClient`` as ``http=`` is refused, pointing to the transport."""
    with pytest.raises(TypeError, match="TestClientTransport"):
        Client(http=TestClient(_app()))  # type: ignore[arg-type]


HTTPX_ONLY = textwrap.dedent(
    """
    import json, sys, warnings
    from importlib.abc import MetaPathFinder

    class NoHttpx2(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "httpx2" or name.startswith("httpx2."):
                raise ModuleNotFoundError(name)
            return None

    sys.meta_path.insert(0, NoHttpx2())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from starlette.testclient import TestClient
    warnings.simplefilter("error")

    import httpx
    from fastapi import Depends, FastAPI
    from opsgenie_envelope.client import Client, TestClientTransport
    from opsgenie_envelope.fastapi import install
    from opsgenie_envelope.testing import request_id, stable_envelopes

    app = FastAPI()
    install(app)

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    with stable_envelopes(), TestClient(app) as test_client:
        direct = test_client.get("/ping").json()
        over_http = Client(http=test_client, retry=None).get("/ping").request_id
        over_transport = Client(
            transport=TestClientTransport(test_client), base_url="http://testserver", retry=None
        ).get("/ping").request_id
    print(json.dumps({
        "warnings": [[type(w.message).__name__, str(w.message)] for w in caught],
        "httpx_client": isinstance(test_client, httpx.Client),
        "ids": [direct["requestId"], over_http, over_transport],
        "expected": [request_id(1), request_id(2), request_id(3)],
    }))
    """
)


def test_with_httpx_alone_starlette_warns_and_everything_still_works() -> None:
    """Without httpx2, importing TestClient warns (an error under ``-W error``); past that,
    ``http=`` and the transport both work."""
    result = subprocess.run(
        [sys.executable, "-c", HTTPX_ONLY],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["warnings"] == [
        [
            "StarletteDeprecationWarning",
            "Using `httpx` with `starlette.testclient` is deprecated; install `httpx2` instead.",
        ]
    ]
    assert report["httpx_client"] is True
    assert report["ids"] == report["expected"]
