"""``RaydiumClmmAdapter``: quotes Raydium CLMM pools read from a Solana cluster and builds their swaps.

What every on-chain DEX does alike is :class:`~adapters.onchain_dex.OnChainAdapter`'s. Here: each quote reads
every pool it considers with its config, bitmap extension, mints, the tick arrays of its walk and the Clock in
one ``getMultipleAccounts`` (:meth:`RaydiumClmmClient.snapshots`) and prices them with
:func:`~adapters.dexes.raydium_clmm.math.swap`; the swap is ``swap_v2`` exact in, or exact out for the first
leg of a hop, naming the tick arrays the quote walked (with the one behind and two beyond, so a price that
moved a little before the swap lands still finds its arrays).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from adapters.dexes.raydium_clmm.client import PoolSnapshot, RaydiumClmmClient, walk_window
from adapters.dexes.raydium_clmm.config import (
    DEX_NAME,
    MAX_POOLS_PER_QUOTE,
    PROGRAM_NAME,
    SLIPPAGE,
    RaydiumClmmConfig,
)
from adapters.dexes.raydium_clmm.instructions import swap_pool
from adapters.dexes.raydium_clmm.layouts import PoolState
from adapters.dexes.raydium_clmm.math import ClmmQuote
from adapters.dexes.raydium_clmm.pricing import PricedPool, price_exact_out, price_snapshots
from adapters.onchain_dex import OnChainAdapter, Priced
from adapters.pools import PoolBook, parse_address
from adapters.solana.accounts import Clock
from adapters.solana.spl import TokenSide
from kernel.errors import RejectedError
from kernel.routes import LegMode
from kernel.tokens import Token

EXTRA_TICK_ARRAYS = 2  # named beyond the quote's walk


def swap_tick_arrays(fresh: PricedPool) -> list[int]:
    """The tick arrays a swap names: the one behind the walk's first, the walk, then up to
    :data:`EXTRA_TICK_ARRAYS` more of those read (the program skips any it does not need)."""
    snap, walked = fresh.snapshot, list(fresh.quote.tick_arrays)
    window = [s for s in walk_window(snap.state, snap.extension, fresh.zero_for_one) if s in snap.tick_arrays]
    first = window.index(walked[0]) if walked[0] in window else 0
    last = window.index(walked[-1]) if walked[-1] in window else len(window)
    return window[:first][-1:] + walked + window[last + 1 :][:EXTRA_TICK_ARRAYS]


class RaydiumClmmAdapter(OnChainAdapter[RaydiumClmmConfig, PoolState, PricedPool]):
    """Raydium CLMM on one cluster. Implements :class:`kernel.venues.OnChainDex`."""

    name = DEX_NAME
    label = "Raydium CLMM"
    slippage = SLIPPAGE

    @staticmethod
    def default_config(book: PoolBook) -> RaydiumClmmConfig:
        return RaydiumClmmConfig(program_id=book.program_id(PROGRAM_NAME))

    @functools.cached_property
    def client(self) -> RaydiumClmmClient:
        return RaydiumClmmClient(self._rpc, self.config)

    @property
    def max_pools_per_quote(self) -> int:
        return MAX_POOLS_PER_QUOTE

    # --- pools -----------------------------------------------------------------------------------------

    async def _find(self, mint_0: Pubkey, mint_1: Pubkey) -> Mapping[Pubkey, PoolState]:
        return await self.client.discover(mint_0, mint_1)

    async def _prepare(self, addresses: Sequence[Pubkey], token_in: Token, token_out: Token) -> None:
        await self._load_pools(
            addresses, token_in, token_out, self.client.pool_states, lambda s: (s.token_mint_0, s.token_mint_1)
        )

    async def _read(self, addresses: Sequence[Pubkey], token_in: Token) -> tuple[Clock, list[PoolSnapshot]]:
        """Every pool's snapshot in the direction ``token_in`` goes, read together."""
        pools = {a: self._pools[a] for a in addresses}
        clock, snaps = await self.client.snapshots(pools, {a: str(s.token_mint_0) == token_in.mint
                                                           for a, s in pools.items()})  # fmt: skip
        for snap in snaps:
            self._pools[snap.address] = snap.state  # where the next read looks for tick arrays
        return clock, snaps

    # --- pricing ---------------------------------------------------------------------------------------

    async def _price_each(
        self, addresses: Sequence[Pubkey], token_in: Token, token_out: Token, amount: int
    ) -> list[Priced[PricedPool] | RejectedError]:
        """Read every pool in one call and quote each (:func:`price_snapshots`)."""
        clock, snapshots = await self._read(addresses, token_in)
        return price_snapshots(clock, snapshots, token_in, token_out, amount)

    async def quote_exact_out(self, pool: str, token_in: Token, token_out: Token, amount_out: int) -> ClmmQuote:
        """What ``swap_v2`` exact out on ``pool`` spends now for exactly ``amount_out``."""
        address = parse_address(pool, "pool")
        await self._prepare([address], token_in, token_out)
        clock, (snap,) = await self._read([address], token_in)
        return price_exact_out(clock, snap, token_in, amount_out)

    # --- the swap --------------------------------------------------------------------------------------

    def _sides(self, fresh: PricedPool) -> tuple[TokenSide, TokenSide, int]:
        snap = fresh.snapshot
        side_0 = TokenSide(snap.state.token_mint_0, snap.program_0)
        side_1 = TokenSide(snap.state.token_mint_1, snap.program_1)
        amount = fresh.quote.amount_in
        return (side_0, side_1, amount) if fresh.zero_for_one else (side_1, side_0, amount)

    def swap_instruction(
        self,
        fresh: PricedPool,
        owner: Pubkey,
        account_in: Pubkey,
        account_out: Pubkey,
        *,
        mode: LegMode,
        amount_in: int,
        amount_out: int,
    ) -> Instruction:
        """``swap_v2`` exact in (``EXACT_IN``: ``amount_in`` for at least ``amount_out``) or exact out
        (``EXACT_OUT``: exactly ``amount_out`` for at most ``amount_in``) on the fresh quote's pool."""
        snap = fresh.snapshot
        exact_out = mode is LegMode.EXACT_OUT
        amount, threshold = (amount_out, amount_in) if exact_out else (amount_in, amount_out)
        return swap_pool(
            self.program_id, snap.address, snap.state, payer=owner, input_token_account=account_in,
            output_token_account=account_out, zero_for_one=fresh.zero_for_one, amount=amount,
            other_amount_threshold=threshold, is_base_input=not exact_out, tick_arrays=swap_tick_arrays(fresh),
            with_extension=snap.extension is not None,
        )  # fmt: skip
