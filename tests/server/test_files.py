"""Files and partial content pass through untouched (the two headers added); paths are
excluded by exact path, by prefix and by predicate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from opsgenie_envelope import EXPOSE_HEADERS, EnvelopeConfig, EnvelopeMiddleware
from opsgenie_envelope.fastapi import install
from tests.support.asgi import make_client

pytestmark = pytest.mark.anyio

MANIFEST = b'{"name": "Alerts", "icons": [{"src": "/static/icon.png", "sizes": "192x192"}]}\n'
ORIGIN = "https://ops.example.com"
OUTER = {
    "cors-then-gzip": [
        Middleware(CORSMiddleware, allow_origins=[ORIGIN], expose_headers=EXPOSE_HEADERS),
        Middleware(GZipMiddleware, minimum_size=10),
    ],
    "gzip-then-cors": [
        Middleware(GZipMiddleware, minimum_size=10),
        Middleware(CORSMiddleware, allow_origins=[ORIGIN], expose_headers=EXPOSE_HEADERS),
    ],
}


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    """A directory with a JSON manifest, as a web app ships it."""
    (tmp_path / "manifest.json").write_bytes(MANIFEST)
    return tmp_path


def _app(static_dir: Path, outer: list[Middleware] | None = None, **options: Any) -> Starlette:
    """StaticFiles at /static, a JSON download at /export, a JSON API route at /api/alert."""

    async def export(request: Request) -> Response:
        return FileResponse(static_dir / "manifest.json", filename="alerts.json")

    async def alert(request: Request) -> Response:
        return JSONResponse({"id": "1"})

    return Starlette(
        routes=[
            Mount("/static", StaticFiles(directory=static_dir)),
            Route("/export", export),
            Route("/api/alert", alert),
            Route("/raw/alert", alert),
            Route("/feeds/alerts.json", alert),
        ],
        middleware=[*(outer or []), Middleware(EnvelopeMiddleware, **options)],
    )


async def test_static_json_file_is_untouched(static_dir: Path) -> None:
    """A ``.json`` file from StaticFiles is sent as it is, with the two headers."""
    async with make_client(_app(static_dir)) as client:
        response = await client.get("/static/manifest.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == MANIFEST
    assert response.headers["content-length"] == str(len(MANIFEST))
    assert response.headers["x-request-id"]
    assert float(response.headers["x-response-time"]) >= 0


async def test_range_request_is_a_206_of_the_file(static_dir: Path) -> None:
    """A ``Range`` request answers 206 with exactly the requested bytes."""
    async with make_client(_app(static_dir)) as client:
        response = await client.get("/static/manifest.json", headers={"range": "bytes=0-9"})
    assert response.status_code == 206
    assert response.content == MANIFEST[:10]
    assert response.headers["content-range"] == f"bytes 0-9/{len(MANIFEST)}"
    assert response.headers["x-request-id"]


async def test_head_of_a_static_file_announces_the_file(static_dir: Path) -> None:
    """HEAD answers the file's own length and no body."""
    async with make_client(_app(static_dir)) as client:
        response = await client.head("/static/manifest.json")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(MANIFEST))
    assert response.content == b""


async def test_unsatisfiable_range_is_a_416_envelope(static_dir: Path) -> None:
    """A range past the end answers the 416 envelope, keeping ``Content-Range``."""
    async with make_client(_app(static_dir)) as client:
        response = await client.get("/static/manifest.json", headers={"range": "bytes=900-999"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(MANIFEST)}"
    assert response.json()["message"] == "The given range is not supported"


async def test_missing_static_file_is_a_404_envelope(static_dir: Path) -> None:
    """A file that is not there answers the 404 envelope."""
    async with make_client(_app(static_dir)) as client:
        response = await client.get("/static/nope.json")
    assert response.status_code == 404
    assert response.json()["message"] == "Resource or handler not found"


async def test_attachment_download_is_untouched(static_dir: Path) -> None:
    """A ``FileResponse`` download (``Content-Disposition: attachment``) is not enveloped."""
    async with make_client(_app(static_dir)) as client:
        response = await client.get("/export")
    assert response.headers["content-disposition"] == 'attachment; filename="alerts.json"'
    assert response.content == MANIFEST
    assert response.headers["x-request-id"]


@pytest.mark.parametrize("order", list(OUTER))
async def test_compressed_file_is_the_file(static_dir: Path, order: str) -> None:
    """With GZip and CORS around the envelope, in both orders, the file arrives intact."""
    app = _app(static_dir, OUTER[order])
    headers = {"origin": ORIGIN, "accept-encoding": "gzip"}
    async with make_client(app) as client:
        response = await client.get("/static/manifest.json", headers=headers)
        api = await client.get("/api/alert", headers=headers)
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == MANIFEST
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert api.json()["data"] == {"id": "1"}


async def test_prefix_excludes_every_path_below_it(static_dir: Path) -> None:
    """An ``exclude_paths`` entry ending in ``/`` excludes the paths below it, only them."""
    app = _app(static_dir, exclude_paths=["/raw/"])
    async with make_client(app) as client:
        below = await client.get("/raw/alert")
        other = await client.get("/api/alert")
    assert below.json() == {"id": "1"}
    assert below.headers["x-request-id"]
    assert other.json()["data"] == {"id": "1"}


async def test_predicate_excludes_what_it_accepts(static_dir: Path) -> None:
    """``exclude`` answers the paths it accepts untouched."""
    app = _app(static_dir, exclude=lambda path: path.endswith(".json"))
    async with make_client(app) as client:
        feed = await client.get("/feeds/alerts.json")
        other = await client.get("/api/alert")
    assert feed.json() == {"id": "1"}
    assert feed.headers["x-response-time"]
    assert other.json()["data"] == {"id": "1"}


async def test_predicate_sees_the_path_below_the_mount() -> None:
    """On a mounted app, the predicate gets the path below the mount (``root_path``)."""
    seen: list[str] = []

    def exclude(path: str) -> bool:
        seen.append(path)
        return path == "/alert"

    api = FastAPI()
    install(api, exclude=exclude)

    @api.get("/alert")
    async def alert() -> dict[str, str]:
        return {"id": "1"}

    outer = Starlette(routes=[Mount("/api", api)])
    async with make_client(outer) as client:
        response = await client.get("/api/alert")
    assert response.json() == {"id": "1"}
    assert seen == ["/alert"]


def test_prefix_excluded_operations_are_documented_untouched() -> None:
    """FastAPI's document shows operations below an excluded prefix without the envelope."""
    app = FastAPI()
    install(app, exclude_paths=["/raw/"])

    @app.get("/raw/alert")
    async def raw() -> dict[str, str]:
        return {"id": "1"}

    content = app.openapi()["paths"]["/raw/alert"]["get"]["responses"]["200"]["content"]
    assert content["application/json"]["schema"] == {
        "additionalProperties": {"type": "string"},
        "type": "object",
        "title": "Response Raw Raw Alert Get",
    }


def test_exclude_must_be_callable() -> None:
    """``exclude`` is a callable; anything else is refused when the options are read."""
    with pytest.raises(TypeError, match="exclude must be a callable"):
        EnvelopeConfig(exclude="/static/")  # type: ignore[arg-type]
