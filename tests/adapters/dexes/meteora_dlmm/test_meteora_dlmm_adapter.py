"""MeteoraDlmmAdapter against a localnet holding DLMM pairs built byte-exactly with the adapter's own encoders.

The quotes must equal :func:`quote_exact_in` on the same accounts. The localnet has no ``getProgramAccounts``
yet: until it does, this module serves it from a subclass of the localnet that filters the localnet's own
ledger (``dataSize`` and ``memcmp`` filters, as a validator does) and leaves every other method alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

import localnet
from adapters.dexes.meteora_dlmm import MeteoraDlmmAdapter
from adapters.dexes.meteora_dlmm.instructions import bin_array_address, swap2
from adapters.dexes.meteora_dlmm.layouts import StaticParameters
from adapters.dexes.meteora_dlmm.math import quote_exact_in
from adapters.settlement import ChainRpc
from adapters.solana.accounts import CLOCK_SYSVAR, decode_clock
from adapters.solana.spl import (
    TOKEN_PROGRAM_ID,
    associated_token_address,
    close_temporary_wsol,
    create_associated_token_account_idempotent,
    open_temporary_wsol,
    temporary_seed,
    temporary_wsol_address,
)
from kernel import money
from kernel.errors import (
    InsufficientLiquidity,
    PoolNotTradable,
    QuoteUnavailable,
    RejectedError,
    SlippageExceeded,
    UnsupportedPair,
)
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from kernel.venues import DexAdapter, OnChainDex, Quote, QuoteRequest, SwapTicket
from localnet import Localnet, LocalnetConfig, running_localnet
from localnet.accounts import encode_account
from localnet.methods import config_at, pubkey_param
from tests.adapters.contract.accounts import filter_matches
from tests.adapters.contract.meteora_dlmm import (
    PROGRAM_ID,
    SOL,
    SOL_PER_BIN,
    USDC,
    USDC_PER_BIN,
    LocalPair,
    PairFiles,
    book_with,
    build_pair,
    build_sol_usdc,
    chain_config,
    pubkey_for,
)

TOKENS = TokenRegistry.for_network(Network.LOCALNET)


def _token(symbol: str) -> Token:
    found = TOKENS.resolve(symbol)
    assert found is not None
    return found


BONK, USDT = _token("BONK"), _token("USDT")


class LocalnetWithProgramAccounts(Localnet):
    """The localnet plus ``getProgramAccounts`` over its ledger, counting the calls."""

    searches: ClassVar[int] = 0

    def __init__(self, config: LocalnetConfig | None = None) -> None:
        super().__init__(config)
        self.methods["getProgramAccounts"] = self._program_accounts

    def _program_accounts(self, params: list[Any]) -> Any:
        type(self).searches += 1
        program, config = pubkey_param(params[0] if params else None), config_at(params, 1)
        found = []
        for key in self.chain.known_accounts():
            account = self.chain.account(key)
            if account is None or account.owner != program:
                continue
            data = bytes(account.data)
            if all(filter_matches(f, data) for f in config.get("filters") or []):
                encoded = encode_account(account, config.get("encoding") or "base64")
                found.append({"pubkey": str(key), "account": encoded})
        return found


@dataclass
class Net:
    url: str
    sol_usdc: LocalPair  # X = SOL: the contract suite's pair
    usdc_sol: LocalPair  # X = USDC, about the same price at a 0.3% base fee: always the worse quote
    disabled: LocalPair  # SOL/BONK, status 1


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Net]:
    files = PairFiles(Path(tmp_path_factory.mktemp("dlmm")))
    pools = Net(
        url="",
        sol_usdc=files.pool(build_sol_usdc()),
        usdc_sol=files.pool(
            build_pair(
                pubkey_for("usdc-sol"), USDC, SOL, active_id=1_955, arrays=[26, 27, 28],
                x_per_bin=USDC_PER_BIN, y_per_bin=SOL_PER_BIN, bin_step=10,
                parameters=StaticParameters(base_factor=30_000),
            )
        ),
        disabled=files.pool(
            build_pair(
                pubkey_for("sol-bonk"), SOL, BONK, active_id=0, arrays=[-1, 0], x_per_bin=10**9, y_per_bin=10**9,
                status=1,
            )
        ),
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(localnet, "Localnet", LocalnetWithProgramAccounts)
        async with running_localnet(slot_ms=50, accounts=files.accounts) as handle:
            pools.url = handle.url
            yield pools


def _adapter(net: Net, pools: list[LocalPair]) -> MeteoraDlmmAdapter:
    return MeteoraDlmmAdapter(ChainRpc(chain_config(net.url)), book_with(pools), TOKENS)


@pytest.fixture
async def configured(net: Net) -> AsyncIterator[MeteoraDlmmAdapter]:
    adapter = _adapter(net, [net.sol_usdc, net.disabled])
    yield adapter
    await adapter.aclose()


async def _expected(
    adapter: MeteoraDlmmAdapter, pool: LocalPair, token_in: Token, token_out: Token, amount: int
) -> Quote:
    """The pure math on the very accounts the localnet holds, at the localnet's clock."""
    (clock_account,) = await adapter.client.accounts([CLOCK_SYSVAR])
    assert clock_account is not None
    swap_for_y = str(pool.pair.token_x_mint) == token_in.mint
    q = quote_exact_in(
        pool.accounts(), pool.array_bytes(), amount, swap_for_y, clock=decode_clock(bytes(clock_account.data))
    )
    return Quote(
        "meteora", str(pool.address), amount, q.amount_out, q.fee, token_in.mint if q.fee_on_input else token_out.mint,
        money.price(amount, token_in.decimals, q.amount_out, token_out.decimals),
        q.price_impact_pct.quantize(Decimal("0.000001")),
    )  # fmt: skip


