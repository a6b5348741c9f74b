"""The docs' Performance page, from the committed benchmark snapshots.

    python -m benchmarks.report                      # print the section, from benchmarks/latest
    python -m benchmarks.report --inprocess A.json --wire B.json
    python -m benchmarks.report --write docs/operations/performance.md
    python -m benchmarks.report --check docs/operations/performance.md   # exit 1 when stale

The page is generated, never edited by hand: ``--write`` makes it and its chart
(``performance-ratios.svg`` beside it), ``--check`` (run by the tests and by ``.ci/run``)
fails when either no longer matches the snapshots. Both refuse (exit status 3) a snapshot
marked ``"busy": true``: only runs on a quiet machine are published. A snapshot from before
the machine's state was recorded shows it as "not recorded".

The snapshots are written by ``python -m benchmarks.inprocess --snapshot
benchmarks/latest/inprocess.json`` and ``python -m benchmarks.wire --snapshot
benchmarks/latest/wire.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.chart import Row, Section, ratio_chart
from benchmarks.guard import BUSY_EXIT
from benchmarks.stats import markdown_table

__all__ = ["CHART", "PAGE", "busy", "chart", "main", "page", "render"]

LATEST = Path(__file__).resolve().parent / "latest"
PAGE = Path(__file__).resolve().parents[1] / "docs" / "operations" / "performance.md"
PAGE_COMMAND = "python -m benchmarks.report --write docs/operations/performance.md"
CHART = "performance-ratios.svg"
"""The chart's file name, beside the page."""
NOT_RECORDED = "not recorded"
_ROWS = ("bare", "noop", "headers", "correlation", "basehttp", "handler", "minimal", "ours")


def _cases(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["key"]: c for g in results["groups"] for c in g["cases"]}


def _servers(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["key"]: s for g in results["groups"] for s in g["servers"]}


def _time(us: float) -> str:
    return f"{us / 1000:,.1f} ms" if us >= 1000 else f"{us:,.1f} us"


def _in(cases: dict[str, dict[str, Any]], key: str, base: str) -> str:
    case = cases.get(key)
    if case is None:
        return "-"
    if key == base:
        return f"1.00 ({_time(case['us_per_request']['median'])})"
    return f"{case['ratio']['median']:.2f}x"


def _wire(servers: dict[str, dict[str, Any]], key: str, base: str, metric: str) -> str:
    server = servers.get(key)
    if server is None:
        return "-"
    if key == base:
        value = server[metric]["median"]
        shown = {"rps": f"{value:,.0f}/s", "p99": f"{value:.2f} ms"}.get(metric, f"{value:.0f} us")
        return f"1.00 ({shown})"
    return f"{server[f'{metric}_ratio']['median']:.2f}x"


def _bold(label: str, cells: list[str], ours: bool) -> list[str]:
    return [f"**{c}**" if ours and c != "-" else c for c in [label, *cells]]


def _target(t: dict[str, Any]) -> list[str]:
    if t.get("unit") == "bytes":
        limit, measured = f"< {t['limit'] / 1024:,.0f} KiB", f"{t['measured'] / 1024:+,.1f} KiB"
    else:
        sign = ">=" if t.get("at_least") else "<" if t.get("strict") else "<="
        limit, measured = f"{sign} {t['limit']:.2f}x", f"{t['measured']:.2f}x"
    if t.get("saturated") is False:
        verdict = "inconclusive (server not saturated)"
    else:
        verdict = "met" if t["met"] else "not met"
    return [t["name"], limit, measured, verdict]


def _machine(inproc: dict[str, Any], wire: dict[str, Any] | None) -> str:
    m = inproc["machine"]
    v = m["versions"]
    text = (
        f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores), {m['os']}, {m['python']}; "
        f"Starlette {v['starlette']}, FastAPI {v['fastapi']}, orjson {v['orjson']}, "
        f"asgi-correlation-id {v['asgi-correlation-id']}"
    )
    if wire is not None:
        w = wire["machine"]["versions"]
        s = wire["settings"]
        text += (
            f"; uvicorn {w['uvicorn']} (1 worker, httptools {w['httptools']}, uvloop "
            f"{w['uvloop']}, no access log) loaded by {w['wrk']} with {s['connections']} "
            f"connections, {s['rounds']} rounds of {s['seconds']} s per server"
        )
    return text + ". Ratios are medians of same-round pairs."


