"""The instruction-count benchmark: what callgrind runs, how its profiles are read."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks import instructions
from tests.support.processes import free_port


def test_inner_run_serves_each_variant_in_one_reduce(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process valgrind runs calls reduce() once per variant, around that variant's batch."""
    calls: list[int] = []
    real = functools.reduce

    def counting(function: Callable[..., Any], items: Any) -> Any:
        calls.append(1)
        return real(function, items)

    monkeypatch.setattr(functools, "reduce", counting)
    assert instructions.main(["--inner", "-n", "3", "bare@tiny", "ours@tiny"]) == 0
    assert len(calls) == 2


def test_read_counts_takes_the_last_profiles_in_numeric_order(tmp_path: Path) -> None:
    """Profile 12 comes after profile 9: the last ones are the variants', in order."""
    for part in range(1, 13):
        (tmp_path / f"cg.out.{part}").write_bytes(b"events: Ir\nsummary: %d\ntotals: 0\n" % part)
    assert instructions.read_counts(tmp_path, 3) == [10, 11, 12]


@pytest.mark.parametrize(
    ("key", "baseline"),
    [
        ("ours@tiny", "bare@tiny"),
        ("ours@10k", "bare@10k"),
        ("error-ours@tiny", "error-bare@tiny"),
        ("fastapi-ours@tiny", "fastapi-bare@tiny"),
        ("bare@tiny", "bare@tiny"),
    ],
)
def test_baseline_of(key: str, baseline: str) -> None:
    """Each variant is read against the baseline of its group."""
    assert instructions.baseline_of(key) == baseline


def test_without_valgrind_exits_2_and_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No valgrind on the PATH: status 2 and the install line, nothing run."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert instructions.main(["bare@tiny"]) == 2
    assert "apt-get install valgrind" in capsys.readouterr().err


def test_unknown_variant_is_refused() -> None:
    """A key that names no variant or size stops the run with a usage error."""
    with pytest.raises(SystemExit):
        instructions.main(["--inner", "nope@tiny"])


@pytest.fixture
def served_bare() -> Iterator[int]:
    """The ``bare`` variant served by uvicorn on a free 127.0.0.1 port, stopped by its PID."""
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.serve", "bare", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_drive_sends_each_request_over_one_connection(served_bare: int) -> None:
    """The ``--server`` client waits for the server, then gets ``n`` answers of 200."""
    instructions.drive(served_bare, "/payload", 5, wait=30)


def test_drive_refuses_an_answer_other_than_200(served_bare: int) -> None:
    """A counted request that is not answered 200 stops the count: it would measure an error."""
    with pytest.raises(RuntimeError, match="404"):
        instructions.drive(served_bare, "/nope", 1, wait=30)
