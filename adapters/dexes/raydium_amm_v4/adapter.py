"""``RaydiumAmmV4Adapter``: quotes Raydium AMM v4 pools read from a Solana cluster and builds their swaps.

What every on-chain DEX does alike is :class:`~adapters.onchain_dex.OnChainAdapter`'s. Here: each quote reads
every pool it considers in one ``getMultipleAccounts`` (:meth:`RaydiumAmmV4Client.snapshots`) and prices
them with :func:`~adapters.dexes.raydium_amm_v4.math.quote_exact_in`; the swap is ``swap_base_in``, or
``swap_base_out`` for an exact-out leg. Only pools that swap without their OpenBook market are traded.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from adapters.dexes.raydium_amm_v4.client import RaydiumAmmV4Client
from adapters.dexes.raydium_amm_v4.config import (
    DEX_NAME,
    MAX_POOLS_PER_QUOTE,
    PROGRAM_NAME,
    SLIPPAGE,
    RaydiumAmmV4Config,
)
from adapters.dexes.raydium_amm_v4.instructions import swap_pool
from adapters.dexes.raydium_amm_v4.layouts import AmmInfo
from adapters.dexes.raydium_amm_v4.math import AmmV4ExactOut, quote_exact_out
from adapters.dexes.raydium_amm_v4.pricing import PricedPool, coin_to_pc, price_snapshots
from adapters.onchain_dex import OnChainAdapter, Priced
from adapters.pools import PoolBook, parse_address
from adapters.solana.spl import TOKEN_PROGRAM_ID, TokenSide
from kernel.errors import RejectedError
from kernel.routes import LegMode
from kernel.tokens import Token


class RaydiumAmmV4Adapter(OnChainAdapter[RaydiumAmmV4Config, AmmInfo, PricedPool]):
    """Raydium AMM v4 on one cluster. Implements :class:`kernel.venues.OnChainDex`."""

    name = DEX_NAME
    label = "Raydium AMM v4"
    slippage = SLIPPAGE

    @staticmethod
    def default_config(book: PoolBook) -> RaydiumAmmV4Config:
        return RaydiumAmmV4Config(program_id=book.program_id(PROGRAM_NAME))

    @functools.cached_property
    def client(self) -> RaydiumAmmV4Client:
        return RaydiumAmmV4Client(self._rpc, self.config)

    @property
    def max_pools_per_quote(self) -> int:
        return MAX_POOLS_PER_QUOTE

    # --- pools -----------------------------------------------------------------------------------------

    async def _find(self, mint_0: Pubkey, mint_1: Pubkey) -> Mapping[Pubkey, AmmInfo]:
        return await self.client.discover(mint_0, mint_1)

    async def _prepare(self, addresses: Sequence[Pubkey], token_in: Token, token_out: Token) -> None:
        await self._load_pools(
            addresses, token_in, token_out, self.client.pool_states, lambda s: (s.coin_vault_mint, s.pc_vault_mint)
        )

    # --- pricing ---------------------------------------------------------------------------------------

    async def _price_each(
        self, addresses: Sequence[Pubkey], token_in: Token, token_out: Token, amount: int
    ) -> list[Priced[PricedPool] | RejectedError]:
        """Read every pool in one call and quote each (:func:`price_snapshots`)."""
        clock, snapshots = await self.client.snapshots({a: self._pools[a] for a in addresses})
        return price_snapshots(clock, snapshots, token_in, token_out, amount, self.config.build)

    async def quote_exact_out(self, pool: str, token_in: Token, token_out: Token, amount_out: int) -> AmmV4ExactOut:
        """What ``swap_base_out`` on ``pool`` spends now for exactly ``amount_out``."""
        address = parse_address(pool, "pool")
        await self._prepare([address], token_in, token_out)
        clock, (snap,) = await self.client.snapshots({address: self._pools[address]})
        return quote_exact_out(
            snap.state, snap.coin_vault_amount, snap.pc_vault_amount, amount_out,
            coin_to_pc=coin_to_pc(snap, token_in), now=clock.unix_timestamp, build=self.config.build,
        )  # fmt: skip

    # --- the swap --------------------------------------------------------------------------------------

    def _sides(self, fresh: PricedPool) -> tuple[TokenSide, TokenSide, int]:
        state, q = fresh.snapshot.state, fresh.quote
        coin = TokenSide(state.coin_vault_mint, TOKEN_PROGRAM_ID)
        pc = TokenSide(state.pc_vault_mint, TOKEN_PROGRAM_ID)
        return (coin, pc, q.amount_in) if q.coin_to_pc else (pc, coin, q.amount_in)

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
        """``swap_base_in`` (``EXACT_IN``) or ``swap_base_out`` (``EXACT_OUT``) on the fresh quote's pool."""
        return swap_pool(
            self.program_id, fresh.snapshot.address, fresh.snapshot.state, owner=owner, user_source=account_in,
            user_destination=account_out, amount_in=amount_in, minimum_amount_out=amount_out,
            exact_out=mode is LegMode.EXACT_OUT,
        )  # fmt: skip
