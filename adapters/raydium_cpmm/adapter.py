"""``RaydiumCpmmAdapter``: quotes Raydium CPMM pools read from a Solana cluster and builds their swaps.

It answers in the same :class:`~kernel.venues.Quote` shape as the simulated adapters. Pools come from the
:class:`PoolBook` when it configures any for the pair, else from discovery (remembered for a while). Each
quote reads every pool it considers in one ``getMultipleAccounts`` and prices them with
:func:`~adapters.raydium_cpmm.math.quote_exact_in`; the best output wins.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from adapters.pools import PoolBook, parse_address
from adapters.raydium_cpmm.client import PoolSnapshot, RaydiumCpmmClient
from adapters.raydium_cpmm.config import DEX_NAME, MAX_POOLS_PER_QUOTE, RaydiumCpmmConfig
from adapters.raydium_cpmm.instructions import sort_mints, swap_pool
from adapters.raydium_cpmm.layouts import PoolState
from adapters.raydium_cpmm.math import CpmmQuote, quote_exact_in
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

log = logging.getLogger("oee.raydium_cpmm")

Monotonic = Callable[[], float]


@dataclass(frozen=True, slots=True)
class PricedPool:
    """A pool's fresh snapshot and its quote for one request."""

    snapshot: PoolSnapshot
    quote: CpmmQuote

    @property
    def address(self) -> Pubkey:
        return self.snapshot.address


