"""Statistics, tables, the machine description and JSON results shared by both benchmarks.

Ratios are paired: in each round every variant runs next to its baseline, the ratio is taken
within the round, and the median of those per-round ratios is reported. Drift of a noisy
machine (another job starting, the CPU clocking down) then hits both sides of a ratio alike.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS_DIR",
    "format_ratio",
    "machine",
    "markdown_table",
    "paired_ratios",
    "summarize",
    "write_results",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_PACKAGES = (
    "opsgenie-envelope",
    "starlette",
    "fastapi",
    "orjson",
    "asgi-correlation-id",
    "uvicorn",
    "uvloop",
    "httptools",
)


def summarize(samples: Sequence[float]) -> dict[str, float]:
    """Median, quartiles, min and max of ``samples``."""
    ordered = sorted(samples)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {
        "median": statistics.median(ordered),
        "p25": q1,
        "p75": q3,
        "min": ordered[0],
        "max": ordered[-1],
        "n": len(ordered),
    }


def format_ratio(summary: dict[str, float]) -> str:
    """A ratio summary as ``1.23x [1.10-1.40]``: median, then quartiles."""
    return f"{summary['median']:.2f}x [{summary['p25']:.2f}-{summary['p75']:.2f}]"


def paired_ratios(samples: Sequence[float], baseline: Sequence[float]) -> list[float]:
    """Per-round ratios ``samples[i] / baseline[i]``."""
    return [a / b for a, b in zip(samples, baseline, strict=True)]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _wrk_version() -> str | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).splitlines()
    return first[0].split(" [")[0] if first else None


def _module_name() -> str:
    """``benchmarks.inprocess`` for ``python -m benchmarks.inprocess`` (no local paths)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return spec.name if spec is not None else Path(sys.argv[0]).stem


def machine() -> dict[str, Any]:
    """Describe the machine and software a run measured, and when."""
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    versions["wrk"] = _wrk_version()
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "load_average_at_start": [round(x, 2) for x in load],
        "versions": versions,
        "command": " ".join(["python -m", _module_name(), *sys.argv[1:]]),
    }


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, columns padded so it also reads well in a terminal."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def write_results(kind: str, data: dict[str, Any], snapshot: Path | None = None) -> Path:
    """Write ``data`` to ``results/<kind>-<timestamp>.json`` (and ``snapshot`` if given)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(data, indent=2) + "\n"
    path = RESULTS_DIR / f"{kind}-{stamp}.json"
    path.write_text(text, encoding="utf-8")
    if snapshot is not None:
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(text, encoding="utf-8")
    return path
