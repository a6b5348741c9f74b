"""Benchmark of the stateful features: the rate-limit check and the request-status write.

Two groups, each against its plain request (the same app behind ``EnvelopeMiddleware`` only):

* ``ratelimit``: ``GET`` through ``RateLimitMiddleware`` keyed by API key (hashed), fixed
  window, counted in memory and in Redis;
* ``accept``: a ``POST`` answering 202 through ``RequestTracker.accept``, pending record,
  background work and outcome written, in memory and in Redis, against a plain 202.

Redis is a standalone server, and, when given (``--sentinel-url``, ``--cluster-url``) or
started here (``--topologies``, from the test support: a master, a replica and a sentinel;
three cluster masters, all on 127.0.0.1), a Sentinel-managed master (the statuses wait for
the replica's acknowledgement, ``WAIT 1``, as they do by default there) and a Cluster.

Variants run interleaved in rounds in one process (A B C, B C A, ...), each round timing a
batch of requests per variant; the table shows medians and the median of per-round ratios.
Every batch is timed twice: wall-clock time (what a client waits, Redis round trips included)
and the thread's CPU time (what the server process spends; waiting on Redis is not counted).

Needs a Redis: ``--redis-url`` or ``OPSGENIE_ENVELOPE_REDIS_URL``. Run from the repository root::

    redis-server --port 6390 --save "" &
    python -m benchmarks.stateful --redis-url redis://127.0.0.1:6390/0
    python -m benchmarks.stateful --redis-url redis://127.0.0.1:6390/0 --quick
    python -m benchmarks.stateful --redis-url redis://127.0.0.1:6390/0 --topologies --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redis.cluster
import redis.sentinel
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from benchmarks.driver import make_scope, run_batch, run_once
from benchmarks.guard import BUSY_EXIT, Guard, publish, refuse_early
from benchmarks.stats import (
    format_ratio,
    machine,
    markdown_table,
    paired_ratios,
    summarize,
)
from opsgenie_envelope import EnvelopeMiddleware, set_message
from opsgenie_envelope.ratelimit import RateLimit, RateLimitMiddleware
from opsgenie_envelope.request_status import Outcome, RedisRequestStore, RequestTracker

__all__ = ["GROUPS", "main"]

PATH = "/v2/alerts"
UNLIMITED = "1000000000/minute"
"""A limit no benchmark reaches: every request is counted, none refused."""
_HEADERS = [(b"authorization", b"GenieKey bench-api-key"), (b"content-type", b"application/json")]


@dataclass
class Case:
    """One variant: its app, how to request it, what to wait for after a batch."""

    key: str
    label: str
    app: ASGIApp
    method: str = "GET"
    status: int = 200
    requests: RequestTracker | None = None
    limit: RateLimit | None = None

    def scope(self) -> dict[str, Any]:
        """The request template."""
        scope = make_scope(PATH, self.method)
        scope["headers"] = [*scope["headers"], *_HEADERS]
        return scope

    async def settle(self) -> None:
        """Wait until the background work of the requests sent so far is done."""
        if self.requests is not None:
            await self.requests.join()

    async def close(self) -> None:
        """Release the case's Redis connections."""
        if self.requests is not None:
            await self.requests.aclose()
        if self.limit is not None:
            await self.limit.aclose()


async def _count(request: Request) -> Response:
    return JSONResponse({"count": 5})


def _envelope(*middleware: Middleware, routes: list[Route] | None = None) -> Starlette:
    routes = routes or [Route(PATH, _count)]
    return Starlette(routes=routes, middleware=[Middleware(EnvelopeMiddleware), *middleware])


def limited(key: str, label: str, limit: RateLimit) -> Case:
    """``GET`` behind ``RateLimitMiddleware`` with ``limit``."""
    app = _envelope(Middleware(RateLimitMiddleware, limit=limit))
    return Case(key, label, app, limit=limit)


def accepting(key: str, label: str, requests: RequestTracker | None) -> Case:
    """``POST`` answering 202: through ``requests.accept``, or plainly when ``None``."""

    async def work() -> Outcome:
        return Outcome("Created alert", fields={"alertId": "a1", "alias": "bench"})

    async def create(request: Request) -> Response:
        if requests is None:
            set_message("Request will be processed")
        else:
            await requests.accept(work, action="Create")
        return JSONResponse(None, status_code=202)

    app = _envelope(routes=[Route(PATH, create, methods=["POST"])])
    return Case(key, label, app, "POST", 202, requests=requests)


TOPOLOGY_LABELS = {
    "standalone": "redis://",
    "sentinel": "redis+sentinel://",
    "cluster": "redis+cluster://",
}
"""How each topology is named in the table (by its URL scheme)."""


def ratelimit_group(urls: dict[str, str], prefix: str) -> list[Case]:
    """The plain request, then the rate-limit check in memory and on each Redis topology."""
    cases = [
        Case("plain", "plain request (EnvelopeMiddleware)", _envelope()),
        limited("limit-memory", "rate limit, memory://", RateLimit(UNLIMITED)),
    ]
    for topology, url in urls.items():
        key = "limit-redis" if topology == "standalone" else f"limit-{topology}"
        limit = RateLimit(UNLIMITED, storage=url, name=f"{prefix}limit")
        cases.append(limited(key, f"rate limit, {TOPOLOGY_LABELS[topology]}", limit))
    return cases


