"""Instructions per request, counted by valgrind: a measure the machine's load does not move.

    python -m benchmarks.instructions                         # tiny, error, FastAPI, 10 KB
    python -m benchmarks.instructions bare@tiny ours@tiny -n 2000
    python -m benchmarks.instructions --server bare@tiny ours@tiny   # a uvicorn server's

Needs valgrind (Debian/Ubuntu: ``sudo apt-get install valgrind``). One process under
callgrind builds every variant asked for and warms it up, then serves ``-n`` requests of
each inside one ``functools.reduce`` call. Callgrind counts only inside that call
(``--toggle-collect``) and writes one profile after each (``--dump-after``), so imports and
start-up are never counted; the last profiles are the variants', in order.

Under valgrind a request runs about 50 times slower, which would put ``took`` on the path of
a request slower than half a millisecond: the middlewares get a clock slowed down as much
(one Python call per reading, in every run alike, so comparisons between runs hold).

With ``--server``, each variant is served by uvicorn (``benchmarks/serve.py``: httptools,
uvloop) under callgrind instead, and driven over one keep-alive connection from 127.0.0.1:
the count is everything the server process runs per request (uvicorn's HTTP parsing and
writing, the event loop, the app), the difference between a run of ``WARM`` requests and one
of ``WARM + n``, divided by ``n``. The kernel's work (the sockets) is not counted.

Instruction counts predict time only roughly: a cache miss or a mispredicted branch costs
many instructions' worth (inside FastAPI the same instructions take longer), and a byte
copy counts each byte. They do not depend on load, so they tell whether a change removed
work. The context variable's cost moves by a few hundred to a few thousand instructions
between processes (how the variable's hash falls among those already in the context).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from benchmarks.driver import make_scope, run_batch
from benchmarks.stats import markdown_table
from benchmarks.variants import SIZES, VARIANTS, build
from benchmarks.wire import free_port

__all__ = ["DEFAULT", "WARM", "baseline_of", "count_server", "drive", "main", "read_counts"]

DEFAULT = (
    "bare@tiny",
    "ours@tiny",
    "error-bare@tiny",
    "error-ours@tiny",
    "fastapi-bare@tiny",
    "fastapi-ours@tiny",
    "bare@10k",
    "ours@10k",
)
"""The variants counted by default: the in-process targets' groups, each with its baseline."""

NO_VALGRIND = (
    "valgrind is not installed. Install it, then run again:\n"
    "  Debian/Ubuntu: sudo apt-get install valgrind"
)
WARM = 300
"""Requests a ``--server`` count serves before the ones it counts (start-up, first requests)."""
_SLOWDOWN = 0.02  # the clock's pace under valgrind: about 50 times slower than real time
_SUMMARY = re.compile(rb"^summary:\s+(\d+)", re.MULTILINE)


def baseline_of(key: str) -> str:
    """The baseline ``key`` is read against: ``error-ours@tiny`` -> ``error-bare@tiny``."""
    name, size = key.split("@")
    prefix = name.split("-")[0] if name.startswith(("error-", "fastapi-")) else ""
    return f"{prefix}-bare@{size}" if prefix else f"bare@{size}"


def _parse_key(key: str) -> tuple[str, str]:
    name, _, size = key.partition("@")
    if name not in VARIANTS or size not in SIZES:
        raise ValueError(f"{key!r}: expected VARIANT@SIZE, e.g. ours@tiny")
    return name, size


def _serve(keys: list[str], n: int) -> None:
    """Build and warm up every variant, then serve ``n`` requests of each in one reduce()."""
    from opsgenie_envelope._middleware import _LIVE

    loop = asyncio.new_event_loop()
    try:
        apps = []
        for key in keys:
            name, size = _parse_key(key)
            app = build(name, size, False)
            template = make_scope(VARIANTS[name].path)
            loop.run_until_complete(run_batch(app, template, 300))  # the stack is built
            apps.append((app, template))
        now = time.perf_counter

        def slow_clock() -> float:
            return now() * _SLOWDOWN

        for middleware in list(_LIVE):
            middleware._clock = slow_clock
        for app, template in apps:
            loop.run_until_complete(run_batch(app, template, 100))

            def batch(
                _a: int, _b: int, app: ASGIApp = app, template: dict[str, Any] = template
            ) -> int:
                loop.run_until_complete(run_batch(app, template, n))
                return 0

            functools.reduce(batch, (0, 0))  # counted: callgrind collects inside reduce()
    finally:
        loop.close()


