"""``MeteoraDlmmAdapter``: quotes Meteora DLMM pairs read from a Solana cluster and builds their swaps.

It answers in the same :class:`~kernel.venues.Quote` shape as the simulated adapters. Pairs come from the
:class:`PoolBook` when it configures any for the tokens, else from discovery (remembered for a while).
:class:`~adapters.meteora_dlmm.client.MeteoraDlmmClient` reads every candidate pair in shared rounds of
``getMultipleAccounts`` and prices it with :func:`~adapters.meteora_dlmm.math.quote_exact_in`; the best
output wins.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from decimal import Decimal

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from adapters.meteora_dlmm.client import DiscoveryRefused, MeteoraDlmmClient, PoolQuote
from adapters.meteora_dlmm.config import DEX_NAME, MeteoraDlmmConfig
from adapters.meteora_dlmm.instructions import bin_array_address, bitmap_extension_address, swap2, token_programs
from adapters.meteora_dlmm.math import Bitmap
from adapters.pools import PoolBook, parse_address
from adapters.solana.rpc import ChainRpc
from adapters.solana.spl import (
    NATIVE_MINT,
    associated_token_address,
    create_associated_token_account_idempotent,
    unwrap_sol,
    wrap_sol,
)
from kernel import money
from kernel.errors import FatalError, QuoteUnavailable, RejectedError, RetryableError, SlippageExceeded, UnsupportedPair
from kernel.tokens import Token, TokenRegistry
from kernel.venues import Quote, QuoteRequest, SwapTicket

log = logging.getLogger("oee.meteora_dlmm")

Monotonic = Callable[[], float]
_IMPACT_QUANTUM = Decimal("0.000001")


class MeteoraDlmmAdapter:
    """Meteora DLMM on one cluster. Implements :class:`kernel.venues.OnChainDex`.

    ``rpc`` is this adapter's own (closed by :meth:`aclose` unless ``owns_rpc`` is false). ``clock`` measures
    how long discovered pairs are remembered.
    """

    name = DEX_NAME

    def __init__(
        self,
        rpc: ChainRpc,
        book: PoolBook,
        tokens: TokenRegistry,
        *,
        config: MeteoraDlmmConfig | None = None,
        owns_rpc: bool = True,
        clock: Monotonic = time.monotonic,
    ) -> None:
        self.config = config or MeteoraDlmmConfig.from_book(book)
        self.client = MeteoraDlmmClient(rpc, self.config)
        self._rpc = rpc
        self._book = book
        self._tokens = tokens
        self._owns_rpc = owns_rpc
        self._clock = clock
        self._discovered: dict[tuple[Pubkey, Pubkey], tuple[float, tuple[Pubkey, ...]]] = {}

    @property
    def program_id(self) -> Pubkey:
        return self.config.program_id

    # --- DexAdapter -----------------------------------------------------------------------------------

    async def quote(self, request: QuoteRequest) -> Quote:
        """The best exact-in quote among the pair's DLMM pools. Raises ``UnsupportedPair`` (no pool),
        ``QuoteUnavailable`` (the RPC failed for now) or another ``RejectedError`` (the pools cannot fill
        it, are closed to swaps, or the amount buys nothing)."""
        started = time.perf_counter()
        token_in, token_out = request.token_in, request.token_out
        if token_in.mint == token_out.mint:
            raise UnsupportedPair(f"cannot swap {token_in.symbol} for itself")
        try:
            pools = await self._pools_for(token_in, token_out)
            best = await self._price(pools, token_in, token_out, request.amount_in)
        except QuoteUnavailable:
            raise
        except RetryableError as exc:
            raise QuoteUnavailable(f"{self.name}: {exc}", context={"cause": exc.code}) from exc
        latency_ms = int((time.perf_counter() - started) * 1000)
        return self._as_quote(best, token_in, token_out, latency_ms)

    async def aclose(self) -> None:
        if self._owns_rpc:
            await self._rpc.aclose()

    # --- OnChainDex ------------------------------------------------------------------------------------

    async def swap_instructions(self, ticket: SwapTicket, owner: Pubkey) -> list[Instruction]:
        """Re-quote ``ticket``'s pair and return: [wrap SOL when the input is native], create the output
        token account (idempotent), ``swap2`` with ``ticket.min_amount_out`` and the bin arrays the fresh
        quote walks, [close the wSOL account when either side is native]. Raises ``SlippageExceeded`` when
        the fresh quote already pays less than ``ticket.min_amount_out``."""
        route = ticket.route
        if route.dex != self.name:
            raise FatalError(f"a {route.dex} route was given to the {self.name} adapter")
        address = parse_address(route.pool, "pool")
        try:
            fresh = await self._price([address], ticket.token_in, ticket.token_out, route.amount_in)
        except QuoteUnavailable:
            raise
        except RetryableError as exc:
            raise QuoteUnavailable(f"{self.name}: {exc}", context={"cause": exc.code}) from exc
        if fresh.quote.amount_out < ticket.min_amount_out:
            raise SlippageExceeded(
                f"pair {address} now pays {fresh.quote.amount_out} raw {ticket.token_out.symbol}, below the "
                f"order's minimum {ticket.min_amount_out}",
                context={
                    "quoted": fresh.quote.amount_out,
                    "min_amount_out": ticket.min_amount_out,
                    "pool": str(address),
                },
            )
        return self.instructions(fresh, ticket.min_amount_out, owner)

    def instructions(self, fresh: PoolQuote, min_amount_out: int, owner: Pubkey) -> list[Instruction]:
        """The instruction sequence that swaps ``fresh`` for ``owner`` (no RPC: the quote named the arrays;
        ``config.spare_arrays`` more ride along)."""
        pool, q = fresh.pool, fresh.quote
        pair = pool.pair
        x_program, y_program = token_programs(pair)
        x, y = (pair.token_x_mint, x_program), (pair.token_y_mint, y_program)
        (in_mint, in_program), (out_mint, out_program) = (x, y) if q.swap_for_y else (y, x)
        in_native, out_native = in_mint == NATIVE_MINT, out_mint == NATIVE_MINT
        arrays = list(q.bin_arrays)
        if arrays and self.config.spare_arrays:
            beyond = arrays[-1] + (-1 if q.swap_for_y else 1)
            arrays += itertools.islice(pool.bitmap.walk(beyond, q.swap_for_y), self.config.spare_arrays)
        extension = None
        outside = q.needs_extension or not all(Bitmap.in_default_range(i) for i in arrays)
        if outside and pool.extension is not None:
            extension = bitmap_extension_address(pool.address, self.program_id)
        steps: list[Instruction] = []
        if in_native:
            steps += wrap_sol(owner, q.amount_in)
        steps.append(create_associated_token_account_idempotent(owner, owner, out_mint, out_program))
        steps.append(
            swap2(
                lb_pair=pool.address,
                pair=pair,
                user=owner,
                user_token_in=associated_token_address(owner, in_mint, in_program),
                user_token_out=associated_token_address(owner, out_mint, out_program),
                amount_in=q.amount_in,
                min_amount_out=min_amount_out,
                bin_arrays=[bin_array_address(pool.address, index, self.program_id) for index in arrays],
                bitmap_extension=extension,
                program_id=self.program_id,
            )
        )
        if in_native or out_native:
            steps += unwrap_sol(owner)
        return steps

    # --- pools -----------------------------------------------------------------------------------------

    async def _pools_for(self, token_in: Token, token_out: Token) -> list[Pubkey]:
        """The pairs to price: the configured ones, else the discovered ones."""
        configured = self._book.find(self.name, token_in.mint, token_out.mint)
        if configured:
            addresses = [parse_address(p.address, "configured pool") for p in configured]
            return addresses[: self.config.max_pools_per_quote]
        if not self.config.discover:
            raise UnsupportedPair(f"no {self.name} pool is configured for {token_in.symbol}/{token_out.symbol}")
        found = await self._discover(parse_address(token_in.mint, "mint"), parse_address(token_out.mint, "mint"))
        if not found:
            raise UnsupportedPair(f"no {self.name} DLMM pool trades {token_in.symbol}/{token_out.symbol}")
        return list(found)

    async def _discover(self, mint_a: Pubkey, mint_b: Pubkey) -> tuple[Pubkey, ...]:
        key = (mint_a, mint_b) if str(mint_a) < str(mint_b) else (mint_b, mint_a)
        now = self._clock()
        cached = self._discovered.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            found = await self.client.find_pairs(*key)
        except DiscoveryRefused as exc:
            log.debug("getProgramAccounts refused (%s): no DLMM pair can be discovered", exc)
            found = {}
        tradable = sorted((p for p in found.values() if p.pair.status == 0), key=lambda p: str(p.address))
        limit = self.config.max_pools_per_quote
        if len(tradable) > limit:
            log.warning("%d DLMM pairs trade %s; pricing the first %d", len(tradable), self._label(key), limit)
            tradable = tradable[:limit]
        for pool in tradable:
            self.client.remember(pool)
        addresses = tuple(p.address for p in tradable)
        ttl = self.config.discovery_ttl_s if addresses else self.config.miss_ttl_s
        self._discovered[key] = (now + ttl, addresses)
        log.info("discovered %d Meteora DLMM pairs for %s", len(addresses), self._label(key))
        return addresses

    def _label(self, pair: tuple[Pubkey, Pubkey]) -> str:
        """``SOL/USDC`` for mints the registry knows, the addresses otherwise."""
        names = []
        for mint in pair:
            token = self._tokens.resolve(str(mint))
            names.append(token.symbol if token is not None else str(mint))
        return "/".join(names)

    # --- pricing ---------------------------------------------------------------------------------------

    async def _price(self, pools: list[Pubkey], token_in: Token, token_out: Token, amount: int) -> PoolQuote:
        """Quote every pair (read together); the most output wins. When none can take the swap, the first
        refusal is raised."""
        if amount <= 0:
            raise RejectedError(f"amount_in must be positive, got {amount}", code="invalid_amount")
        mint_in, mint_out = parse_address(token_in.mint, "mint"), parse_address(token_out.mint, "mint")
        results = await self.client.quote(pools, mint_in, mint_out, amount)
        priced: list[PoolQuote] = []
        refusals: list[RejectedError] = []
        for result in results.values():
            if isinstance(result, RejectedError):
                refusals.append(result)
                continue
            self._check_decimals(result, token_in, token_out)
            if result.quote.amount_out <= 0:
                refusals.append(
                    RejectedError(
                        f"{amount} raw {token_in.symbol} is too small to buy any {token_out.symbol}",
                        code="amount_too_small",
                    )
                )
                continue
            priced.append(result)
        if not priced:
            raise refusals[0]
        return max(priced, key=lambda p: (p.quote.amount_out, -p.quote.price_impact_pct, str(p.address)))

    @staticmethod
    def _check_decimals(result: PoolQuote, token_in: Token, token_out: Token) -> None:
        for token, info in ((token_in, result.mint_in), (token_out, result.mint_out)):
            if token.decimals != info.decimals:
                raise FatalError(
                    f"{token.symbol} has {info.decimals} decimals on chain, {token.decimals} in the registry"
                )

    def _as_quote(self, best: PoolQuote, token_in: Token, token_out: Token, latency_ms: int) -> Quote:
        q = best.quote
        return Quote(
            dex=self.name,
            pool=str(best.address),
            amount_in=q.amount_in,
            amount_out=q.amount_out,
            fee=q.fee,
            fee_mint=token_in.mint if q.fee_on_input else token_out.mint,
            price=money.price(q.amount_in, token_in.decimals, q.amount_out, token_out.decimals),
            price_impact_pct=q.price_impact_pct.quantize(_IMPACT_QUANTUM),
            latency_ms=latency_ms,
        )
