"""Start ASGI servers (uvicorn, hypercorn, granian) as processes on 127.0.0.1, stop them by PID."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def command(server: str, app: str, port: int, python: str = sys.executable) -> list[str]:
    """The command line that serves ``app`` (``module:attr``) with ``server`` of ``python``."""
    if server == "uvicorn":
        return [
            python,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ]
    if server == "hypercorn":
        return [python, "-m", "hypercorn", app, "--bind", f"127.0.0.1:{port}"]
    if server == "granian":
        return [
            python,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ws",
            app,
        ]
    raise ValueError(server)


def memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` (resident now) and ``VmHWM`` (resident at most) of process ``pid``, in KiB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


def available(server: str) -> bool:
    """Whether ``server`` is installed."""
    import importlib.util

    return importlib.util.find_spec(server) is not None


@dataclass
class Served:
    """A running server: its base URL, its PID and a way to read what it logged."""

    url: str
    log: Path
    pid: int

    def output(self) -> str:
        """Everything the server printed so far."""
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def serve(
    server: str,
    app: str,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    *,
    cwd: Path = ROOT,
    python: str = sys.executable,
) -> Iterator[Served]:
    """Run ``server`` on a free port of 127.0.0.1 until the block ends; stop it by its PID.

    ``args`` go after the server's command line (``--workers 2``); ``env`` adds variables.
    ``app`` is imported from ``cwd``; ``python`` is the interpreter (and so the environment)
    that runs the server.
    """
    port = free_port()
    with tempfile.NamedTemporaryFile("w+b", suffix=".log", delete=False) as log:
        process = subprocess.Popen(
            [*command(server, app, port, python), *args],
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{server} exited: {Path(log.name).read_text(errors='replace')}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=0.2),
            ):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server} did not start")
            time.sleep(0.05)
        yield Served(f"http://127.0.0.1:{port}", Path(log.name), process.pid)
    finally:
        process.terminate()  # SIGTERM to its PID; a no-op once it has exited and been reaped
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        Path(log.name).unlink(missing_ok=True)
