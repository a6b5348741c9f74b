"""The busy-machine guard: its verdict from given numbers, what it records, what it refuses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from benchmarks import guard, inprocess, stats, wire
from benchmarks.guard import CpuTimes, Guard, verdict

MACHINE = {
    "date": "2026-12-02 12:00 UTC",
    "cpu": "Test CPU @ 2.80GHz",
    "cores": 2,
    "python": "CPython 3.11.7",
}
QUIET = {
    "load_at_start": 0.2,
    "cores": 2,
    "others": 0.02,
    "before_ms": 10.0,
    "after_ms": 10.3,
    "quiet_ms": 9.9,
}


def _verdict(**changes: Any) -> list[str]:
    return verdict(**{**QUIET, **changes})


def test_quiet_numbers_give_no_reason() -> None:
    """Low load, few other processes, a steady calibration near the quiet one: quiet."""
    assert _verdict() == []


def test_high_load_average_is_busy_and_named() -> None:
    """A 1-minute load above half a runnable task per core is a reason, with its value."""
    assert _verdict(load_at_start=1.2) == [
        "1-minute load average 1.20 at the start (limit 1.00 on 2 cores)"
    ]


def test_other_processes_cpu_is_busy_and_named() -> None:
    """Other processes using over 10% of the machine's CPU time is a reason, with the share."""
    (reason,) = _verdict(others=0.38)
    assert "other processes used 38%" in reason


def test_calibration_drift_during_the_run_is_busy() -> None:
    """A calibration after the run 20% slower than before it: the machine changed."""
    (reason,) = _verdict(before_ms=10.0, after_ms=12.0, quiet_ms=None)
    assert "changed by +20%" in reason


def test_calibration_slower_than_quiet_is_busy() -> None:
    """Both calibrations 30% slower than the machine's quiet one: busy, though steady."""
    reasons = _verdict(before_ms=13.0, after_ms=13.0, quiet_ms=10.0)
    assert len(reasons) == 2
    assert all("+30% on this machine's quiet 10.00 ms" in r for r in reasons)


def test_calibration_faster_than_quiet_is_no_reason() -> None:
    """Faster than the recorded quiet calibration is not a sign of a busy machine."""
    assert _verdict(before_ms=8.0, after_ms=8.1, quiet_ms=10.0) == []


def test_unmeasured_numbers_are_no_reason() -> None:
    """``None`` (no /proc, no reference yet) never makes a run busy."""
    none = dict.fromkeys(("load_at_start", "others", "before_ms", "after_ms", "quiet_ms"))
    assert verdict(cores=2, **none) == []


def test_others_share_subtracts_our_own_time() -> None:
    """Of 20 CPU seconds, 10 busy of which 4 ours and 1 a helper's: others used 25%."""
    before = CpuTimes(busy=100.0, total=400.0, own=50.0)
    after = CpuTimes(busy=110.0, total=420.0, own=54.0)
    assert guard.others_share(before, after) == pytest.approx(0.30)
    assert guard.others_share(before, after, extra_own=1.0) == pytest.approx(0.25)


def test_others_share_is_never_negative() -> None:
    """Tick rounding can make our own time exceed the machine's: the share is clipped to 0."""
    before = CpuTimes(busy=10.0, total=40.0, own=5.0)
    after = CpuTimes(busy=11.0, total=42.0, own=6.5)
    assert guard.others_share(before, after) == 0.0


def test_read_cpu_reads_proc() -> None:
    """On Linux the machine's busy time is within its total, and this process used some."""
    times = guard.read_cpu()
    assert times is not None
    assert 0 < times.busy <= times.total
    assert times.own > 0


def test_calibrate_is_the_median_of_repeats() -> None:
    """The calibration times the workload ``repeats`` times and reports a positive median."""
    calls: list[int] = []
    assert guard.calibrate(3, lambda: calls.append(1)) >= 0.0
    assert len(calls) == 4  # a warm-up, then three timed runs


def test_record_quiet_keeps_the_fastest(tmp_path: Path) -> None:
    """The machine's quiet reference is the fastest calibration a quiet snapshot recorded."""
    reference = tmp_path / "calibration.json"
    guard.record_quiet(MACHINE, 10.0, reference)
    guard.record_quiet(MACHINE, 11.0, reference)
    assert guard.quiet_reference(MACHINE, reference) == 10.0
    guard.record_quiet(MACHINE, 9.5, reference)
    assert guard.quiet_reference(MACHINE, reference) == 9.5
    assert guard.quiet_reference({**MACHINE, "cpu": "Other CPU"}, reference) is None


