"""The Performance page and its chart: generated from the snapshots, quiet runs only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from benchmarks import report

LOAD = {
    "load": {
        "load_average_1m": {"start": 0.12, "end": 0.95},
        "cores": 2,
        "others_cpu_share": 0.031,
        "seconds": 91.0,
    },
    "calibration": {"before_ms": 10.1, "after_ms": 10.3, "quiet_ms": 10.0},
    "busy": False,
    "busy_reasons": [],
}


def _snapshot(tmp_path: Path, name: str, **changes: Any) -> Path:
    """A copy of the committed snapshot ``name`` with ``changes`` at its top level."""
    data = json.loads((report.LATEST / f"{name}.json").read_text(encoding="utf-8"))
    data.update(changes)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _page(tmp_path: Path) -> Path:
    """A copy of the published page and its chart."""
    page = tmp_path / "docs" / "performance.md"
    page.parent.mkdir()
    shutil.copy(report.PAGE, page)
    shutil.copy(report.PAGE.with_name(report.CHART), page.with_name(report.CHART))
    return page


def _argv(inprocess: Path, wire: Path, *rest: str) -> list[str]:
    return ["--inprocess", str(inprocess), "--wire", str(wire), *rest]


def test_busy_snapshot_is_not_published(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--write`` refuses a snapshot marked busy (exit 3, its reasons named), writing nothing."""
    wire = _snapshot(
        tmp_path, "wire", busy=True, busy_reasons=["1-minute load average 3.41 at the start"]
    )
    page = tmp_path / "out" / "performance.md"
    page.parent.mkdir()
    argv = _argv(report.LATEST / "inprocess.json", wire, "--write", str(page))
    assert report.main(argv) == 3
    assert not page.exists()
    assert not page.with_name(report.CHART).exists()
    out = capsys.readouterr().out
    assert "wire.json was measured on a busy machine: 1-minute load average 3.41" in out


def test_busy_snapshot_fails_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--check`` fails on a busy snapshot even when the page matches it."""
    inprocess = _snapshot(tmp_path, "inprocess", busy=True, busy_reasons=[])
    page = _page(tmp_path)
    assert report.main(_argv(inprocess, report.LATEST / "wire.json", "--check", str(page))) == 3
    assert "inprocess.json was measured on a busy machine: marked busy" in capsys.readouterr().out


def test_snapshot_without_machine_state_shows_not_recorded(tmp_path: Path) -> None:
    """A snapshot from before the guard shows its missing state as "not recorded"."""
    inproc = json.loads(_snapshot(tmp_path, "inprocess").read_text())
    for key in ("load", "calibration", "thresholds", "busy", "busy_reasons"):
        inproc.pop(key, None)
    inproc["machine"]["load_average_at_start"] = [0.87, 0.95, 0.93]
    section = report.render(inproc, None)
    row = next(line for line in section.splitlines() if line.startswith("| in-process "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["in-process", "0.87 (2 cores)", *["not recorded"] * 4]


def test_recorded_machine_state_is_shown(tmp_path: Path) -> None:
    """Load at start, other processes' share, calibration and verdict reach the page."""
    inproc = json.loads(_snapshot(tmp_path, "inprocess", **LOAD).read_text())
    section = report.render(inproc, None)
    row = next(line for line in section.splitlines() if line.startswith("| in-process "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    expected = ["in-process", "0.12 (2 cores)", "3%", "10.10 -> 10.30 ms (+2%)"]
    assert cells == [*expected, "+3% on 10.00 ms", "quiet"]


def test_quiet_snapshots_are_published(tmp_path: Path) -> None:
    """Snapshots recorded quiet are written, then pass the check."""
    inprocess = _snapshot(tmp_path, "inprocess", **LOAD)
    wire = _snapshot(tmp_path, "wire", **LOAD)
    page = tmp_path / "performance.md"
    assert report.main(_argv(inprocess, wire, "--write", str(page))) == 0
    assert "| over the wire | 0.12 (2 cores)" in page.read_text()
    assert report.main(_argv(inprocess, wire, "--check", str(page))) == 0


def test_stale_chart_fails_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A chart that differs from the snapshots fails the check, naming it and the command."""
    page = _page(tmp_path)
    chart = page.with_name(report.CHART)
    stale = chart.read_text().replace("</svg>", "<!-- edited by hand --></svg>")
    chart.write_text(stale)  # any change at all, whatever the measured numbers
    assert report.main(["--check", str(page)]) == 1
    out = capsys.readouterr().out
    assert str(chart) in out
    assert report.PAGE_COMMAND in out


def test_missing_chart_fails_the_check(tmp_path: Path) -> None:
    """A page without its chart beside it fails the check."""
    page = _page(tmp_path)
    page.with_name(report.CHART).unlink()
    assert report.main(["--check", str(page)]) == 1


def test_page_embeds_the_chart() -> None:
    """The page shows the chart, by its name beside the page."""
    assert f"]({report.CHART})" in report.PAGE.read_text(encoding="utf-8")


def test_chart_shows_each_variant_ratio_in_process_and_over_the_wire() -> None:
    """Every variant of the page's tables is in the chart with both of its ratios."""
    inproc, wire = report._load(report.LATEST / "inprocess.json", report.LATEST / "wire.json")
    assert wire is not None
    svg = report.chart(inproc, wire)
    cases, servers = report._cases(inproc), report._servers(wire)
    for variant in ("correlation", "handler", "ours"):
        key = f"{variant}@tiny"
        assert cases[key]["label"] in svg
        assert f">{cases[key]['ratio']['median']:.2f}x<" in svg
        assert f">{servers[key]['rps_ratio']['median']:.2f}x<" in svg


def test_a_variant_the_snapshots_do_not_hold_gets_no_row(tmp_path: Path) -> None:
    """A variant with no number in either snapshot is left out, not shown as a row of dashes."""
    inproc = json.loads(_snapshot(tmp_path, "inprocess").read_text())
    for group in inproc["groups"]:
        group["cases"] = [c for c in group["cases"] if c["variant"] != "handler"]
    wire = json.loads(_snapshot(tmp_path, "wire").read_text())
    for group in wire["groups"]:
        group["servers"] = [s for s in group["servers"] if s["variant"] != "handler"]
    labels = [
        line.split("|")[1].strip()
        for line in report.render(inproc, wire).splitlines()
        if line.startswith("| ")
    ]
    assert "envelope built in the handler" not in labels
    assert "**EnvelopeMiddleware**" in labels
