"""``OnChainAdapter``: what an on-chain DEX adapter does the same way whatever the DEX.

It answers in the same :class:`~kernel.venues.Quote` shape as the simulated adapters. Pools come from the
:class:`PoolBook` when it configures any for the pair, else from discovery (remembered for a while). A
quote prices every candidate pool and the most output wins (then the least impact, then the address, so
the choice is stable). Before a swap is built its pool is priced again: a fresh quote already below the
order's minimum is ``SlippageExceeded`` and nothing is sent.

A subclass says how its DEX's pools are found (:meth:`_find`), read (:meth:`_prepare`), priced
(:meth:`_price_each`) and swapped (:meth:`_sides`, :meth:`swap_instruction`).

An ``EXACT_OUT`` leg (the first leg of a hop) is guarded like an exact-in one: its pool is re-quoted for
the leg's maximum input, and a fresh quote paying less than the exact output wanted is ``SlippageExceeded``.
That is enough: on a constant-product curve and on DLMM's bins, when spending ``max_in`` buys at least
``out``, buying exactly ``out`` needs at most ``max_in`` (the program fails the swap otherwise).
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, Protocol, TypeVar

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from adapters.onchain_dex.discovery import DiscoveryCache, Monotonic, mint_pair
from adapters.pools import PoolBook, parse_address
from adapters.solana.rpc import ChainRpc
from adapters.solana.spl import TokenSide, around_swap, create_associated_token_account_idempotent, temporary_seed
from kernel import money
from kernel.errors import FatalError, QuoteUnavailable, RejectedError, RetryableError, SlippageExceeded, UnsupportedPair
from kernel.routes import LegMode, PoolQuotes, RouteLeg
from kernel.tokens import Token, TokenRegistry
from kernel.venues import Quote, QuoteRequest, SlippageCode, SwapTicket

log = logging.getLogger("oee.onchain")

IMPACT_QUANTUM = Decimal("0.000001")
# The fresh wSOL account's seed when no order names the transaction.
DEFAULT_SEED = temporary_seed("oee")


class OnChainConfig(Protocol):
    """The settings every on-chain DEX's config has."""

    @property
    def program_id(self) -> Pubkey: ...
    @property
    def discover(self) -> bool: ...
    @property
    def discovery_ttl_s(self) -> float: ...
    @property
    def miss_ttl_s(self) -> float: ...


P = TypeVar("P")  # what discovery reads of a pool
D = TypeVar("D")  # a DEX's own quote of a pool: what its swap instruction needs
C = TypeVar("C", bound=OnChainConfig)


@dataclass(frozen=True, slots=True)
class Priced(Generic[D]):
    """One pool's exact-in answer in what every DEX reports, with the DEX's own quote (``detail``).
    ``fee`` is in the input mint when ``fee_on_input``, else in the output mint."""

    address: Pubkey
    amount_in: int
    amount_out: int
    fee: int
    fee_on_input: bool
    price_impact_pct: Decimal
    detail: D


def best_priced(results: Sequence[Priced[D] | RejectedError]) -> Priced[D]:
    """The pool paying the most (then the least impact, then the address); when none can take the swap,
    the first refusal is raised."""
    priced = [r for r in results if not isinstance(r, RejectedError)]
    if not priced:
        raise next(r for r in results if isinstance(r, RejectedError))
    return max(priced, key=lambda p: (p.amount_out, -p.price_impact_pct, str(p.address)))


def check_decimals(token_in: Token, decimals_in: int, token_out: Token, decimals_out: int) -> None:
    """The registry's decimals must be the chain's: a mismatch would misprice every order."""
    for token, decimals in ((token_in, decimals_in), (token_out, decimals_out)):
        if token.decimals != decimals:
            raise FatalError(f"{token.symbol} has {decimals} decimals on chain, {token.decimals} in the registry")


