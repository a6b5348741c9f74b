"""Profile one variant in-process: where does a request's time go?

    python -m benchmarks.profile ours                  # cProfile, top functions by own time
    python -m benchmarks.profile error-ours --size tiny -n 50000
    py-spy record -r 2000 -f speedscope -o ours.json -- \\
        python -m benchmarks.profile ours --plain -n 300000   # sampled, no cProfile overhead

cProfile adds a fixed cost to every Python call, so it exaggerates code made of many small
calls; read its numbers as shares, and confirm a gain with ``benchmarks.inprocess``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import pstats
import sys
import time

from benchmarks.driver import make_scope, run_batch
from benchmarks.variants import SIZES, VARIANTS, build

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Serve ``-n`` requests of one variant under cProfile (or plainly, for py-spy)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variant", choices=sorted(VARIANTS))
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--raw", action="store_true", help="handler answers pre-serialised bytes")
    parser.add_argument("-n", type=int, default=30_000, help="requests (bounded loop)")
    parser.add_argument("--plain", action="store_true", help="no cProfile: for py-spy sampling")
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("-n must be positive")
    context = VARIANTS[args.variant].context or contextlib.nullcontext
    with context():  # what the variant needs around it (e.g. an active Sentry client)
        return _profile(args)


def _profile(args: argparse.Namespace) -> int:
    app = build(args.variant, args.size, args.raw)
    template = make_scope(VARIANTS[args.variant].path)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run_batch(app, template, 10))  # build the middleware stack
        if args.plain:
            started = time.perf_counter()
            loop.run_until_complete(run_batch(app, template, args.n))
            elapsed = time.perf_counter() - started
            print(f"{args.variant}: {elapsed / args.n * 1e6:.2f} us/request over {args.n}")
            return 0
        profiler = cProfile.Profile()
        profiler.enable()
        loop.run_until_complete(run_batch(app, template, args.n))
        profiler.disable()
    finally:
        loop.close()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