FIELDS = ("dex", "pool", "amount_in", "amount_out", "fee", "fee_mint", "price", "price_impact_pct")


def _same(quote: Quote, expected: Quote) -> None:
    assert quote.latency_ms >= 0
    assert [getattr(quote, f) for f in FIELDS] == [getattr(expected, f) for f in FIELDS]


# --- quotes ----------------------------------------------------------------------------------------


async def test_is_an_on_chain_dex(configured: MeteoraDlmmAdapter) -> None:
    assert isinstance(configured, DexAdapter) and isinstance(configured, OnChainDex)
    assert configured.name == "meteora"
    assert configured.program_id == PROGRAM_ID == Pubkey.from_string("LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo")


@pytest.mark.parametrize(
    ("token_in", "token_out", "amount", "arrays"),
    [
        (SOL, USDC, 10**9, (-28,)),
        (SOL, USDC, 50 * 10**9, (-28, -29)),
        (USDC, SOL, 100 * 10**6, (-28,)),
        (USDC, SOL, 12_000 * 10**6, (-28, -27, -25)),
    ],
    ids=["sell-1-sol", "sell-50-sol", "buy-100-usdc", "buy-12000-usdc"],
)
async def test_quote_equals_the_math_on_the_same_accounts(
    net: Net, configured: MeteoraDlmmAdapter, token_in: Token, token_out: Token, amount: int, arrays: tuple[int, ...]
) -> None:
    quote = await configured.quote(QuoteRequest(token_in, token_out, amount))
    _same(quote, await _expected(configured, net.sol_usdc, token_in, token_out, amount))
    fresh = await configured.client.quote([net.sol_usdc.address], _key(token_in), _key(token_out), amount)
    result = fresh[net.sol_usdc.address]
    assert not isinstance(result, RejectedError)
    assert result.quote.bin_arrays == arrays


async def test_one_sol_in_round_numbers(configured: MeteoraDlmmAdapter) -> None:
    quote = await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    assert (quote.amount_out, quote.fee, quote.fee_mint) == (141_561_128, 1_000_000, SOL.mint)
    assert str(quote.price) == "141.561128"
    assert quote.price_impact_pct == 0


