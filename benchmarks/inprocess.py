"""In-process benchmark: the ASGI apps of ``variants.py`` driven directly, side by side.

Each group compares variants against the group's first case (its baseline). Variants run
interleaved in rounds (A B C, B C A, C A B, ...), each round timing a batch of requests per
variant; the table shows the median time per request and the median of the per-round
ratios to the baseline. Peak memory of a streamed JSON body is measured with tracemalloc.

Time is the CPU time of the benchmark's thread (``time.thread_time``) by default: on a busy
machine, time spent waiting for a core while another process runs is not counted, which
makes runs far steadier than wall-clock time (``--clock wall``). Every request here runs
on that one thread, so the two agree on an idle machine.

Run from the repository root::

    python -m benchmarks.inprocess            # full run, about 90 s
    python -m benchmarks.inprocess --quick    # smoke run, well under a minute
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import re
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from starlette.types import ASGIApp

from benchmarks import driver
from benchmarks.driver import make_scope, run_batch, run_once
from benchmarks.guard import BUSY_EXIT, Guard, publish, refuse_early
from benchmarks.stats import (
    format_ratio,
    machine,
    markdown_table,
    paired_ratios,
    summarize,
)
from benchmarks.variants import CHUNK, COMPARED, PATH, SIZES, VARIANTS, build, stream_app

__all__ = ["GROUPS", "TARGETS", "group_context", "main"]


@dataclass(frozen=True)
class Case:
    """One variant at one payload size; ``raw``: the handler answers pre-serialised bytes."""

    variant: str
    size: str = "tiny"
    raw: bool = False

    @property
    def key(self) -> str:
        """A stable name for tables and JSON, e.g. ``ours@10k`` or ``bare@1m-raw``."""
        return f"{self.variant}@{self.size}{'-raw' if self.raw else ''}"

    @property
    def streamed(self) -> bool:
        """Whether the case streams its body in chunks."""
        return self.variant.startswith("stream-")

    def label(self) -> str:
        """What the case is, in words."""
        if self.streamed:
            return "bare Starlette" if self.variant == "stream-bare" else "EnvelopeMiddleware"
        return VARIANTS[self.variant].label

    def build(self) -> ASGIApp:
        """Build the app of the case."""
        if self.streamed:
            return stream_app(SIZES[self.size], self.variant == "stream-ours")
        return build(self.variant, self.size, self.raw)

    def path(self) -> str:
        """The path to request."""
        return PATH if self.streamed else VARIANTS[self.variant].path


@dataclass(frozen=True)
class Group:
    """Cases compared side by side; the first is the baseline of every ratio."""

    name: str
    title: str
    cases: tuple[Case, ...]
    quick: bool = True


GROUPS: tuple[Group, ...] = (
    Group(
        "tiny",
        "~100 B JSON, Starlette",
        tuple(Case(v) for v in COMPARED),
    ),
    Group("error", "error path (404), Starlette", (Case("error-bare"), Case("error-ours"))),
    Group("fastapi", "~100 B JSON, FastAPI", (Case("fastapi-bare"), Case("fastapi-ours"))),
    Group(
        "10k",
        "10 KB JSON (JSONResponse)",
        tuple(Case(v, "10k") for v in ("bare", "ours", "basehttp", "handler")),
    ),
    Group(
        "1m",
        "1 MB JSON (JSONResponse)",
        tuple(Case(v, "1m") for v in ("bare", "ours", "basehttp", "handler")),
    ),
    Group(
        "10k-raw",
        "10 KB pre-serialised JSON bytes",
        (Case("bare", "10k", raw=True), Case("ours", "10k", raw=True)),
        quick=False,
    ),
    Group(
        "1m-raw",
        "1 MB pre-serialised JSON bytes",
        (Case("bare", "1m", raw=True), Case("ours", "1m", raw=True)),
        quick=False,
    ),
    Group(
        "stream",
        "1 MB JSON streamed in 64 KB chunks",
        (Case("stream-bare", "1m"), Case("stream-ours", "1m")),
        quick=False,
    ),
    Group(
        "otel",
        "OpenTelemetry integration, ~100 B",
        (Case("otel-off"), Case("otel-on"), Case("otel-ids")),
    ),
    Group("sentry", "Sentry integration, ~100 B", (Case("sentry-off"), Case("sentry-on"))),
    Group(
        "structlog",
        "structlog processor, one event per request",
        (Case("structlog-off"), Case("structlog-on")),
    ),
)


@dataclass(frozen=True)
class Target:
    """A published target: the median ratio of ``case`` in ``group`` is at most ``limit``."""

    name: str
    group: str
    case: str
    limit: float


TARGETS: tuple[Target, ...] = (
    Target("ours vs bare Starlette, ~100 B", "tiny", "ours@tiny", 1.30),
    Target("error path: ours vs Starlette exception handler", "error", "error-ours@tiny", 1.10),
    Target("FastAPI + ours vs bare FastAPI", "fastapi", "fastapi-ours@tiny", 1.10),
    Target("ours vs bare, 10 KB", "10k", "ours@10k", 1.05),
    Target("ours vs bare, 1 MB", "1m", "ours@1m", 1.01),
)

_ENVELOPED = {"ours", "fastapi-ours", "handler", "basehttp", "minimal", "stream-ours"} | {
    name for name in VARIANTS if name.split("-")[0] in ("otel", "sentry", "structlog")
}


_TRACE_ID = re.compile(rb"[0-9a-f]{32}-[0-9a-f]{16}")


@contextlib.contextmanager
def group_context(group: Group) -> Iterator[None]:
    """Enter what the group's variants need around them (e.g. an active Sentry client)."""
    with contextlib.ExitStack() as stack:
        contexts = {VARIANTS[c.variant].context for c in group.cases if not c.streamed}
        for context in contexts:
            if context is not None:
                stack.enter_context(context())
        yield


