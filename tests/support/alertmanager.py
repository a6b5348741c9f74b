"""Prometheus Alertmanager for the tests: started on free ports of 127.0.0.1, stopped by PID.

Alertmanager comes from the OS packages (Debian's ``prometheus-alertmanager``, which
``.ci/run`` installs when missing). It runs with clustering off, its storage in a temporary
folder, and one ``opsgenie_configs`` receiver whose ``api_url`` is the server under test.
Without the binary the tests fail, saying how to install it: they are never skipped.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.processes import free_port

__all__ = ["Alertmanager", "alertmanager", "binary"]

BINARIES = ("prometheus-alertmanager", "alertmanager")
MISSING = (
    "the Alertmanager tests need Prometheus Alertmanager: "
    "apt-get install prometheus-alertmanager (or put alertmanager on PATH)"
)
_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)$")


def binary() -> str:
    """The Alertmanager executable on ``PATH`` (``AssertionError`` naming the package if none)."""
    for name in BINARIES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise AssertionError(MISSING)


def receiver_config(
    api_url: str, api_key: str, opsgenie: Mapping[str, Any], timing: Mapping[str, str]
) -> dict[str, Any]:
    """An Alertmanager configuration with one OpsGenie receiver, grouping by ``alertname``."""
    return {
        "route": {"receiver": "opsgenie", "group_by": ["alertname"], **timing},
        "receivers": [
            {
                "name": "opsgenie",
                "opsgenie_configs": [{"api_key": api_key, "api_url": api_url, **opsgenie}],
            }
        ],
    }


@dataclass
class Alertmanager:
    """A running Alertmanager: its URL, PID and log; post alerts, read its counters."""

    url: str
    pid: int
    log: Path

    def post(self, *alerts: Mapping[str, Any]) -> None:
        """Send alerts to its API v2 (``POST /api/v2/alerts``), as Prometheus does."""
        response = httpx.post(f"{self.url}/api/v2/alerts", json=list(alerts), timeout=5)
        assert response.status_code == 200, response.text

    def metric(self, name: str, **labels: str) -> float:
        """The sum of ``name``'s samples whose labels include ``labels`` (``/metrics``)."""
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        wanted = [f'{key}="{value}"' for key, value in labels.items()]
        total, seen = 0.0, False
        for line in text.splitlines():
            sample = _SAMPLE.match(line)
            if sample is None or sample["name"] != name:
                continue
            if all(label in (sample["labels"] or "") for label in wanted):
                total += float(sample["value"])
                seen = True
        assert seen, f"{name}{labels} is not among Alertmanager's metrics"
        return total

    def output(self) -> str:
        """What Alertmanager logged so far."""
        return self.log.read_text(errors="replace")


def alert(
    labels: Mapping[str, str], *, resolved: bool = False, **annotations: str
) -> dict[str, Any]:
    """An alert as Prometheus posts it; ``resolved`` ends it now."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    posted: dict[str, Any] = {"labels": dict(labels), "annotations": annotations}
    if resolved:
        posted["endsAt"] = now
    return posted


@contextlib.contextmanager
def alertmanager(
    api_url: str,
    api_key: str,
    opsgenie: Mapping[str, Any] | None = None,
    *,
    group_wait: str = "1s",
    group_interval: str = "2s",
    repeat_interval: str = "1h",
) -> Iterator[Alertmanager]:
    """Run Alertmanager with an OpsGenie receiver sending to ``api_url``; stop it by its PID.

    ``opsgenie`` adds fields of the receiver's ``opsgenie_configs`` entry. Clustering is
    off (``--cluster.listen-address=``), the web API on a free port of 127.0.0.1, and
    notification log and silences in a temporary folder removed afterwards.
    """
    executable = binary()
    timing = {
        "group_wait": group_wait,
        "group_interval": group_interval,
        "repeat_interval": repeat_interval,
    }
    with tempfile.TemporaryDirectory(prefix="alertmanager-") as folder:
        home = Path(folder)
        config = home / "alertmanager.yml"
        config.write_text(
            yaml.safe_dump(receiver_config(api_url, api_key, opsgenie or {}, timing)),
            encoding="utf-8",
        )
        port = free_port()
        log = home / "alertmanager.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    executable,
                    f"--config.file={config}",
                    f"--storage.path={home / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--cluster.listen-address=",
                    "--log.level=debug",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"alertmanager exited: {log.read_text(errors='replace')}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/-/ready", timeout=0.5).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("alertmanager did not start")
                time.sleep(0.05)
            yield Alertmanager(url, process.pid, log)
        finally:
            process.terminate()  # SIGTERM to its PID
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
