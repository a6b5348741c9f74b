"""Was the machine quiet? The load and a calibration, recorded around every benchmark run.

A benchmark on a shared machine can be off by a factor of three without looking wrong: the
ratios stay plausible while every absolute number is inflated, and the ratios themselves
drift because the other work slows some code (cache-hungry, allocation-heavy) more than
other code. So every run records, into its results JSON and its snapshot:

* **the load**: the 1-minute load average at the start and at the end, and the CPU time
  *other* processes used during the run, as a share of the machine's CPU time: the whole
  machine's busy time from ``/proc/stat`` minus this process's own (``/proc/self/stat``,
  with the children it started and waited for, e.g. uvicorn and ``wrk``);
* **a calibration**: a fixed pure-Python workload timed (thread CPU time, median of a few
  repetitions) before and after the run. If the two differ a lot, the machine changed under
  the run; if either is much slower than the calibration this machine recorded when it was
  quiet (``benchmarks/latest/calibration.json``), the machine is busy even though the load
  does not show it (another virtual machine on the same host, a neighbour on the same cores).

:func:`verdict` turns those numbers into the reasons a run was busy, against the thresholds
below; ``--snapshot`` refuses to write a busy run (exit status 3) unless ``--allow-busy``
is given, which writes it marked ``"busy": true``; ``benchmarks.report`` refuses to publish
such a snapshot. Outside Linux the ``/proc`` numbers are recorded as ``None`` (not measured).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.stats import write_results

__all__ = [
    "BUSY_EXIT",
    "DRIFT_LIMIT",
    "LOAD_PER_CORE",
    "OTHERS_LIMIT",
    "QUIET_LIMIT",
    "REFERENCE",
    "CpuTimes",
    "Guard",
    "calibrate",
    "describe",
    "machine_key",
    "others_share",
    "publish",
    "quiet_reference",
    "read_cpu",
    "record_quiet",
    "refusal",
    "refuse_early",
    "verdict",
]

LOAD_PER_CORE = 0.5
"""Busy when the 1-minute load average at the start exceeds this many runnable tasks per core."""
OTHERS_LIMIT = 0.10
"""Busy when other processes used more than this share of the machine's CPU time (all cores)."""
DRIFT_LIMIT = 0.10
"""Busy when the calibration after the run differs from the one before by more than this."""
QUIET_LIMIT = 0.15
"""Busy when a calibration is this much slower than the machine's recorded quiet one."""
BUSY_EXIT = 3
"""Exit status of ``--snapshot`` refusing a busy run (and of ``benchmarks.report`` refusing it)."""
REFERENCE = Path(__file__).resolve().parent / "latest" / "calibration.json"
"""The calibration each machine measured when it was quiet, written with a quiet snapshot."""
REPEATS = 7
"""Repetitions of the calibration workload; their median is the calibration."""


def _workload() -> int:
    """A fixed pure-Python workload (dicts, strings, a sort): about 10 ms on a 2.8 GHz core."""
    table: dict[str, int] = {}
    total = 0
    for i in range(60_000):
        key = f"k{i % 997}"
        table[key] = table.get(key, 0) + i
        total += len(key)
    return total + len("".join(sorted(table, key=table.__getitem__)))


def calibrate(repeats: int = REPEATS, work: Callable[[], object] = _workload) -> float:
    """Milliseconds of thread CPU time ``work`` takes: the median of ``repeats`` runs."""
    work()  # warm up
    samples = []
    for _ in range(repeats):
        started = time.thread_time()
        work()
        samples.append((time.thread_time() - started) * 1e3)
    return statistics.median(samples)


@dataclass(frozen=True)
class CpuTimes:
    """CPU seconds so far: the machine's busy and total time (all cores), and this process's."""

    busy: float
    total: float
    own: float


def read_cpu() -> CpuTimes | None:
    """The machine's and this process's CPU time from ``/proc`` (Linux), else ``None``.

    The process's own time counts the children it has waited for (``cutime``/``cstime``):
    servers and ``wrk`` runs of the over-the-wire benchmark are ours once they are reaped.
    """
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        with open("/proc/self/stat", encoding="ascii") as f:
            own = f.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal  # guest time is inside user already
    return CpuTimes(
        busy=busy / tick,
        total=(busy + idle + iowait) / tick,
        own=sum(int(x) for x in own[11:15]) / tick,
    )


