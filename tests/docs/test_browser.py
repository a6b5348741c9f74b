"""The docs site, the README and the demo's Swagger UI, in a real browser.

The site is built as the README's docs command builds it and served on 127.0.0.1; the demo
is served by uvicorn; the README is rendered from its Markdown. Headless Chromium of the OS
(``tests/support/browser.py``) looks at them, offline: a request to another host fails the
test. Each test keeps a screenshot: in its temporary directory, or, when
``OPSGENIE_ENVELOPE_SCREENSHOTS`` names a directory (``docs/images`` refreshes the site's
pictures), there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.support.browser import build_site, chromium, serve_directory, watch
from tests.support.demo_app import ENVIRONMENT, KEY
from tests.support.processes import serve

pytestmark = [pytest.mark.browser, pytest.mark.server]

ROOT = Path(__file__).resolve().parents[2]
FIRST_SCREEN: ViewportSize = {"width": 1280, "height": 800}
DEADLINE = "2027-04-05"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The OS's headless Chromium, for this module's tests."""
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The docs site, built as the README's docs command builds it, and what mkdocs printed."""
    site = tmp_path_factory.mktemp("site")
    return site, build_site(site)


@pytest.fixture(scope="module")
def site(built: tuple[Path, str]) -> Iterator[str]:
    """The built site's base URL, served on 127.0.0.1."""
    with serve_directory(built[0]) as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page at 1280 x 800."""
    context = browser.new_context(viewport=FIRST_SCREEN)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where this test keeps its screenshot."""
    wanted = os.environ.get("OPSGENIE_ENVELOPE_SCREENSHOTS")
    return Path(wanted).resolve() if wanted else tmp_path


def _is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def _in_first_screen(page: Page, text: str) -> bool:
    box = page.get_by_text(text).first.bounding_box()
    return box is not None and box["y"] + box["height"] <= FIRST_SCREEN["height"]


def test_docs_command_prints_no_end_of_life_banner(built: tuple[Path, str]) -> None:
    """mkdocs run as the README's docs command says prints no Material end-of-life banner."""
    assert "end of life" not in built[1]
    assert "Documentation built" in built[1]


def test_site_first_screen_says_who_it_is_for(page: Page, site: str, shots: Path) -> None:
    """The first screen of the site names who it is for and OpsGenie's end-of-support date."""
    seen = watch(page)
    page.goto(f"{site}/")
    assert _in_first_screen(page, "Who it is for")
    assert _in_first_screen(page, DEADLINE)
    assert _in_first_screen(page, "Instead of")
    page.screenshot(path=shots / "site-first-screen.png")
    assert _is_png(shots / "site-first-screen.png")
    assert (seen.errors, seen.foreign) == ([], [])


