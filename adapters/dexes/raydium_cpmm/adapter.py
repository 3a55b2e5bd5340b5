"""``RaydiumCpmmAdapter``: quotes Raydium CPMM pools read from a Solana cluster and builds their swaps.

What every on-chain DEX does alike is :class:`~adapters.onchain_dex.OnChainAdapter`'s. Here: each quote reads
every pool it considers in one ``getMultipleAccounts`` (:meth:`RaydiumCpmmClient.snapshots`) and prices
them with :func:`~adapters.dexes.raydium_cpmm.math.quote_exact_in`; the swap is ``swap_base_input``, or
``swap_base_output`` for an exact-out leg.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from adapters.dexes.raydium_cpmm.client import RaydiumCpmmClient
from adapters.dexes.raydium_cpmm.config import DEX_NAME, MAX_POOLS_PER_QUOTE, PROGRAM_NAME, SLIPPAGE, RaydiumCpmmConfig
from adapters.dexes.raydium_cpmm.instructions import swap_pool
from adapters.dexes.raydium_cpmm.layouts import PoolState
from adapters.dexes.raydium_cpmm.math import CpmmExactOut, quote_exact_out
from adapters.dexes.raydium_cpmm.pricing import PricedPool, price_snapshots
from adapters.onchain_dex import OnChainAdapter, Priced
from adapters.pools import PoolBook, parse_address
from adapters.solana.spl import TokenSide
from kernel.errors import RejectedError
from kernel.routes import LegMode
from kernel.tokens import Token


class RaydiumCpmmAdapter(OnChainAdapter[RaydiumCpmmConfig, PoolState, PricedPool]):
    """Raydium CPMM on one cluster. Implements :class:`kernel.venues.OnChainDex`."""

    name = DEX_NAME
    label = "Raydium CPMM"
    slippage = SLIPPAGE

    @staticmethod
    def default_config(book: PoolBook) -> RaydiumCpmmConfig:
        return RaydiumCpmmConfig(program_id=book.program_id(PROGRAM_NAME))

    @functools.cached_property
    def client(self) -> RaydiumCpmmClient:
        return RaydiumCpmmClient(self._rpc, self.config)

    @property
    def max_pools_per_quote(self) -> int:
        return MAX_POOLS_PER_QUOTE

    # --- pools -----------------------------------------------------------------------------------------

    async def _find(self, mint_0: Pubkey, mint_1: Pubkey) -> Mapping[Pubkey, PoolState]:
        return await self.client.discover(mint_0, mint_1)

    async def _prepare(self, addresses: Sequence[Pubkey], token_in: Token, token_out: Token) -> None:
        await self._load_pools(
            addresses, token_in, token_out, self.client.pool_states, lambda s: (s.token_0_mint, s.token_1_mint)
        )

    # --- pricing ---------------------------------------------------------------------------------------

    async def _price_each(
        self, addresses: Sequence[Pubkey], token_in: Token, token_out: Token, amount: int
    ) -> list[Priced[PricedPool] | RejectedError]:
        """Read every pool in one call and quote each (:func:`price_snapshots`)."""
        clock, snapshots = await self.client.snapshots({a: self._pools[a] for a in addresses})
        return price_snapshots(clock, snapshots, token_in, token_out, amount)

    async def quote_exact_out(self, pool: str, token_in: Token, token_out: Token, amount_out: int) -> CpmmExactOut:
        """What ``swap_base_output`` on ``pool`` spends now for exactly ``amount_out`` (the first leg of a hop)."""
        address = parse_address(pool, "pool")
        await self._prepare([address], token_in, token_out)
        clock, (snap,) = await self.client.snapshots({address: self._pools[address]})
        return quote_exact_out(
            snap.state, snap.config, snap.vault_0_amount, snap.vault_1_amount, amount_out,
            zero_for_one=str(snap.state.token_0_mint) == token_in.mint, now=clock.unix_timestamp,
        )  # fmt: skip

    # --- the swap --------------------------------------------------------------------------------------

    def _sides(self, fresh: PricedPool) -> tuple[TokenSide, TokenSide, int]:
        state, q = fresh.snapshot.state, fresh.quote
        side_0 = TokenSide(state.token_0_mint, state.token_0_program)
        side_1 = TokenSide(state.token_1_mint, state.token_1_program)
        return (side_0, side_1, q.amount_in) if q.zero_for_one else (side_1, side_0, q.amount_in)

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
        """``swap_base_input`` (``EXACT_IN``) or ``swap_base_output`` (``EXACT_OUT``) on the fresh quote's pool."""
        return swap_pool(
            self.program_id, fresh.snapshot.address, fresh.snapshot.state, zero_for_one=fresh.quote.zero_for_one,
            payer=owner, input_token_account=account_in, output_token_account=account_out, amount_in=amount_in,
            minimum_amount_out=amount_out, exact_out=mode is LegMode.EXACT_OUT,
        )  # fmt: skip
