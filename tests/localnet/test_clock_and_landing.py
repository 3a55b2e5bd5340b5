"""The localnet (`oee localnet`) driven the way the engine drives devnet: solana-py's AsyncClient over HTTP.

The non-standard ``localnet_*`` methods and getRecentPrioritizationFees (no solana-py helper) are called
as plain JSON-RPC over HTTP. Two localnets serve most tests: one with a running slot clock, and one
whose clock only moves on ``localnet_advanceSlots`` so commitment steps can be checked exactly.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed, Processed
from solana.rpc.core import RPCException
from solana.rpc.types import TxOpts
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.transaction_status import TransactionConfirmationStatus, TransactionErrorFieldless

from localnet import LocalnetHandle
from localnet.accounts import b58decode
from localnet.faucet import DEVNET_LIMIT_MESSAGE
from tests.localnet.helpers import (
    FINALITY,
    MEMO_PROGRAM,
    SOL,
    advance,
    funded,
    rpc,
    status_of,
    transfer_tx,
    wait_for,
)

# --- tests ----------------------------------------------------------------------------------------


async def test_airdrop_then_balance(client: AsyncClient) -> None:
    wallet = await funded(client, SOL)
    assert (await client.get_balance(wallet.pubkey())).value == SOL
    assert await client.is_connected()


async def test_transfer_goes_processed_then_confirmed_then_finalized(
    manual: LocalnetHandle, manual_client: AsyncClient
) -> None:
    client = manual_client
    payer, to = await funded(client), Keypair().pubkey()
    latest = (await client.get_latest_blockhash(Processed)).value
    tx = transfer_tx(payer, to, 1234, latest.blockhash)
    signature = (await client.send_transaction(tx, TxOpts(skip_preflight=True))).value
    assert signature == tx.signatures[0]

    status = await status_of(client, signature)
    assert status.confirmation_status == TransactionConfirmationStatus.Processed
    assert status.confirmations == 0 and status.err is None
    await advance(manual.url, 1)
    status = await status_of(client, signature)
    assert status.confirmation_status == TransactionConfirmationStatus.Confirmed
    assert status.confirmations == 1
    await advance(manual.url, FINALITY)
    status = await status_of(client, signature)
    assert status.confirmation_status == TransactionConfirmationStatus.Finalized
    assert status.confirmations is None
    assert (await client.get_balance(to)).value == 1234
    assert (await client.get_balance(payer.pubkey())).value == 2 * SOL - 1234 - 5000


async def test_confirm_transaction_on_a_running_clock(client: AsyncClient) -> None:
    payer = await funded(client)
    latest = (await client.get_latest_blockhash(Confirmed)).value
    assert latest.last_valid_block_height > (await client.get_block_height(Confirmed)).value
    tx = transfer_tx(payer, Keypair().pubkey(), 1000, latest.blockhash)
    signature = (await client.send_transaction(tx, TxOpts(skip_preflight=True, max_retries=0))).value
    resp = await client.confirm_transaction(
        signature, Confirmed, sleep_seconds=0.02, last_valid_block_height=latest.last_valid_block_height
    )
    assert resp.value[0] is not None and resp.value[0].err is None


async def test_memo_is_readable_from_get_transaction(ticking: LocalnetHandle, client: AsyncClient) -> None:
    payer = await funded(client)
    memo = b"order 7f3a: SOL->USDC"
    memo_ix = Instruction(MEMO_PROGRAM, memo, [AccountMeta(payer.pubkey(), True, False)])
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    tx = transfer_tx(payer, Keypair().pubkey(), 5000, blockhash, memo_ix)
    signature = (await client.send_transaction(tx)).value  # with preflight

    async def landed() -> Any:
        return (await client.get_transaction(signature, "json", Confirmed, max_supported_transaction_version=0)).value

    found = await wait_for(landed, "the transaction at confirmed")
    meta = found.transaction.meta
    assert meta is not None and meta.err is None and meta.fee == 5000
    assert meta.pre_balances[0] - meta.post_balances[0] == 10_000
    assert any("Memo (len 21)" in line for line in meta.log_messages or [])
    assert meta.compute_units_consumed and meta.compute_units_consumed > 0
    message = found.transaction.transaction.message
    keys = [str(k) for k in message.account_keys]
    memos = [b58decode(ix.data) for ix in message.instructions if keys[ix.program_id_index] == str(MEMO_PROGRAM)]
    assert memos == [memo]

    raw = (await client.get_transaction(signature, "base64", Confirmed, max_supported_transaction_version=0)).value
    assert raw is not None and bytes(raw.transaction.transaction) == bytes(tx)
    config = {"encoding": "jsonParsed", "commitment": "confirmed"}
    parsed = await rpc(ticking.url, "getTransaction", str(signature), config)
    first = parsed["transaction"]["message"]["instructions"][0]
    assert (first["parsed"], first["program"]) == (memo.decode(), "spl-memo")
    history = await client.get_signatures_for_address(payer.pubkey(), commitment=Confirmed)
    assert history.value[0].signature == signature and history.value[0].memo == f"[21] {memo.decode()}"


async def test_resending_the_same_bytes_executes_once(client: AsyncClient) -> None:
    payer, to = await funded(client), Keypair().pubkey()
    tx = transfer_tx(payer, to, 777, (await client.get_latest_blockhash(Processed)).value.blockhash)
    for _ in range(3):
        await client.send_raw_transaction(bytes(tx), TxOpts(skip_preflight=True))
    await client.confirm_transaction(tx.signatures[0], Confirmed, sleep_seconds=0.02)
    with pytest.raises(RPCException) as caught:  # a preflighted resend: the validator's AlreadyProcessed
        await client.send_raw_transaction(bytes(tx))
    assert "already been processed" in str(caught.value)
    assert (await client.get_balance(to)).value == 777
    assert (await client.get_balance(payer.pubkey())).value == 2 * SOL - 777 - 5000


async def test_expired_blockhash_never_lands(manual: LocalnetHandle, manual_client: AsyncClient) -> None:
    client = manual_client
    payer, to = await funded(client), Keypair().pubkey()
    latest = (await client.get_latest_blockhash(Processed)).value
    assert await rpc(manual.url, "isBlockhashValid", str(latest.blockhash))
    await advance(manual.url, latest.last_valid_block_height - (await client.get_block_height(Processed)).value + 1)
    assert (await rpc(manual.url, "isBlockhashValid", str(latest.blockhash)))["value"] is False

    tx = transfer_tx(payer, to, 1000, latest.blockhash)
    with pytest.raises(RPCException) as caught:
        await client.send_transaction(tx)
    failure = caught.value.args[0]
    assert failure.message == "Transaction simulation failed: Blockhash not found"
    assert failure.data.err == TransactionErrorFieldless.BlockhashNotFound

    signature = (await client.send_transaction(tx, TxOpts(skip_preflight=True))).value
    assert signature == tx.signatures[0]
    await advance(manual.url, 3)
    assert await status_of(client, signature) is None
    assert (await client.get_balance(to)).value == 0


async def test_faucet_limit_answers_like_devnet(ticking: LocalnetHandle, client: AsyncClient) -> None:
    wallet = Keypair().pubkey()
    for _ in range(3):
        await client.request_airdrop(wallet, SOL)
    with pytest.raises(SolanaRpcException) as caught:
        await client.request_airdrop(wallet, SOL)
    cause = caught.value.__cause__
    assert isinstance(cause, httpx.HTTPStatusError) and cause.response.status_code == 429
    assert cause.response.json()["error"] == {"code": 429, "message": DEVNET_LIMIT_MESSAGE}

    with pytest.raises(RPCException):  # over the 5 SOL per-request cap
        await client.request_airdrop(Keypair().pubkey(), 6 * SOL)


async def test_dropped_sends_never_land_and_a_rebroadcast_does(
    manual: LocalnetHandle, manual_client: AsyncClient
) -> None:
    client = manual_client
    payer, to = await funded(client), Keypair().pubkey()
    tx = transfer_tx(payer, to, 1000, (await client.get_latest_blockhash(Processed)).value.blockhash)
    await rpc(manual.url, "localnet_setFaults", {"dropRate": 1.0})
    try:
        assert (await client.send_transaction(tx, TxOpts(skip_preflight=True))).value == tx.signatures[0]
        await advance(manual.url, 3)
        assert await status_of(client, tx.signatures[0]) is None
    finally:
        await rpc(manual.url, "localnet_setFaults", {"dropRate": 0.0})
    await client.send_transaction(tx, TxOpts(skip_preflight=True))
    assert (await status_of(client, tx.signatures[0])) is not None
    assert (await client.get_balance(to)).value == 1000


async def test_delayed_confirmation(manual: LocalnetHandle, manual_client: AsyncClient) -> None:
    client = manual_client
    payer = await funded(client)
    tx = transfer_tx(payer, Keypair().pubkey(), 1000, (await client.get_latest_blockhash(Processed)).value.blockhash)
    await rpc(manual.url, "localnet_setFaults", {"delaySlots": 3})
    try:
        await client.send_transaction(tx, TxOpts(skip_preflight=True))
    finally:
        await rpc(manual.url, "localnet_setFaults", {"delaySlots": 0})
    await advance(manual.url, 2)
    assert await status_of(client, tx.signatures[0]) is None
    await advance(manual.url, 1)
    assert (await status_of(client, tx.signatures[0])).confirmation_status == TransactionConfirmationStatus.Processed
