"""Over-the-wire benchmark: uvicorn servers on 127.0.0.1 loaded with ``wrk``, side by side.

Every variant gets its own uvicorn process (1 worker, httptools + uvloop, no access log),
all started up front and idle until their turn. Each compared server is loaded right next
to its baseline, alternating which goes first (A B, B A, A B, ...), one ``wrk`` run each;
ratios (requests/s, p50, p99) are taken within each such adjacent pair, and the median over
rounds is reported. The server's own CPU time per request (from ``/proc``, Linux only) is
reported beside them: unlike requests/s it does not drop when another process takes the
server's core, so it is the steadier cost on a busy machine.

Needs ``wrk`` (Debian/Ubuntu: ``sudo apt-get install wrk``; macOS: ``brew install wrk``).
Run from the repository root::

    python -m benchmarks.wire            # full run, about 8 minutes
    python -m benchmarks.wire --quick    # smoke run, under a minute

Every server started is stopped by its PID, also on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import orjson

from benchmarks.guard import BUSY_EXIT, Guard, publish, refuse_early
from benchmarks.stats import machine, markdown_table, paired_ratios, summarize
from benchmarks.variants import COMPARED, VARIANTS

__all__ = ["GROUPS", "TARGETS", "free_port", "main"]

HOST = "127.0.0.1"
WRK_MISSING = (
    "wrk is not installed. Install it, then run again:\n"
    "  Debian/Ubuntu: sudo apt-get install wrk\n"
    "  macOS:         brew install wrk"
)


@dataclass(frozen=True)
class Server:
    """One variant at one payload size, served by its own uvicorn process."""

    variant: str
    size: str = "tiny"

    @property
    def key(self) -> str:
        """A stable name for tables and JSON, e.g. ``ours@10k``."""
        return f"{self.variant}@{self.size}"


@dataclass(frozen=True)
class Group:
    """Servers compared side by side; the first is the baseline of every ratio."""

    name: str
    title: str
    servers: tuple[Server, ...]
    quick: tuple[str, ...] = ()
    """Variants kept in a ``--quick`` run (all when empty)."""


GROUPS: tuple[Group, ...] = (
    Group(
        "tiny",
        "~100 B JSON, Starlette",
        tuple(Server(v) for v in COMPARED),
        quick=("bare", "correlation", "ours"),
    ),
    Group("10k", "10 KB JSON, Starlette", (Server("bare", "10k"), Server("ours", "10k"))),
    Group("error", "error path (404), Starlette", (Server("error-bare"), Server("error-ours"))),
    Group("fastapi", "~100 B JSON, FastAPI", (Server("fastapi-bare"), Server("fastapi-ours"))),
)


@dataclass(frozen=True)
class Target:
    """A published target on a median per-round ratio."""

    name: str
    group: str
    server: str
    metric: str
    limit: float
    at_least: bool


TARGETS: tuple[Target, ...] = (
    Target("requests/s, ours vs bare, ~100 B", "tiny", "ours@tiny", "rps", 0.88, True),
    Target("requests/s, ours vs bare, 10 KB", "10k", "ours@10k", "rps", 0.95, True),
    Target("p99 latency, ours vs bare, ~100 B", "tiny", "ours@tiny", "p99", 1.30, False),
    Target("p99 latency, ours vs bare, 10 KB", "10k", "ours@10k", "p99", 1.30, False),
)

SATURATED = 0.9
"""Smallest share of a run a server must spend on the CPU for its requests/s to count."""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_LATENCY = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_REQUESTS = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)
_SOCKET_ERRORS = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.MULTILINE
)


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s, p50 and p99 latency (ms) and socket errors from ``wrk --latency`` output."""
    rps = _RPS.search(output)
    if rps is None:
        raise RuntimeError(f"could not read wrk output:\n{output}")
    result = {"rps": float(rps.group(1))}
    requests = _REQUESTS.search(output)
    result["requests"] = float(requests.group(1)) if requests else 0.0
    for pct, value, unit in _LATENCY.findall(output):
        result[f"p{pct}"] = float(value) * _UNITS[unit]
    errors = _SOCKET_ERRORS.search(output)
    result["socket_errors"] = float(sum(int(x) for x in errors.groups())) if errors else 0.0
    return result


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _get(port: int, path: str, timeout: float = 2.0) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


class Fleet:
    """The uvicorn processes of a run; each one is stopped by its PID."""

    def __init__(self, cpu: int | None) -> None:
        self.cpu = cpu
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}

    def start(self, server: Server) -> None:
        """Start ``server`` on a free port and wait (bounded) until it answers."""
        port = free_port()
        cmd = [sys.executable, "-m", "benchmarks.serve", server.variant]
        cmd += ["--size", server.size, "--port", str(port)]
        proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parent.parent)
        self.procs[server.key], self.ports[server.key] = proc, port
        if self.cpu is not None:
            os.sched_setaffinity(proc.pid, {self.cpu})
        path = VARIANTS[server.variant].path
        deadline = time.monotonic() + 20.0
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{server.key}: server exited with {proc.returncode}")
            try:
                _get(port, path, timeout=1.0)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{server.key}: no answer on port {port} after 20 s"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop every server by its PID: SIGTERM, then SIGKILL after 5 s."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@contextlib.contextmanager