def accept_group(urls: dict[str, str], prefix: str) -> list[Case]:
    """A plain 202, then ``accept`` with its status written in memory and on each topology."""
    cases = [
        accepting("plain-202", "plain 202 (EnvelopeMiddleware)", None),
        accepting("accept-memory", "accept + status, memory://", RequestTracker()),
    ]
    for topology, url in urls.items():
        key = "accept-redis" if topology == "standalone" else f"accept-{topology}"
        store = RedisRequestStore(url, key_prefix=f"{prefix}request:")
        label = f"accept + status, {TOPOLOGY_LABELS[topology]}"
        if store.redis.replicas:
            label += f" (WAIT {store.redis.replicas})"
        cases.append(accepting(key, label, RequestTracker(store)))
    return cases


GROUPS: dict[str, tuple[str, Callable[[dict[str, str], str], list[Case]]]] = {
    "ratelimit": ("rate-limit check per request", ratelimit_group),
    "accept": ("202 with the request-status write", accept_group),
}


async def _batch(case: Case, template: dict[str, Any], n: int) -> tuple[float, float]:
    """Microseconds per request over ``n`` requests: (wall, CPU), background work included."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.thread_time()
    await run_batch(case.app, template, n)
    await case.settle()
    return (time.perf_counter() - wall) / n * 1e6, (time.thread_time() - cpu) / n * 1e6


async def check(case: Case) -> None:
    """Serve one request; exit unless it answers the case's status with an envelope."""
    sent = await run_once(case.app, case.scope())
    await case.settle()
    if sent.status != case.status or b'"requestId"' not in bytes(sent.body):
        sys.exit(f"{case.key}: answered {sent.status} {bytes(sent.body)[:200]!r}")


async def run_group(
    title: str, cases: list[Case], rounds: int, batch_seconds: float
) -> dict[str, Any]:
    """Time every case in interleaved rounds; return samples and summaries."""
    templates = {case.key: case.scope() for case in cases}
    sizes: dict[str, int] = {}
    for case in cases:
        await check(case)
        await _batch(case, templates[case.key], 5)  # warm up: connections, caches
        probe, _ = await _batch(case, templates[case.key], 20)
        sizes[case.key] = max(5, min(100_000, int(batch_seconds * 1e6 / probe)))
    wall: dict[str, list[float]] = {case.key: [] for case in cases}
    cpu: dict[str, list[float]] = {case.key: [] for case in cases}
    for i in range(rounds):
        shift = i % len(cases)
        for case in cases[shift:] + cases[:shift]:
            w, c = await _batch(case, templates[case.key], sizes[case.key])
            wall[case.key].append(w)
            cpu[case.key].append(c)
    base = cases[0].key
    return {
        "title": title,
        "baseline": base,
        "cases": [
            {
                "key": case.key,
                "label": case.label,
                "batch": sizes[case.key],
                "wall_us": summarize(wall[case.key]),
                "wall_ratio": summarize(paired_ratios(wall[case.key], wall[base])),
                "cpu_us": summarize(cpu[case.key]),
                "cpu_ratio": summarize(paired_ratios(cpu[case.key], cpu[base])),
                "wall_samples_us": wall[case.key],
                "cpu_samples_us": cpu[case.key],
            }
            for case in cases
        ],
    }


