"""The docs' console sessions, run for real: the README's quickstart and the demo's tour.

Each command of a session runs in bash against a real uvicorn on 127.0.0.1 (on a free port
in place of the documented 8000), and what it prints must match what the page shows (see
``tests/support/sessions.py`` for what "match" allows).

``QUICKSTART_PYTHON`` names another interpreter to serve the quickstart with: ``.ci/run``
points it at a fresh virtual environment where only the built wheel is installed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.support.demo_app import ENVIRONMENT
from tests.support.processes import serve
from tests.support.sessions import Block, Session, blocks, split_session

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DEMO = ROOT / "docs" / "operations" / "demo.md"
# The sessions the tests below run: (page, section).
RUN = {(README, "Quickstart"), (DEMO, "A tour")}


def _section(page: Path, section: str, language: str) -> Block:
    (block,) = [b for b in blocks(page) if b.section == section and b.language == language]
    return block


def test_every_console_block_is_run() -> None:
    """Every console session of the README and docs/ is one the tests below run."""
    pages = [README, *sorted((ROOT / "docs").rglob("*.md"))]
    sessions = {(b.page, b.section) for p in pages for b in blocks(p) if b.language == "console"}
    assert sessions == RUN


def test_readme_quickstart_runs_under_uvicorn(tmp_path: Path) -> None:
    """The quickstart, saved as app.py and served by ``uvicorn app:app``, answers as shown."""
    assert "serve it with `uvicorn app:app`" in README.read_text(encoding="utf-8")
    (tmp_path / "app.py").write_text(_section(README, "Quickstart", "python").content)
    python = os.environ.get("QUICKSTART_PYTHON", sys.executable)
    with serve("uvicorn", "app:app", cwd=tmp_path, python=python) as served:
        session = Session(served.url)
        for command, output in split_session(_section(README, "Quickstart", "console")):
            session.run(command, output)


def test_demo_tour_runs_against_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each command of the demo's tour answers, against the served demo, what the page shows."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    with serve("uvicorn", "examples.alerts.api:app") as served:
        session = Session(served.url)
        for command, output in split_session(_section(DEMO, "A tour", "console")):
            # A write is processed in the background: poll, as the page says, for a while.
            session.run(command, output, attempts=30)
