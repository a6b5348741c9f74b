"""The demo's Swagger UI and ReDoc work offline: every asset they load is served by the demo."""

from __future__ import annotations

import re

import pytest

from examples.alerts.api import create_app
from tests.support.asgi import make_client

pytestmark = pytest.mark.anyio

# The URLs a documentation page loads: scripts, styles, icons, and the document itself.
REFERENCE = re.compile(r"""(?:src|href|spec-url)="([^"]+)"|\burl: '([^']+)'""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_page_loads_only_local_urls_that_answer(page: str) -> None:
    """The page names no other host, and each URL it loads answers 200 from the demo."""
    async with make_client(create_app()) as client:
        html = await client.get(page, headers={"accept": "text/html"})
        urls = [a or b for a, b in REFERENCE.findall(html.text)]
        loaded = {url: (await client.get(url)).status_code for url in urls}
    assert html.status_code == 200
    assert re.search(r"https?:", html.text) is None
    assert "/openapi.json" in urls
    assert len(urls) >= 3
    assert all(url.startswith("/") and not url.startswith("//") for url in urls)
    assert loaded == dict.fromkeys(urls, 200)


async def test_swagger_ui_assets_are_the_real_ones() -> None:
    """The script and style served are Swagger UI's bundle, not a stub."""
    async with make_client(create_app()) as client:
        script = await client.get("/docs-assets/swagger-ui-bundle.js")
        style = await client.get("/docs-assets/swagger-ui.css")
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in script.content
    assert len(script.content) > 500_000
    assert style.headers["content-type"].startswith("text/css")
    assert b".swagger-ui" in style.content