def _get(results: dict[str, Any], *path: str) -> Any:
    """``results[a][b]...``, or ``None`` when a key is missing (an older snapshot)."""
    value: Any = results
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _state(name: str, results: dict[str, Any]) -> list[str]:
    """One row of the machine-state table; a missing field reads "not recorded"."""
    load = _get(results, "load", "load_average_1m", "start")
    if load is None:  # older snapshots recorded only the load average at the start
        load = (_get(results, "machine", "load_average_at_start") or [None])[0]
    cores = _get(results, "load", "cores") or _get(results, "machine", "cores")
    others = _get(results, "load", "others_cpu_share")
    before = _get(results, "calibration", "before_ms")
    after = _get(results, "calibration", "after_ms")
    quiet = _get(results, "calibration", "quiet_ms")
    busy = _get(results, "busy")
    calibration = NOT_RECORDED
    if before is not None and after is not None:
        calibration = f"{before:.2f} -> {after:.2f} ms ({after / before - 1:+.0%})"
    if before is None:
        versus = NOT_RECORDED
    elif quiet is None:
        versus = "no quiet reference yet"
    else:
        versus = f"{max(before, after or before) / quiet - 1:+.0%} on {quiet:.2f} ms"
    return [
        name,
        NOT_RECORDED if load is None else f"{load:.2f} ({cores} cores)",
        NOT_RECORDED if others is None else f"{others:.0%}",
        calibration,
        versus,
        NOT_RECORDED if busy is None else "busy" if busy else "quiet",
    ]


def _states(inproc: dict[str, Any], wire: dict[str, Any] | None) -> str:
    rows = [_state("in-process", inproc)]
    if wire is not None:
        rows.append(_state("over the wire", wire))
    headers = ["run", "1-min load at start", "other processes' CPU", "calibration before -> after"]
    headers += ["slowest vs quiet", "machine"]
    return markdown_table(headers, rows)


def busy(name: str, results: dict[str, Any] | None) -> str | None:
    """Why the snapshot ``name`` must not be published, or ``None`` when it may be."""
    if results is None or not _get(results, "busy"):
        return None
    reasons = "; ".join(_get(results, "busy_reasons") or []) or "marked busy"
    return f"{name} was measured on a busy machine: {reasons}"


def render(inproc: dict[str, Any], wire: dict[str, Any] | None) -> str:
    """The Markdown section."""
    cases = _cases(inproc)
    servers = _servers(wire) if wire is not None else {}
    labels = {c["variant"]: c["label"] for c in cases.values()}
    out = ["## Performance", "", _machine(inproc, wire), ""]
    out.append(
        "The machine during each run: the 1-minute load average at the start, the share of "
        "the machine's CPU time other processes used during the run, and a fixed pure-Python "
        "workload timed before and after it, against this machine's quiet calibration "
        '(`benchmarks/README.md`, "Is the machine quiet?"). A run on a busy machine is '
        "never published; a snapshot from before these were recorded shows them as "
        f'"{NOT_RECORDED}".'
    )
    out.append("")
    out.append(_states(inproc, wire))
    out.append("")
    out.append(
        "In-process columns: time per request relative to bare Starlette answering the same "
        "JSON (lower is better; the app is driven directly, no sockets). Over-the-wire "
        "columns: requests/s, p99 latency and the server's CPU time per request relative to "
        "bare Starlette (for requests/s higher is better)."
    )
    out.append("")
    rows = []
    for variant in _ROWS:
        cells = [
            _in(cases, f"{variant}@tiny", "bare@tiny"),
            _in(cases, f"{variant}@10k", "bare@10k"),
            _in(cases, f"{variant}@1m", "bare@1m"),
            _wire(servers, f"{variant}@tiny", "bare@tiny", "rps"),
            _wire(servers, f"{variant}@tiny", "bare@tiny", "p99"),
            _wire(servers, f"{variant}@tiny", "bare@tiny", "cpu_us"),
            _wire(servers, f"{variant}@10k", "bare@10k", "rps"),
        ]
        if any(cell != "-" for cell in cells):  # a variant the snapshots predate: no row
            rows.append(_bold(labels.get(variant, variant), cells, variant == "ours"))
    headers = ["variant", "~100 B", "10 KB", "1 MB", "wire req/s", "wire p99", "wire CPU/req"]
    headers.append("wire req/s 10 KB")
    out.append(markdown_table(headers, rows))
    out.append("")
    rows = []
    for base, ours in (("error-bare", "error-ours"), ("fastapi-bare", "fastapi-ours")):
        for variant in (base, ours):
            cells = [
                _in(cases, f"{variant}@tiny", f"{base}@tiny"),
                _wire(servers, f"{variant}@tiny", f"{base}@tiny", "rps"),
                _wire(servers, f"{variant}@tiny", f"{base}@tiny", "p99"),
            ]
            rows.append(_bold(labels.get(variant, variant), cells, variant == ours))
    out.append(markdown_table(["variant", "in-process", "wire req/s", "wire p99"], rows))
    targets = inproc.get("targets", []) + (wire.get("targets", []) if wire is not None else [])
    if targets:
        out.append("")
        out.append("Targets (same-run median ratios):")
        out.append("")
        out.append(
            markdown_table(["target", "limit", "measured", ""], [_target(t) for t in targets])
        )
    memory = inproc.get("memory")
    if memory:
        small, large = memory["sizes_mb"]
        peaks = memory["peak_bytes"]
        out.append("")
        out.append(
            f"A JSON body streamed in {memory['chunk_bytes'] // 1024} KB chunks is wrapped as it "
            f"streams: peak memory (tracemalloc) through the middleware is "
            f"{peaks['ours'][f'{small}MB'] / 1024:,.0f} KiB for {small} MB and "
            f"{peaks['ours'][f'{large}MB'] / 1024:,.0f} KiB for {large} MB "
            f"(bare Starlette: {peaks['bare'][f'{large}MB'] / 1024:,.0f} KiB)."
        )
    out.append("")
    out.append(
        'Reproduce with `pip install -e ".[bench]"`, `apt-get install wrk`, then '
        "`python -m benchmarks.inprocess` and `python -m benchmarks.wire` on a quiet machine "
        "(see `benchmarks/README.md`)."
    )
    return "\n".join(out)