def _record(monkeypatch: pytest.MonkeyPatch, load: float, ms: float = 10.0) -> dict[str, Any]:
    """The guard's record of a run, with a fixed load average and calibration."""
    monkeypatch.setattr(guard, "_load1", lambda: load)
    monkeypatch.setattr(guard, "calibrate", lambda: ms)
    return {"kind": "test", "machine": MACHINE, **Guard(MACHINE).finish()}


@pytest.fixture
def results_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Results JSON files go to a temporary directory."""
    monkeypatch.setattr(stats, "RESULTS_DIR", tmp_path / "results")
    return tmp_path / "results"


def test_record_carries_load_and_calibration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every results JSON holds the load, the calibration, the thresholds and the verdict."""
    record = _record(monkeypatch, 0.25)
    assert record["load"]["load_average_1m"] == {"start": 0.25, "end": 0.25}
    assert 0.0 <= record["load"]["others_cpu_share"] <= 1.0
    assert record["calibration"] == {"before_ms": 10.0, "after_ms": 10.0, "quiet_ms": None}
    assert record["thresholds"]["others_cpu_share"] == guard.OTHERS_LIMIT
    assert isinstance(record["busy"], bool)


def test_busy_snapshot_is_refused(
    monkeypatch: pytest.MonkeyPatch,
    results_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A busy run is not written as a snapshot: exit 3, the measured load named."""
    snapshot = tmp_path / "snap.json"
    status, path = guard.publish("test", _record(monkeypatch, 7.5), snapshot, allow_busy=False)
    assert status == guard.BUSY_EXIT
    assert not snapshot.exists()
    assert path.parent == results_dir
    assert json.loads(path.read_text())["busy"] is True
    assert "1-minute load average 7.50" in capsys.readouterr().err


def test_allow_busy_writes_the_snapshot_marked_busy(
    monkeypatch: pytest.MonkeyPatch, results_dir: Path, tmp_path: Path
) -> None:
    """``--allow-busy`` writes the snapshot, with ``"busy": true`` and the reasons."""
    snapshot = tmp_path / "snap.json"
    status, _ = guard.publish("test", _record(monkeypatch, 7.5), snapshot, allow_busy=True)
    assert status == 0
    written = json.loads(snapshot.read_text())
    assert written["busy"] is True
    assert written["busy_reasons"]
    assert written["load"]["load_average_1m"]["start"] == 7.5


def test_quiet_snapshot_beside_the_reference_records_its_calibration(
    monkeypatch: pytest.MonkeyPatch, results_dir: Path, tmp_path: Path
) -> None:
    """A quiet snapshot into the reference's directory makes its calibration the quiet one."""
    record = _record(monkeypatch, 0.0, ms=9.0)
    record.update(busy=False, busy_reasons=[])  # whatever the shared test machine is doing
    reference = tmp_path / "latest" / "calibration.json"
    elsewhere = tmp_path / "elsewhere" / "snap.json"
    status, _ = guard.publish("test", record, elsewhere, False, reference)
    assert status == 0
    assert elsewhere.exists()
    assert not reference.exists()
    status, _ = guard.publish("test", record, reference.with_name("snap.json"), False, reference)
    assert status == 0
    assert guard.quiet_reference(MACHINE, reference) == 9.0


@pytest.mark.parametrize("module", [inprocess, wire], ids=lambda m: m.__name__)
def test_snapshot_run_stops_before_measuring_on_a_busy_machine(
    module: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With ``--snapshot``, a load already too high stops the run at once with exit 3."""
    monkeypatch.setattr(guard, "_load1", lambda: 9.0)
    monkeypatch.setattr(guard, "calibrate", lambda: 10.0)
    # The refusal comes before wrk is ever run: the test needs no wrk installed.
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(stats, "_wrk_version", lambda: None)
    snapshot = tmp_path / "snap.json"
    assert module.main(["--quick", "--only", "tiny", "--snapshot", str(snapshot)]) == 3
    assert not snapshot.exists()
    err = capsys.readouterr().err
    assert "is busy before the run: 1-minute load average 9.00" in err


def test_closing_line_says_busy_and_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """The line a run ends with names the verdict, the measured load and the reasons."""
    line = guard.describe(_record(monkeypatch, 4.0))
    assert line.startswith("Machine BUSY (load 4.00 at start")
    assert "1-minute load average 4.00 at the start (limit 1.00 on 2 cores)" in line


def test_closing_line_of_a_quiet_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quiet run's line says so, with its calibration before and after."""
    record = {**_record(monkeypatch, 0.1), "busy": False, "busy_reasons": []}
    line = guard.describe(record)
    assert line.startswith("Machine quiet (load 0.10 at start")
    assert "calibration 10.00 -> 10.00 ms" in line