def read_counts(directory: Path, count: int) -> list[int]:
    """The instruction totals of the last ``count`` profiles callgrind wrote in ``directory``."""
    dumps = sorted(directory.glob("cg.out.*"), key=lambda p: int(p.suffix[1:]))[-count:]
    totals = []
    for dump in dumps:
        match = _SUMMARY.search(dump.read_bytes())
        if match is None:
            raise ValueError(f"{dump}: no summary line")
        totals.append(int(match.group(1)))
    return totals


def drive(port: int, path: str, n: int, wait: float = 120.0) -> None:
    """Send ``n`` GET requests for ``path`` to 127.0.0.1:``port`` over one keep-alive connection.

    Waits up to ``wait`` seconds for the server to listen (under valgrind it starts slowly);
    each answer must be a 200.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=wait)
            connection.connect()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        for _ in range(n):
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{path} answered {response.status}, expected 200")
    finally:
        connection.close()


def _server_total(valgrind: str, key: str, requests: int, directory: Path) -> int:
    """The instructions of a whole uvicorn server process that served ``requests`` requests."""
    name, size = _parse_key(key)
    port = free_port()
    out = directory / f"cg.{key}.{requests}"
    command = [
        valgrind,
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "benchmarks.serve",
        name,
        "--size",
        size,
        "--port",
        str(port),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        drive(port, VARIANTS[name].path, requests)
    finally:
        server.send_signal(signal.SIGINT)  # uvicorn shuts down; valgrind writes the profile
        try:
            server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    match = _SUMMARY.search(out.read_bytes())
    if match is None:
        raise ValueError(f"{out}: no summary line")
    return int(match.group(1))


def count_server(valgrind: str, key: str, n: int) -> float:
    """Instructions per request of a uvicorn server serving ``key``, under callgrind.

    Two runs, of :data:`WARM` and of ``WARM + n`` requests: their difference divided by ``n``,
    so the start-up and the first requests cancel out.
    """
    with tempfile.TemporaryDirectory(prefix="callgrind-") as tmp:
        first = _server_total(valgrind, key, WARM, Path(tmp))
        second = _server_total(valgrind, key, WARM + n, Path(tmp))
    return (second - first) / n


def main(argv: list[str] | None = None) -> int:
    """Count each variant's instructions per request under callgrind and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="*", help="VARIANT@SIZE (default: the target groups)")
    parser.add_argument("-n", type=int, default=2000, help="requests per variant")
    parser.add_argument(
        "--server", action="store_true", help="count a uvicorn server per request (see above)"
    )
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    keys = list(args.variants or DEFAULT)
    if args.n < 1:
        parser.error("-n must be positive")
    try:
        for key in keys:
            _parse_key(key)
    except ValueError as exc:
        parser.error(str(exc))
    if args.inner:  # the process valgrind runs
        _serve(keys, args.n)
        return 0
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print(NO_VALGRIND, file=sys.stderr)
        return 2
    if args.server:
        per_request = {key: count_server(valgrind, key, args.n) for key in keys}
        _print_table(keys, per_request)
        return 0
    with tempfile.TemporaryDirectory(prefix="callgrind-") as tmp:
        out = Path(tmp)
        command = [
            valgrind,
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=functools_reduce",
            "--dump-after=functools_reduce",
            f"--callgrind-out-file={out / 'cg.out'}",
            sys.executable,
            "-m",
            "benchmarks.instructions",
            "--inner",
            "-n",
            str(args.n),
            *keys,
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, env=env, capture_output=True, check=False)
        if done.returncode != 0:
            sys.stderr.write(done.stderr.decode(errors="replace")[-4000:])
            return 1
        per_request = dict(
            zip(keys, (t / args.n for t in read_counts(out, len(keys))), strict=True)
        )
    _print_table(keys, per_request)
    return 0


def _print_table(keys: list[str], per_request: dict[str, float]) -> None:
    rows = []
    for key in keys:
        count = per_request[key]
        base = per_request.get(baseline_of(key))
        if key == baseline_of(key):
            ratio, added = "1.00", "-"
        elif base is None:
            ratio, added = "-", "-"  # its baseline was not counted
        else:
            ratio, added = f"{count / base:.3f}x", f"{count - base:+,.0f}"
        rows.append([key, f"{count:,.0f}", ratio, added])
    print(markdown_table(["variant", "instructions/request", "ratio", "added"], rows))


if __name__ == "__main__":
    sys.exit(main())