def test_site_first_page_does_not_overflow_at_1280px(page: Page, site: str) -> None:
    """At 1280 px the first page scrolls only down, and no code line is cut off."""
    page.goto(f"{site}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= FIRST_SCREEN["width"]
    clipped = page.evaluate(
        """() => [...document.querySelectorAll('.md-content pre > code')]
            .filter((code) => code.scrollWidth > code.clientWidth + 1)
            .map((code) => code.textContent.slice(0, 60))"""
    )
    assert clipped == []


@pytest.mark.parametrize(
    "path",
    [
        "",
        "why/",
        "getting-started/",
        "guide/wire-format/",
        "guide/errors/",
        "operations/demo/",
        "operations/contributing/",
    ],
)
def test_site_page_loads_offline_without_errors(page: Page, site: str, path: str) -> None:
    """The page logs no error, throws nothing and asks no other host for anything."""
    seen = watch(page)
    page.goto(f"{site}/{path}")
    page.wait_for_load_state("networkidle")
    broken = page.evaluate(
        "[...document.images].filter((img) => !img.complete || !img.naturalWidth).length"
    )
    assert (seen.errors, seen.foreign, broken) == ([], [], 0)


def test_lifecycle_diagram_shows_on_the_wire_format_page(page: Page, site: str) -> None:
    """The wire-format page shows the request's path as a picture, at its drawn width."""
    page.goto(f"{site}/guide/wire-format/")
    diagram = page.locator("img[src$='lifecycle.svg']")
    expect(diagram).to_be_visible()
    assert diagram.evaluate("(img) => img.naturalWidth") == 800


@pytest.mark.parametrize("width", [1280, 768])
def test_errors_table_keeps_class_names_whole(browser: Browser, site: str, width: int) -> None:
    """No name in the errors tables (code without a space) is broken across lines."""
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.goto(f"{site}/guide/errors/")
    names = page.evaluate(
        """() => [...document.querySelectorAll('.md-content table code')]
            .map((code) => [code.textContent, code.getClientRects().length])"""
    )
    context.close()
    assert "UnsupportedMediaType" in dict(names)
    assert [name for name, lines in names if " " not in name and lines != 1] == []


def test_site_search_finds_the_request_tracker(page: Page, site: str) -> None:
    """Searching the site for RequestTracker lists the asynchronous-requests guide."""
    seen = watch(page)
    page.goto(f"{site}/")
    page.locator(".md-search__input").click()
    page.keyboard.type("RequestTracker", delay=20)  # key by key, as a reader types
    results = page.locator(".md-search-result__item a")
    expect(results.first).to_be_visible(timeout=30_000)
    hrefs = [results.nth(i).get_attribute("href") or "" for i in range(results.count())]
    assert any("guide/async-requests/" in href for href in hrefs), hrefs
    assert (seen.errors, seen.foreign) == ([], [])


def test_readme_first_screen_says_who_it_is_for_and_why(page: Page, shots: Path) -> None:
    """The README, rendered, names who it is for and the end-of-support date in one screen."""
    body = (
        MarkdownIt("commonmark")
        .enable("table")
        .render((ROOT / "README.md").read_text(encoding="utf-8"))
    )
    page.set_content(
        "<!doctype html><meta charset=utf-8><style>"
        "body{font:16px/1.5 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2328;"
        "max-width:980px;margin:0 auto;padding:32px 45px}"
        "h1,h2{border-bottom:1px solid #d1d9e0;padding-bottom:.3em}"
        "code{background:#eff1f3;padding:.2em .4em;border-radius:6px;font-size:85%}"
        "pre{background:#f6f8fa;padding:16px;overflow:auto;border-radius:6px}"
        "pre code{background:none;padding:0}a{color:#0969da}"
        "table{border-collapse:collapse}td,th{border:1px solid #d1d9e0;padding:6px 13px}"
        f"</style><article>{body}</article>"
    )
    assert _in_first_screen(page, "Who it is for")
    assert _in_first_screen(page, DEADLINE)
    assert _in_first_screen(page, "Instead of")
    page.screenshot(path=shots / "readme-first-screen.png")
    assert _is_png(shots / "readme-first-screen.png")


def test_demo_swagger_try_it_out_shows_the_envelope(
    page: Page, shots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Swagger UI, served offline by the demo: Try it out on GET /v2/alerts shows the
    envelope with requestId and the X-Request-ID header."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    seen = watch(page)
    with serve("uvicorn", "examples.alerts.api:app") as served:
        page.goto(f"{served.url}/docs")
        page.locator(".btn.authorize").first.click()
        page.locator(".modal-ux input[type=text], .modal-ux input:not([type])").first.fill(
            f"GenieKey {KEY}"
        )
        page.locator(".modal-ux .btn.authorize").first.click()
        page.locator(".modal-ux .btn-done").first.click()
        operation = page.locator(
            ".opblock-get:has(.opblock-summary-path[data-path='/v2/alerts'])"
        ).first
        operation.locator(".opblock-summary").first.click()
        operation.locator(".try-out__btn").click()
        operation.locator(".execute").click()
        live = operation.locator(".live-responses-table")
        expect(live.locator("tr.response .response-col_status").first).to_have_text(
            "200", timeout=30_000
        )
        body = live.locator("tr.response .response-col_description pre").first.inner_text()
        headers = live.locator("tr.response .response-col_description").first.inner_text()
        answer = live.locator("tr.response").first
        # The body scrolls in its own box: show its end, where took and requestId are.
        answer.locator(".response-col_description pre").first.evaluate(
            "(pre) => { pre.scrollTop = pre.scrollHeight; }"
        )
        answer.screenshot(path=shots / "swagger-try-it-out.png")
    envelope = json.loads(body)
    assert next(iter(envelope)) == "data"
    assert list(envelope)[-2:] == ["took", "requestId"]
    assert f"x-request-id: {envelope['requestId']}" in headers.lower()
    assert _is_png(shots / "swagger-try-it-out.png")
    assert (seen.errors, seen.foreign) == ([], [])
