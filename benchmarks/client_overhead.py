"""What the client adds on top of httpx: reading an envelope, and a whole request.

Run with ``python benchmarks/client_overhead.py``. Both sides read the same 20-alert page,
over ``httpx.MockTransport`` so no network time is measured.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

import httpx
import orjson

from opsgenie_envelope.client import Client, unwrap

ALERTS = [
    {
        "id": f"70413a06-38d6-4c85-92b8-5ebc900d42{n:02d}",
        "message": "Our servers are in danger",
        "tags": ["OverwriteQuietHours", "Critical"],
        "priority": "P1",
    }
    for n in range(20)
]
BODY = orjson.dumps(
    {
        "data": ALERTS,
        "paging": {"next": "https://api.example.com/v2/alerts?offset=20&limit=20"},
        "took": 0.006,
        "requestId": "9ae63dd7-ed00-4c81-86f0-c4ffd33142c9",
    }
)
RESPONSE = httpx.Response(
    200,
    content=BODY,
    headers={"content-type": "application/json"},
    request=httpx.Request("GET", "https://api.example.com/v2/alerts"),
)


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=BODY, headers={"content-type": "application/json"})


def best_of(fn: Callable[[], object], number: int) -> float:
    """Best mean time of one call, in microseconds, over 5 runs of ``number`` calls."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main() -> None:
    """Print one line per case: microseconds per call."""
    transport = httpx.MockTransport(_answer)
    base = "https://api.example.com"
    with (
        httpx.Client(transport=transport, base_url=base) as plain,
        Client(transport=transport, base_url=base) as client,
    ):
        cases = {
            "response.json()['data']": lambda: RESPONSE.json()["data"],
            "unwrap(response)": lambda: unwrap(RESPONSE),
            "httpx.Client.get + .json()": lambda: plain.get("/v2/alerts").json()["data"],
            "Client.get (envelope)": lambda: client.get("/v2/alerts").data,
        }
        for name, fn in cases.items():
            print(f"{name:<28} {best_of(fn, 2000):8.1f} µs")


if __name__ == "__main__":
    main()
