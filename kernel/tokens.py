"""The tokens the engine trades, with their mints per network."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kernel.settings import Network

NATIVE_MINT = "So11111111111111111111111111111111111111112"


@dataclass(frozen=True, slots=True)
class Token:
    """A token: its symbol, its decimals, and its mint. SOL is native and wraps as ``NATIVE_MINT``."""

    symbol: str
    name: str
    decimals: int
    mint: str
    native: bool = False

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

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.tokens)
