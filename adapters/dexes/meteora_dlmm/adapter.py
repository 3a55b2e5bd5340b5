"""``MeteoraDlmmAdapter``: quotes Meteora DLMM pairs read from a Solana cluster and builds their swaps.

What every on-chain DEX does alike is :class:`~adapters.onchain_dex.OnChainAdapter`'s. Here:
:class:`~adapters.dexes.meteora_dlmm.client.MeteoraDlmmClient` reads every candidate pair in shared rounds of
``getMultipleAccounts`` and prices it with :func:`~adapters.dexes.meteora_dlmm.math.quote_exact_in`; the swap
is ``swap2`` with the bin arrays the quote walks (``swap_exact_out2`` for an exact-out leg).
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Mapping, Sequence

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from adapters.dexes.meteora_dlmm.client import MeteoraDlmmClient
from adapters.dexes.meteora_dlmm.config import DEX_NAME, PROGRAM_NAME, SLIPPAGE, MeteoraDlmmConfig
from adapters.dexes.meteora_dlmm.instructions import bin_array_address, bitmap_extension_address, swap2, token_programs
from adapters.dexes.meteora_dlmm.math import Bitmap, PairAccounts
from adapters.dexes.meteora_dlmm.pricing import PoolQuote, priced
from adapters.onchain_dex import OnChainAdapter, Priced
from adapters.pools import PoolBook, parse_address
from adapters.solana.errors import DiscoveryRefused
from adapters.solana.spl import TokenSide
from kernel.errors import RejectedError
from kernel.routes import LegMode
from kernel.tokens import Token

log = logging.getLogger("oee.meteora_dlmm")


class MeteoraDlmmAdapter(OnChainAdapter[MeteoraDlmmConfig, PairAccounts, PoolQuote]):
    """Meteora DLMM on one cluster. Implements :class:`kernel.venues.OnChainDex`."""

    name = DEX_NAME
    label = "Meteora DLMM"
    slippage = SLIPPAGE

    @staticmethod
    def default_config(book: PoolBook) -> MeteoraDlmmConfig:
        return MeteoraDlmmConfig(program_id=book.program_id(PROGRAM_NAME))

    @functools.cached_property
    def client(self) -> MeteoraDlmmClient:
        return MeteoraDlmmClient(self._rpc, self.config)

    @property
    def max_pools_per_quote(self) -> int:
        return self.config.max_pools_per_quote

    # --- pools -----------------------------------------------------------------------------------------

    async def _find(self, mint_0: Pubkey, mint_1: Pubkey) -> Mapping[Pubkey, PairAccounts]:
        """The enabled pairs of the two mints; none where the node refuses ``getProgramAccounts`` (a DLMM
        pair has no canonical address to check instead)."""
        try:
            found = await self.client.find_pairs(mint_0, mint_1)
        except DiscoveryRefused as exc:
            log.debug("getProgramAccounts refused (%s): no DLMM pair can be discovered", exc)
            return {}
        return {address: pool for address, pool in found.items() if pool.pair.status == 0}

    def _remember(self, address: Pubkey, pool: PairAccounts) -> None:
        super()._remember(address, pool)
        self.client.remember(pool)

    # --- pricing ---------------------------------------------------------------------------------------

    async def _price_each(
        self, addresses: Sequence[Pubkey], token_in: Token, token_out: Token, amount: int
    ) -> list[Priced[PoolQuote] | RejectedError]:
        """Quote every pair, read together."""
        if amount <= 0:
            raise RejectedError(f"amount_in must be positive, got {amount}", code="invalid_amount")
        mint_in, mint_out = parse_address(token_in.mint, "mint"), parse_address(token_out.mint, "mint")
        quoted = await self.client.quote(addresses, mint_in, mint_out, amount)
        return [priced(result, token_in, token_out, amount) for result in quoted.values()]

    # --- the swap --------------------------------------------------------------------------------------

    def _sides(self, fresh: PoolQuote) -> tuple[TokenSide, TokenSide, int]:
        pair, q = fresh.pool.pair, fresh.quote
        x_program, y_program = token_programs(pair)
        x, y = TokenSide(pair.token_x_mint, x_program), TokenSide(pair.token_y_mint, y_program)
        return (x, y, q.amount_in) if q.swap_for_y else (y, x, q.amount_in)

    def swap_instruction(
        self,
        fresh: PoolQuote,
        owner: Pubkey,
        account_in: Pubkey,
        account_out: Pubkey,
        *,
        mode: LegMode,
        amount_in: int,
        amount_out: int,
    ) -> Instruction:
        """``swap2`` (``EXACT_IN``) or ``swap_exact_out2`` (``EXACT_OUT``) with the bin arrays the fresh quote
        walks (for an exact-out leg, the quote of its maximum input, which walks at least as far);
        ``config.spare_arrays`` more ride along."""
        pool, q = fresh.pool, fresh.quote
        arrays = list(q.bin_arrays)
        if arrays and self.config.spare_arrays:
            beyond = arrays[-1] + (-1 if q.swap_for_y else 1)
            arrays += itertools.islice(pool.bitmap.walk(beyond, q.swap_for_y), self.config.spare_arrays)
        extension = None
        outside = q.needs_extension or not all(Bitmap.in_default_range(i) for i in arrays)
        if outside and pool.extension is not None:
            extension = bitmap_extension_address(pool.address, self.program_id)
        return swap2(
            lb_pair=pool.address,
            pair=pool.pair,
            user=owner,
            user_token_in=account_in,
            user_token_out=account_out,
            amount_in=amount_in,
            min_amount_out=amount_out,
            bin_arrays=[bin_array_address(pool.address, index, self.program_id) for index in arrays],
            bitmap_extension=extension,
            program_id=self.program_id,
            exact_out=mode is LegMode.EXACT_OUT,
        )
