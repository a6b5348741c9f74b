"""The demo under a real ``uvicorn --workers 2`` on Redis (one server, Sentinel, Cluster):
consistent whichever worker answers."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.support.demo_app import FULL, READONLY
from tests.support.processes import serve

pytestmark = [pytest.mark.server, pytest.mark.redis]

WORKERS = 2
LIMIT = 100
TRIES = 20


def test_demo_with_workers_on_redis_is_consistent(topology_url: str, redis_prefix: str) -> None:
    """Every poll after processing answers 200, every read finds the alert, the limit is global.

    On each topology. Each request opens a new connection, so the kernel spreads them over
    the workers.
    """
    environment = {
        "ALERTS_REDIS_URL": topology_url,
        "ALERTS_REDIS_PREFIX": redis_prefix,
        "ALERTS_RATE_LIMIT": str(LIMIT),
        "ALERTS_PROCESSING_DELAY": "0.2",
    }
    with serve(
        "uvicorn", "examples.alerts.api:app", ["--workers", str(WORKERS)], environment
    ) as served:
        url = served.url

        def get(path: str, headers: dict[str, str] = FULL) -> httpx.Response:
            return httpx.get(f"{url}{path}", headers=headers, timeout=10)

        accepted = httpx.post(
            f"{url}/v2/alerts",
            headers=FULL,
            json={"message": "Replica lag over 30 s", "alias": "replica-lag"},
            timeout=10,
        )
        request_id = accepted.json()["requestId"]
        polls = [get(f"/v2/alerts/requests/{request_id}").status_code]
        deadline = time.monotonic() + 10
        while polls[-1] == 404 and time.monotonic() < deadline:
            time.sleep(0.05)
            polls.append(get(f"/v2/alerts/requests/{request_id}").status_code)
        after = [get(f"/v2/alerts/requests/{request_id}").status_code for _ in range(TRIES)]
        reads = [
            get("/v2/alerts/replica-lag?identifierType=alias").status_code for _ in range(TRIES)
        ]
        limited = [get("/v2/alerts/count", READONLY).status_code for _ in range(LIMIT + 5)]
        output = served.output()

    assert accepted.status_code == 202
    assert set(polls[:-1]) <= {404}
    assert polls[-1] == 200
    assert after == [200] * TRIES
    assert reads == [200] * TRIES
    assert limited == [200] * LIMIT + [429] * 5
    assert len(set(re.findall(r"Started server process \[(\d+)\]", output))) == WORKERS
    assert "shared by every worker" in output
