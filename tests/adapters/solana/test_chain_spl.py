"""SPL helpers: byte-exact against solana-py's builders and the programs' layouts, and run on the localnet."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction
from spl.token import instructions as spl

from adapters.settlement import ChainConfig, ChainRpc
from adapters.solana.spl import (
    ASSOCIATED_TOKEN_PROGRAM_ID,
    NATIVE_MINT,
    SYSTEM_PROGRAM_ID,
    TOKEN_2022_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    associated_token_address,
    close_account,
    create_associated_token_account_idempotent,
    sync_native,
    system_transfer,
    unwrap_sol,
    wrap_sol,
    wrapped_sol_account,
)
from kernel.settings import Network
from localnet import running_localnet

OWNER = Pubkey.from_string("9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM")
USDC = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")


def test_program_ids() -> None:
    assert str(TOKEN_PROGRAM_ID) == "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
    assert str(TOKEN_2022_PROGRAM_ID) == "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
    assert str(ASSOCIATED_TOKEN_PROGRAM_ID) == "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL"


def test_associated_token_address() -> None:
    ata = associated_token_address(OWNER, USDC)
    assert (
        ata
        == Pubkey.find_program_address(
            [bytes(OWNER), bytes(TOKEN_PROGRAM_ID), bytes(USDC)], ASSOCIATED_TOKEN_PROGRAM_ID
        )[0]
    )
    assert ata == spl.get_associated_token_address(OWNER, USDC)
    assert associated_token_address(OWNER, USDC, TOKEN_2022_PROGRAM_ID) == spl.get_associated_token_address(
        OWNER, USDC, TOKEN_2022_PROGRAM_ID
    )
    assert associated_token_address(OWNER, USDC, TOKEN_2022_PROGRAM_ID) != ata


@pytest.mark.parametrize("program", [TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID])
def test_create_associated_token_account_idempotent(program: Pubkey) -> None:
    payer = Pubkey.from_bytes(bytes([7]) * 32)
    ix = create_associated_token_account_idempotent(payer, OWNER, USDC, program)
    assert ix == spl.create_idempotent_associated_token_account(payer, OWNER, USDC, program)
    assert ix.program_id == ASSOCIATED_TOKEN_PROGRAM_ID
    assert ix.data == b"\x01"
    ata = associated_token_address(OWNER, USDC, program)
    assert [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts] == [
        (payer, True, True),
        (ata, False, True),
        (OWNER, False, False),
        (USDC, False, False),
        (SYSTEM_PROGRAM_ID, False, False),
        (program, False, False),
    ]


def test_sync_native_and_close_account() -> None:
    account = wrapped_sol_account(OWNER)
    ix = sync_native(account)
    assert ix == spl.sync_native(spl.SyncNativeParams(TOKEN_PROGRAM_ID, account))
    assert (ix.data, [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts]) == (
        b"\x11",
        [(account, False, True)],
    )
    close = close_account(account, OWNER, OWNER)
    assert close == spl.close_account(spl.CloseAccountParams(TOKEN_PROGRAM_ID, account, OWNER, OWNER))
    assert close.data == b"\x09"
    assert [(m.pubkey, m.is_signer, m.is_writable) for m in close.accounts] == [
        (account, False, True),
        (OWNER, False, True),
        (OWNER, True, False),
    ]


def test_system_transfer() -> None:
    to = Pubkey.from_bytes(bytes([3]) * 32)
    ix = system_transfer(OWNER, to, 1_500_000_000)
    assert ix == transfer(TransferParams(from_pubkey=OWNER, to_pubkey=to, lamports=1_500_000_000))
    assert ix.data == struct.pack("<IQ", 2, 1_500_000_000)
    assert ix.data.hex() == "02000000002f685900000000"


def test_wrap_and_unwrap_sequences() -> None:
    account = associated_token_address(OWNER, NATIVE_MINT)
    wrap = wrap_sol(OWNER, 2_000_000)
    assert wrap == [
        create_associated_token_account_idempotent(OWNER, OWNER, NATIVE_MINT),
        system_transfer(OWNER, account, 2_000_000),
        sync_native(account),
    ]
    assert unwrap_sol(OWNER) == [close_account(account, OWNER, OWNER)]
    with pytest.raises(ValueError):
        wrap_sol(OWNER, 0)


# --- on the localnet ------------------------------------------------------------------------------

WALLET = Keypair()


@pytest.fixture(scope="module")
async def chain() -> AsyncIterator[ChainRpc]:
    async with running_localnet(slot_ms=20, finality_depth=2, fund=[str(WALLET.pubkey())]) as net:
        rpc = ChainRpc(ChainConfig(Network.LOCALNET, net.url, rpc_backoff_s=0.01, rpc_backoff_max_s=0.05))
        yield rpc
        await rpc.aclose()


async def _land(rpc: ChainRpc, ixs: list[Instruction]) -> None:
    blockhash, _ = await rpc.latest_blockhash()
    tx = Transaction([WALLET], Message(ixs, WALLET.pubkey()), blockhash)
    signature = await rpc.send_raw(bytes(tx))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        level, err = await rpc.signature_status(signature)
        if level in ("confirmed", "finalized"):
            assert err is None, err
            return
        assert loop.time() < deadline, "the transaction did not land"
        await asyncio.sleep(0.02)


async def test_wrap_then_unwrap_on_the_localnet(chain: ChainRpc) -> None:
    owner = WALLET.pubkey()
    account = wrapped_sol_account(owner)
    before = await chain.balance(owner)
    await _land(chain, wrap_sol(owner, 1_000_000_000))
    balance = await chain._client.get_token_account_balance(account)
    assert int(balance.value.amount) == 1_000_000_000
    # wrapping twice tops the same account up (the create is idempotent)
    await _land(chain, wrap_sol(owner, 500_000_000))
    balance = await chain._client.get_token_account_balance(account)
    assert int(balance.value.amount) == 1_500_000_000
    await _land(chain, unwrap_sol(owner))
    assert await chain.balance(account) == 0
    # everything came back but the three signature fees
    assert await chain.balance(owner) == before - 3 * 5000
