"""``ChainTokens``: tokens by mint address, read from the chain (a :class:`kernel.tokens.TokenSource`).

A known symbol or mint answers from the known list with no I/O. Any other address is read with one
``getMultipleAccounts``: it must be a mint owned by SPL Token or Token-2022; its decimals, token program
and Token-2022 transfer fee are kept for ``ttl_s`` (a fee's authority may change it, rarely). Its symbol
is a short form of its address. Many addresses asked at once share one read (:meth:`resolve_many`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from solders.pubkey import Pubkey

from adapters.onchain_dex.discovery import Monotonic
from adapters.solana.accounts import Mint, TransferFeeConfig, read_mint
from adapters.solana.errors import MalformedAccount
from adapters.solana.rpc import ChainRpc
from kernel.errors import QuoteUnavailable, RetryableError
from kernel.tokens import NotAMint, Token, TokenRegistry, TransferFee, short_symbol

MAX_MINTS_PER_CALL = 100


def _address(text: str) -> Pubkey | None:
    try:
        return Pubkey.from_string(text)
    except ValueError:
        return None


def _fee(config: TransferFeeConfig | None) -> TransferFee | None:
    if config is None:
        return None
    older, newer = config.older, config.newer
    return TransferFee(older.basis_points, older.maximum_fee, newer.epoch, newer.basis_points, newer.maximum_fee)


def token_of(mint: Pubkey, program: Pubkey, view: Mint) -> Token:
    """The :class:`Token` of a mint read from the chain."""
    text = str(mint)
    return Token(short_symbol(text), f"Token {text}", view.decimals, text, program=str(program),
                 transfer_fee=_fee(view.transfer_fee))  # fmt: skip


class ChainTokens:
    """Resolves symbols and mints, reading unknown mints through ``rpc`` (closed by :meth:`aclose` when
    ``owns_rpc``)."""

    def __init__(
        self,
        rpc: ChainRpc,
        registry: TokenRegistry,
        *,
        ttl_s: float = 600.0,
        owns_rpc: bool = False,
        clock: Monotonic = time.monotonic,
    ) -> None:
        self._rpc = rpc
        self._owns_rpc = owns_rpc
        self.registry = registry
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, Token]] = {}
        self.reads = 0  # getMultipleAccounts calls made

    async def aclose(self) -> None:
        if self._owns_rpc:
            await self._rpc.aclose()

    async def resolve(self, symbol_or_mint: str) -> Token | None:
        return (await self.resolve_many([symbol_or_mint]))[symbol_or_mint]

    async def resolve_many(self, texts: Iterable[str]) -> dict[str, Token | None]:
        """Each text's token (see :class:`~kernel.tokens.TokenSource`); the first address that holds no mint
        raises :class:`NotAMint` naming it."""
        out: dict[str, Token | None] = {}
        wanted: dict[str, Pubkey] = {}
        now = self._clock()
        for text in texts:
            known = self.registry.resolve(text)
            cached = self._cache.get(text.strip())
            if known is not None:
                out[text] = known
            elif cached is not None and cached[0] > now:
                out[text] = cached[1]
            else:
                address = _address(text.strip())
                out[text] = None
                if address is not None:
                    wanted[text] = address
        if wanted:
            found = await self._read(list(dict.fromkeys(wanted.values())))
            for text, address in wanted.items():
                token = found[address]
                self._cache[str(address)] = (now + self._ttl_s, token)
                out[text] = token
        return out

    async def _read(self, mints: Sequence[Pubkey]) -> dict[Pubkey, Token]:
        found: dict[Pubkey, Token] = {}
        for start in range(0, len(mints), MAX_MINTS_PER_CALL):
            chunk = list(mints[start : start + MAX_MINTS_PER_CALL])
            self.reads += 1
            try:
                accounts = await self._rpc.multiple_accounts(chunk, f"reading {len(chunk)} mints")
            except RetryableError as exc:
                raise QuoteUnavailable(f"the chain cannot be read right now: {exc}") from exc
            for mint, account in zip(chunk, accounts, strict=True):
                if account is None or not account.lamports:
                    raise NotAMint(f"no account exists at {mint}", context={"mint": str(mint)})
                try:
                    view = read_mint(account, mint)
                except MalformedAccount as exc:
                    raise NotAMint(f"{mint} is not a mint account ({exc})", context={"mint": str(mint)}) from exc
                found[mint] = token_of(mint, account.owner, view)
        return found
