"""Sniping and tokens by mint against the real Raydium CPMM program, run inside the localnet.

A pool placed at run time at its canonical PDA with an ``open_time`` ahead: the snapshot says no pool, then
not open (and a swap sent then fails with the program's NotApproved), then open in the first slot whose
block time reaches ``open_time``, where a swap of the snapshot's quote is paid exactly that quote. And a
Token-2022 mint with a transfer fee, unknown to the token list, resolved from the chain and swapped both
ways, each payout equal to the quote to the unit.

Needs ``OEE_CPMM_SO`` and ``OEE_CPMM_CONFIG`` (see tests/adapters/dexes/raydium_cpmm/test_raydium_cpmm_program.py);
skipped without them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import struct
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from solders.transaction_status import TransactionErrorType

from adapters.dexes.raydium_cpmm import RaydiumCpmmAdapter
from adapters.dexes.raydium_cpmm.instructions import authority_address, swap_pool, vault_address
from adapters.dexes.raydium_cpmm.watch import RaydiumCpmmWatcher
from adapters.onchain_dex.tokens import ChainTokens
from adapters.settlement import ChainRpc
from adapters.solana.accounts import TransferFee, TransferFeeConfig, encode_mint, encode_token_account
from adapters.solana.errors import custom_error
from adapters.solana.spl import NATIVE_MINT, TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID, TokenSide, around_swap
from kernel.errors import PoolNotTradable
from kernel.tokens import Token
from kernel.venues import QuoteRequest, SwapTicket
from kernel.watching import Activation
from localnet import LocalnetHandle, running_localnet
from tests.adapters.contract.accounts import place_accounts, rent_exempt
from tests.adapters.contract.raydium_cpmm import (
    PROGRAM_ID,
    SOL,
    TOKENS,
    USDC,
    LocalPool,
    PoolFiles,
    book_with,
    build_pool,
    chain_config,
)
from tests.adapters.dexes.raydium_cpmm.test_raydium_cpmm_program import CONFIG_DUMP, SIGNATURE_FEE, SO, _config_dump
from tests.support import json_rpc as rpc

pytestmark = pytest.mark.skipif(
    not (SO and CONFIG_DUMP), reason="OEE_CPMM_SO and OEE_CPMM_CONFIG name no cp-swap build and AmmConfig dump"
)
NOT_APPROVED = 6000  # cp-swap's first error: swaps disabled, or block_timestamp < open_time
FEE_MINT = Keypair().pubkey()
FEES = TransferFeeConfig(TransferFee(0, 10**12, 250), TransferFee(0, 10**12, 250))  # 2.5%, every epoch
# Token-2022 keeps a transfer's withheld fee in the destination account's TransferFeeAmount extension:
# account type 2 (account) after the 165 base bytes, then the extension (type 2, 8 bytes).
_TRANSFER_FEE_AMOUNT = bytes([2]) + struct.pack("<HHQ", 2, 8, 0)


@dataclass
class Setup:
    net: LocalnetHandle
    rpc: ChainRpc
    wallet: Keypair


@pytest.fixture(scope="module")
async def setup() -> AsyncIterator[Setup]:
    assert SO and CONFIG_DUMP
    wallet = Keypair()
    with tempfile.TemporaryDirectory(prefix="oee-watch-program-") as folder:
        files = PoolFiles(Path(folder))
        files.amm_config(_config_dump(Path(CONFIG_DUMP)))
        files.write(FEE_MINT, TOKEN_2022_PROGRAM_ID, encode_mint(6, 10**15, transfer_fee=FEES))
        options = {
            "slot_ms": 0,  # the clock moves only when the test says: the first slot past open_time is exact
            "programs": [(str(PROGRAM_ID), Path(SO))],
            "accounts": files.accounts,
            "fund": [str(wallet.pubkey())],
            "fund_tokens": {"USDC": "10000"},
        }
        async with running_localnet(**options) as net:
            rpc_client = ChainRpc(chain_config(net.url))
            yield Setup(net, rpc_client, wallet)
            await rpc_client.aclose()


async def _advance(s: Setup, unix_time: int | None = None) -> int:
    params: dict[str, int] = {"slots": 1} | ({"unixTimestamp": unix_time} if unix_time is not None else {})
    return int((await rpc(s.net.url, "localnet_advanceSlots", params))["unixTimestamp"])


async def _send(s: Setup, ixs: list[Instruction]) -> TransactionErrorType | None:
    """Send once; it runs in the current slot. The transaction's error, if it failed."""
    blockhash, _ = await s.rpc.latest_blockhash()
    tx = Transaction([s.wallet], Message(ixs, s.wallet.pubkey()), blockhash)
    signature = await s.rpc.send_raw(bytes(tx))
    for _ in range(500):
        level, err = await s.rpc.signature_status(signature)
        if level is not None:
            return err
        await asyncio.sleep(0.01)
    raise AssertionError("the transaction did not land")


async def _token_balance(s: Setup, mint: Pubkey, program: Pubkey = TOKEN_PROGRAM_ID) -> int:
    account = TokenSide(mint, program).account(s.wallet.pubkey())
    found = (await s.rpc.multiple_accounts([account], "reading a balance"))[0]
    return 0 if found is None else int.from_bytes(bytes(found.data)[64:72], "little")


