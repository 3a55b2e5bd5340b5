"""``RaydiumCpmmAdapter``: quotes Raydium CPMM pools read from a Solana cluster and builds their swaps.

What every on-chain DEX does alike is :class:`~adapters.onchain.OnChainAdapter`'s. Here: each quote reads
every pool it considers in one ``getMultipleAccounts`` (:meth:`RaydiumCpmmClient.snapshots`) and prices
them with :func:`~adapters.raydium_cpmm.math.quote_exact_in`; the swap is ``swap_base_input``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from adapters.onchain import OnChainAdapter, Priced
from adapters.pools import PoolBook
from adapters.raydium_cpmm.client import RaydiumCpmmClient
from adapters.raydium_cpmm.config import DEX_NAME, MAX_POOLS_PER_QUOTE, PROGRAM_NAME, SLIPPAGE, RaydiumCpmmConfig
from adapters.raydium_cpmm.instructions import swap_pool
from adapters.raydium_cpmm.layouts import PoolState
from adapters.raydium_cpmm.pricing import PricedPool, price_snapshots
from adapters.solana.spl import TokenSide, around_swap
from kernel.errors import FatalError, RejectedError
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
        """Read the state of each pool not seen before (a pool that does not exist is a configuration
        error) and check that it trades the pair."""
        missing = [a for a in addresses if a not in self._pools]
        if missing:
            for address, state in (await self.client.pool_states(missing)).items():
                if state is None:
                    raise FatalError(f"no Raydium CPMM pool exists at {address} on {self._book.network.value}")
                self._pools[address] = state
        for address in addresses:
            mints = {str(self._pools[address].token_0_mint), str(self._pools[address].token_1_mint)}
            if mints != {token_in.mint, token_out.mint}:
                raise FatalError(
                    f"pool {address} trades {' / '.join(sorted(mints))}, not {token_in.symbol}/{token_out.symbol}"
                )

    # --- pricing ---------------------------------------------------------------------------------------

    async def _price_each(
        self, addresses: Sequence[Pubkey], token_in: Token, token_out: Token, amount: int
    ) -> list[Priced[PricedPool] | RejectedError]:
        """Read every pool in one call and quote each (:func:`price_snapshots`)."""
        clock, snapshots = await self.client.snapshots({a: self._pools[a] for a in addresses})
        return price_snapshots(clock, snapshots, token_in, token_out, amount)

    # --- the swap --------------------------------------------------------------------------------------

    def instructions(self, fresh: PricedPool, min_amount_out: int, owner: Pubkey) -> list[Instruction]:
        """``swap_base_input`` of the fresh quote, framed by the token account steps it needs."""
        state, q = fresh.snapshot.state, fresh.quote
        side_0 = TokenSide(state.token_0_mint, state.token_0_program)
        side_1 = TokenSide(state.token_1_mint, state.token_1_program)
        side_in, side_out = (side_0, side_1) if q.zero_for_one else (side_1, side_0)
        swap = swap_pool(
            self.program_id,
            fresh.snapshot.address,
            state,
            zero_for_one=q.zero_for_one,
            payer=owner,
            input_token_account=side_in.account(owner),
            output_token_account=side_out.account(owner),
            amount_in=q.amount_in,
            minimum_amount_out=min_amount_out,
        )
        return around_swap(owner, side_in, side_out, q.amount_in, swap)