def others_share(before: CpuTimes, after: CpuTimes, extra_own: float = 0.0) -> float:
    """Share of the machine's CPU time (0-1) that processes other than ours used in between.

    ``extra_own``: CPU seconds of another process that worked for the run (a local Redis).
    """
    total = after.total - before.total
    if total <= 0:
        return 0.0
    others = (after.busy - before.busy) - (after.own - before.own) - extra_own
    return min(1.0, max(0.0, others / total))


def _load1() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - not on Linux or macOS
        return None


def verdict(
    *,
    load_at_start: float | None,
    cores: int,
    others: float | None,
    before_ms: float | None,
    after_ms: float | None,
    quiet_ms: float | None,
) -> list[str]:
    """Why a run counts as busy, one reason per threshold crossed (none: quiet).

    ``None`` means not measured and is never a reason. ``quiet_ms`` is the calibration the
    machine recorded when it was quiet; a calibration faster than it is no reason.
    """
    reasons: list[str] = []
    limit = LOAD_PER_CORE * cores
    if load_at_start is not None and load_at_start > limit:
        reasons.append(
            f"1-minute load average {load_at_start:.2f} at the start "
            f"(limit {limit:.2f} on {cores} cores)"
        )
    if others is not None and others > OTHERS_LIMIT:
        reasons.append(
            f"other processes used {others:.0%} of the machine's CPU time during the run "
            f"(limit {OTHERS_LIMIT:.0%})"
        )
    if before_ms is not None and after_ms is not None:
        drift = after_ms / before_ms - 1
        if abs(drift) > DRIFT_LIMIT:
            reasons.append(
                f"the calibration changed by {drift:+.0%} during the run "
                f"({before_ms:.2f} -> {after_ms:.2f} ms, limit {DRIFT_LIMIT:.0%})"
            )
    if quiet_ms is not None:
        for when, ms in (("before", before_ms), ("after", after_ms)):
            if ms is not None and ms / quiet_ms - 1 > QUIET_LIMIT:
                reasons.append(
                    f"the calibration {when} the run took {ms:.2f} ms, {ms / quiet_ms - 1:+.0%} "
                    f"on this machine's quiet {quiet_ms:.2f} ms (limit +{QUIET_LIMIT:.0%})"
                )
    return reasons


def machine_key(machine: dict[str, Any]) -> str:
    """What a calibration is comparable across: CPU model, core count, Python."""
    return f"{machine['cpu']}, {machine['cores']} cores, {machine['python']}"


