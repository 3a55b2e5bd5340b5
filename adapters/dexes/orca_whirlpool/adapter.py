"""``OrcaWhirlpoolAdapter``: quotes Orca Whirlpools read from a Solana cluster and builds their swaps.

What every on-chain DEX does alike is :class:`~adapters.onchain_dex.OnChainAdapter`'s. Here: each quote reads
every pool it considers, its mints and the tick arrays around its price in one ``getMultipleAccounts``
(:meth:`OrcaWhirlpoolClient.snapshots`) and prices them with
:func:`~adapters.dexes.orca_whirlpool.math.quote_exact_in`; the swap is ``swap_v2`` in exact-in mode, or
exact-out mode for the first leg of a hop, naming the three tick arrays its walk takes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from adapters.dexes.orca_whirlpool.client import OrcaWhirlpoolClient
from adapters.dexes.orca_whirlpool.config import (
    DEX_NAME,
    MAX_POOLS_PER_QUOTE,
    PROGRAM_NAME,
    SLIPPAGE,
    OrcaWhirlpoolConfig,
)
from adapters.dexes.orca_whirlpool.instructions import swap_pool
from adapters.dexes.orca_whirlpool.layouts import Whirlpool
from adapters.dexes.orca_whirlpool.math import WhirlpoolQuote
from adapters.dexes.orca_whirlpool.pricing import PricedPool, price_exact_out, price_snapshots
from adapters.onchain_dex import OnChainAdapter, Priced
from adapters.pools import PoolBook, parse_address
from adapters.solana.spl import TokenSide
from kernel.errors import RejectedError
from kernel.routes import LegMode
from kernel.tokens import Token


class OrcaWhirlpoolAdapter(OnChainAdapter[OrcaWhirlpoolConfig, Whirlpool, PricedPool]):
    """Orca Whirlpool on one cluster. Implements :class:`kernel.venues.OnChainDex`."""

    name = DEX_NAME
    label = "Orca Whirlpool"
    slippage = SLIPPAGE

    @staticmethod
    def default_config(book: PoolBook) -> OrcaWhirlpoolConfig:
        return OrcaWhirlpoolConfig(program_id=book.program_id(PROGRAM_NAME))

    @functools.cached_property
    def client(self) -> OrcaWhirlpoolClient:
        return OrcaWhirlpoolClient(self._rpc, self.config)

    @property
    def max_pools_per_quote(self) -> int:
        return MAX_POOLS_PER_QUOTE

    # --- pools -----------------------------------------------------------------------------------------

    async def _find(self, mint_0: Pubkey, mint_1: Pubkey) -> Mapping[Pubkey, Whirlpool]:
        return await self.client.discover(mint_0, mint_1)

    async def _prepare(self, addresses: Sequence[Pubkey], token_in: Token, token_out: Token) -> None:
        await self._load_pools(
            addresses, token_in, token_out, self.client.pool_states, lambda s: (s.token_mint_a, s.token_mint_b)
        )

    # --- pricing ---------------------------------------------------------------------------------------

    async def _price_each(
        self, addresses: Sequence[Pubkey], token_in: Token, token_out: Token, amount: int
    ) -> list[Priced[PricedPool] | RejectedError]:
        """Read every pool in one call and quote each (:func:`price_snapshots`)."""
        snapshots = await self.client.snapshots({a: self._pools[a] for a in addresses})
        for snap in snapshots:  # where the next read looks for the tick arrays: around the price now
            self._pools[snap.address] = snap.state
        return price_snapshots(snapshots, token_in, token_out, amount)

    async def quote_exact_out(self, pool: str, token_in: Token, token_out: Token, amount_out: int) -> WhirlpoolQuote:
        """What ``swap_v2`` in exact-out mode on ``pool`` spends now for exactly ``amount_out``."""
        address = parse_address(pool, "pool")
        await self._prepare([address], token_in, token_out)
        (snap,) = await self.client.snapshots({address: self._pools[address]})
        return price_exact_out(snap, token_in, amount_out)

    # --- the swap --------------------------------------------------------------------------------------

    def _sides(self, fresh: PricedPool) -> tuple[TokenSide, TokenSide, int]:
        snap, q = fresh.snapshot, fresh.quote
        side_a = TokenSide(snap.state.token_mint_a, snap.program_a)
        side_b = TokenSide(snap.state.token_mint_b, snap.program_b)
        return (side_a, side_b, q.amount_in) if q.a_to_b else (side_b, side_a, q.amount_in)

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
        """``swap_v2`` exact in (``EXACT_IN``) or exact out (``EXACT_OUT``) on the fresh quote's pool."""
        snap = fresh.snapshot
        return swap_pool(
            self.program_id, snap.address, snap.state, owner=owner, input_token_account=account_in,
            output_token_account=account_out, amount_in=amount_in, minimum_amount_out=amount_out,
            a_to_b=fresh.quote.a_to_b, exact_out=mode is LegMode.EXACT_OUT, token_program_a=snap.program_a,
            token_program_b=snap.program_b,
        )  # fmt: skip