class OnChainAdapter(ABC, Generic[C, P, D]):
    """A DEX on one cluster. Implements :class:`kernel.venues.OnChainDex`.

    ``rpc`` is this adapter's own (closed by :meth:`aclose` unless ``owns_rpc`` is false). ``clock`` measures
    how long discovered pools are remembered.
    """

    name: str
    label: str  # the DEX and its pool kind in messages, e.g. "Raydium CPMM"
    slippage: SlippageCode

    def __init__(
        self,
        rpc: ChainRpc,
        book: PoolBook,
        tokens: TokenRegistry,
        *,
        config: C | None = None,
        owns_rpc: bool = True,
        clock: Monotonic = time.monotonic,
    ) -> None:
        self.config = config if config is not None else self.default_config(book)
        self._rpc = rpc
        self._book = book
        self._tokens = tokens
        self._owns_rpc = owns_rpc
        self._discovered = DiscoveryCache(clock, self.config.discovery_ttl_s, self.config.miss_ttl_s)
        self._pools: dict[Pubkey, P] = {}  # what a pool was read as; what it points at never changes

    @property
    def program_id(self) -> Pubkey:
        return self.config.program_id

    @property
    @abstractmethod
    def max_pools_per_quote(self) -> int:
        """How many of a pair's pools one quote prices at most."""

    # --- what each DEX fills in ------------------------------------------------------------------------

    @staticmethod
    @abstractmethod
    def default_config(book: PoolBook) -> C:
        """The DEX's config with the program ID the pool book names for its network (``LookupError`` when it
        names none), the rest at their defaults (``dataclasses.replace`` changes them)."""

    @abstractmethod
    async def _find(self, mint_0: Pubkey, mint_1: Pubkey) -> Mapping[Pubkey, P]:
        """Every tradable pool of the pair the node can find (none where it refuses to search)."""

    def _remember(self, address: Pubkey, pool: P) -> None:
        """Keep what discovery read of a pool that quotes will price."""
        self._pools[address] = pool

    async def _prepare(self, addresses: Sequence[Pubkey], token_in: Token, token_out: Token) -> None:
        """Read and check, before pricing, what the configured or routed pools need (nothing by default)."""
        return None

    async def _load_pools(
        self,
        addresses: Sequence[Pubkey],
        token_in: Token,
        token_out: Token,
        read: Callable[[Sequence[Pubkey]], Awaitable[Mapping[Pubkey, P | None]]],
        mints: Callable[[P], tuple[Pubkey, Pubkey]],
    ) -> None:
        """What a DEX whose pools are accounts of one state does in :meth:`_prepare`: ``read`` the state of
        each pool not seen before (a pool that does not exist is a configuration error), then check that each
        trades the pair (``mints`` of a state: its two tokens)."""
        missing = [a for a in addresses if a not in self._pools]
        if missing:
            for address, state in (await read(missing)).items():
                if state is None:
                    raise FatalError(f"no {self.label} pool exists at {address} on {self._book.network.value}")
                self._pools[address] = state
        for address in addresses:
            pair = {str(mint) for mint in mints(self._pools[address])}
            if pair != {token_in.mint, token_out.mint}:
                raise FatalError(
                    f"pool {address} trades {' / '.join(sorted(pair))}, not {token_in.symbol}/{token_out.symbol}"
                )

    @abstractmethod
    async def _price_each(
        self, addresses: Sequence[Pubkey], token_in: Token, token_out: Token, amount: int
    ) -> list[Priced[D] | RejectedError]:
        """Price every pool (read together); a pool that cannot take the swap maps to its refusal."""

    @abstractmethod
    def _sides(self, fresh: D) -> tuple[TokenSide, TokenSide, int]:
        """The input and output sides of the quoted swap, and the amount it spends."""

    @abstractmethod
    def swap_instruction(
        self,
        fresh: D,
        owner: Pubkey,
        account_in: Pubkey,
        account_out: Pubkey,
        *,
        mode: LegMode,
        amount_in: int,
        amount_out: int,
    ) -> Instruction:
        """The DEX's swap of ``fresh`` between the owner's two token accounts. ``EXACT_IN``: spend ``amount_in``
        for at least ``amount_out``; ``EXACT_OUT``: receive exactly ``amount_out`` for at most ``amount_in``."""

    def instructions(self, fresh: D, min_amount_out: int, owner: Pubkey, seed: str = DEFAULT_SEED) -> list[Instruction]:
        """The instructions that swap ``fresh`` for ``owner`` with ``min_amount_out`` (no RPC), framed by the
        token account steps it needs; a native side goes through a fresh wSOL account made with ``seed``."""
        side_in, side_out, amount_in = self._sides(fresh)

        def swap(account_in: Pubkey, account_out: Pubkey) -> Instruction:
            return self.swap_instruction(
                fresh, owner, account_in, account_out, mode=LegMode.EXACT_IN, amount_in=amount_in,
                amount_out=min_amount_out,
            )  # fmt: skip

        return around_swap(owner, side_in, side_out, amount_in, swap, seed)

    # --- DexAdapter -----------------------------------------------------------------------------------

    async def quote(self, request: QuoteRequest) -> Quote:
        """The best exact-in quote among the pair's pools. Raises ``UnsupportedPair`` (no pool),
        ``QuoteUnavailable`` (the RPC failed for now) or another ``RejectedError`` (the pools cannot fill
        it, are closed to swaps, or the amount buys nothing)."""
        started = time.perf_counter()
        token_in, token_out = request.token_in, request.token_out
        if token_in.mint == token_out.mint:
            raise UnsupportedPair(f"cannot swap {token_in.symbol} for itself")
        try:
            pools = await self._pools_for(token_in, token_out)
            best = await self._best(pools, token_in, token_out, request.amount_in)
        except QuoteUnavailable:
            raise
        except RetryableError as exc:
            raise QuoteUnavailable(f"{self.name}: {exc}", context={"cause": exc.code}) from exc
        latency_ms = int((time.perf_counter() - started) * 1000)
        return self._as_quote(best, token_in, token_out, latency_ms)

    async def quote_pools(self, token_in: Token, token_out: Token, amounts: Sequence[int]) -> list[PoolQuotes]:
        """Every pool :meth:`quote` would price for the pair, at each of ``amounts`` (:class:`PoolQuoter`): the
        pools are read for all amounts at once, so the round costs one read's latency. A pool that cannot
        take an amount shows None there."""
        if token_in.mint == token_out.mint:
            raise UnsupportedPair(f"cannot swap {token_in.symbol} for itself")
        try:
            pools = await self._pools_for(token_in, token_out)
            rows = await asyncio.gather(*(self._price_each(pools, token_in, token_out, a) for a in amounts))
        except QuoteUnavailable:
            raise
        except RetryableError as exc:
            raise QuoteUnavailable(f"{self.name}: {exc}", context={"cause": exc.code}) from exc
        outs = [_outs_by_pool(pools, row) for row in rows]
        return [
            PoolQuotes(self.name, str(address), tuple(amounts), tuple(by_pool.get(address) for by_pool in outs))
            for address in pools
        ]

    async def aclose(self) -> None:
        if self._owns_rpc:
            await self._rpc.aclose()

    # --- SwapBuilder -----------------------------------------------------------------------------------

    async def swap_instructions(self, ticket: SwapTicket, owner: Pubkey) -> list[Instruction]:
        """Re-quote ``ticket``'s pool and return :meth:`instructions` for it with ``ticket.min_amount_out``.
        Raises ``SlippageExceeded`` when the fresh quote already pays less than ``ticket.min_amount_out``."""
        route = ticket.route
        fresh = await self._requote(route.dex, route.pool, ticket.token_in, ticket.token_out, route.amount_in,
                                    ticket.min_amount_out)  # fmt: skip
        return self.instructions(fresh.detail, ticket.min_amount_out, owner, temporary_seed(ticket.order_id))

    async def leg_instructions(
        self, leg: RouteLeg, owner: Pubkey, accounts: Mapping[str, Pubkey] | None = None
    ) -> list[Instruction]:
        """One leg of a plan, its pool re-quoted first: the idempotent creation of its output token account
        (unless ``accounts`` names one) and the swap. ``accounts`` maps a mint to the token account to use
        for it instead of the owner's associated one (settlement's fresh wSOL account)."""
        floor = leg.min_amount_out if leg.mode is LegMode.EXACT_IN else leg.amount_out
        fresh = await self._requote(leg.dex, leg.pool, leg.token_in, leg.token_out, leg.amount_in, floor)
        side_in, side_out, _ = self._sides(fresh.detail)
        given = accounts or {}
        account_in = given.get(str(side_in.mint), side_in.account(owner))
        account_out = given.get(str(side_out.mint), side_out.account(owner))
        steps = []
        if str(side_out.mint) not in given:
            steps.append(create_associated_token_account_idempotent(owner, owner, side_out.mint, side_out.program))
        steps.append(
            self.swap_instruction(
                fresh.detail, owner, account_in, account_out, mode=leg.mode, amount_in=leg.amount_in, amount_out=floor
            )
        )
        return steps

    async def _requote(
        self, dex: str, pool: str, token_in: Token, token_out: Token, amount_in: int, floor: int
    ) -> Priced[D]:
        """Price ``pool`` again; ``SlippageExceeded`` when it already pays less than ``floor``."""
        if dex != self.name:
            raise FatalError(f"a {dex} route was given to the {self.name} adapter")
        address = parse_address(pool, "pool")
        try:
            await self._prepare([address], token_in, token_out)
            fresh = await self._best([address], token_in, token_out, amount_in)
        except QuoteUnavailable:
            raise
        except RetryableError as exc:
            raise QuoteUnavailable(f"{self.name}: {exc}", context={"cause": exc.code}) from exc
        if fresh.amount_out < floor:
            raise SlippageExceeded(
                f"pool {address} now pays {fresh.amount_out} raw {token_out.symbol}, below the order's minimum {floor}",
                context={"quoted": fresh.amount_out, "min_amount_out": floor, "pool": str(address)},
            )
        return fresh

    # --- pools -----------------------------------------------------------------------------------------

    async def _pools_for(self, token_in: Token, token_out: Token) -> list[Pubkey]:
        """The pools to price for a pair: the configured ones, else the discovered ones."""
        configured = self._book.find(self.name, token_in.mint, token_out.mint)
        if configured:
            addresses = [parse_address(p.address, "configured pool") for p in configured]
            addresses = addresses[: self.max_pools_per_quote]
            await self._prepare(addresses, token_in, token_out)
            return addresses
        if not self.config.discover:
            raise UnsupportedPair(f"no {self.name} pool is configured for {token_in.symbol}/{token_out.symbol}")
        found = await self._discover(parse_address(token_in.mint, "mint"), parse_address(token_out.mint, "mint"))
        if not found:
            raise UnsupportedPair(f"no {self.label} pool trades {token_in.symbol}/{token_out.symbol}")
        return list(found)

    async def _discover(self, mint_a: Pubkey, mint_b: Pubkey) -> tuple[Pubkey, ...]:
        pair = mint_pair(mint_a, mint_b)
        cached = self._discovered.get(pair)
        if cached is not None:
            return cached
        found = await self._find(*pair)
        addresses = tuple(sorted(found, key=str))
        limit = self.max_pools_per_quote
        if len(addresses) > limit:
            log.warning(
                "%d %s pools trade %s; pricing the first %d", len(addresses), self.label, self._label(pair), limit
            )
            addresses = addresses[:limit]
        for address in addresses:
            self._remember(address, found[address])
        self._discovered.put(pair, addresses)
        log.info("discovered %d %s pools for %s", len(addresses), self.label, self._label(pair))
        return addresses

    def _label(self, pair: tuple[Pubkey, Pubkey]) -> str:
        """``SOL/USDC`` for mints the registry knows, the addresses otherwise."""
        names = []
        for mint in pair:
            token = self._tokens.resolve(str(mint))
            names.append(token.symbol if token is not None else str(mint))
        return "/".join(names)

    # --- pricing ---------------------------------------------------------------------------------------

    async def _best(self, addresses: Sequence[Pubkey], token_in: Token, token_out: Token, amount: int) -> Priced[D]:
        """The pool paying the most; when none can take the swap, the first refusal is raised."""
        return best_priced(await self._price_each(addresses, token_in, token_out, amount))

    def _as_quote(self, best: Priced[D], token_in: Token, token_out: Token, latency_ms: int) -> Quote:
        return Quote(
            dex=self.name,
            pool=str(best.address),
            amount_in=best.amount_in,
            amount_out=best.amount_out,
            fee=best.fee,
            fee_mint=token_in.mint if best.fee_on_input else token_out.mint,
            price=money.price(best.amount_in, token_in.decimals, best.amount_out, token_out.decimals),
            price_impact_pct=best.price_impact_pct.quantize(IMPACT_QUANTUM),
            latency_ms=latency_ms,
        )


def _outs_by_pool(pools: Sequence[Pubkey], priced: Sequence[Priced[D] | RejectedError]) -> dict[Pubkey, int | None]:
    """What each pool pays in one :meth:`OnChainAdapter._price_each` answer (which lists the pools in order)."""
    found: dict[Pubkey, int | None] = {}
    for address, result in zip(pools, priced, strict=False):
        if isinstance(result, Priced):
            found[result.address] = result.amount_out if result.amount_out > 0 else None
        else:
            found.setdefault(address, None)
    return found