def quiet_reference(machine: dict[str, Any], path: Path = REFERENCE) -> float | None:
    """The calibration (ms) this machine recorded when it was quiet, if any."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entry = recorded.get("machines", {}).get(machine_key(machine))
    return float(entry["ms"]) if entry else None


def record_quiet(machine: dict[str, Any], ms: float, path: Path = REFERENCE) -> None:
    """Keep ``ms`` as the machine's quiet calibration if it is the fastest one recorded."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = {}
    machines = recorded.setdefault("machines", {})
    key = machine_key(machine)
    if key in machines and machines[key]["ms"] <= ms:
        return
    machines[key] = {"ms": round(ms, 3), "date": machine["date"]}
    recorded["about"] = (
        "Calibration of benchmarks/guard.py (ms of thread CPU time) measured by quiet snapshot "
        "runs, per machine: the fastest one is kept."
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n", encoding="utf-8")


class Guard:
    """The load and calibration of one run: :meth:`start` before it, :meth:`finish` after."""

    def __init__(self, machine: dict[str, Any], reference: Path = REFERENCE) -> None:
        self.machine = machine
        self.cores = int(machine["cores"] or 1)
        self.quiet_ms = quiet_reference(machine, reference)
        self.load_at_start = _load1()
        self.before_ms = calibrate()
        self.cpu = read_cpu()
        self.started = time.perf_counter()

    @classmethod
    def start(cls, machine: dict[str, Any]) -> Guard:
        """Calibrate and read the load now, before the run."""
        return cls(machine)

    def early_reasons(self) -> list[str]:
        """Why the machine is already busy before the run (load, calibration vs quiet)."""
        return verdict(
            load_at_start=self.load_at_start,
            cores=self.cores,
            others=None,
            before_ms=self.before_ms,
            after_ms=None,
            quiet_ms=self.quiet_ms,
        )

    def finish(self, extra_own: float = 0.0) -> dict[str, Any]:
        """Read the load, calibrate again; the record to put into the results JSON."""
        cpu = read_cpu()
        seconds = time.perf_counter() - self.started
        load_at_end = _load1()
        after_ms = calibrate()
        others = None
        if self.cpu is not None and cpu is not None:
            others = others_share(self.cpu, cpu, extra_own)
        reasons = verdict(
            load_at_start=self.load_at_start,
            cores=self.cores,
            others=others,
            before_ms=self.before_ms,
            after_ms=after_ms,
            quiet_ms=self.quiet_ms,
        )
        return {
            "load": {
                "load_average_1m": {"start": self.load_at_start, "end": load_at_end},
                "cores": self.cores,
                "others_cpu_share": None if others is None else round(others, 4),
                "seconds": round(seconds, 1),
            },
            "calibration": {
                "before_ms": round(self.before_ms, 3),
                "after_ms": round(after_ms, 3),
                "quiet_ms": self.quiet_ms,
            },
            "thresholds": {
                "load_per_core": LOAD_PER_CORE,
                "others_cpu_share": OTHERS_LIMIT,
                "calibration_drift": DRIFT_LIMIT,
                "slower_than_quiet": QUIET_LIMIT,
            },
            "busy": bool(reasons),
            "busy_reasons": reasons,
        }


def describe(results: dict[str, Any]) -> str:
    """One line on the machine's state during the run, for the terminal."""
    load, cal = results["load"], results["calibration"]
    others, start = load["others_cpu_share"], load["load_average_1m"]["start"]
    state = (
        f"load {'not measured' if start is None else f'{start:.2f}'} at start, other processes "
        f"{'not measured' if others is None else f'{others:.0%}'} of the CPU, calibration "
        f"{cal['before_ms']:.2f} -> {cal['after_ms']:.2f} ms"
        + ("" if cal["quiet_ms"] is None else f" (quiet: {cal['quiet_ms']:.2f} ms)")
    )
    if results["busy"]:
        return f"Machine BUSY ({state}): " + "; ".join(results["busy_reasons"])
    return f"Machine quiet ({state})."


def refusal(snapshot: Path, reasons: list[str], before: bool = False) -> str:
    """The message of ``--snapshot`` refusing a busy run."""
    when = "is busy before the run" if before else "was busy during the run"
    return (
        f"Not writing the snapshot {snapshot}: the machine {when}: {'; '.join(reasons)}.\n"
        "Measure again when the machine is quiet, or pass --allow-busy to write it marked "
        '"busy": true (benchmarks.report will not publish it).'
    )


def refuse_early(guard: Guard, snapshot: Path | None, allow_busy: bool) -> bool:
    """Before a ``--snapshot`` run: say so and return True when the machine is already busy."""
    if snapshot is None or allow_busy:
        return False
    reasons = guard.early_reasons()
    if reasons:
        print(refusal(snapshot, reasons, before=True), file=sys.stderr)
    return bool(reasons)


def publish(
    kind: str,
    results: dict[str, Any],
    snapshot: Path | None,
    allow_busy: bool,
    reference: Path = REFERENCE,
) -> tuple[int, Path]:
    """Write the results (and the snapshot unless the run was busy); the exit status and path.

    A quiet snapshot written beside ``reference`` (into ``benchmarks/latest/``) also offers
    its calibration as the machine's quiet one; snapshots written elsewhere do not.
    """
    print(f"\n{describe(results)}")
    refused = snapshot is not None and results["busy"] and not allow_busy
    path = write_results(kind, results, None if refused else snapshot)
    if refused:
        assert snapshot is not None
        print(refusal(snapshot, results["busy_reasons"]), file=sys.stderr)
        return BUSY_EXIT, path
    if (
        snapshot is not None
        and not results["busy"]
        and snapshot.resolve().parent == reference.resolve().parent
    ):
        calibration = results["calibration"]
        fastest = min(calibration["before_ms"], calibration["after_ms"])
        record_quiet(results["machine"], fastest, reference)
    return 0, path
