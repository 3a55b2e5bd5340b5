"""The adapter's quotes and instructions against the real Raydium CPMM program, run inside the localnet.

Needs a cp-swap build and a mainnet AmmConfig dump (raw bytes or a solana CLI account file), named by
``OEE_CPMM_SO`` and ``OEE_CPMM_CONFIG``; skipped without them. Neither file belongs in this repository.
The program must be a mainnet build: it is loaded at the mainnet program ID the localnet pool book uses.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_status import TransactionErrorType

from adapters.dexes.raydium_cpmm import RaydiumCpmmAdapter
from adapters.dexes.raydium_cpmm.config import EXCEEDED_SLIPPAGE
from adapters.dexes.raydium_cpmm.layouts import AmmConfig, decode_amm_config
from adapters.dexes.raydium_cpmm.math import quote_exact_in
from adapters.settlement import ChainRpc
from adapters.solana.errors import custom_error
from adapters.solana.spl import associated_token_address
from kernel.errors import SlippageExceeded
from kernel.tokens import Token
from kernel.venues import QuoteRequest, SwapTicket
from localnet import running_localnet
from tests.adapters.contract.raydium_cpmm import (
    PROGRAM_ID,
    SOL,
    TOKENS,
    USDC,
    PoolFiles,
    book_with,
    build_sol_usdc_pool,
    chain_config,
)

SO = os.environ.get("OEE_CPMM_SO")
CONFIG_DUMP = os.environ.get("OEE_CPMM_CONFIG")
pytestmark = pytest.mark.skipif(
    not (SO and CONFIG_DUMP), reason="OEE_CPMM_SO and OEE_CPMM_CONFIG name no cp-swap build and AmmConfig dump"
)
SIGNATURE_FEE = 5000


def _config_dump(path: Path) -> AmmConfig:
    raw = path.read_bytes()
    if raw[:1] == b"{":
        raw = base64.b64decode(json.loads(raw)["account"]["data"][0])
    return decode_amm_config(raw)


@dataclass
class Setup:
    adapter: RaydiumCpmmAdapter
    rpc: ChainRpc
    wallet: Keypair


@pytest.fixture(scope="module")
async def setup() -> AsyncIterator[Setup]:
    assert SO and CONFIG_DUMP
    wallet = Keypair()
    with tempfile.TemporaryDirectory(prefix="oee-cpmm-program-") as folder:
        files = PoolFiles(Path(folder))
        files.amm_config(_config_dump(Path(CONFIG_DUMP)))
        pool = build_sol_usdc_pool(files)
        options = {
            "slot_ms": 20,
            "finality_depth": 2,
            "programs": [(str(PROGRAM_ID), Path(SO))],
            "accounts": files.accounts,
            "fund": [str(wallet.pubkey())],
            "fund_tokens": {"USDC": "10000"},
        }
        async with running_localnet(**options) as net:
            rpc = ChainRpc(chain_config(net.url))
            adapter = RaydiumCpmmAdapter(ChainRpc(chain_config(net.url)), book_with([pool]), TOKENS)
            yield Setup(adapter, rpc, wallet)
            await adapter.aclose()
            await rpc.aclose()


async def _send(s: Setup, ixs: list[Instruction]) -> TransactionErrorType | None:
    """Send once (no preflight) and wait until confirmed; the transaction's error, if it failed."""
    blockhash, _ = await s.rpc.latest_blockhash()
    tx = Transaction([s.wallet], Message(ixs, s.wallet.pubkey()), blockhash)
    signature = await s.rpc.send_raw(bytes(tx))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        level, err = await s.rpc.signature_status(signature)
        if level in ("confirmed", "finalized"):
            return err
        assert loop.time() < deadline, "the swap did not land"
        await asyncio.sleep(0.02)


async def _usdc(s: Setup) -> int:
    account = associated_token_address(s.wallet.pubkey(), Pubkey.from_string(USDC.mint))
    return int((await s.rpc._client.get_token_account_balance(account)).value.amount)


