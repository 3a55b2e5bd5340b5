"""``python -m tools.bench_watch``: what watching pairs costs in RPC calls, per pair, on a real RPC.

For each ``--pair`` (symbols or mint addresses, ``SOL/USDC``) it runs one watcher loop per on-chain DEX
(``adapters.registry.build_watchers``): snapshot, price ``--sizes`` on it with no I/O, wait for a change,
again, for ``--seconds``. Then it prints, per DEX and pair, the RPC calls a second, the snapshots a
second, whether changes were pushed (PubSub) or polled, and the last snapshot's pool and activation.
Point it at a cluster with ``SOLANA_NETWORK`` and ``SOLANA_RPC_URL`` (``oee localnet --fixtures DIR``
serves dumped pools locally). Figures are measured each run; nothing is seeded.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from typing import Any

from adapters.onchain_dex.tokens import ChainTokens
from adapters.onchain_dex.watching import ChainPairWatcher
from adapters.registry import build_watchers
from adapters.settlement import ChainConfig, ChainRpc
from kernel.errors import EngineError
from kernel.logs import setup_logging
from kernel.settings import load_settings
from kernel.tokens import Token, TokenRegistry
from kernel.watching import PairSnapshot


async def _watch(watcher: ChainPairWatcher[Any], pair: tuple[Token, Token], sizes: list[int], until: float,
                 seen: Counter[str]) -> PairSnapshot | None:  # fmt: skip
    last: PairSnapshot | None = None
    while time.monotonic() < until:
        try:
            last = await watcher.snapshot(*pair)
            seen["snapshots"] += 1
            for size in sizes:
                try:
                    last.quote(size)
                    seen["priced"] += 1
                except EngineError:
                    seen["refused"] += 1
        except EngineError as exc:
            seen[f"failed: {exc.code}"] += 1
        await watcher.wait_change(*pair, timeout_s=max(0.0, min(5.0, until - time.monotonic())))
    return last


async def run(args: argparse.Namespace) -> int:
    settings = load_settings().model_copy(update={"routing": "onchain"})
    registry = TokenRegistry.for_network(settings.solana_network)
    config = ChainConfig.from_settings(settings)
    tokens = ChainTokens(ChainRpc(config), registry, owns_rpc=True)
    pairs: list[tuple[Token, Token]] = []
    for text in args.pair:
        names = text.split("/")
        found = [await tokens.resolve(name) for name in names]
        if len(found) != 2 or None in found:
            print(f"bench_watch: {text!r} is not two known symbols or mints joined by /", file=sys.stderr)
            return 2
        pairs.append((found[0], found[1]))  # type: ignore[arg-type]
    await tokens.aclose()
    watchers: list[ChainPairWatcher[Any]] = [w for w in build_watchers(settings) if isinstance(w, ChainPairWatcher)]
    until = time.monotonic() + args.seconds
    seen: dict[tuple[str, str], Counter[str]] = {}
    jobs = []
    for watcher in watchers:
        for pair in pairs:
            counter = seen.setdefault((watcher.name, f"{pair[0].symbol}/{pair[1].symbol}"), Counter())
            jobs.append(_watch(watcher, pair, args.sizes, until, counter))
    started = time.monotonic()
    lasts = await asyncio.gather(*jobs)
    elapsed = time.monotonic() - started
    print(f"{settings.solana_network.value} at {config.rpc_url}, {elapsed:.1f} s, sizes {args.sizes}")
    print(f"{'dex':<8} {'pair':<20} {'calls/s':>8} {'snaps/s':>8} {'pushed':>6}  pool / opens")
    index = 0
    for watcher in watchers:
        for pair in pairs:
            label = f"{pair[0].symbol}/{pair[1].symbol}"
            total = watcher.calls_for(*pair)
            counter, last = seen[(watcher.name, label)], lasts[index]
            index += 1
            where = "no pool" if last is None or last.pool is None else last.pool
            opens = f" opens {last.opens}" if last is not None and last.opens is not None else ""
            print(f"{watcher.name:<8} {label:<20} {total / elapsed:>8.2f} {counter['snapshots'] / elapsed:>8.2f} "
                  f"{'yes' if watcher.pushed else 'no':>6}  {where}{opens}")  # fmt: skip
            for key, n in sorted(counter.items()):
                if key.startswith("failed"):
                    print(f"{'':<29} {key}: {n}")
        await watcher.aclose()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_watch", description=__doc__.splitlines()[0])
    parser.add_argument("--pair", action="append", default=[], help="SOL/USDC, or MINT/MINT (repeatable)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10**6, 10**8, 10**9], help="raw amounts in")
    args = parser.parse_args(argv)
    args.pair = args.pair or ["SOL/USDC"]
    setup_logging("WARNING")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