async def test_a_repeated_quote_reads_in_one_call(net: Net) -> None:
    adapter = _adapter(net, [net.sol_usdc])
    try:
        client = adapter.client
        await adapter.quote(QuoteRequest(SOL, USDC, 10**9))
        assert client.calls == 2  # the pair, then the arrays its bitmap says lie ahead
        await adapter.quote(QuoteRequest(SOL, USDC, 3 * 10**9))
        assert client.calls == 3  # the pair with the arrays the last quote walked
        await adapter.quote(QuoteRequest(USDC, SOL, 12_000 * 10**6))
        assert client.calls == 5  # the other direction, once more in two rounds
        await adapter.quote(QuoteRequest(USDC, SOL, 11_000 * 10**6))
        assert client.calls == 6
    finally:
        await adapter.aclose()


async def test_discovery_finds_pairs_either_way_round_and_takes_the_best(net: Net) -> None:
    adapter = _adapter(net, [])
    try:
        before = LocalnetWithProgramAccounts.searches
        sell = await adapter.quote(QuoteRequest(SOL, USDC, 10**9))
        buy = await adapter.quote(QuoteRequest(USDC, SOL, 500 * 10**6))
        # Two searches (SOL as X, then as Y) for the first quote; the second reuses what was found.
        assert LocalnetWithProgramAccounts.searches == before + 2
        assert sell.pool == buy.pool == str(net.sol_usdc.address)
        _same(sell, await _expected(adapter, net.sol_usdc, SOL, USDC, 10**9))
        with pytest.raises(UnsupportedPair):
            await adapter.quote(QuoteRequest(SOL, USDT, 10**9))
    finally:
        await adapter.aclose()


async def test_a_configured_pair_is_used_even_when_a_better_one_exists(net: Net) -> None:
    adapter = _adapter(net, [net.usdc_sol])
    try:
        for token_in, token_out, amount in ((SOL, USDC, 10**9), (USDC, SOL, 500 * 10**6)):
            quote = await adapter.quote(QuoteRequest(token_in, token_out, amount))
            _same(quote, await _expected(adapter, net.usdc_sol, token_in, token_out, amount))
            better = await _expected(adapter, net.sol_usdc, token_in, token_out, amount)
            assert quote.amount_out < better.amount_out
    finally:
        await adapter.aclose()


async def test_refusals(configured: MeteoraDlmmAdapter) -> None:
    with pytest.raises(UnsupportedPair):
        await configured.quote(QuoteRequest(SOL, SOL, 10**9))
    with pytest.raises(InsufficientLiquidity):
        await configured.quote(QuoteRequest(SOL, USDC, 10_000 * 10**9))
    with pytest.raises(RejectedError) as tiny:
        await configured.quote(QuoteRequest(USDC, SOL, 1))  # the fee takes the only unit
    assert tiny.value.code == "amount_too_small"
    with pytest.raises(PoolNotTradable, match="disabled"):
        await configured.quote(QuoteRequest(SOL, BONK, 10**9))


async def test_rpc_failures_are_retryable(net: Net, configured: MeteoraDlmmAdapter) -> None:
    async def faults(**values: float) -> None:
        async with httpx.AsyncClient() as http:
            body = {"jsonrpc": "2.0", "id": 1, "method": "localnet_setFaults", "params": [values]}
            (await http.post(net.url, json=body)).raise_for_status()

    await faults(rate5xx=1.0)
    try:
        with pytest.raises(QuoteUnavailable):
            await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    finally:
        await faults(rate5xx=0.0)
    assert (await configured.quote(QuoteRequest(SOL, USDC, 10**9))).amount_out > 0


# --- swap instructions ------------------------------------------------------------------------------------


def _key(token: Token) -> Pubkey:
    return Pubkey.from_string(token.mint)


def _ticket(quote: Quote, token_in: Token, token_out: Token, min_out: int) -> SwapTicket:
    return SwapTicket("order-1", quote, token_in, token_out, min_out)


