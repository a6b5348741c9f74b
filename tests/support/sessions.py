"""The docs' code blocks, and their console sessions run for real.

``blocks(page)`` lists every fenced block of a Markdown page (markdown-it-py parses it) with
its language, line and section. A ``console`` block is a session: lines starting with
``$ `` are commands, the lines below each are what it printed. ``Session`` runs the commands
against a real server and compares what they print with what the page shows.

Documented output is an example of a run, not a copy of one: request IDs, alert IDs, dates,
``took`` and ``X-Response-Time`` differ from run to run. So a UUID shown in the page matches
any UUID in the output, and is bound to it: the same documented UUID must be the same real
one everywhere (header and body, this answer and a later command that uses it), and a later
command that names it is run with the real one. Everything else must be equal: statuses,
header names, JSON keys in order, strings, numbers, booleans.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from markdown_it import MarkdownIt

__all__ = ["Block", "Session", "blocks", "split_session"]

DOCUMENTED_URL = "http://127.0.0.1:8000"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
# Headers whose values change with every run (content-length follows the digits of took).
VOLATILE = {"date", "content-length", "x-response-time"}


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    content: str
    section: str  # the heading above it

    def __str__(self) -> str:
        return f"{self.page.name}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order."""
    found = []
    section = ""
    tokens = MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8"))
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            section = tokens[i + 1].content
        elif token.type == "fence" and token.map is not None:
            language = token.info.split()[0] if token.info.strip() else ""
            found.append(Block(page, token.map[0] + 1, language, token.content, section))
    return found


def split_session(block: Block) -> list[tuple[str, str]]:
    """The ``(command, documented output)`` pairs of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.content.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
        else:
            raise AssertionError(f"{block}: output before the first command")
    return [(command, "\n".join(out).strip("\n")) for command, out in steps]


def _split_http(text: str) -> tuple[str, list[tuple[str, str]], str]:
    """Status line, headers and body of ``curl -i`` output."""
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    status, *lines = head.splitlines()
    headers = [(name.strip().lower(), value.strip()) for name, _, value in map(_colon, lines)]
    return status.strip(), headers, body.strip()


def _colon(line: str) -> tuple[str, str, str]:
    return line.partition(":")


@dataclass
class Session:
    """Runs a page's commands against ``url`` and matches their output with the page's."""

    url: str
    bound: dict[str, str] = field(default_factory=dict)

    def command(self, documented: str) -> str:
        """The documented command, aimed at the real server, with the bound IDs."""
        command = documented.replace(DOCUMENTED_URL, self.url)
        return UUID.sub(lambda m: self.bound.get(m[0], m[0]), command)

    def run(self, documented: str, expected: str, *, attempts: int = 1) -> None:
        """Run one command; its output must match ``expected`` (retried ``attempts`` times)."""
        command = self.command(documented)
        problems: list[str] = []
        for attempt in range(attempts):
            if attempt:
                time.sleep(0.1)
            result = subprocess.run(
                ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=False
            )
            assert result.returncode == 0, f"{command!r} failed: {result.stderr}"
            real = result.stdout.replace(self.url, DOCUMENTED_URL).strip("\n")
            trial = dict(self.bound)
            problems = self._output(expected, real, trial)
            if not problems:
                self.bound = trial
                return
        raise AssertionError(f"$ {documented}\n" + "\n".join(problems) + f"\nreal output:\n{real}")

    def _output(self, expected: str, real: str, bound: dict[str, str]) -> list[str]:
        if not expected.startswith("HTTP/"):
            return self._body(expected, real, bound)
        status, headers, body = _split_http(expected)
        real_status, real_headers, real_body = _split_http(real)
        problems = [] if status == real_status else [f"status {real_status!r} != {status!r}"]
        names = sorted(name for name, _ in headers)
        if names != sorted(name for name, _ in real_headers):
            problems.append(f"headers {sorted(n for n, _ in real_headers)} != {names}")
        real_values = dict(real_headers)
        for name, value in headers:
            if name in VOLATILE or name not in real_values:
                continue
            problems += self._value(value, real_values[name], bound, f"header {name}")
        return problems + self._body(body, real_body, bound)

    def _body(self, expected: str, real: str, bound: dict[str, str]) -> list[str]:
        try:
            documented, got = orjson.loads(expected), orjson.loads(real)
        except orjson.JSONDecodeError:
            return [] if expected == real else [f"{real!r} != {expected!r}"]
        return self._json(documented, got, bound, "body")

    def _json(self, expected: Any, real: Any, bound: dict[str, str], where: str) -> list[str]:
        if isinstance(expected, dict) and isinstance(real, dict):
            if list(expected) != list(real):
                return [f"{where}: keys {list(real)} != {list(expected)}"]
            problems = []
            for key, value in expected.items():
                if key == "took":
                    ok = isinstance(real[key], float) and real[key] >= 0
                    problems += [] if ok else [f"{where}.took: {real[key]!r}"]
                else:
                    problems += self._json(value, real[key], bound, f"{where}.{key}")
            return problems
        if isinstance(expected, list) and isinstance(real, list):
            if len(expected) != len(real):
                return [f"{where}: {len(real)} items != {len(expected)}"]
            return [
                p
                for i, (e, r) in enumerate(zip(expected, real, strict=True))
                for p in self._json(e, r, bound, f"{where}[{i}]")
            ]
        if isinstance(expected, str) and isinstance(real, str):
            return self._value(expected, real, bound, where)
        if type(expected) is type(real) and expected == real:
            return []
        return [f"{where}: {real!r} != {expected!r}"]

    def _value(self, expected: str, real: str, bound: dict[str, str], where: str) -> list[str]:
        if UUID.fullmatch(expected):
            if not UUID.fullmatch(real):
                return [f"{where}: {real!r} is not a UUID"]
            if bound.setdefault(expected, real) != real:
                return [f"{where}: {real!r}, but {expected} was {bound[expected]!r} before"]
            return []
        if TIMESTAMP.fullmatch(expected):
            return [] if TIMESTAMP.fullmatch(real) else [f"{where}: {real!r} is not a timestamp"]
        return [] if expected == real else [f"{where}: {real!r} != {expected!r}"]
