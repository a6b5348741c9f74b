"""The numbers the README and the Why page quote are the published benchmark's.

The Performance page is generated from the snapshots (and checked against them by
``benchmarks.report --check``); the README's comparison and the Why page quote it by hand.
These tests read the page's tables and hold each quoted number to them, so a new snapshot
that moves a ratio fails here until the quotes follow.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PERFORMANCE = ROOT / "docs" / "operations" / "performance.md"
WHY = ROOT / "docs" / "why.md"
README = ROOT / "README.md"
RATIO = re.compile(r"\b\d+\.\d\dx")


def _rows(text: str) -> dict[str, dict[str, str]]:
    """Each Markdown table row of ``text`` by its first cell: the row's cells by header."""
    rows: dict[str, dict[str, str]] = {}
    header: list[str] = []
    for line in text.splitlines():
        if not line.startswith("|"):
            header = []
            continue
        cells = [cell.strip().replace("**", "") for cell in line.strip("|").split("|")]
        if not header:
            header = cells
        elif not set(cells[0]) <= {"-", ":"}:
            rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


PUBLISHED = _rows(PERFORMANCE.read_text(encoding="utf-8"))
OURS = PUBLISHED["EnvelopeMiddleware"]
ACID = PUBLISHED["asgi-correlation-id (ID header only)"]
BASE_HTTP = PUBLISHED["hand-written BaseHTTPMiddleware envelope"]
IN_HANDLER = PUBLISHED["envelope built in the handler"]


def _section(text: str, name: str) -> str:
    return text.split(f"[start:{name}]", 1)[1].split(f"[end:{name}]", 1)[0]


def test_readme_comparison_quotes_the_published_ratios() -> None:
    """Each alternative's row in the README quotes its in-process and requests/s ratios."""
    rows = _rows(_section(README.read_text(encoding="utf-8"), "instead"))
    measured = {name.split("]")[0].strip("["): row[list(row)[-1]] for name, row in rows.items()}
    assert measured["asgi-correlation-id"] == (
        f"{ACID['~100 B']} in-process, {ACID['wire req/s']} requests/s"
    )
    assert measured["`EnvelopeMiddleware`"] == (
        f"{OURS['~100 B']} in-process, {OURS['wire req/s']} requests/s"
    )
    assert measured["a hand-written `BaseHTTPMiddleware` envelope"] == (
        f"{BASE_HTTP['~100 B']} in-process, {BASE_HTTP['wire req/s']} requests/s"
    )
    assert measured["the envelope built in each handler"] == (
        f"{IN_HANDLER['~100 B']} in-process, {IN_HANDLER['wire req/s']} requests/s"
    )


def test_why_tables_quote_the_published_ratios() -> None:
    """The Why page's tables hold, row by row, the published ratios of each variant."""
    rows = _rows(WHY.read_text(encoding="utf-8"))
    columns = {
        "in-process time": "~100 B",
        "requests/s over the wire": "wire req/s",
        "requests/s": "wire req/s",
        "p99 latency": "wire p99",
        "server CPU per request": "wire CPU/req",
    }
    variants = {
        "asgi-correlation-id (ID header only)": ACID,
        "EnvelopeMiddleware (ID, timer, envelope)": OURS,
        "EnvelopeMiddleware": OURS,
        "hand-written `BaseHTTPMiddleware` envelope": BASE_HTTP,
        "envelope built in each handler": IN_HANDLER,
    }
    checked = 0
    for name, row in rows.items():
        if name not in variants:
            continue
        for column, value in row.items():
            if column in columns:
                assert value == variants[name][columns[column]], (name, column)
                checked += 1
    assert checked >= 14


def test_pitch_quotes_the_published_ratios() -> None:
    """The pitch's one-line comparison quotes asgi-correlation-id's, ours and
    BaseHTTPMiddleware's in-process ratios."""
    pitch = _section(README.read_text(encoding="utf-8"), "pitch")
    assert f"{ACID['~100 B']} bare Starlette's time per" in pitch
    assert f"the whole envelope takes {OURS['~100 B']}" in pitch
    assert f"envelope:\n{BASE_HTTP['~100 B']}" in pitch


def test_every_ratio_quoted_is_a_published_one() -> None:
    """No ratio in the Why page or the README's pitch and comparison is missing from the
    published page."""
    published = set(RATIO.findall(PERFORMANCE.read_text(encoding="utf-8")))
    quoted = set(RATIO.findall(WHY.read_text(encoding="utf-8")))
    for section in ("pitch", "instead"):
        quoted |= set(RATIO.findall(_section(README.read_text(encoding="utf-8"), section)))
    assert quoted
    assert quoted - published == set()