async def test_a_pool_created_later_opens_in_its_first_slot_and_pays_the_quote(setup: Setup) -> None:
    adapter = RaydiumCpmmAdapter(ChainRpc(chain_config(setup.net.url)), book_with([]), TOKENS)
    watcher = RaydiumCpmmWatcher(adapter, pubsub_url=setup.net.ws_url, search_interval_s=3_600)
    try:
        assert (await watcher.snapshot(SOL, USDC)).pool is None
        open_time = await _advance(setup) + 600
        with tempfile.TemporaryDirectory(prefix="oee-later-") as folder:
            files = PoolFiles(Path(folder))
            pool = build_pool(files, SOL, 1_000 * 10**9, USDC, 150_000 * 10**6, open_time=open_time)
            await place_accounts(setup.net.url, files)
        assert await watcher.wait_change(SOL, USDC, 10.0) is True
        waiting = await watcher.snapshot(SOL, USDC)
        assert waiting.pool == str(pool.address) and waiting.opens == Activation(unix_time=open_time)
        with pytest.raises(PoolNotTradable):
            waiting.quote(10**9)

        # a swap sent before open_time is refused by the program, one second early too
        owner = setup.wallet.pubkey()
        side_in = TokenSide(NATIVE_MINT, TOKEN_PROGRAM_ID)
        side_out = TokenSide(Pubkey.from_string(USDC.mint), TOKEN_PROGRAM_ID)

        def swap(input_account: Pubkey, output_account: Pubkey) -> Instruction:
            return swap_pool(
                PROGRAM_ID, pool.address, pool.state, zero_for_one=True, payer=owner, amount_in=10**9,
                input_token_account=input_account, output_token_account=output_account, minimum_amount_out=1,
            )  # fmt: skip

        early = around_swap(owner, side_in, side_out, 10**9, swap, "early")
        index = next(i for i, ix in enumerate(early) if ix.program_id == PROGRAM_ID)
        assert custom_error(await _send(setup, early)) == (index, NOT_APPROVED)
        await _advance(setup, open_time - 1)
        assert await watcher.wait_change(SOL, USDC, 10.0) is True
        assert (await watcher.snapshot(SOL, USDC)).opens is not None
        assert custom_error(await _send(setup, early)) == (index, NOT_APPROVED)

        # the first slot at open_time: open, and the snapshot's quote is what the swap pays
        await _advance(setup, open_time)
        assert await watcher.wait_change(SOL, USDC, 10.0) is True
        opened = await watcher.snapshot(SOL, USDC)
        assert opened.opens is None and opened.now.unix_time == open_time
        quote = opened.quote(2 * 10**9)
        ixs = await adapter.swap_instructions(SwapTicket("snipe", quote, SOL, USDC, quote.amount_out), owner)
        before = await _token_balance(setup, Pubkey.from_string(USDC.mint))
        assert await _send(setup, ixs) is None
        assert await _token_balance(setup, Pubkey.from_string(USDC.mint)) - before == quote.amount_out
    finally:
        await watcher.aclose()
        await adapter.aclose()


async def test_a_token_2022_mint_with_a_fee_is_read_from_the_chain_and_paid_to_the_unit(setup: Setup) -> None:
    tokens = ChainTokens(setup.rpc, TOKENS)
    assert TOKENS.resolve(str(FEE_MINT)) is None  # unknown to the token list
    fee = await tokens.resolve(str(FEE_MINT))
    assert fee is not None and (fee.decimals, fee.program) == (6, str(TOKEN_2022_PROGRAM_ID))
    assert fee.transfer_fee is not None and fee.transfer_fee.fee(10**6, epoch=0) == 25_000
    pool = await _fee_pool(setup, fee)
    adapter = RaydiumCpmmAdapter(ChainRpc(chain_config(setup.net.url)), book_with([pool]), TOKENS)
    watcher = RaydiumCpmmWatcher(adapter)
    owner = setup.wallet.pubkey()
    try:
        # SOL in, the fee token out: the transfer fee comes off what the wallet receives
        quote = await adapter.quote(QuoteRequest(SOL, fee, 3 * 10**9))
        assert (await watcher.snapshot(SOL, fee)).quote(3 * 10**9) == dataclasses.replace(quote, latency_ms=0)
        ixs = await adapter.swap_instructions(SwapTicket("fee-out", quote, SOL, fee, quote.amount_out), owner)
        assert await _send(setup, ixs) is None
        received = await _token_balance(setup, FEE_MINT, TOKEN_2022_PROGRAM_ID)
        assert received == quote.amount_out
        # the fee token in: its transfer fee comes off first
        back = await adapter.quote(QuoteRequest(fee, SOL, received))
        ixs = await adapter.swap_instructions(SwapTicket("fee-in", back, fee, SOL, back.amount_out), owner)
        lamports = await setup.rpc.balance(owner)
        assert await _send(setup, ixs) is None
        assert await setup.rpc.balance(owner) - lamports == back.amount_out - SIGNATURE_FEE
        assert await _token_balance(setup, FEE_MINT, TOKEN_2022_PROGRAM_ID) == 0
    finally:
        await watcher.aclose()
        await adapter.aclose()


async def _fee_pool(setup: Setup, fee: Token) -> LocalPool:
    """A FEE/SOL pool placed now, its Token-2022 vault carrying the extension that withholds fees."""
    with tempfile.TemporaryDirectory(prefix="oee-fee-pool-") as folder:
        files = PoolFiles(Path(folder))
        pool = build_pool(
            files, fee, 2_000_000 * 10**6, SOL, 1_000 * 10**9, token_programs={fee.mint: TOKEN_2022_PROGRAM_ID}
        )
        vault = vault_address(PROGRAM_ID, pool.address, FEE_MINT)
        amount = pool.vault_0_amount if pool.state.token_0_mint == FEE_MINT else pool.vault_1_amount
        data = encode_token_account(FEE_MINT, authority_address(PROGRAM_ID)[0], amount) + _TRANSFER_FEE_AMOUNT
        files.write(vault, TOKEN_2022_PROGRAM_ID, data, rent_exempt(len(data)))
        await place_accounts(setup.net.url, files)
    return pool
