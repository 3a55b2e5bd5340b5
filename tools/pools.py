"""``oee pools launch BASE QUOTE --price P --opens-in S``: launch a simulated pool every process sees."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from adapters.registry import build_pool_launcher, tokens_for
from engine.runtime import create_redis
from engine.watcher.launch import check_launch, launch
from kernel.errors import InvalidRequest, PoolExists
from kernel.settings import Settings


def main(args: argparse.Namespace, settings: Settings) -> int:
    try:
        request = check_launch(tokens_for(settings), args.base, args.quote, args.price, args.opens_in)
    except InvalidRequest as exc:
        print(f"oee pools launch: {exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        redis = create_redis(settings, timeout_s=5)
        try:
            launcher = build_pool_launcher(settings, redis)
            if launcher is None:
                print("oee pools launch: pools are launched on the simulated DEXes only (ROUTING=simulated)",
                      file=sys.stderr)  # fmt: skip
                return 2
            await launch(launcher, request)
        except PoolExists as exc:
            print(f"oee pools launch: {exc}", file=sys.stderr)
            return 2
        finally:
            await redis.aclose()
        opens = datetime.fromtimestamp(request.opens_at, UTC).isoformat(timespec="seconds")
        print(f"launched {request.base.symbol}/{request.quote.symbol} at {request.price} {request.quote.symbol} "
              f"per {request.base.symbol}, open from {opens}")  # fmt: skip
        return 0

    return asyncio.run(run())