def render(results: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    rows = []
    for group in results["groups"]:
        for case in group["cases"]:
            base = case["key"] == group["baseline"]
            rows.append(
                [
                    group["title"],
                    case["label"],
                    f"{case['wall_us']['median']:,.1f}",
                    "1.00 (baseline)" if base else format_ratio(case["wall_ratio"]),
                    f"{case['cpu_us']['median']:,.1f}",
                    "1.00 (baseline)" if base else format_ratio(case["cpu_ratio"]),
                ]
            )
    headers = ["group", "variant", "wall us", "wall ratio [p25-p75]", "CPU us", "CPU ratio"]
    return markdown_table(headers, rows)


def _forget(url: str, prefix: str) -> None:
    """Delete the keys this run wrote (``SCAN``, never ``FLUSHDB``), on any topology."""
    scheme, _, rest = url.partition("://")
    hosts, _, service = rest.rpartition("@")[2].partition("/")
    host, _, port = hosts.split(",")[0].rpartition(":")
    if scheme == "redis+cluster":
        client: Any = redis.cluster.RedisCluster(host, int(port))
    elif scheme == "redis+sentinel":
        sentinel = redis.sentinel.Sentinel([(host, int(port))])  # type: ignore[no-untyped-call]
        client = sentinel.master_for(service)  # type: ignore[no-untyped-call]
    else:
        client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        for key in keys:  # one at a time: a cluster's keys live on several nodes
            client.delete(key)
    finally:
        client.close()


async def measure(
    urls: dict[str, str], groups: list[str], rounds: int, batch_seconds: float
) -> list[dict[str, Any]]:
    """Run ``groups`` against the Redis topologies in ``urls``; clean up what they wrote."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    results = []
    try:
        for name in groups:
            title, build = GROUPS[name]
            cases = build(urls, prefix)
            try:
                results.append(await run_group(title, cases, rounds, batch_seconds))
            finally:
                for case in cases:
                    await case.close()
    finally:
        for url in urls.values():
            _forget(url, prefix)
    return results


@contextlib.contextmanager
def topologies(urls: dict[str, str], start: bool) -> Iterator[dict[str, str]]:
    """``urls``, plus a Sentinel set-up and a Cluster started here (``start``) when missing;
    every process started is stopped by its PID when the block ends."""
    with contextlib.ExitStack() as stack:
        if start:
            from tests.support.redis_server import ClusterServers, SentinelServers

            for topology, make in (("sentinel", SentinelServers), ("cluster", ClusterServers)):
                if topology not in urls:
                    servers = make()
                    stack.callback(servers.close)
                    servers.start()
                    urls[topology] = servers.url
        yield urls


_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def redis_cpu_seconds(redis_url: str) -> float | None:
    """CPU seconds a Redis on this machine has used (``INFO cpu``); ``None`` for a remote one."""
    parsed = urllib.parse.urlsplit(redis_url)
    if parsed.scheme != "unix" and parsed.hostname not in _LOCAL_HOSTS:
        return None
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    try:
        info = client.info("cpu")
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table; write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default=os.environ.get("OPSGENIE_ENVELOPE_REDIS_URL"))
    parser.add_argument("--sentinel-url", help="redis+sentinel://host:26379/service")
    parser.add_argument("--cluster-url", help="redis+cluster://host:7000,host:7001")
    parser.add_argument(
        "--topologies",
        action="store_true",
        help="start a Sentinel set-up and a Cluster on 127.0.0.1 (those not given as URLs)",
    )
    parser.add_argument("--quick", action="store_true", help="few short rounds: a smoke run")
    parser.add_argument("--rounds", type=int, help="rounds per group (default 21, quick 3)")
    parser.add_argument("--batch-ms", type=float, help="wall time per batch (default 100)")
    parser.add_argument("--only", help="comma-separated groups: " + ",".join(GROUPS))
    parser.add_argument("--snapshot", type=Path, help="also write the JSON to this path")
    parser.add_argument(
        "--allow-busy",
        action="store_true",
        help='write the snapshot even when the machine was busy, marked "busy": true',
    )
    args = parser.parse_args(argv)
    rounds: int = args.rounds or (3 if args.quick else 21)
    batch_ms: float = args.batch_ms or (20.0 if args.quick else 100.0)
    groups = args.only.split(",") if args.only else list(GROUPS)
    if rounds < 1 or batch_ms <= 0 or not set(groups) <= set(GROUPS):
        parser.error(f"--rounds and --batch-ms must be positive; groups: {', '.join(GROUPS)}")
    if not args.redis_url:
        print("needs a Redis: --redis-url redis://127.0.0.1:6390/0", file=sys.stderr)
        return 2
    try:
        redis.Redis.from_url(args.redis_url, socket_connect_timeout=2).ping()
    except (redis.RedisError, OSError) as exc:
        print(f"Redis does not answer ({type(exc).__name__})", file=sys.stderr)
        return 2
    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        loop_name = "uvloop"  # what uvicorn runs on when it is installed
    except ImportError:  # pragma: no cover
        loop_factory, loop_name = asyncio.new_event_loop, "asyncio"
    described = machine()
    guard = Guard.start(described)
    if refuse_early(guard, args.snapshot, args.allow_busy):
        return BUSY_EXIT
    redis_before = redis_cpu_seconds(args.redis_url)
    started = time.perf_counter()
    given = {"standalone": args.redis_url}
    given.update(
        {k: v for k, v in (("sentinel", args.sentinel_url), ("cluster", args.cluster_url)) if v}
    )
    with (
        topologies(given, args.topologies) as urls,
        asyncio.Runner(loop_factory=loop_factory) as runner,
    ):
        measured = runner.run(measure(urls, groups, rounds, batch_ms / 1000))
    results: dict[str, Any] = {
        "kind": "stateful",
        "machine": described,
        "settings": {
            "rounds": rounds,
            "batch_ms": batch_ms,
            "loop": loop_name,
            "topologies": sorted(urls),
        },
        "groups": measured,
    }
    results["seconds"] = round(time.perf_counter() - started, 1)
    redis_after = redis_cpu_seconds(args.redis_url)
    # The local Redis works for the run: its CPU time is ours, not another process's load.
    redis_used = 0.0 if redis_before is None or redis_after is None else redis_after - redis_before
    results.update(guard.finish(extra_own=redis_used))
    results["load"]["redis_cpu_seconds"] = round(redis_used, 3)
    print(render(results))
    status, path = publish("stateful", results, args.snapshot, args.allow_busy)
    print(f"\n{results['seconds']} s; JSON: {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