def page(inproc: dict[str, Any], wire: dict[str, Any] | None) -> str:
    """The Markdown of the docs' Performance page: the section under a page title."""
    section = render(inproc, wire).removeprefix("## Performance\n")
    return "\n".join(
        [
            "# Performance",
            "",
            f"<!-- Generated by `{PAGE_COMMAND}` from benchmarks/latest/*.json: "
            "do not edit by hand. -->",
            "",
            "Every number below is a same-run comparison: each variant is measured beside bare "
            "Starlette (or its own baseline) in the same rounds, and ratios are medians of "
            "per-round ratios. `benchmarks/README.md` describes the set-up and has the profile "
            "of where the remaining time goes; the cost of each observability integration is "
            "in [observability](../guide/observability.md#what-it-costs).",
            "",
            f"![Each variant's ratio to its baseline, in-process and over the wire]({CHART})",
            section,
            "",
        ]
    )


def _ratio(entry: dict[str, Any] | None, key: str) -> float | None:
    return None if entry is None or key not in entry else float(entry[key]["median"])


def chart(inproc: dict[str, Any], wire: dict[str, Any] | None) -> str:
    """The SVG of the page's chart: each variant's ratio, in-process and over the wire."""
    cases = _cases(inproc)
    servers = _servers(wire) if wire is not None else {}

    def row(key: str, label: str | None = None) -> Row:
        case = cases.get(key)
        return Row(
            label or (case["label"] if case else key),
            _ratio(case, "ratio"),
            _ratio(servers.get(key), "rps_ratio"),
            ours=key.split("@")[0].endswith("ours"),
        )

    tiny = tuple(row(f"{v}@tiny") for v in _ROWS[1:] if f"{v}@tiny" in cases)
    own = (
        row("ours@10k", "10 KB JSON, vs bare Starlette"),
        row("error-ours@tiny", "error path, vs exception handler"),
        row("fastapi-ours@tiny", "FastAPI, vs bare FastAPI"),
    )
    return ratio_chart(
        [
            Section("~100 B JSON, against bare Starlette", tiny),
            Section("EnvelopeMiddleware against the same app without it", own),
        ],
        title="Each variant relative to its baseline (same-run medians; 1.0x = the baseline)",
        note=f"Generated by {PAGE_COMMAND} from benchmarks/latest/*.json.",
    )


def _load(inprocess: Path, wire: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    inproc = json.loads(inprocess.read_text(encoding="utf-8"))
    loaded = json.loads(wire.read_text(encoding="utf-8")) if wire.exists() else None
    return inproc, loaded


def main(argv: list[str] | None = None) -> int:
    """Print the section, or write or check the page."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inprocess", type=Path, default=LATEST / "inprocess.json")
    parser.add_argument("--wire", type=Path, default=LATEST / "wire.json")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", type=Path, metavar="PAGE", help="write the docs page")
    action.add_argument("--check", type=Path, metavar="PAGE", help="fail if PAGE is stale")
    args = parser.parse_args(argv)
    inproc, wire = _load(args.inprocess, args.wire)
    target = args.write or args.check
    if target is not None:
        refused = [r for r in (busy(str(args.inprocess), inproc), busy(str(args.wire), wire)) if r]
        if refused:
            for reason in refused:
                print(f"Not publishing: {reason}.\nMeasure again on a quiet machine.")
            return BUSY_EXIT
    if args.write is not None:
        args.write.write_text(page(inproc, wire), encoding="utf-8")
        args.write.with_name(CHART).write_text(chart(inproc, wire), encoding="utf-8")
    elif args.check is not None:
        expected = {
            args.check: page(inproc, wire),
            args.check.with_name(CHART): chart(inproc, wire),
        }
        for path, text in expected.items():
            current = path.read_text(encoding="utf-8") if path.exists() else ""
            if current != text:
                print(f"{path} is not what the snapshots give: run {PAGE_COMMAND}")
                return 1
    else:
        print(render(inproc, wire))
    return 0


if __name__ == "__main__":
    sys.exit(main())