def _check(case: Case, app: ASGIApp, loop: asyncio.AbstractEventLoop) -> None:
    """Serve one request and check it answers what the variant claims (else exit)."""
    sent = loop.run_until_complete(run_once(app, make_scope(case.path()), case.streamed))
    expected = 404 if case.variant.startswith("error-") else 200
    problems: list[str] = []
    if sent.status != expected:
        problems.append(f"status {sent.status}, expected {expected}")
    try:
        body = orjson.loads(bytes(sent.body))
    except orjson.JSONDecodeError:
        problems.append("body is not JSON")
        body = None
    if case.variant in _ENVELOPED or case.variant == "error-ours":
        rid = sent.header(b"x-request-id")
        if not isinstance(body, dict) or rid is None or body.get("requestId") != rid.decode():
            problems.append("no envelope with a requestId matching X-Request-ID")
        elif case.variant != "error-ours" and "data" not in body:
            problems.append("no data key")
    if case.variant == "correlation" and sent.header(b"x-request-id") is None:
        problems.append("no X-Request-ID")
    if case.variant == "otel-ids" and not _TRACE_ID.fullmatch(sent.header(b"x-request-id") or b""):
        problems.append("X-Request-ID is not <trace id>-<span id>")
    if problems:
        sys.exit(f"{case.key}: {'; '.join(problems)}")


CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.thread_time, "wall": time.perf_counter}
_clock = time.thread_time


def _time(
    loop: asyncio.AbstractEventLoop, app: ASGIApp, template: dict[str, Any], n: int, blocking: bool
) -> float:
    """Microseconds per request over a batch of ``n``."""
    gc.collect()
    started = _clock()
    loop.run_until_complete(run_batch(app, template, n, blocking))
    return (_clock() - started) / n * 1e6