def _swap(
    pool: LocalPair,
    owner: Pubkey,
    token_in: Token,
    token_out: Token,
    amount: int,
    min_out: int,
    arrays: tuple[int, ...],
) -> Any:
    def account(token: Token) -> Pubkey:  # SOL goes through the transaction's fresh wSOL account
        fresh = temporary_wsol_address(owner, temporary_seed("order-1"))
        return fresh if token.native else associated_token_address(owner, _key(token))

    return swap2(
        lb_pair=pool.address, pair=pool.pair, user=owner, user_token_in=account(token_in),
        user_token_out=account(token_out),
        amount_in=amount, min_amount_out=min_out,
        bin_arrays=[bin_array_address(pool.address, i, PROGRAM_ID) for i in arrays],
    )  # fmt: skip


async def test_selling_sol_wraps_swaps_and_unwraps(net: Net, configured: MeteoraDlmmAdapter) -> None:
    owner = Keypair().pubkey()
    quote = await configured.quote(QuoteRequest(SOL, USDC, 50 * 10**9))
    min_out = quote.min_amount_out(50)
    steps = await configured.swap_instructions(_ticket(quote, SOL, USDC, min_out), owner)
    seed = temporary_seed("order-1")
    assert steps == [
        *open_temporary_wsol(owner, seed, 50 * 10**9),
        create_associated_token_account_idempotent(owner, owner, _key(USDC), TOKEN_PROGRAM_ID),
        _swap(net.sol_usdc, owner, SOL, USDC, 50 * 10**9, min_out, (-28, -29)),
        close_temporary_wsol(owner, seed),
    ]


async def test_buying_sol_creates_the_wsol_account_and_closes_it(net: Net, configured: MeteoraDlmmAdapter) -> None:
    owner = Keypair().pubkey()
    quote = await configured.quote(QuoteRequest(USDC, SOL, 12_000 * 10**6))
    steps = await configured.swap_instructions(_ticket(quote, USDC, SOL, quote.amount_out), owner)
    seed = temporary_seed("order-1")
    assert steps == [
        *open_temporary_wsol(owner, seed),
        _swap(net.sol_usdc, owner, USDC, SOL, 12_000 * 10**6, quote.amount_out, (-28, -27, -25)),
        close_temporary_wsol(owner, seed),
    ]


async def test_one_spare_array_rides_along_past_the_walk(net: Net, configured: MeteoraDlmmAdapter) -> None:
    owner = Keypair().pubkey()
    quote = await configured.quote(QuoteRequest(SOL, USDC, 10**9))  # stays in array -28
    steps = await configured.swap_instructions(_ticket(quote, SOL, USDC, quote.amount_out), owner)
    # -29 is listed too, should the price move down a bin array before the swap lands.
    assert steps[3] == _swap(net.sol_usdc, owner, SOL, USDC, 10**9, quote.amount_out, (-28, -29))
    none = dataclasses.replace(configured.config, spare_arrays=0)
    bare = MeteoraDlmmAdapter(ChainRpc(chain_config(net.url)), book_with([net.sol_usdc]), TOKENS, config=none)
    try:
        steps = await bare.swap_instructions(_ticket(quote, SOL, USDC, quote.amount_out), owner)
        assert steps[3] == _swap(net.sol_usdc, owner, SOL, USDC, 10**9, quote.amount_out, (-28,))
    finally:
        await bare.aclose()


async def test_a_fresh_quote_below_the_minimum_is_slippage(configured: MeteoraDlmmAdapter) -> None:
    quote = await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    with pytest.raises(SlippageExceeded) as refused:
        await configured.swap_instructions(_ticket(quote, SOL, USDC, quote.amount_out + 1), Keypair().pubkey())
    assert refused.value.context["quoted"] == quote.amount_out
    # A route from another DEX is a bug, not a refusal.
    with pytest.raises(Exception, match="raydium"):
        other = dataclasses.replace(quote, dex="raydium")
        await configured.swap_instructions(_ticket(other, SOL, USDC, 1), Keypair().pubkey())
