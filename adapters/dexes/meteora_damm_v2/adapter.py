"""``MeteoraDammV2Adapter``: quotes Meteora DAMM v2 pools read from a Solana cluster and builds their swaps.

What every on-chain DEX does alike is :class:`~adapters.onchain_dex.OnChainAdapter`'s. Here: each quote reads
every pool it considers, its mints and the Clock in one ``getMultipleAccounts``
(:meth:`MeteoraDammV2Client.snapshots`) and prices them with
:func:`~adapters.dexes.meteora_damm_v2.math.quote_exact_in`; the swap is ``swap2`` in exact-in mode, or
exact-out mode for the first leg of a hop.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from adapters.dexes.meteora_damm_v2.client import MeteoraDammV2Client
from adapters.dexes.meteora_damm_v2.config import (
    DEX_NAME,
    MAX_POOLS_PER_QUOTE,
    PROGRAM_NAME,
    SLIPPAGE,
    MeteoraDammV2Config,
)
from adapters.dexes.meteora_damm_v2.instructions import swap_pool, token_programs
from adapters.dexes.meteora_damm_v2.layouts import Pool
from adapters.dexes.meteora_damm_v2.math import DammExactOut
from adapters.dexes.meteora_damm_v2.pricing import PricedPool, price_exact_out, price_snapshots
from adapters.onchain_dex import OnChainAdapter, Priced
from adapters.pools import PoolBook, parse_address
from adapters.solana.errors import MalformedAccount
from adapters.solana.spl import TokenSide
from kernel.errors import RejectedError
from kernel.routes import LegMode
from kernel.tokens import Token


class MeteoraDammV2Adapter(OnChainAdapter[MeteoraDammV2Config, Pool, PricedPool]):
    """Meteora DAMM v2 on one cluster. Implements :class:`kernel.venues.OnChainDex`."""

    name = DEX_NAME
    label = "Meteora DAMM v2"
    slippage = SLIPPAGE

    @staticmethod
    def default_config(book: PoolBook) -> MeteoraDammV2Config:
        return MeteoraDammV2Config(program_id=book.program_id(PROGRAM_NAME))

    @functools.cached_property
    def client(self) -> MeteoraDammV2Client:
        return MeteoraDammV2Client(self._rpc, self.config)

    @property
    def max_pools_per_quote(self) -> int:
        return MAX_POOLS_PER_QUOTE

    # --- pools -----------------------------------------------------------------------------------------

    async def _find(self, mint_0: Pubkey, mint_1: Pubkey) -> Mapping[Pubkey, Pool]:
        return await self.client.discover(mint_0, mint_1)

    async def _prepare(self, addresses: Sequence[Pubkey], token_in: Token, token_out: Token) -> None:
        await self._load_pools(
            addresses, token_in, token_out, self.client.pool_states, lambda s: (s.token_a_mint, s.token_b_mint)
        )

    # --- pricing ---------------------------------------------------------------------------------------

    async def _price_each(
        self, addresses: Sequence[Pubkey], token_in: Token, token_out: Token, amount: int
    ) -> list[Priced[PricedPool] | RejectedError]:
        """Read every pool in one call and quote each (:func:`price_snapshots`)."""
        clock, snapshots = await self.client.snapshots({a: self._pools[a] for a in addresses})
        return price_snapshots(clock, snapshots, token_in, token_out, amount)

    async def quote_exact_out(self, pool: str, token_in: Token, token_out: Token, amount_out: int) -> DammExactOut:
        """What ``swap2`` in exact-out mode on ``pool`` spends now for exactly ``amount_out``."""
        address = parse_address(pool, "pool")
        await self._prepare([address], token_in, token_out)
        clock, (snap,) = await self.client.snapshots({address: self._pools[address]})
        return price_exact_out(clock, snap, token_in, amount_out)

    # --- the swap --------------------------------------------------------------------------------------

    def _sides(self, fresh: PricedPool) -> tuple[TokenSide, TokenSide, int]:
        state, q = fresh.snapshot.state, fresh.quote
        try:
            program_a, program_b = token_programs(state)
        except ValueError as exc:
            raise MalformedAccount(f"pool {fresh.snapshot.address}: {exc}") from exc
        side_a, side_b = TokenSide(state.token_a_mint, program_a), TokenSide(state.token_b_mint, program_b)
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
        """``swap2`` exact in (``EXACT_IN``) or exact out (``EXACT_OUT``) on the fresh quote's pool."""
        return swap_pool(
            self.program_id, fresh.snapshot.address, fresh.snapshot.state, payer=owner,
            input_token_account=account_in, output_token_account=account_out, amount_in=amount_in,
            minimum_amount_out=amount_out, exact_out=mode is LegMode.EXACT_OUT,
        )  # fmt: skip
