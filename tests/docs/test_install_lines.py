"""Each page's samples run where its install lines lead, not in the test environment.

The test environment holds every extra, so a sample that imports a package its page never
told the reader to install passes there and fails for the reader. Here each page's Python
samples run in a fresh virtual environment that holds only what the reader was told to
install (``tests/support/environments.py`` reads the lines), the project installed from the
root of the clone as the page says:

* the README and Getting started: their own install lines (Getting started adds httpx);
* a page with install lines of its own that builds on Getting started (it links to
  ``getting-started.md#install``): Getting started's lines, then its own;
* a page with samples and no install line: Getting started's, where a reader comes from.

Environments are built once per distinct set of requirements and shared within a run; the
package index (and pip's cache) provides what they hold.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.environments import (
    Environments,
    install_lines,
    python_samples,
    requirements,
    run_sample,
)

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
GETTING_STARTED = ROOT / "docs" / "getting-started.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
WITH_SAMPLES = [page for page in PAGES if python_samples(page)]


def environment_of(page: Path) -> tuple[str, ...]:
    """What a reader of ``page`` has installed when they run its samples."""
    own = install_lines(page)
    base = install_lines(GETTING_STARTED)
    if page in (README, GETTING_STARTED):
        return requirements(own)
    if not own or "getting-started.md#install" in page.read_text(encoding="utf-8"):
        return requirements(base + own)
    return requirements(own)


@pytest.fixture(scope="session")
def environments(tmp_path_factory: pytest.TempPathFactory) -> Environments:
    """This run's virtual environments, one per set of requirements."""
    return Environments(tmp_path_factory.mktemp("environments"))


def test_readme_and_getting_started_say_what_to_install() -> None:
    """Both entry pages have an install line that installs the project from the clone."""
    for page in (README, GETTING_STARTED):
        assert any(word.startswith(str(ROOT)) for word in environment_of(page)), page


def test_getting_started_adds_httpx_to_the_readme_install_line() -> None:
    """Getting started's Starlette sample imports httpx, so the page says to install it."""
    assert environment_of(GETTING_STARTED) == tuple(sorted({*environment_of(README), "httpx"}))


@pytest.mark.parametrize("page", WITH_SAMPLES, ids=lambda page: str(page.relative_to(ROOT)))
def test_samples_run_with_only_what_the_page_installs(
    page: Path, environments: Environments, tmp_path: Path
) -> None:
    """Every Python sample of the page runs in a fresh environment of its install lines."""
    python = environments.python(environment_of(page))
    failures = []
    for sample in python_samples(page):
        done = run_sample(python, sample, tmp_path)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            failures.append(f"{sample}: {last}")
    assert failures == [], f"installed: {' '.join(environment_of(page))}"
