"""RaydiumCpmmAdapter against a localnet holding pools built byte-exactly with the adapter's own encoders.

The quotes must equal :func:`quote_exact_in` on the same numbers. The localnet has no ``getProgramAccounts``
yet: until it does, the memcmp-discovery test answers that one method with a fake that filters the very
accounts the localnet was loaded with, and passes every other call through to the localnet.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from adapters.dexes.raydium_cpmm import RaydiumCpmmAdapter
from adapters.dexes.raydium_cpmm.instructions import swap_pool
from adapters.dexes.raydium_cpmm.math import quote_exact_in
from adapters.pools import PoolRef
from adapters.settlement import ChainRpc
from adapters.solana.accounts import CLOCK_SYSVAR, TransferFee, TransferFeeConfig, decode_clock, encode_mint
from adapters.solana.errors import MalformedAccount
from adapters.solana.spl import (
    NATIVE_MINT,
    TOKEN_2022_PROGRAM_ID,
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
    FatalError,
    PoolNotTradable,
    QuoteUnavailable,
    RejectedError,
    SlippageExceeded,
    UnsupportedPair,
)
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from kernel.venues import DexAdapter, OnChainDex, Quote, QuoteRequest, SwapTicket
from localnet import running_localnet
from tests.adapters.contract.accounts import filter_matches
from tests.adapters.contract.raydium_cpmm import (
    PROGRAM_ID,
    SOL,
    USDC,
    LocalPool,
    PoolFiles,
    book_with,
    build_pool,
    build_sol_usdc_pool,
    chain_config,
)

BASE = TokenRegistry.for_network(Network.LOCALNET)


def _token(symbol: str) -> Token:
    found = BASE.resolve(symbol)
    assert found is not None
    return found


USDT, BONK, JUP, RAY = (_token(s) for s in ("USDT", "BONK", "JUP", "RAY"))
FEE_MINT = Keypair().pubkey()
FEE = Token("FEE", "Fee token", 6, str(FEE_MINT))
TOKENS = TokenRegistry.for_network(Network.LOCALNET, extra=[FEE])
TRANSFER_FEE = TransferFeeConfig(
    older=TransferFee(epoch=0, maximum_fee=2_000_000, basis_points=150),
    newer=TransferFee(epoch=10**9, maximum_fee=1, basis_points=1),
)


@dataclass
class Net:
    url: str
    files: PoolFiles
    sol_usdc: LocalPool  # at its canonical PDA
    sol_usdt: LocalPool  # at a keypair address: only getProgramAccounts finds it
    fee_usdc: LocalPool  # Token-2022 input with a transfer fee
    disabled: LocalPool  # SOL/BONK, swaps disabled
    not_open: LocalPool  # SOL/JUP, opens in an hour's time


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Net]:
    files = PoolFiles(Path(tmp_path_factory.mktemp("cpmm")))
    files.amm_config()
    files.write(FEE_MINT, TOKEN_2022_PROGRAM_ID, encode_mint(6, 10**15, transfer_fee=TRANSFER_FEE))
    pools = Net(
        url="",
        files=files,
        sol_usdc=build_sol_usdc_pool(files),
        sol_usdt=build_pool(files, SOL, 500 * 10**9, USDT, 75_000 * 10**6, address=Keypair().pubkey(), fund=(7, 8)),
        fee_usdc=build_pool(
            files,
            FEE,
            2_000_000 * 10**6,
            USDC,
            1_000_000 * 10**6,
            address=Keypair().pubkey(),
            token_programs={FEE.mint: TOKEN_2022_PROGRAM_ID},
            protocol=(3_000, 4_000),
        ),
        disabled=build_pool(files, SOL, 10**12, BONK, 10**15, status=4),
        not_open=build_pool(files, SOL, 10**12, JUP, 10**12, open_time=2**40),
    )
    async with running_localnet(slot_ms=50, accounts=files.accounts) as handle:
        pools.url = handle.url
        yield pools


def _adapter(net: Net, pools: list[LocalPool]) -> RaydiumCpmmAdapter:
    return RaydiumCpmmAdapter(ChainRpc(chain_config(net.url)), book_with(pools), TOKENS)


@pytest.fixture
async def configured(net: Net) -> AsyncIterator[RaydiumCpmmAdapter]:
    adapter = _adapter(net, [net.sol_usdc, net.fee_usdc, net.disabled, net.not_open])
    yield adapter
    await adapter.aclose()


async def _clock(adapter: RaydiumCpmmAdapter) -> tuple[int, int]:
    (account,) = await adapter.client.accounts([CLOCK_SYSVAR])
    assert account is not None
    clock = decode_clock(bytes(account.data))
    return clock.unix_timestamp, clock.epoch


def _expected(pool: LocalPool, token_in: Token, token_out: Token, amount: int, **fees: Any) -> Quote:
    zero_for_one = str(pool.state.token_0_mint) == token_in.mint
    q = quote_exact_in(
        pool.state, pool.config, pool.vault_0_amount, pool.vault_1_amount, amount, zero_for_one=zero_for_one,
        now=2**40, **fees,
    )  # fmt: skip
    return Quote(
        "raydium", str(pool.address), amount, q.amount_out, q.fees.input_side, token_in.mint,
        money.price(amount, token_in.decimals, q.amount_out, token_out.decimals), q.price_impact_pct,
    )  # fmt: skip


def _same(quote: Quote, expected: Quote) -> None:
    assert quote.latency_ms >= 0
    fields = ("dex", "pool", "amount_in", "amount_out", "fee", "fee_mint", "price", "price_impact_pct")
    assert [getattr(quote, f) for f in fields] == [getattr(expected, f) for f in fields]


# --- quotes ----------------------------------------------------------------------------------------


async def test_is_an_on_chain_dex(configured: RaydiumCpmmAdapter) -> None:
    assert isinstance(configured, DexAdapter) and isinstance(configured, OnChainDex)
    assert configured.name == "raydium"
    assert configured.program_id == PROGRAM_ID


@pytest.mark.parametrize(
    ("token_in", "token_out", "amount"),
    [(SOL, USDC, 10**9), (USDC, SOL, 150 * 10**6), (SOL, USDC, 37 * 10**9 + 123), (USDC, SOL, 7)],
    ids=["sol-usdc", "usdc-sol", "sol-usdc-big", "usdc-sol-tiny"],
)
async def test_quote_equals_the_math_on_the_same_numbers(
    net: Net, configured: RaydiumCpmmAdapter, token_in: Token, token_out: Token, amount: int
) -> None:
    quote = await configured.quote(QuoteRequest(token_in, token_out, amount))
    _same(quote, _expected(net.sol_usdc, token_in, token_out, amount))
    assert quote.pool == "7JuwJuNU88gurFnyWeiyGKbFmExMWcmRZntn9imEzdny"  # the mainnet address: a canonical PDA


async def test_sol_to_usdc_in_round_numbers(configured: RaydiumCpmmAdapter) -> None:
    # 1 SOL into 1,000 SOL / 150,000 USDC: fee 0.0025 SOL, out floor(0.9975e9*150e9/(1e12+0.9975e9)) raw USDC
    quote = await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    assert (quote.amount_out, quote.fee, quote.fee_mint) == (149_475_897, 2_500_000, SOL.mint)
    assert quote.price == Decimal("149.475897")
    assert quote.price_impact_pct == Decimal("0.099651")


async def test_token_2022_transfer_fee_pool(net: Net, configured: RaydiumCpmmAdapter) -> None:
    _, epoch = await _clock(configured)
    assert epoch < 10**9  # the older fee (150 bps, at most 2 FEE) applies
    amount = 50 * 10**6
    quote = await configured.quote(QuoteRequest(FEE, USDC, amount))
    fee_in_0 = str(net.fee_usdc.state.token_0_mint) == FEE.mint
    fees = {"transfer_fee_0": TRANSFER_FEE} if fee_in_0 else {"transfer_fee_1": TRANSFER_FEE}
    expected = _expected(net.fee_usdc, FEE, USDC, amount, epoch=epoch, **fees)
    _same(quote, expected)
    # transfer fee ceil(50e6 * 150 / 10000) = 750,000, then the trade fee ceil(49,250,000 * 0.25%) = 123,125
    assert quote.fee == 750_000 + 123_125
    # the other way the transfer fee comes off the output
    back = await configured.quote(QuoteRequest(USDC, FEE, 10 * 10**6))
    _same(back, _expected(net.fee_usdc, USDC, FEE, 10 * 10**6, epoch=epoch, **fees))


async def test_pools_closed_to_swaps_are_rejected(configured: RaydiumCpmmAdapter) -> None:
    with pytest.raises(PoolNotTradable, match="disabled"):
        await configured.quote(QuoteRequest(SOL, BONK, 10**9))
    with pytest.raises(PoolNotTradable, match="opens at"):
        await configured.quote(QuoteRequest(JUP, SOL, 10**6))


async def test_an_amount_that_buys_nothing_is_rejected(configured: RaydiumCpmmAdapter) -> None:
    with pytest.raises(RejectedError) as refused:  # 1 raw USDC pays the whole trade fee
        await configured.quote(QuoteRequest(USDC, SOL, 1))
    assert refused.value.code == "amount_too_small"


async def test_same_token_is_unsupported(configured: RaydiumCpmmAdapter) -> None:
    with pytest.raises(UnsupportedPair):
        await configured.quote(QuoteRequest(SOL, SOL, 10**9))


# --- finding pools ---------------------------------------------------------------------------------


async def test_discovers_the_canonical_pool_when_none_is_configured(net: Net) -> None:
    adapter = _adapter(net, [])
    try:
        quote = await adapter.quote(QuoteRequest(USDC, SOL, 150 * 10**6))
        _same(quote, _expected(net.sol_usdc, USDC, SOL, 150 * 10**6))
    finally:
        await adapter.aclose()


async def _localnet_has_program_accounts(url: str) -> bool:
    async with httpx.AsyncClient() as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "getProgramAccounts", "params": [str(PROGRAM_ID)]}
        reply = (await http.post(url, json=body)).json()
    return "error" not in reply or bool(reply["error"].get("code") != -32601)


def _fake_program_accounts(files: PoolFiles, seen: list[Any]) -> Any:
    """getProgramAccounts over the accounts the localnet was loaded with: dataSize and memcmp filters."""

    def answer(request: httpx.Request) -> httpx.Response:
        call = json.loads(request.content)
        program, config = call["params"][0], call["params"][1]
        seen.append(config)
        found = []
        for _, path in files.accounts:
            doc = json.loads(path.read_text())
            account = doc["account"]
            data = base64.b64decode(account["data"][0])
            if account["owner"] != program or not all(filter_matches(f, data) for f in config.get("filters", [])):
                continue
            found.append({"pubkey": doc["pubkey"], "account": account})
        return httpx.Response(200, json={"jsonrpc": "2.0", "result": found, "id": call["id"]})

    return answer


async def test_discovers_a_keypair_pool_by_memcmp(net: Net) -> None:
    adapter = _adapter(net, [])
    mint_0, mint_1 = str(net.sol_usdt.state.token_0_mint), str(net.sol_usdt.state.token_1_mint)
    try:
        if await _localnet_has_program_accounts(net.url):
            quote = await adapter.quote(QuoteRequest(SOL, USDT, 10**9))
        else:
            seen: list[Any] = []
            with respx.mock(assert_all_called=False) as router:
                router.post(net.url, json__method="getProgramAccounts").mock(
                    side_effect=_fake_program_accounts(net.files, seen)
                )
                router.route().pass_through()
                quote = await adapter.quote(QuoteRequest(SOL, USDT, 10**9))
            (config,) = seen
            assert config["encoding"] == "base64"
            assert config["filters"] == [
                {"dataSize": 637},
                {"memcmp": {"offset": 168, "encoding": "base58", "bytes": mint_0}},
                {"memcmp": {"offset": 200, "encoding": "base58", "bytes": mint_1}},
            ]
        _same(quote, _expected(net.sol_usdt, SOL, USDT, 10**9))
        # remembered: no second search (the fake is gone, the localnet would refuse it)
        again = await adapter.quote(QuoteRequest(USDT, SOL, 10**6))
        assert again.pool == str(net.sol_usdt.address)
    finally:
        await adapter.aclose()


async def test_no_pool_anywhere_is_unsupported(net: Net) -> None:
    adapter = _adapter(net, [])
    try:
        with pytest.raises(UnsupportedPair, match="USDT/JUP"):
            await adapter.quote(QuoteRequest(USDT, JUP, 10**6))
    finally:
        await adapter.aclose()


async def test_a_configured_address_that_is_no_pool_is_fatal(net: Net) -> None:
    book = book_with([])
    # a USDC mint is no pool: refused by its owner before any byte is read
    book.pools[:] = [PoolRef("raydium", USDC.mint, frozenset({SOL.mint, RAY.mint}))]
    adapter = RaydiumCpmmAdapter(ChainRpc(chain_config(net.url)), book, TOKENS)
    try:
        with pytest.raises(MalformedAccount, match="owned by"):
            await adapter.quote(QuoteRequest(SOL, RAY, 10**9))
        book.pools[:] = [PoolRef("raydium", str(Keypair().pubkey()), frozenset({SOL.mint, RAY.mint}))]
        with pytest.raises(FatalError, match="no Raydium CPMM pool exists"):
            await adapter.quote(QuoteRequest(SOL, RAY, 10**9))
        book.pools[:] = [PoolRef("raydium", str(net.sol_usdc.address), frozenset({SOL.mint, RAY.mint}))]
        with pytest.raises(FatalError, match="not SOL/RAY"):
            await adapter.quote(QuoteRequest(SOL, RAY, 10**9))
    finally:
        await adapter.aclose()


async def test_rpc_failures_are_quote_unavailable(net: Net, configured: RaydiumCpmmAdapter) -> None:
    await configured.quote(QuoteRequest(SOL, USDC, 10**9))  # the pool's keys are known now

    async def faults(rate: float) -> None:
        async with httpx.AsyncClient() as http:
            body = {"jsonrpc": "2.0", "id": 1, "method": "localnet_setFaults", "params": [{"rate5xx": rate}]}
            assert "error" not in (await http.post(net.url, json=body)).json()

    await faults(1.0)
    try:
        with pytest.raises(QuoteUnavailable, match="503"):
            await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    finally:
        await faults(0.0)
    assert (await configured.quote(QuoteRequest(SOL, USDC, 10**9))).amount_out > 0


# --- swap instructions -----------------------------------------------------------------------------

OWNER = Keypair().pubkey()


def _ticket(quote: Quote, token_in: Token, token_out: Token, min_out: int) -> SwapTicket:
    return SwapTicket("order-1", quote, token_in, token_out, min_out)


SEED = temporary_seed("order-1")


async def test_sol_in_wraps_swaps_and_unwraps(net: Net, configured: RaydiumCpmmAdapter) -> None:
    quote = await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    min_out = quote.min_amount_out(50)
    ixs = await configured.swap_instructions(_ticket(quote, SOL, USDC, min_out), OWNER)
    usdc = Pubkey.from_string(USDC.mint)
    # the SOL goes through a fresh wSOL account the transaction creates and closes, never the owner's own
    swap = swap_pool(
        PROGRAM_ID, net.sol_usdc.address, net.sol_usdc.state, zero_for_one=True, payer=OWNER,
        input_token_account=temporary_wsol_address(OWNER, SEED),
        output_token_account=associated_token_address(OWNER, usdc), amount_in=10**9, minimum_amount_out=min_out,
    )  # fmt: skip
    assert ixs == [
        *open_temporary_wsol(OWNER, SEED, 10**9),
        create_associated_token_account_idempotent(OWNER, OWNER, usdc, TOKEN_PROGRAM_ID),
        swap,
        close_temporary_wsol(OWNER, SEED),
    ]
    assert associated_token_address(OWNER, NATIVE_MINT) not in {m.pubkey for ix in ixs for m in ix.accounts}
    assert ixs[3].data[8:16] == (10**9).to_bytes(8, "little")
    assert ixs[3].data[16:] == min_out.to_bytes(8, "little")


async def test_sol_out_creates_then_closes_the_wsol_account(net: Net, configured: RaydiumCpmmAdapter) -> None:
    quote = await configured.quote(QuoteRequest(USDC, SOL, 150 * 10**6))
    ixs = await configured.swap_instructions(_ticket(quote, USDC, SOL, quote.amount_out), OWNER)
    usdc = Pubkey.from_string(USDC.mint)
    swap = swap_pool(
        PROGRAM_ID, net.sol_usdc.address, net.sol_usdc.state, zero_for_one=False, payer=OWNER,
        input_token_account=associated_token_address(OWNER, usdc),
        output_token_account=temporary_wsol_address(OWNER, SEED), amount_in=150 * 10**6,
        minimum_amount_out=quote.amount_out,
    )  # fmt: skip
    assert ixs == [*open_temporary_wsol(OWNER, SEED), swap, close_temporary_wsol(OWNER, SEED)]


async def test_token_2022_output_account_uses_its_program(net: Net, configured: RaydiumCpmmAdapter) -> None:
    quote = await configured.quote(QuoteRequest(USDC, FEE, 10**6))
    ixs = await configured.swap_instructions(_ticket(quote, USDC, FEE, 1), OWNER)
    assert ixs[0] == create_associated_token_account_idempotent(OWNER, OWNER, FEE_MINT, TOKEN_2022_PROGRAM_ID)
    assert ixs[1].accounts[5].pubkey == associated_token_address(OWNER, FEE_MINT, TOKEN_2022_PROGRAM_ID)
    assert len(ixs) == 2  # no SOL on either side: nothing to wrap or close


async def test_slippage_exceeded_before_anything_is_sent(configured: RaydiumCpmmAdapter) -> None:
    quote = await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    with pytest.raises(SlippageExceeded) as exceeded:
        await configured.swap_instructions(_ticket(quote, SOL, USDC, quote.amount_out + 1), OWNER)
    assert exceeded.value.context["quoted"] == quote.amount_out
    # exactly the fresh quote is still accepted
    assert await configured.swap_instructions(_ticket(quote, SOL, USDC, quote.amount_out), OWNER)


async def test_a_route_of_another_dex_is_a_bug(configured: RaydiumCpmmAdapter) -> None:
    quote = await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    other = Quote("meteora", quote.pool, quote.amount_in, 1, 0, SOL.mint, Decimal(1), Decimal(0))
    with pytest.raises(FatalError, match="meteora"):
        await configured.swap_instructions(_ticket(other, SOL, USDC, 1), OWNER)