def _fleet(cpu: int | None) -> Iterator[Fleet]:
    fleet = Fleet(cpu)

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield fleet
    finally:
        fleet.stop()
        signal.signal(signal.SIGTERM, previous)


def _check(server: Server, port: int) -> None:
    """One request: the server answers what its variant claims (else exit)."""
    status, headers, body = _get(port, VARIANTS[server.variant].path)
    expected = 404 if server.variant.startswith("error-") else 200
    problems = [] if status == expected else [f"status {status}, expected {expected}"]
    if server.variant.endswith("ours"):
        parsed = orjson.loads(body)
        if parsed.get("requestId") != headers.get("x-request-id"):
            problems.append("requestId does not match X-Request-ID")
    if problems:
        raise RuntimeError(f"{server.key}: {'; '.join(problems)}")


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``), else ``None``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(
    port: int, path: str, seconds: int, connections: int, pid: int | None = None
) -> dict[str, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    cmd += ["--timeout", "5s", f"http://{HOST}:{port}{path}"]
    cpu_before = _cpu_seconds(pid) if pid is not None else None
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=False)
    cpu_after = _cpu_seconds(pid) if pid is not None else None
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    result = parse_wrk(done.stdout)
    if cpu_before is not None and cpu_after is not None and result["requests"]:
        result["cpu_us"] = (cpu_after - cpu_before) / result["requests"] * 1e6
        result["busy"] = (cpu_after - cpu_before) / seconds
    return result


def _fmt(summary: dict[str, float], digits: int = 2) -> str:
    return (
        f"{summary['median']:.{digits}f}x [{summary['p25']:.{digits}f}-{summary['p75']:.{digits}f}]"
    )


def _verdict(target: dict[str, Any]) -> str:
    if target.get("saturated") is False:
        return "inconclusive: server not saturated"
    return "met" if target["met"] else "NOT met"


