"""Benchmark: a legitimate client's throughput before and after a flood of random keys.

A client sending a fresh random ``GenieKey`` on every request must not slow everybody else
down. Each variant serves ``GET /v2/alerts`` behind ``RateLimitMiddleware`` (a limit nobody
reaches, counted in memory), times a legitimate client's requests, sends the flood (every
request with a new random key), times the legitimate client again and reports the ratio of
its throughput after to before (1.0: the flood cost it nothing).

* ``default key``: ``RateLimit``'s default key (the verified caller, else the address);
* ``per-key buckets, memory://``: a key function that makes a bucket of every key sent, on
  the default ``memory://`` storage (the worst case for the storage);
* ``per-key buckets, limits' MemoryStorage``: the same on ``limits``' own memory storage,
  which walks every live key on each hit (the reference).

No Redis needed. Run from the repository root::

    python -m benchmarks.keys            # a 20,000-request flood
    python -m benchmarks.keys --quick    # a 2,000-request flood: a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from limits.aio.storage import MemoryStorage
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from benchmarks.driver import make_scope, run_batch, run_once
from benchmarks.stats import markdown_table
from opsgenie_envelope import EnvelopeMiddleware
from opsgenie_envelope.ratelimit import RateLimit, RateLimitMiddleware, digest

__all__ = ["VARIANTS", "main"]

PATH = "/v2/alerts"
UNLIMITED = "1000000000/minute"
"""A limit no benchmark reaches: every request is counted, none refused."""
LEGIT = [(b"authorization", b"GenieKey legitimate-client-key")]


async def _count(request: Request) -> Response:
    return JSONResponse({"count": 5})


def _by_sent_key(connection: HTTPConnection) -> str:
    """A bucket per ``Authorization`` value sent, checked or not (what a flood exploits)."""
    return digest(connection.headers.get("authorization", ""))


VARIANTS: dict[str, Callable[[], RateLimit]] = {
    "default key": lambda: RateLimit(UNLIMITED),
    "per-key buckets, memory://": lambda: RateLimit(UNLIMITED, key=_by_sent_key),
    "per-key buckets, limits' MemoryStorage": lambda: RateLimit(
        UNLIMITED, key=_by_sent_key, storage=MemoryStorage(wrap_exceptions=True)
    ),
}


def _app(limit: RateLimit) -> Starlette:
    return Starlette(
        routes=[Route(PATH, _count)],
        middleware=[Middleware(EnvelopeMiddleware), Middleware(RateLimitMiddleware, limit=limit)],
    )


def _template(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    scope = make_scope(PATH)
    scope["headers"] = [*scope["headers"], *headers]
    return scope


async def _serve(app: Starlette, template: dict[str, Any], n: int) -> None:
    """``n`` requests, yielding to the event loop after each, as a server does between reads:
    a storage's background upkeep (``limits``' walk over its keys) runs in between."""
    for _ in range(n):
        await run_batch(app, template, 1)
        await asyncio.sleep(0)


async def _throughput(app: Starlette, batches: int, size: int) -> float:
    """The legitimate client's requests per second: the median of ``batches`` batches."""
    template = _template(LEGIT)
    rates = []
    for _ in range(batches):
        gc.collect()
        started = time.perf_counter()
        await _serve(app, template, size)
        rates.append(size / (time.perf_counter() - started))
    return statistics.median(rates)


async def _flood(app: Starlette, requests: int) -> None:
    """``requests`` requests, each with a new random GenieKey."""
    for _ in range(requests):
        key = b"GenieKey " + secrets.token_hex(16).encode()
        await _serve(app, _template([(b"authorization", key)]), 1)


async def measure(flood: int, batches: int, size: int) -> list[dict[str, Any]]:
    """Each variant: throughput before and after the flood, and their ratio."""
    results = []
    for label, build in VARIANTS.items():
        limit = build()
        app = _app(limit)
        sent = await run_once(app, _template(LEGIT))
        if sent.status != 200:
            sys.exit(f"{label}: answered {sent.status}")
        await _throughput(app, 3, size)  # warm up: caches, the allocator, the CPU clock
        before = await _throughput(app, batches, size)
        started = time.perf_counter()
        await _flood(app, flood)
        flood_seconds = time.perf_counter() - started
        after = await _throughput(app, batches, size)
        storage = limit.storage
        keys = len(getattr(storage, "expirations", ())) + len(getattr(storage, "events", ()))
        results.append(
            {
                "variant": label,
                "before_rps": before,
                "after_rps": after,
                "ratio": after / before,
                "flood_rps": flood / flood_seconds,
                "keys_held": keys,
            }
        )
        await limit.aclose()
    return results


def render(results: list[dict[str, Any]], flood: int) -> str:
    """The results as a Markdown table."""
    rows = [
        [
            r["variant"],
            f"{r['before_rps']:,.0f}",
            f"{r['after_rps']:,.0f}",
            f"{r['ratio']:.2f}",
            f"{r['flood_rps']:,.0f}",
            f"{r['keys_held']:,}",
        ]
        for r in results
    ]
    headers = [
        "variant",
        "legit req/s before",
        f"after {flood:,} random keys",
        "ratio after/before",
        "flood req/s",
        "keys held",
    ]
    return markdown_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 2,000-request flood")
    parser.add_argument("--flood", type=int, help="random-key requests (default 20,000)")
    args = parser.parse_args(argv)
    flood: int = args.flood or (2_000 if args.quick else 20_000)
    batches, size = (3, 200) if args.quick else (5, 1_000)
    results = asyncio.run(measure(flood, batches, size))
    print(render(results, flood))
    return 0


if __name__ == "__main__":
    sys.exit(main())
