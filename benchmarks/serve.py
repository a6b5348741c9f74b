"""Serve one benchmark variant with uvicorn on 127.0.0.1 (started and stopped by ``wire.py``).

    python -m benchmarks.serve ours --size 10k --port 8001

One worker, httptools and uvloop, no access log, no lifespan: the set-up the published
numbers use. The host is fixed to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from benchmarks.variants import SIZES, VARIANTS, build

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Build the variant and serve it until stopped."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variant", choices=sorted(VARIANTS))
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--raw", action="store_true", help="handler answers pre-serialised bytes")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        build(args.variant, args.size, args.raw),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="off",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
