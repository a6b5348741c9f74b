"""The benchmark suite's apps answer what they claim, and its parsers read what tools print."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from benchmarks import inprocess, keys, report, stateful, wire
from benchmarks.stats import paired_ratios, summarize
from benchmarks.variants import SIZES, VARIANTS, payload_bytes
from tests.support.redis_server import ClusterServers, SentinelServers

WRK_OUTPUT = """\
Running 2s test @ http://127.0.0.1:40787/payload
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.75ms  512.33us  12.01ms   91.20%
    Req/Sec    18.41k     1.02k   19.60k    80.00%
  Latency Distribution
     50%    1.70ms
     75%    1.82ms
     90%    2.01ms
     99%  950.00us
  36645 requests in 2.00s, 8.98MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
Requests/sec:  18322.50
Transfer/sec:      4.49MB
"""


def test_parse_wrk_reads_rate_latency_and_errors() -> None:
    """Requests/s, p50/p99 in ms (whatever unit wrk used), request count, socket errors."""
    parsed = wire.parse_wrk(WRK_OUTPUT)
    assert parsed == pytest.approx(
        {"rps": 18322.5, "requests": 36645.0, "p50": 1.70, "p99": 0.95, "socket_errors": 3.0}
    )


def test_parse_wrk_refuses_output_without_a_rate() -> None:
    """Output that is not a wrk report is an error, not a zero."""
    with pytest.raises(RuntimeError):
        wire.parse_wrk("connection refused")


def test_paired_ratios_and_summary() -> None:
    """Ratios are taken round by round; the summary gives median and quartiles."""
    ratios = paired_ratios([2.0, 3.0, 5.0], [1.0, 2.0, 4.0])
    assert ratios == [2.0, 1.5, 1.25]
    summary = summarize(ratios)
    assert summary["median"] == 1.5
    assert summary["min"] == 1.25
    assert summary["max"] == 2.0


def test_payload_sizes_are_as_named() -> None:
    """Each payload serialises to within 10% of its nominal size (tiny: under 200 B)."""
    assert len(payload_bytes("tiny")) < 200
    for size in ("10k", "1m"):
        assert abs(len(payload_bytes(size)) - SIZES[size]) < SIZES[size] / 10


@pytest.mark.parametrize("group", [g for g in inprocess.GROUPS if g.name != "1m"], ids=str)
def test_every_benchmarked_app_answers_as_claimed(group: inprocess.Group) -> None:
    """Each case's app answers its status, and envelopes where it claims to (else exit)."""
    loop = asyncio.new_event_loop()
    try:
        with inprocess.group_context(group):
            for case in group.cases:
                inprocess._check(case, case.build(), loop)
    finally:
        loop.close()


def test_every_variant_is_in_a_group() -> None:
    """No variant is defined and never measured."""
    measured = {c.variant for g in inprocess.GROUPS for c in g.cases}
    assert set(VARIANTS) <= measured


@pytest.mark.redis
def test_stateful_benchmark_measures_every_case(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One short round of ``benchmarks.stateful`` checks each app and prints every variant."""
    snapshot = tmp_path / "stateful.json"
    argv = ["--rounds", "1", "--batch-ms", "2", "--redis-url", redis_url]
    assert stateful.main([*argv, "--snapshot", str(snapshot), "--allow-busy"]) == 0
    printed = capsys.readouterr().out
    for title, _ in stateful.GROUPS.values():
        assert title in printed
    assert "rate limit, redis://" in printed
    assert "accept + status, redis://" in printed
    written = json.loads(snapshot.read_text())
    assert {"load", "calibration", "busy", "busy_reasons"} <= written.keys()
    assert written["load"]["redis_cpu_seconds"] > 0  # the local Redis's time counts as ours


def test_remote_redis_cpu_is_not_ours() -> None:
    """A Redis on another host uses that host's CPU: nothing to subtract from the load."""
    assert stateful.redis_cpu_seconds("redis://10.0.0.1:6379/0") is None


@pytest.mark.redis
def test_stateful_benchmark_measures_every_topology(
    redis_url: str,
    redis_sentinel: SentinelServers,
    redis_cluster: ClusterServers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Given Sentinel and Cluster URLs, both groups also measure those topologies."""
    urls = ["--sentinel-url", redis_sentinel.url, "--cluster-url", redis_cluster.url]
    assert stateful.main(["--rounds", "1", "--batch-ms", "2", "--redis-url", redis_url, *urls]) == 0
    printed = capsys.readouterr().out
    assert "rate limit, redis+sentinel://" in printed
    assert "rate limit, redis+cluster://" in printed
    assert "accept + status, redis+sentinel:// (WAIT 1)" in printed
    assert "accept + status, redis+cluster://" in printed


def test_stateful_benchmark_needs_a_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a Redis URL the stateful benchmark exits with status 2 and says why."""
    monkeypatch.delenv("OPSGENIE_ENVELOPE_REDIS_URL", raising=False)
    assert stateful.main([]) == 2


def test_performance_page_is_generated_from_the_snapshots() -> None:
    """The docs' Performance page is what ``benchmarks.report`` makes of benchmarks/latest."""
    assert report.main(["--check", str(report.PAGE)]) == 0


def test_stale_performance_page_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A page that differs from the snapshots fails the check, naming the command to run."""
    stale = tmp_path / "performance.md"
    stale.write_text(
        report.PAGE.read_text(encoding="utf-8").replace(
            "**EnvelopeMiddleware**", "EnvelopeMiddleware", 1
        )
    )
    assert report.main(["--check", str(stale)]) == 1
    assert report.PAGE_COMMAND in capsys.readouterr().out


def test_keys_benchmark_measures_every_variant(capsys: pytest.CaptureFixture[str]) -> None:
    """A tiny flood through ``benchmarks.keys`` prints a ratio for every variant."""
    assert keys.main(["--quick", "--flood", "50"]) == 0
    printed = capsys.readouterr().out
    for variant in keys.VARIANTS:
        assert variant in printed