def render(results: dict[str, Any]) -> str:
    """The result table and the targets, as Markdown."""
    rows: list[list[str]] = []
    for group in results["groups"]:
        for s in group["servers"]:
            base = s["key"] == group["baseline"]
            rows.append(
                [
                    group["title"],
                    s["label"],
                    f"{s['rps']['median']:,.0f}",
                    "1.00 (baseline)" if base else _fmt(s["rps_ratio"]),
                    f"{s['p50']['median']:.2f}",
                    f"{s['p99']['median']:.2f}",
                    "1.00" if base else _fmt(s["p99_ratio"]),
                    f"{s['cpu_us']['median']:.1f}" if "cpu_us" in s else "-",
                    "1.00" if base or "cpu_us_ratio" not in s else _fmt(s["cpu_us_ratio"]),
                    f"{s['busy']['median']:.0%}" if "busy" in s else "-",
                ]
            )
    headers = ["group", "variant", "req/s", "req/s ratio [p25-p75]", "p50 ms", "p99 ms"]
    headers += ["p99 ratio", "server CPU us/req", "CPU ratio", "server busy"]
    out = [markdown_table(headers, rows), "", "Targets:"]
    target_rows = [
        [
            t["name"],
            f"{'>=' if t['at_least'] else '<='} {t['limit']:.2f}x",
            f"{t['measured']:.2f}x",
            _verdict(t),
        ]
        for t in results["targets"]
    ]
    out.append(markdown_table(["target", "limit", "measured (median)", ""], target_rows))
    return "\n".join(out)


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each published target against the measured median ratio."""
    by_key = {(g["name"], s["key"]): s for g in results["groups"] for s in g["servers"]}
    targets = []
    for t in TARGETS:
        s = by_key.get((t.group, t.server))
        if s is None:
            continue
        measured = s[f"{t.metric}_ratio"]["median"]
        met = measured >= t.limit if t.at_least else measured <= t.limit
        target: dict[str, Any] = {
            "name": t.name,
            "limit": t.limit,
            "at_least": t.at_least,
            "measured": measured,
            "met": met,
        }
        if t.metric == "rps":
            # Requests/s only compare servers when each one is the bottleneck: a server busy
            # less than 90% of the run was waiting for the load generator (or a core).
            base = next(g["servers"][0] for g in results["groups"] if g["name"] == t.group)
            if "busy" in base and "busy" in s:
                busy = min(base["busy"]["median"], s["busy"]["median"])
                target["saturated"] = busy >= SATURATED
        targets.append(target)
    return targets


def _entry(
    server: Server, runs: list[dict[str, float]], base: list[dict[str, float]]
) -> dict[str, Any]:
    """Summaries of ``runs`` and of their ratios to the paired baseline runs ``base``."""
    entry: dict[str, Any] = {
        "key": server.key,
        "variant": server.variant,
        "label": VARIANTS[server.variant].label,
        "size": server.size,
        "runs": runs,
    }
    for metric in ("rps", "p50", "p99", "cpu_us", "busy"):
        if not all(metric in r for r in runs + base):
            continue
        values = [r[metric] for r in runs]
        entry[metric] = summarize(values)
        entry[f"{metric}_ratio"] = summarize(paired_ratios(values, [r[metric] for r in base]))
    return entry


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table; write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer variants, rounds and seconds")
    parser.add_argument("--rounds", type=int, help="rounds (default 5, quick 2)")
    parser.add_argument("--seconds", type=int, help="wrk duration per run (default 5, quick 2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument(
        "--only", help="comma-separated groups: " + ",".join(g.name for g in GROUPS)
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin servers to the last CPU and wrk to the first (steadier on an idle machine)",
    )
    parser.add_argument("--snapshot", type=Path, help="also write the JSON to this path")
    parser.add_argument(
        "--allow-busy",
        action="store_true",
        help='write the snapshot even when the machine was busy, marked "busy": true',
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2
    rounds: int = args.rounds or (2 if args.quick else 5)
    seconds: int = args.seconds or (2 if args.quick else 5)
    if rounds < 1 or not 0 < seconds <= 60 or not 1 <= args.connections <= 1024:
        parser.error("--rounds >= 1, 0 < --seconds <= 60, 1 <= --connections <= 1024")
    only = set(args.only.split(",")) if args.only else None
    groups: list[Group] = []
    for g in GROUPS:
        if only is not None and g.name not in only:
            continue
        keep = g.quick if args.quick and g.quick else tuple(s.variant for s in g.servers)
        groups.append(Group(g.name, g.title, tuple(s for s in g.servers if s.variant in keep)))
    if only is not None and len(groups) != len(only):
        parser.error(f"unknown group in --only; groups: {', '.join(g.name for g in GROUPS)}")

    can_pin = hasattr(os, "sched_getaffinity")  # Linux
    cpus = sorted(os.sched_getaffinity(0)) if can_pin else [0]
    pin = can_pin and args.pin and len(cpus) >= 2
    described = machine()
    guard = Guard.start(described)
    if refuse_early(guard, args.snapshot, args.allow_busy):
        return BUSY_EXIT
    results: dict[str, Any] = {
        "kind": "wire",
        "machine": described,
        "settings": {
            "quick": args.quick,
            "rounds": rounds,
            "seconds": seconds,
            "connections": args.connections,
            "wrk_threads": 1,
            "server": "uvicorn, 1 worker, httptools, uvloop, no access log",
            "pinned": {"server_cpu": cpus[-1], "wrk_cpu": cpus[0]} if pin else None,
        },
        "groups": [],
    }
    started = time.perf_counter()
    servers = [s for g in groups for s in g.servers]
    # Per group and compared server, the (baseline run, server run) pairs, adjacent in time.
    pairs: dict[tuple[str, str], list[tuple[dict[str, float], dict[str, float]]]] = {}
    with _fleet(cpus[-1] if pin else None) as fleet:
        for server in servers:
            if server.key not in fleet.procs:
                fleet.start(server)
                _check(server, fleet.ports[server.key])
        if pin:
            os.sched_setaffinity(0, {cpus[0]})  # wrk inherits it

        def load(server: Server, label: str) -> dict[str, float]:
            if sys.stderr.isatty():
                print(f"\r{label}: {server.key:<24}", end="", file=sys.stderr, flush=True)
            port, pid = fleet.ports[server.key], fleet.procs[server.key].pid
            path = VARIANTS[server.variant].path
            return _wrk(port, path, seconds, args.connections, pid)

        for server in servers:  # warm up
            _wrk(fleet.ports[server.key], VARIANTS[server.variant].path, 1, args.connections)
        for i in range(rounds):
            for group in groups:
                base, *others = group.servers
                for server in others:
                    # A B then, next round, B A: each pair adjacent, neither always first.
                    label = f"round {i + 1}/{rounds}"
                    if i % 2 == 0:
                        pair = (load(base, label), load(server, label))
                    else:
                        run = load(server, label)
                        pair = (load(base, label), run)
                    pairs.setdefault((group.name, server.key), []).append(pair)
        if sys.stderr.isatty():
            print("\r" + " " * 60 + "\r", end="", file=sys.stderr)
    for group in groups:
        base_key = group.servers[0].key
        base_runs = [b for s in group.servers[1:] for b, _ in pairs[(group.name, s.key)]]
        entries = [_entry(group.servers[0], base_runs, base_runs)]
        for server in group.servers[1:]:
            runs = pairs[(group.name, server.key)]
            entries.append(_entry(server, [r for _, r in runs], [b for b, _ in runs]))
        results["groups"].append(
            {"name": group.name, "title": group.title, "baseline": base_key, "servers": entries}
        )
    results["seconds"] = round(time.perf_counter() - started, 1)
    # After the fleet is stopped: its servers and wrk runs, reaped, count as this process's.
    results.update(guard.finish())
    results["targets"] = evaluate(results)
    print(render(results))
    status, json_path = publish("wire", results, args.snapshot, args.allow_busy)
    print(f"\n{results['seconds']} s; JSON: {json_path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
