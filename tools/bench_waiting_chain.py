"""The waiting-orders bench on chain: what 3 and 1,000 waiting orders cost a watcher reading real pool accounts.

A localnet runs in this process with three Raydium CPMM pools (SOL/USDC, JUP/USDC, RAY/SOL) at their
canonical addresses; the API and one watcher run with ``ROUTING=onchain`` against it. RPC calls are counted
where they arrive: the localnet tallies every request by client socket (``localnet_requests``), and the
bench keeps the requests that came from the watcher process's own sockets (read from ``/proc``), HTTP
and PubSub apart. A pair's calls are the watcher's reads that named its pool. Then, with the orders still
waiting, one pool's vault is replaced a few times (``localnet_setAccount``, which PubSub pushes), to show
what each pushed change costs.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx
import orjson

from kernel.settings import Network, Settings
from kernel.tokens import TokenRegistry
from localnet import LocalnetHandle, start_localnet
from tools.bench_engine import Engine
from tools.chain_pools import CpmmPool, amm_config, cpmm_pool, place, rpc
from tools.waiting_load import PAIRS, cancel, far_orders, measure

# Reserves in whole tokens, near the simulated market: SOL at 150 USDC, JUP at 0.5 USDC, RAY at 0.013 SOL.
RESERVES = {("SOL", "USDC"): (1_000, 150_000), ("JUP", "USDC"): (1_000_000, 500_000), ("RAY", "SOL"): (100_000, 1_300)}
MOVES = 5
MOVE_EVERY_S = 1.5
AFTER_S = 0.2  # well inside WATCH_MAX_WAIT_S (1 s): a read this soon after a pushed one is the push's


def socket_ports(pid: int) -> set[int]:
    """The local TCP ports of the sockets process ``pid`` holds now."""
    inodes: set[str] = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return set()
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class WatcherTally:
    """The localnet's tally, kept to the requests that came from one process's sockets."""

    def __init__(self, url: str, pid: int) -> None:
        self.url, self.pid = url, pid
        self.ports: set[int] = set()

    def sample_ports(self) -> None:
        """Remember the process's ports now (a socket opened and closed between samples is missed)."""
        self.ports |= socket_ports(self.pid)

    async def read(self) -> dict[str, Counter[str]]:
        """Requests by ``http:<method>`` / ``pubsub:<method>``, reads by account, and notifications, so far."""
        self.sample_ports()
        async with httpx.AsyncClient(timeout=10) as http:
            tally = await rpc(http, self.url, "localnet_requests")

        def mine(peer: str) -> bool:
            return peer.rpartition(":")[2].isdigit() and int(peer.rpartition(":")[2]) in self.ports

        out: dict[str, Counter[str]] = {"requests": Counter(), "reads": Counter(), "notifications": Counter()}
        for r in tally["requests"]:
            if mine(r["peer"]):
                out["requests"][f"{r['transport']}:{r['method']}"] += r["count"]
        for r in tally["reads"]:
            if mine(r["peer"]):
                out["reads"][r["account"]] += r["count"]
        out["notifications"]["all"] = sum(r["count"] for r in tally["notifications"] if mine(r["peer"]))
        return out


def pools_on_chain() -> tuple[dict[str, CpmmPool], list[dict[str, Any]]]:
    """The three pools by pair label (``SOL/USDC``) and every account to place (the AmmConfig included)."""
    registry = TokenRegistry.for_network(Network.LOCALNET)
    pools: dict[str, CpmmPool] = {}
    accounts = [amm_config()]
    for (base, quote), (base_amount, quote_amount) in RESERVES.items():
        b, q = registry.resolve(base), registry.resolve(quote)
        assert b is not None and q is not None, "the localnet registry names every benched token"
        pool, docs = cpmm_pool(b, base_amount * 10**b.decimals, q, quote_amount * 10**q.decimals)
        pools[f"{base}/{quote}"] = pool
        accounts += docs
    return pools, accounts


def diff(after: Counter[str], before: Counter[str]) -> Counter[str]:
    return Counter({k: after[k] - before[k] for k in after if after[k] - before[k]})


def print_chain(result: dict[str, Any], pools: dict[str, CpmmPool], span: float, pushed: bool) -> None:
    before, after = result["tally"]
    requests, reads = diff(after["requests"], before["requests"]), diff(after["reads"], before["reads"])
    pairs = {p["name"]: p for p in result["pairs"].values() if p["waiting"]}
    waiting = sum(p["waiting"] for p in pairs.values())
    http = sum(n for k, n in requests.items() if k.startswith("http:"))
    print(f"  {waiting} waiting orders over {len(pairs)} pairs: watcher CPU {result['cpu'] * 1000:.1f} ms per second, "
          f"{http / span:.2f} HTTP RPC calls/s in all")  # fmt: skip
    for name, p in sorted(pairs.items()):
        calls = reads[str(pools[name].address)] / span
        print(f"    {name:>9}: {p['waiting']:4d} orders, {calls:.2f} RPC calls/s, {p['reads']:.2f} snapshots/s, "
              f"{p['priced']:.1f} sizes priced/s, {'pushed' if pushed else 'polled'}")  # fmt: skip
    by_method = ", ".join(f"{k} {n / span:.2f}/s" for k, n in sorted(requests.items())) or "none"
    notified = after["notifications"]["all"] - before["notifications"]["all"]
    subscribed = after["requests"]["pubsub:accountSubscribe"]
    print(f"    from the watcher process: {by_method}; PubSub notifications pushed to it {notified / span:.2f}/s "
          f"({subscribed} accountSubscribe since it started)")  # fmt: skip


