"""The tokens the engine trades: the known list with its mints per network, and any mint a chain holds.

:class:`TokenRegistry` is the known list (symbols such as ``SOL`` and ``USDC``). On a chain network any other
mint may be traded too: a :class:`TokenSource` resolves it from the chain (decimals, token program, the
Token-2022 transfer fee) and names it by a short form of its address. The engine sees only the protocol;
the chain's implementation is an adapter's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from kernel.errors import RejectedError
from kernel.money import ceil_div
from kernel.settings import Network

NATIVE_MINT = "So11111111111111111111111111111111111111112"


MAX_FEE_BASIS_POINTS = 10_000


@dataclass(frozen=True, slots=True)
class TransferFee:
    """A Token-2022 mint's transfer fee: ``min(ceil(amount * bps / 10000), maximum)`` raw units of each
    transfer, the older rate before ``newer_epoch`` and the newer one from it on."""

    older_basis_points: int
    older_maximum_fee: int
    newer_epoch: int
    newer_basis_points: int
    newer_maximum_fee: int

    def fee(self, amount: int, epoch: int) -> int:
        """The fee withheld from a transfer of ``amount`` in ``epoch``."""
        newer = epoch >= self.newer_epoch
        bps = self.newer_basis_points if newer else self.older_basis_points
        cap = self.newer_maximum_fee if newer else self.older_maximum_fee
        return 0 if bps == 0 or amount == 0 else min(ceil_div(amount * bps, MAX_FEE_BASIS_POINTS), cap)


@dataclass(frozen=True, slots=True)
class Token:
    """A token: its symbol, its decimals, and its mint. SOL is native and wraps as ``NATIVE_MINT``.

    A token read from the chain also says which token ``program`` owns its mint and its Token-2022
    ``transfer_fee``; the known list leaves both unset (the adapters read the mint themselves)."""

    symbol: str
    name: str
    decimals: int
    mint: str
    native: bool = False
    program: str | None = None
    transfer_fee: TransferFee | None = None

    def as_dict(self) -> dict[str, object]:
        return {"symbol": self.symbol, "mint": self.mint, "decimals": self.decimals}


# Mainnet mints are the canonical ones; other networks override where a different mint exists there.
_MAINNET: tuple[Token, ...] = (
    Token("SOL", "Solana", 9, NATIVE_MINT, native=True),
    Token("USDC", "USD Coin", 6, "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"),
    Token("USDT", "Tether USD", 6, "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"),
    Token("JUP", "Jupiter", 6, "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN"),
    Token("BONK", "Bonk", 5, "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263"),
    Token("RAY", "Raydium", 6, "4k3Dyjzvzp8eMZWUXbBCjEvwSkkk59S5iCNLY3QrkX6R"),
)

_OVERRIDES: dict[Network, dict[str, str]] = {
    Network.DEVNET: {"USDC": "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU"},
}


@dataclass(slots=True)
class TokenRegistry:
    """Looks tokens up by symbol (any case) or by mint address."""

    tokens: tuple[Token, ...]
    _by_symbol: dict[str, Token] = field(init=False)
    _by_mint: dict[str, Token] = field(init=False)

    def __post_init__(self) -> None:
        self._by_symbol = {t.symbol.upper(): t for t in self.tokens}
        self._by_mint = {t.mint: t for t in self.tokens}

    @classmethod
    def for_network(cls, network: Network, extra: Iterable[Token] = ()) -> TokenRegistry:
        overrides = _OVERRIDES.get(network, {})
        tokens = [Token(t.symbol, t.name, t.decimals, overrides.get(t.symbol, t.mint), t.native) for t in _MAINNET]
        tokens.extend(extra)
        return cls(tuple(tokens))

    def resolve(self, symbol_or_mint: str) -> Token | None:
        text = symbol_or_mint.strip()
        return self._by_mint.get(text) or self._by_symbol.get(text.upper())

    def by_mint(self, mint: str) -> Token:
        return self._by_mint[mint]

    def with_tokens(self, extra: Iterable[Token]) -> TokenRegistry:
        """This list and ``extra`` (tokens resolved by mint for one request)."""
        return TokenRegistry((*self.tokens, *(t for t in extra if t.mint not in self._by_mint)))

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.tokens)


def short_symbol(mint: str) -> str:
    """What a mint outside the known list is called: the first and last four characters of its address."""
    return f"{mint[:4]}…{mint[-4:]}"


class NotAMint(RejectedError):
    """An address given as a token that holds no mint account (nothing there, or another kind of account)."""

    code = "not_a_mint"


@runtime_checkable
class TokenSource(Protocol):
    """Resolves what an order names as a token: a known symbol or mint, or on a chain network any mint."""

    async def resolve(self, symbol_or_mint: str) -> Token | None:
        """The token, or None for text that is neither a known symbol nor an address. Raises
        :class:`NotAMint` for an address holding no mint, ``QuoteUnavailable`` when the chain cannot be read."""
        ...


@dataclass(frozen=True, slots=True)
class KnownTokens:
    """The :class:`TokenSource` of a network without a chain to read: the known list only."""

    registry: TokenRegistry

    async def resolve(self, symbol_or_mint: str) -> Token | None:
        return self.registry.resolve(symbol_or_mint)
