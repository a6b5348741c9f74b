"""Fresh virtual environments built from what a docs page tells its reader to install.

A page's *install lines* are the ``pip install ...`` lines of its ``sh`` blocks, as the reader
sees them (the README's sections that a page includes with ``--8<--`` are expanded first).
The one-liners that set up the checkout itself (``.venv/bin/pip install -e ...``, for the
demo, the tests and the docs) are commands to run, not an environment for samples, and start
otherwise. ``.`` in an install line is the root of the clone, as it is for the reader.

``Environments`` builds one virtual environment per distinct set of requirements (without
pip: the running interpreter's pip installs into it with ``--python``), so pages that ask
for the same things share one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

__all__ = [
    "Environments",
    "Sample",
    "clean_environ",
    "expand_snippets",
    "install_lines",
    "python_samples",
    "requirements",
    "run_sample",
]

ROOT = Path(__file__).resolve().parents[2]
SNIPPET = re.compile(r'^--8<-- "(?P<file>[^":]+):(?P<section>[\w-]+)"$', re.MULTILINE)
# Variables a sample must not inherit from the test run: they would point it at the checkout.
HIDDEN = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONSAFEPATH"}


def expand_snippets(text: str) -> str:
    """``text`` with each ``--8<-- "FILE:section"`` line replaced by that section of FILE."""

    def section(match: re.Match[str]) -> str:
        source = (ROOT / match["file"]).read_text(encoding="utf-8")
        start = f"--8<-- [start:{match['section']}]"
        end = f"--8<-- [end:{match['section']}]"
        body = source.split(start, 1)[1].split(end, 1)[0]
        return body.split("\n", 1)[1].rsplit("\n", 1)[0]  # without the marker lines

    return SNIPPET.sub(section, text)


def _fences(page: Path, language: str) -> list[tuple[int, str]]:
    """``(line, content)`` of each ``language`` block of the expanded page."""
    tokens = MarkdownIt("commonmark").parse(expand_snippets(page.read_text(encoding="utf-8")))
    return [
        (token.map[0] + 1, token.content)
        for token in tokens
        if token.type == "fence" and token.map is not None and token.info.split()[:1] == [language]
    ]


def install_lines(page: Path) -> list[str]:
    """The ``pip install`` lines of ``page``'s ``sh`` blocks, comments dropped, in order."""
    return [
        line.split("#", 1)[0].strip()
        for _, content in _fences(page, "sh")
        for line in content.splitlines()
        if line.startswith("pip install ")
    ]


def requirements(lines: list[str]) -> tuple[str, ...]:
    """What ``lines`` install: the clone's root (``.``) once with every extra named, then the
    other packages, sorted."""
    packages: set[str] = set()
    extras: set[str] = set()
    project = False
    for line in lines:
        for word in shlex.split(line)[2:]:
            if word.startswith("-"):
                raise ValueError(f"an option in an install line: {line!r}")
            if word == "." or word.startswith(".["):
                project = True
                extras.update(extra for extra in word[2:-1].split(",") if extra)
            else:
                packages.add(word)
    root = [f"{ROOT}[{','.join(sorted(extras))}]" if extras else str(ROOT)] if project else []
    return (*root, *sorted(packages))


@dataclass(frozen=True)
class Sample:
    """A Python block of a page, as the reader sees it."""

    page: Path
    line: int
    code: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def python_samples(page: Path) -> list[Sample]:
    """The Python blocks of the expanded ``page``."""
    return [Sample(page, line, code) for line, code in _fences(page, "python")]


class Environments:
    """Virtual environments under ``base``, one per set of requirements, built on demand."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.built: dict[tuple[str, ...], Path] = {}

    def python(self, wanted: tuple[str, ...]) -> Path:
        """The interpreter of an environment holding ``wanted`` (and what they depend on)."""
        if wanted not in self.built:
            name = hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:12]
            where = self.base / name
            venv.EnvBuilder(with_pip=False, clear=True).create(where)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "--python",
                    str(where / "bin" / "python"),
                    "--disable-pip-version-check",
                    "install",
                    "--quiet",
                    *wanted,
                ],
                check=True,
                cwd=self.base,
                env=clean_environ(),
                timeout=600,
            )
            self.built[wanted] = where
        return self.built[wanted] / "bin" / "python"


def clean_environ() -> dict[str, str]:
    """The test run's environment variables without those that point at the checkout."""
    return {name: value for name, value in os.environ.items() if name not in HIDDEN}


def run_sample(python: Path, sample: Sample, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``sample`` as a script with ``python``, from ``workdir`` (not the checkout)."""
    script = workdir / f"sample_{sample.page.stem}_{sample.line}.py"
    script.write_text(sample.code, encoding="utf-8")
    return subprocess.run(
        [str(python), str(script)],
        cwd=workdir,
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