async def move_price(url: str, pool: CpmmPool, tally: WatcherTally, moves: int, every_s: float) -> list[dict[str, Any]]:
    """Replace the pool's quote vault ``moves`` times, ``every_s`` apart. For each move: how long until the
    watcher read the pool again, and what it was pushed and read within ``AFTER_S`` of that read."""
    key = str(pool.address)
    seen: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=10) as http:
        info = await rpc(http, url, "getTokenAccountBalance", str(pool.state.token_1_vault))
        amount = int(info["value"]["amount"])
        for i in range(moves):
            await asyncio.sleep(every_s)
            before = await tally.read()
            amount += amount // 200 * (1 if i % 2 == 0 else -1)  # 0.5% more quote, then back
            t0 = time.monotonic()
            await place(http, url, [pool.vault_with(1, amount)])
            now = before
            while now["reads"][key] == before["reads"][key] and time.monotonic() - t0 < 2 * every_s:
                await asyncio.sleep(0.005)
                now = await tally.read()
            latency = time.monotonic() - t0
            await asyncio.sleep(AFTER_S)
            after = await tally.read()
            seen.append({"latency": latency, "reads": after["reads"][key] - before["reads"][key],
                         "calls": sum(diff(after["requests"], before["requests"]).values()),
                         "notified": after["notifications"]["all"] - before["notifications"]["all"]})  # fmt: skip
    return seen


def run_onchain(settings: Settings, orders: int, seconds: float) -> None:
    """The on-chain run: 3 then ``orders`` waiting limit orders, then a few pushed price moves."""
    pools, accounts = pools_on_chain()
    net: LocalnetHandle = start_localnet(slot_ms=400)
    engine = Engine(settings, 10, "0", "0")
    book = {"pools": [p.book_entry() for p in pools.values()]}
    engine.env.update(OEE_NAMESPACE=f"oee:bench-waiting-chain:{engine.port}", ROUTING="onchain",
                      ENABLED_DEXES="raydium", POOLS_JSON=orjson.dumps(book).decode(), SOLANA_NETWORK="localnet",
                      SOLANA_RPC_URL=net.url)  # fmt: skip
    print(f"\n== waiting orders on chain: one watcher process, Raydium CPMM pools on a localnet at {net.url} ==")
    ids: list[str] = []
    try:

        async def setup() -> None:
            async with httpx.AsyncClient(timeout=10) as http:
                await place(http, net.url, accounts)

        asyncio.run(setup())
        engine.start_api()
        watcher = subprocess.Popen([sys.executable, "-m", "tools.cli", "watcher"], env=engine.env)
        engine.procs.append(watcher)
        tally = WatcherTally(net.url, watcher.pid)
        for bodies in (far_orders(len(PAIRS)), far_orders(orders - len(PAIRS))):
            result = asyncio.run(measure(engine, watcher.pid, settings, bodies, seconds, ids, probe=tally.read))
            subscribed = result["tally"][1]["requests"]["pubsub:accountSubscribe"]
            pushed = subscribed > 0 and _holds_pubsub(watcher.pid, net.url)
            print_chain(result, pools, result["span"], pushed)
        moved = asyncio.run(move_price(net.url, pools["SOL/USDC"], tally, MOVES, MOVE_EVERY_S))
        print(f"  SOL/USDC's USDC vault replaced {MOVES} times while {len(ids)} orders wait (localnet_setAccount); "
              f"per move, until {AFTER_S * 1000:.0f} ms after the watcher's next read of the pool:")  # fmt: skip
        for i, m in enumerate(moved, 1):
            print(f"    move {i}: pool seen read again within {m['latency'] * 1000:.0f} ms; {m['notified']} "
                  f"notifications pushed, {m['reads']} reads of the pool ({m['calls']} RPC calls from the watcher, "
                  "other pairs' timed re-reads included)")  # fmt: skip
    finally:
        if ids and engine.procs:
            asyncio.run(cancel(engine, ids))
        engine.stop()
        net.stop()


def _holds_pubsub(pid: int, rpc_url: str) -> bool:
    """Whether process ``pid`` holds a TCP connection to the localnet's PubSub port (the RPC port + 1)."""
    ws_port = int(rpc_url.rsplit(":", 1)[1]) + 1
    ports = socket_ports(pid)
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, remote = int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16)
            if local in ports and remote == ws_port and fields[3] == "01":  # 01: ESTABLISHED
                return True
    return False
