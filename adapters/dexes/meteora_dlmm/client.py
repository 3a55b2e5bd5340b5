"""The DLMM adapter's reads: pairs, the bin arrays a swap walks, mints and the clock; and pair discovery.

A quote of several pairs reads in rounds of ``getMultipleAccounts``, every pair at once. Round one: the
Clock sysvar, both mints, and per pair its LbPair, its bitmap extension and the bin arrays its last quote
walked (so a repeated quote usually needs no second round). Then each pair is priced; a walk that goes
past the arrays read names the next ones with liquidity (:class:`NeedBinArrays`) and the next round
reads them for every pair at once.

Every call goes through :class:`ChainRpc`'s classification and retries; what fails leaves
as an :mod:`kernel.errors` type. Accounts are checked against what their address promises (owner, size,
discriminator) and a mismatch raises :class:`~adapters.solana.errors.MalformedAccount`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from meteora_dlmm import MintInfo, UnsupportedMint, parse_mint
from solders.account import Account
from solders.pubkey import Pubkey

from adapters.dexes.meteora_dlmm.config import MAX_ACCOUNTS_PER_CALL, MeteoraDlmmConfig
from adapters.dexes.meteora_dlmm.instructions import bin_array_address, bitmap_extension_address, token_programs
from adapters.dexes.meteora_dlmm.layouts import LB_PAIR_SIZE, TOKEN_X_MINT_OFFSET, TOKEN_Y_MINT_OFFSET, check_bin_array
from adapters.dexes.meteora_dlmm.math import NeedBinArrays, PairAccounts
from adapters.dexes.meteora_dlmm.package import transfer_fee_at
from adapters.dexes.meteora_dlmm.pricing import PoolQuote, quote_pair
from adapters.onchain_dex.discovery import search_program
from adapters.solana.accounts import CLOCK_SYSVAR, Clock, check_mint_owner, read_clock
from adapters.solana.errors import MalformedAccount
from adapters.solana.rpc import ChainRpc
from kernel.errors import FatalError, PoolNotTradable, QuoteUnavailable, RejectedError

log = logging.getLogger("oee.meteora_dlmm")


@dataclass(slots=True)
class _Pending:
    pool: PairAccounts
    swap_for_y: bool
    arrays: dict[int, bytes] = field(default_factory=dict)


class MeteoraDlmmClient:
    """Reads DLMM accounts through ``rpc``. Remembers, per pair and direction, which bin arrays the last
    quote walked, to read them with the pair next time."""

    def __init__(self, rpc: ChainRpc, config: MeteoraDlmmConfig) -> None:
        self.rpc = rpc
        self.config = config
        self._ahead: dict[tuple[Pubkey, bool], tuple[int, ...]] = {}
        self._x_mints: dict[Pubkey, Pubkey] = {}
        self.calls = 0  # getMultipleAccounts calls made, for tests and logs

    @property
    def program_id(self) -> Pubkey:
        return self.config.program_id

    # --- raw reads ----------------------------------------------------------------------------------

    async def accounts(self, keys: Sequence[Pubkey]) -> list[Account | None]:
        """``getMultipleAccounts`` (base64) of the keys, in order; None where no account exists (or one
        without lamports). More than 100 keys take several calls, made concurrently."""
        chunks = [list(keys[i : i + MAX_ACCOUNTS_PER_CALL]) for i in range(0, len(keys), MAX_ACCOUNTS_PER_CALL)]
        found = await asyncio.gather(*(self._accounts(chunk) for chunk in chunks))
        # An account without lamports does not exist: a validator answers null for it, but a local LiteSVM
        # keeps one behind for every absent account a transaction named writable.
        return [account if account is not None and account.lamports else None for chunk in found for account in chunk]

    async def _accounts(self, keys: list[Pubkey]) -> list[Account | None]:
        self.calls += 1
        return await self.rpc.multiple_accounts(keys, f"reading {len(keys)} Meteora DLMM accounts")

    async def find_pairs(self, mint_a: Pubkey, mint_b: Pubkey) -> dict[Pubkey, PairAccounts]:
        """Every LbPair trading the two mints (either as X), by ``getProgramAccounts`` filtered on size and
        both mints. Raises :class:`DiscoveryRefused` when the node answers with a JSON-RPC error."""
        found = await asyncio.gather(self._search(mint_a, mint_b), self._search(mint_b, mint_a))
        pairs: dict[Pubkey, PairAccounts] = {}
        for key, account in (item for batch in found for item in batch):
            pool = self._pair(key, account)
            if {pool.pair.token_x_mint, pool.pair.token_y_mint} == {mint_a, mint_b}:
                pairs[key] = pool
        return pairs

    async def _search(self, mint_x: Pubkey, mint_y: Pubkey) -> list[tuple[Pubkey, Account]]:
        mints = ((TOKEN_X_MINT_OFFSET, mint_x), (TOKEN_Y_MINT_OFFSET, mint_y))
        return await search_program(self.rpc, self.program_id, LB_PAIR_SIZE, mints, "searching Meteora DLMM pairs")

    # --- quotes --------------------------------------------------------------------------------------

    def remember(self, pool: PairAccounts) -> None:
        """Read ``pool``'s first bin arrays in both directions with it next time (a discovered pair)."""
        self._x_mints[pool.address] = pool.pair.token_x_mint
        for swap_for_y in (True, False):
            key = (pool.address, swap_for_y)
            self._ahead.setdefault(key, pool.arrays_ahead(swap_for_y, self.config.prefetch_arrays))

    async def quote(
        self, addresses: Sequence[Pubkey], mint_in: Pubkey, mint_out: Pubkey, amount_in: int
    ) -> dict[Pubkey, PoolQuote | RejectedError]:
        """Quote selling ``amount_in`` of ``mint_in`` for ``mint_out`` on each pair. A pair that cannot take
        the swap (drained, disabled) maps to its ``RejectedError``; read failures raise."""
        clock, minfo_in, minfo_out, pending = await self._first_round(addresses, mint_in, mint_out)
        results: dict[Pubkey, PoolQuote | RejectedError] = {}
        rounds = 1
        while True:
            needed: dict[Pubkey, tuple[int, ...]] = {}
            for address, state in pending.items():
                try:
                    result = quote_pair(
                        state.pool, state.arrays, amount_in, state.swap_for_y, clock=clock,
                        mint_in=minfo_in, mint_out=minfo_out, prefetch=self.config.prefetch_arrays,
                    )  # fmt: skip
                except NeedBinArrays as need:
                    needed[address] = need.indexes
                    continue
                results[address] = result
                if isinstance(result, PoolQuote):
                    count = max(self.config.prefetch_arrays, len(result.quote.bin_arrays))
                    self._ahead[(address, state.swap_for_y)] = state.pool.arrays_ahead(state.swap_for_y, count)
            pending = {address: pending[address] for address in needed}
            if not pending:
                return results
            if rounds == self.config.max_fetch_rounds:
                raise QuoteUnavailable(
                    f"the swap walks past {rounds} rounds of bin arrays on {', '.join(map(str, pending))}; "
                    "try a smaller amount"
                )
            await self._read_arrays(needed, pending)
            rounds += 1

    async def _first_round(
        self, addresses: Sequence[Pubkey], mint_in: Pubkey, mint_out: Pubkey
    ) -> tuple[Clock, MintInfo, MintInfo, dict[Pubkey, _Pending]]:
        """The clock, both mints, and each pair with its extension and the arrays its last quote walked."""
        keys: list[Pubkey] = [CLOCK_SYSVAR, mint_in, mint_out]
        for address in addresses:
            keys += [address, bitmap_extension_address(address, self.program_id)]
            x_mint = self._x_mints.get(address)
            for direction in (True, False) if x_mint is None else (x_mint == mint_in,):
                keys += [
                    bin_array_address(address, i, self.program_id) for i in self._ahead.get((address, direction), ())
                ]
        keys = _unique(keys)
        fetched = dict(zip(keys, await self.accounts(keys), strict=True))
        clock = read_clock(fetched.get(CLOCK_SYSVAR))
        minfo_in = self._mint(fetched.get(mint_in), mint_in, clock.epoch)
        minfo_out = self._mint(fetched.get(mint_out), mint_out, clock.epoch)
        pending: dict[Pubkey, _Pending] = {}
        for address in addresses:
            account = fetched.get(address)
            if account is None:
                raise FatalError(f"no Meteora DLMM pair exists at {address}")
            pool = self._pair(address, account, fetched.get(bitmap_extension_address(address, self.program_id)))
            pair = pool.pair
            if {pair.token_x_mint, pair.token_y_mint} != {mint_in, mint_out}:
                raise FatalError(
                    f"pair {address} trades {pair.token_x_mint}/{pair.token_y_mint}, not {mint_in}/{mint_out}"
                )
            for mint, program in zip((pair.token_x_mint, pair.token_y_mint), token_programs(pair), strict=True):
                mint_account = fetched.get(mint)
                if mint_account is not None and mint_account.owner != program:
                    raise MalformedAccount(
                        f"pair {address} names {program} for mint {mint}, owned by {mint_account.owner}"
                    )
            self._x_mints[address] = pair.token_x_mint
            state = _Pending(pool, pair.token_x_mint == mint_in)
            for index in self._ahead.get((address, state.swap_for_y), ()):
                found = fetched.get(bin_array_address(address, index, self.program_id))
                if found is not None:
                    state.arrays[index] = self._array(address, index, found)
            pending[address] = state
        return clock, minfo_in, minfo_out, pending

    async def _read_arrays(self, needed: dict[Pubkey, tuple[int, ...]], pending: dict[Pubkey, _Pending]) -> None:
        """Read the arrays each pair's walk asked for: the first of each is needed, the rest prefetched."""
        wanted = [(address, index) for address, indexes in needed.items() for index in indexes]
        keys = [bin_array_address(address, index, self.program_id) for address, index in wanted]
        for (address, index), account in zip(wanted, await self.accounts(keys), strict=True):
            if account is not None:
                pending[address].arrays[index] = self._array(address, index, account)
            elif index == needed[address][0]:
                # The bitmap says it exists and the walk reaches it: the pair changed between the reads.
                raise QuoteUnavailable(f"bin array {index} of pair {address} is missing; the pair is changing")

    # --- decoding with ownership checks -----------------------------------------------------------------

    def _pair(self, address: Pubkey, account: Account, extension: Account | None = None) -> PairAccounts:
        if account.owner != self.program_id:
            raise MalformedAccount(
                f"pair {address} is owned by {account.owner}, not the DLMM program {self.program_id}"
            )
        ext = None
        if extension is not None:
            if extension.owner != self.program_id:
                raise MalformedAccount(f"the bitmap extension of {address} is not owned by the DLMM program")
            ext = bytes(extension.data)
        try:
            return PairAccounts.from_bytes(address, bytes(account.data), ext)
        except MalformedAccount as exc:
            raise MalformedAccount(f"pair {address}: {exc}") from exc

    def _array(self, address: Pubkey, index: int, account: Account) -> bytes:
        if account.owner != self.program_id:
            raise MalformedAccount(f"bin array {index} of {address} is not owned by the DLMM program")
        data = bytes(account.data)
        check_bin_array(data, address, index)
        return data

    @staticmethod
    def _mint(account: Account | None, mint: Pubkey, epoch: int) -> MintInfo:
        """The package's reading of a mint (it refuses transfer hooks), with the transfer fee of ``epoch``."""
        if account is None:
            raise RejectedError(f"no mint exists at {mint}", code="unknown_mint")
        check_mint_owner(account, mint)
        data = bytes(account.data)
        try:
            info: MintInfo = _parse_mint(data, bytes(account.owner))
        except UnsupportedMint as exc:
            raise PoolNotTradable(f"mint {mint}: {exc.reason}") from exc
        if info.transfer_fee is not None:
            info = dataclasses.replace(info, transfer_fee=transfer_fee_at(data, epoch))
        return info


# The package's function carries no annotations.
_parse_mint: Any = parse_mint


def _unique(keys: Iterable[Pubkey]) -> list[Pubkey]:
    return list(dict.fromkeys(keys))
