"""A pair's loop stops when cancelled, wherever the cancel finds it: also while it is cleaning up the waits
of an update that just ended (a cancel swallowed there kept a watcher from ever stopping)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from engine.watcher.book import PairBook
from engine.watcher.pair import PairLoop
from kernel.tokens import Token

SOL = Token("SOL", "Solana", 9, "So11111111111111111111111111111111111111112")
USDC = Token("USDC", "USD Coin", 6, "EPjFWyd5wQ5xvY4zFhPSYCAacKSSMRkXBZRCJ4h4Wn3m")


@dataclass(frozen=True)
class NoPool:
    dex: str
    token_in: Token = SOL
    token_out: Token = USDC
    pool: None = None
    opens: None = None
    now: None = None
    version: int = 0


class Dex:
    """Says its pools changed at once (``eager``) or never; a cancelled wait takes a moment to unwind."""

    def __init__(self, name: str, eager: bool) -> None:
        self.name = name
        self.eager = eager

    async def snapshot(self, token_in: Token, token_out: Token) -> NoPool:
        return NoPool(self.name)

    async def wait_change(self, token_in: Token, token_out: Token, timeout: float) -> bool:  # noqa: ASYNC109 - the protocol's
        try:
            await asyncio.sleep(0 if self.eager else timeout)
        except asyncio.CancelledError:
            await asyncio.sleep(0.002)  # unwinding, as a real subscription does
            raise
        return True


async def _nothing(*_: object) -> list[object]:
    return []


async def test_a_cancelled_loop_ends_wherever_the_cancel_lands() -> None:
    rng = random.Random(3)
    for _ in range(60):
        loop = PairLoop(SOL, USDC, [Dex("a", eager=True), Dex("b", eager=False)], PairBook(),  # type: ignore[list-item]
                        fire=_nothing, expire=_nothing, max_wait_s=5)  # type: ignore[arg-type]  # fmt: skip
        task = asyncio.create_task(loop.run())
        await asyncio.sleep(rng.uniform(0, 0.02))
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2)
        assert done, "the loop swallowed its cancellation and went on"
        assert task.cancelled()