class RaydiumCpmmAdapter:
    """Raydium CPMM on one cluster. Implements :class:`kernel.venues.OnChainDex`.

    ``rpc`` is this adapter's own (closed by :meth:`aclose` unless ``owns_rpc`` is false). ``clock`` measures
    how long discovered pools are remembered.
    """

    name = DEX_NAME

    def __init__(
        self,
        rpc: ChainRpc,
        book: PoolBook,
        tokens: TokenRegistry,
        *,
        config: RaydiumCpmmConfig | None = None,
        owns_rpc: bool = True,
        clock: Monotonic = time.monotonic,
    ) -> None:
        self.config = config or RaydiumCpmmConfig.from_book(book)
        self.client = RaydiumCpmmClient(rpc, self.config)
        self._rpc = rpc
        self._book = book
        self._tokens = tokens
        self._owns_rpc = owns_rpc
        self._clock = clock
        self._states: dict[Pubkey, PoolState] = {}  # what a pool points at never changes: read it once
        self._discovered: dict[tuple[Pubkey, Pubkey], tuple[float, tuple[Pubkey, ...]]] = {}

    @property
    def program_id(self) -> Pubkey:
        return self.config.program_id

    # --- DexAdapter -----------------------------------------------------------------------------------

    async def quote(self, request: QuoteRequest) -> Quote:
        """The best exact-in quote among the pair's pools. Raises ``UnsupportedPair`` (no pool),
        ``QuoteUnavailable`` (the RPC failed for now) or another ``RejectedError`` (pool closed to swaps,
        amount too small)."""
        started = time.perf_counter()
        if request.token_in.mint == request.token_out.mint:
            raise UnsupportedPair(f"cannot swap {request.token_in.symbol} for itself")
        try:
            pools = await self._pools_for(request.token_in, request.token_out)
            best = await self._price(pools, request.token_in, request.token_out, request.amount_in)
        except QuoteUnavailable:
            raise
        except RetryableError as exc:
            raise QuoteUnavailable(f"{self.name}: {exc}", context={"cause": exc.code}) from exc
        latency_ms = int((time.perf_counter() - started) * 1000)
        return self._as_quote(best, request.token_in, request.token_out, latency_ms)

    async def aclose(self) -> None:
        if self._owns_rpc:
            await self._rpc.aclose()

    # --- OnChainDex ------------------------------------------------------------------------------------

    async def swap_instructions(self, ticket: SwapTicket, owner: Pubkey) -> list[Instruction]:
        """Re-quote ``ticket``'s pool and return: [wrap SOL when the input is native], create the output
        token account (idempotent), ``swap_base_input`` with ``ticket.min_amount_out``, [close the wSOL
        account when either side is native]. Raises ``SlippageExceeded`` when the fresh quote already pays
        less than ``ticket.min_amount_out``."""
        route = ticket.route
        if route.dex != self.name:
            raise FatalError(f"a {route.dex} route was given to the {self.name} adapter")
        address = parse_address(route.pool, "pool")
        state = (await self._known([address]))[address]
        self._check_pair(address, state, ticket.token_in, ticket.token_out)
        best = await self._price({address: state}, ticket.token_in, ticket.token_out, route.amount_in)
        fresh = best.quote
        if fresh.amount_out < ticket.min_amount_out:
            raise SlippageExceeded(
                f"pool {address} now pays {fresh.amount_out} raw {ticket.token_out.symbol}, below the "
                f"order's minimum {ticket.min_amount_out}",
                context={"quoted": fresh.amount_out, "min_amount_out": ticket.min_amount_out, "pool": str(address)},
            )
        return self._instructions(address, best.snapshot.state, fresh, ticket.min_amount_out, owner)

    def _instructions(
        self, address: Pubkey, state: PoolState, fresh: CpmmQuote, min_out: int, owner: Pubkey
    ) -> list[Instruction]:
        zero_for_one = fresh.zero_for_one
        in_mint, in_program = (
            (state.token_0_mint, state.token_0_program) if zero_for_one else (state.token_1_mint, state.token_1_program)
        )
        out_mint, out_program = (
            (state.token_1_mint, state.token_1_program) if zero_for_one else (state.token_0_mint, state.token_0_program)
        )
        in_native, out_native = in_mint == NATIVE_MINT, out_mint == NATIVE_MINT
        steps: list[Instruction] = []
        if in_native:
            steps += wrap_sol(owner, fresh.amount_in)
        steps.append(create_associated_token_account_idempotent(owner, owner, out_mint, out_program))
        steps.append(
            swap_pool(
                self.program_id,
                address,
                state,
                zero_for_one=zero_for_one,
                payer=owner,
                input_token_account=associated_token_address(owner, in_mint, in_program),
                output_token_account=associated_token_address(owner, out_mint, out_program),
                amount_in=fresh.amount_in,
                minimum_amount_out=min_out,
            )
        )
        if in_native or out_native:
            steps += unwrap_sol(owner)
        return steps

    # --- pools -----------------------------------------------------------------------------------------

    async def _pools_for(self, token_in: Token, token_out: Token) -> dict[Pubkey, PoolState]:
        """The pools to price for a pair: the configured ones, else the discovered ones."""
        configured = self._book.find(self.name, token_in.mint, token_out.mint)
        if configured:
            addresses = [parse_address(p.address, "configured pool") for p in configured][:MAX_POOLS_PER_QUOTE]
            pools = await self._known(addresses)
            for address, state in pools.items():
                self._check_pair(address, state, token_in, token_out)
            return pools
        if not self.config.discover:
            raise UnsupportedPair(f"no {self.name} pool is configured for {token_in.symbol}/{token_out.symbol}")
        found = await self._discover(parse_address(token_in.mint, "mint"), parse_address(token_out.mint, "mint"))
        if not found:
            raise UnsupportedPair(f"no {self.name} CPMM pool trades {token_in.symbol}/{token_out.symbol}")
        return {a: self._states[a] for a in found}

    async def _known(self, addresses: list[Pubkey]) -> dict[Pubkey, PoolState]:
        """The remembered state of each pool, reading the ones not seen before. A pool that does not exist
        is a configuration error."""
        missing = [a for a in addresses if a not in self._states]
        if missing:
            for address, state in (await self.client.pool_states(missing)).items():
                if state is None:
                    raise FatalError(f"no Raydium CPMM pool exists at {address} on {self._book.network.value}")
                self._states[address] = state
        return {a: self._states[a] for a in addresses}

    async def _discover(self, mint_a: Pubkey, mint_b: Pubkey) -> tuple[Pubkey, ...]:
        pair = sort_mints(mint_a, mint_b)
        now = self._clock()
        cached = self._discovered.get(pair)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self.client.discover(*pair)
        addresses = tuple(sorted(found, key=str))
        if len(addresses) > MAX_POOLS_PER_QUOTE:
            log.warning(
                "%d CPMM pools trade %s; pricing the first %d", len(addresses), self._label(pair), MAX_POOLS_PER_QUOTE
            )
            addresses = addresses[:MAX_POOLS_PER_QUOTE]
        self._states.update({a: found[a] for a in addresses})
        ttl = self.config.discovery_ttl_s if addresses else self.config.miss_ttl_s
        self._discovered[pair] = (now + ttl, addresses)
        log.info("discovered %d Raydium CPMM pools for %s", len(addresses), self._label(pair))
        return addresses

    def _label(self, pair: tuple[Pubkey, Pubkey]) -> str:
        """``SOL/USDC`` for mints the registry knows, the addresses otherwise."""
        names = []
        for mint in pair:
            token = self._tokens.resolve(str(mint))
            names.append(token.symbol if token is not None else str(mint))
        return "/".join(names)

    def _check_pair(self, address: Pubkey, state: PoolState, token_in: Token, token_out: Token) -> None:
        mints = {str(state.token_0_mint), str(state.token_1_mint)}
        if mints != {token_in.mint, token_out.mint}:
            raise FatalError(
                f"pool {address} trades {' / '.join(sorted(mints))}, not {token_in.symbol}/{token_out.symbol}"
            )

    # --- pricing ---------------------------------------------------------------------------------------

    async def _price(
        self, pools: dict[Pubkey, PoolState], token_in: Token, token_out: Token, amount: int
    ) -> PricedPool:
        """Read every pool in one call and quote each; the most output wins. When no pool can take the swap,
        the first refusal is raised."""
        clock, snapshots = await self.client.snapshots(pools)
        priced: list[PricedPool] = []
        refusals: list[RejectedError] = []
        for snap in snapshots:
            zero_for_one = str(snap.state.token_0_mint) == token_in.mint
            self._check_decimals(snap, token_in, token_out, zero_for_one)
            try:
                result = quote_exact_in(
                    snap.state, snap.config, snap.vault_0_amount, snap.vault_1_amount, amount,
                    zero_for_one=zero_for_one, now=clock.unix_timestamp, epoch=clock.epoch,
                    transfer_fee_0=snap.mint_0.transfer_fee, transfer_fee_1=snap.mint_1.transfer_fee,
                )  # fmt: skip
            except RejectedError as exc:
                refusals.append(exc)
                continue
            priced.append(PricedPool(snap, result))
        if not priced:
            raise refusals[0]
        return max(priced, key=lambda p: (p.quote.amount_out, -p.quote.price_impact_pct, str(p.address)))

    @staticmethod
    def _check_decimals(snap: PoolSnapshot, token_in: Token, token_out: Token, zero_for_one: bool) -> None:
        decimals_in, decimals_out = (
            (snap.mint_0.decimals, snap.mint_1.decimals)
            if zero_for_one
            else (snap.mint_1.decimals, snap.mint_0.decimals)
        )
        for token, decimals in ((token_in, decimals_in), (token_out, decimals_out)):
            if token.decimals != decimals:
                raise FatalError(f"{token.symbol} has {decimals} decimals on chain, {token.decimals} in the registry")

    def _as_quote(self, best: PricedPool, token_in: Token, token_out: Token, latency_ms: int) -> Quote:
        q = best.quote
        return Quote(
            dex=self.name,
            pool=str(best.address),
            amount_in=q.amount_in,
            amount_out=q.amount_out,
            fee=q.fees.input_side,
            fee_mint=token_in.mint,
            price=money.price(q.amount_in, token_in.decimals, q.amount_out, token_out.decimals),
            price_impact_pct=q.price_impact_pct,
            latency_ms=latency_ms,
        )