async def test_sol_to_usdc_pays_exactly_the_quote(setup: Setup) -> None:
    quote = await setup.adapter.quote(QuoteRequest(SOL, USDC, 2 * 10**9))
    address = Pubkey.from_string(quote.pool)
    (state,) = (await setup.adapter.client.pool_states([address])).values()
    assert state is not None
    clock, (snapshot,) = await setup.adapter.client.snapshots({address: state})
    expected = quote_exact_in(
        snapshot.state, snapshot.config, snapshot.vault_0_amount, snapshot.vault_1_amount, 2 * 10**9,
        zero_for_one=True, now=clock.unix_timestamp, epoch=clock.epoch,
    )  # fmt: skip
    ixs = await setup.adapter.swap_instructions(
        SwapTicket("sol-usdc", quote, SOL, USDC, quote.amount_out), setup.wallet.pubkey()
    )
    before = await _usdc(setup)
    assert await _send(setup, ixs) is None
    assert await _usdc(setup) - before == quote.amount_out == expected.amount_out
    # the protocol and fund shares of the trade fee accrued in the pool state, as computed
    after = (await setup.adapter.client.pool_states([address]))[address]
    assert after is not None
    assert after.protocol_fees_token_0 - state.protocol_fees_token_0 == expected.fees.protocol
    assert after.fund_fees_token_0 - state.fund_fees_token_0 == expected.fees.fund


async def test_usdc_to_sol_pays_exactly_the_quote(setup: Setup) -> None:
    # the previous swap accrued protocol and fund fees in the pool: this quote must see them
    quote = await setup.adapter.quote(QuoteRequest(USDC, SOL, 250 * 10**6))
    ixs = await setup.adapter.swap_instructions(
        SwapTicket("usdc-sol", quote, USDC, SOL, quote.amount_out), setup.wallet.pubkey()
    )
    before = await setup.rpc.balance(setup.wallet.pubkey())
    assert await _send(setup, ixs) is None
    # the wSOL account's rent comes back when it is closed: only the signature fee is spent
    assert await setup.rpc.balance(setup.wallet.pubkey()) - before == quote.amount_out - SIGNATURE_FEE


@pytest.mark.parametrize(
    ("token_in", "token_out", "amount"),
    [(SOL, USDC, 123_456_789), (USDC, SOL, 987_654_321), (SOL, USDC, 31_415_926_535), (USDC, SOL, 1_000_003)],
)
async def test_odd_amounts_in_turn(setup: Setup, token_in: Token, token_out: Token, amount: int) -> None:
    quote = await setup.adapter.quote(QuoteRequest(token_in, token_out, amount))
    ixs = await setup.adapter.swap_instructions(
        SwapTicket("odd", quote, token_in, token_out, quote.amount_out), setup.wallet.pubkey()
    )
    if token_out is USDC:
        before = await _usdc(setup)
        assert await _send(setup, ixs) is None
        assert await _usdc(setup) - before == quote.amount_out
    else:
        before = await setup.rpc.balance(setup.wallet.pubkey())
        assert await _send(setup, ixs) is None
        assert await setup.rpc.balance(setup.wallet.pubkey()) - before == quote.amount_out - SIGNATURE_FEE


async def test_one_unit_above_the_quote_fails_with_6005(setup: Setup) -> None:
    quote = await setup.adapter.quote(QuoteRequest(SOL, USDC, 10**9))
    ixs = await setup.adapter.swap_instructions(
        SwapTicket("too-greedy", quote, SOL, USDC, quote.amount_out), setup.wallet.pubkey()
    )
    index = next(i for i, ix in enumerate(ixs) if ix.program_id == PROGRAM_ID)
    swap = ixs[index]
    ixs[index] = Instruction(
        swap.program_id, swap.data[:16] + (quote.amount_out + 1).to_bytes(8, "little"), swap.accounts
    )
    # the simulation is classified as slippage by the chain adapter's error mapping ...
    blockhash, _ = await setup.rpc.latest_blockhash()
    draft = Transaction([setup.wallet], Message(ixs, setup.wallet.pubkey()), blockhash)
    with pytest.raises(SlippageExceeded):
        await setup.rpc.simulate(VersionedTransaction.from_legacy(draft))
    # ... and sent anyway, it lands with the program's ExceededSlippage
    err = await _send(setup, ixs)
    assert custom_error(err) == (index, EXCEEDED_SLIPPAGE)