def run_group(
    group: Group,
    loop: asyncio.AbstractEventLoop,
    rounds: int,
    batch_seconds: float,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Time every case of ``group`` in interleaved rounds; return samples and summaries.

    Run it inside :func:`group_context`.
    """
    apps = {case.key: case.build() for case in group.cases}
    templates = {case.key: make_scope(case.path()) for case in group.cases}
    sizes: dict[str, int] = {}
    for case in group.cases:
        app, template = apps[case.key], templates[case.key]
        _check(case, app, loop)
        _time(loop, app, template, 3, case.streamed)  # warm up
        probe = _time(loop, app, template, 20, case.streamed)
        sizes[case.key] = max(3, min(200_000, int(batch_seconds * 1e6 / probe)))
    samples: dict[str, list[float]] = {case.key: [] for case in group.cases}
    for i in range(rounds):
        progress(f"{group.name}: round {i + 1}/{rounds}")
        # Interleaved, and each round starts one case later (A B C, B C A, C A B, ...): no
        # variant always runs first, right after a different workload.
        shift = i % len(group.cases)
        for case in group.cases[shift:] + group.cases[:shift]:
            samples[case.key].append(
                _time(loop, apps[case.key], templates[case.key], sizes[case.key], case.streamed)
            )
    base = group.cases[0].key
    base_median = summarize(samples[base])["median"]
    cases = []
    for case in group.cases:
        summary = summarize(samples[case.key])
        cases.append(
            {
                "key": case.key,
                "variant": case.variant,
                "label": case.label(),
                "size": case.size,
                "raw": case.raw,
                "batch": sizes[case.key],
                "us_per_request": summary,
                "overhead_us": summary["median"] - base_median,
                "ratio": summarize(paired_ratios(samples[case.key], samples[base])),
                "samples_us": samples[case.key],
            }
        )
    return {"name": group.name, "title": group.title, "baseline": base, "cases": cases}


def stream_peak(total: int, ours: bool, loop: asyncio.AbstractEventLoop) -> int:
    """Peak bytes allocated (tracemalloc) while one ``total``-byte JSON stream is served."""
    app = stream_app(total, ours)
    template = make_scope(PATH)
    loop.run_until_complete(run_batch(app, template, 1, blocking=True))  # build the stack
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline, _ = tracemalloc.get_traced_memory()
        loop.run_until_complete(run_batch(app, template, 1, blocking=True))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - baseline


def run_memory(loop: asyncio.AbstractEventLoop, sizes_mb: tuple[int, int]) -> dict[str, Any]:
    """Peak memory of a small and a large stream, bare and through the middleware."""
    small, large = sizes_mb
    peaks: dict[str, dict[str, int]] = {}
    for name, ours in (("bare", False), ("ours", True)):
        peaks[name] = {
            f"{mb}MB": stream_peak(mb * 1024 * 1024, ours, loop) for mb in (small, large)
        }
    growth = peaks["ours"][f"{large}MB"] - peaks["ours"][f"{small}MB"]
    return {
        "chunk_bytes": CHUNK,
        "sizes_mb": [small, large],
        "peak_bytes": peaks,
        "ours_growth_bytes": growth,
        "met": growth < CHUNK,
    }


def _fmt_us(us: float) -> str:
    return f"{us:,.1f}" if us < 1000 else f"{us:,.0f}"


def _fmt_target(target: dict[str, Any]) -> tuple[str, str]:
    if target.get("unit") == "bytes":
        return f"< {target['limit'] / 1024:,.0f} KiB", f"{target['measured'] / 1024:+,.1f} KiB"
    sign = "<" if target.get("strict") else "<="
    return f"{sign} {target['limit']:.2f}x", f"{target['measured']:.2f}x"


def render(results: dict[str, Any]) -> str:
    """The result tables and the targets, as Markdown."""
    rows: list[list[str]] = []
    for group in results["groups"]:
        for case in group["cases"]:
            base = case["key"] == group["baseline"]
            rows.append(
                [
                    group["title"],
                    case["label"],
                    _fmt_us(case["us_per_request"]["median"]),
                    "1.00 (baseline)" if base else format_ratio(case["ratio"]),
                    "" if base else f"{case['overhead_us']:+,.1f}",
                ]
            )
    out = [
        markdown_table(
            ["group", "variant", "us/request (median)", "ratio [p25-p75]", "overhead us"], rows
        )
    ]
    memory = results.get("memory")
    if memory:
        small, large = memory["sizes_mb"]
        mem_rows = [
            [
                name,
                f"{peaks[f'{small}MB'] / 1024:,.0f}",
                f"{peaks[f'{large}MB'] / 1024:,.0f}",
            ]
            for name, peaks in memory["peak_bytes"].items()
        ]
        out.append("")
        out.append(
            f"Peak memory (tracemalloc) while one JSON body streams in {CHUNK // 1024} KB chunks:"
        )
        out.append(
            markdown_table(
                ["variant", f"{small} MB stream, KiB", f"{large} MB stream, KiB"], mem_rows
            )
        )
    out.append("")
    out.append("Targets:")
    target_rows = [
        [t["name"], *_fmt_target(t), "met" if t["met"] else "NOT met"] for t in results["targets"]
    ]
    out.append(markdown_table(["target", "limit", "measured (median)", ""], target_rows))
    return "\n".join(out)


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each published target against the measured median ratio."""
    by_group = {g["name"]: g for g in results["groups"]}
    targets: list[dict[str, Any]] = []
    for target in TARGETS:
        group = by_group.get(target.group)
        if group is None:
            continue
        case = next(c for c in group["cases"] if c["key"] == target.case)
        measured = case["ratio"]["median"]
        targets.append(
            {
                "name": target.name,
                "limit": target.limit,
                "measured": measured,
                "met": measured <= target.limit,
            }
        )
    tiny = by_group.get("tiny")
    if tiny is not None:
        ratios = {c["variant"]: c["ratio"]["median"] for c in tiny["cases"]}
        for rival in ("correlation", "basehttp", "handler"):
            targets.append(
                {
                    "name": f"ours below {VARIANTS[rival].label}, ~100 B",
                    "limit": ratios[rival],
                    "measured": ratios["ours"],
                    "met": ratios["ours"] < ratios[rival],
                    "strict": True,
                }
            )
    return targets


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table; write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few short rounds: a smoke run")
    parser.add_argument("--rounds", type=int, help="rounds per group (default 31, quick 5)")
    parser.add_argument(
        "--batch-ms", type=float, help="time per batch in ms (default 100, quick 20)"
    )
    parser.add_argument(
        "--only", help="comma-separated group names: " + ",".join(g.name for g in GROUPS)
    )
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="cpu", help="thread CPU time (default) or wall"
    )
    parser.add_argument(
        "--tasks",
        action="store_true",
        help="serve each request in its own asyncio task, as servers do (default: await it)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the streamed-memory check")
    parser.add_argument("--snapshot", type=Path, help="also write the JSON to this path")
    parser.add_argument(
        "--allow-busy",
        action="store_true",
        help='write the snapshot even when the machine was busy, marked "busy": true',
    )
    args = parser.parse_args(argv)
    rounds: int = args.rounds or (5 if args.quick else 31)
    batch_ms: float = args.batch_ms or (20.0 if args.quick else 100.0)
    if rounds < 1 or batch_ms <= 0:
        parser.error("--rounds and --batch-ms must be positive")
    global _clock
    _clock = CLOCKS[args.clock]
    driver.TASKS = args.tasks
    only = set(args.only.split(",")) if args.only else None
    groups = [g for g in GROUPS if (only is None or g.name in only) and (g.quick or not args.quick)]
    if only is not None and len(groups) != len(only):
        parser.error(f"unknown group in --only; groups: {', '.join(g.name for g in GROUPS)}")

    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        loop_name = "uvloop"
    except ImportError:  # pragma: no cover
        loop = asyncio.new_event_loop()
        loop_name = "asyncio"

    def progress(text: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{text:<60}", end="", file=sys.stderr, flush=True)

    described = machine()
    guard = Guard.start(described)
    if refuse_early(guard, args.snapshot, args.allow_busy):
        loop.close()
        return BUSY_EXIT
    results: dict[str, Any] = {
        "kind": "inprocess",
        "machine": described,
        "settings": {
            "quick": args.quick,
            "rounds": rounds,
            "batch_ms": batch_ms,
            "loop": loop_name,
            "clock": args.clock,
            "per_request_task": args.tasks,
        },
        "groups": [],
    }
    started = time.perf_counter()
    try:
        for group in groups:
            with group_context(group):
                results["groups"].append(run_group(group, loop, rounds, batch_ms / 1000, progress))
        if not args.no_memory and (only is None or "stream" in only):
            progress("memory: streams")
            results["memory"] = run_memory(loop, (1, 8) if args.quick else (1, 32))
    finally:
        loop.close()
        progress("")
    results["seconds"] = round(time.perf_counter() - started, 1)
    results.update(guard.finish())
    results["targets"] = evaluate(results)
    if "memory" in results:
        mem = results["memory"]
        small, large = mem["sizes_mb"]
        results["targets"].append(
            {
                "name": f"streamed peak memory, {large} MB vs {small} MB (growth < one chunk)",
                "limit": float(CHUNK),
                "measured": float(mem["ours_growth_bytes"]),
                "met": mem["met"],
                "unit": "bytes",
            }
        )
    print(render(results))
    status, path = publish("inprocess", results, args.snapshot, args.allow_busy)
    print(f"\n{results['seconds']} s; JSON: {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
