"""A real browser for the tests: the OS's headless Chromium, driven by Playwright for Python.

Playwright never downloads a browser here: it launches the ``chromium`` of the OS packages
(``.ci/run`` installs it when missing), headless, with no sandbox, GPU, QUIC, first-run
set-up, background networking, component updates or sync. Playwright starts it, and stops it
when the block ends.

``watch(page)`` records what a page logs as an error, the exceptions it throws, and every
request it makes to another host than 127.0.0.1, which it refuses: the pages under test must
work offline. ``serve_directory`` serves a built site on a free port of 127.0.0.1, in a
thread, and stops it when the block ends. ``build_site`` builds the docs as the README's
docs command does, and returns what mkdocs printed.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, Route, sync_playwright

__all__ = [
    "CHROMIUM_ARGS",
    "Watch",
    "build_site",
    "chromium",
    "chromium_path",
    "docs_command_environment",
    "serve_directory",
    "watch",
]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def chromium_path() -> str:
    """The OS's Chromium: ``/usr/bin/chromium``, else ``chromium`` on ``PATH``."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise RuntimeError(
        "the browser tests need Chromium from the OS packages: apt-get install chromium"
    )


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium of the OS, under Playwright, until the block ends."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=list(CHROMIUM_ARGS), timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watch:
    """What a page did wrong: console errors, uncaught exceptions, requests off 127.0.0.1."""

    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


def watch(page: Page) -> Watch:
    """Record ``page``'s errors from now on; refuse (and record) requests to other hosts."""
    seen = Watch()
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))

    def route(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and (
            urlsplit(url).hostname not in LOCAL_HOSTS
        ):
            seen.foreign.append(url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", route)
    return seen


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Serve without printing a line per request."""


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on a free port of 127.0.0.1; yield its base URL; stop on exit."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def docs_command_environment() -> dict[str, str]:
    """The variables the README's docs command sets before ``mkdocs serve``."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (line,) = [line for line in readme.splitlines() if "mkdocs serve" in line]
    last = line.rsplit("&&", 1)[1]
    words = shlex.split(last)
    assignments = [w for w in words[: words.index(".venv/bin/mkdocs")] if "=" in w]
    return dict(w.split("=", 1) for w in assignments)


def build_site(site: Path) -> str:
    """Build the docs into ``site`` (``mkdocs build --strict``) with the README's variables;
    return everything mkdocs printed."""
    mkdocs = Path(sys.executable).with_name("mkdocs")
    env = {
        name: value
        for name, value in os.environ.items()
        if not re.fullmatch(r"(NO|DISABLE)_MKDOCS_2_WARNING", name)
    }
    done = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env={**env, **docs_command_environment()},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"mkdocs build failed:\n{done.stdout}{done.stderr}")
    return done.stdout + done.stderr
