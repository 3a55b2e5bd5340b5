"""The localnet (`oee localnet`) driven the way the engine drives devnet: solana-py's AsyncClient over HTTP.

The non-standard ``localnet_*`` methods and getRecentPrioritizationFees (no solana-py helper) are called
as plain JSON-RPC over HTTP. Two localnets serve most tests: one with a running slot clock, and one
whose clock only moves on ``localnet_advanceSlots`` so commitment steps can be checked exactly.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed, Processed
from solana.rpc.core import RPCException
from solana.rpc.types import TokenAccountOpts, TxOpts
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction
from solders.transaction_status import TransactionConfirmationStatus, TransactionErrorFieldless
from spl.token.instructions import get_associated_token_address

from localnet import LocalnetHandle, running_localnet
from localnet.accounts import b58decode, b58encode
from localnet.faucet import DEVNET_LIMIT_MESSAGE

MEMO_PROGRAM = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
USDC = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
SOL = 1_000_000_000
FINALITY = 4
T = TypeVar("T")


# --- helpers --------------------------------------------------------------------------------------


async def rpc(url: str, method: str, *params: Any) -> Any:
    """One raw JSON-RPC call; returns ``result`` or raises AssertionError with the error."""
    async with httpx.AsyncClient() as http:
        reply = (
            await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        ).json()
    assert "error" not in reply, reply
    return reply["result"]


async def wait_for(check: Callable[[], Awaitable[T | None]], what: str, limit_s: float = 20.0) -> T:
    """Poll ``check`` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + limit_s
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def funded(client: AsyncClient, lamports: int = 2 * SOL) -> Keypair:
    wallet = Keypair()
    await client.request_airdrop(wallet.pubkey(), lamports)

    async def arrived() -> bool:
        return (await client.get_balance(wallet.pubkey(), Processed)).value == lamports

    await wait_for(arrived, "the airdrop")
    return wallet


def transfer_tx(payer: Keypair, to: Pubkey, lamports: int, blockhash: Hash, *extra: Instruction) -> Transaction:
    ixs = [*extra, transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=lamports))]
    return Transaction([payer], Message(ixs, payer.pubkey()), blockhash)


async def status_of(client: AsyncClient, signature: Signature) -> Any:
    return (await client.get_signature_statuses([signature], search_transaction_history=True)).value[0]


async def advance(url: str, slots: int) -> int:
    return int((await rpc(url, "localnet_advanceSlots", slots))["slot"])


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def ticking() -> AsyncIterator[LocalnetHandle]:
    """A localnet with a fast running clock and a faucet limit of three airdrops per address."""
    async with running_localnet(slot_ms=40, finality_depth=FINALITY, max_requests_per_address=3) as net:
        yield net


@pytest.fixture(scope="session")
async def manual() -> AsyncIterator[LocalnetHandle]:
    """A localnet whose slots move only on localnet_advanceSlots."""
    async with running_localnet(slot_ms=0, finality_depth=FINALITY) as net:
        yield net


@pytest.fixture
async def client(ticking: LocalnetHandle) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(ticking.url) as c:
        yield c


@pytest.fixture
async def manual_client(manual: LocalnetHandle) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(manual.url) as c:
        yield c


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


async def test_http_429_and_503_injection() -> None:
    async with running_localnet(slot_ms=0) as net, AsyncClient(net.url) as client:
        await rpc(net.url, "localnet_setFaults", {"rate429": 1.0})
        with pytest.raises(SolanaRpcException) as caught:
            await client.get_slot()
        cause = caught.value.__cause__
        assert isinstance(cause, httpx.HTTPStatusError) and cause.response.status_code == 429
        assert cause.response.json()["error"] == {"code": 429, "message": "Too many requests"}

        await rpc(net.url, "localnet_setFaults", {"rate429": 0.0, "rate5xx": 1.0})
        with pytest.raises(SolanaRpcException) as caught:
            await client.get_balance(Keypair().pubkey())
        assert isinstance(caught.value.__cause__, httpx.HTTPStatusError)
        assert caught.value.__cause__.response.status_code == 503

        await rpc(net.url, "localnet_setFaults", {"rate429": 0.25, "rate5xx": 0.25, "seed": 11})
        outcomes: list[int] = []
        for _ in range(60):
            try:
                await client.get_slot()
                outcomes.append(200)
            except SolanaRpcException as exc:
                assert isinstance(exc.__cause__, httpx.HTTPStatusError)
                outcomes.append(exc.__cause__.response.status_code)
        assert {200, 429, 503} <= set(outcomes)
        await rpc(net.url, "localnet_setFaults", {"rate429": 0.0, "rate5xx": 0.0})
        assert (await client.get_slot()).value == 0


async def test_token_balance_after_mint_to(manual: LocalnetHandle, manual_client: AsyncClient) -> None:
    client = manual_client
    owner = Keypair().pubkey()
    minted = await rpc(manual.url, "localnet_mintTo", str(USDC), str(owner), 1_500_000)
    ata = get_associated_token_address(owner, USDC)
    assert minted["tokenAccount"] == str(ata)
    await rpc(manual.url, "localnet_mintTo", {"mint": str(USDC), "owner": str(owner), "amount": 1_500_000})

    balance = (await client.get_token_account_balance(ata)).value
    assert (balance.amount, balance.decimals, balance.ui_amount_string) == ("3000000", 6, "3")
    accounts = (await client.get_token_accounts_by_owner(owner, TokenAccountOpts(mint=USDC))).value
    assert [a.pubkey for a in accounts] == [ata]
    by_program = TokenAccountOpts(program_id=accounts[0].account.owner)
    parsed = (await client.get_token_accounts_by_owner_json_parsed(owner, by_program)).value
    info: Any = parsed[0].account.data.parsed["info"]
    assert info["tokenAmount"]["amount"] == "3000000" and info["owner"] == str(owner)
    mint = (await client.get_account_info(USDC)).value
    assert mint is not None and len(mint.data) == 82 and mint.data[44] == 6
    assert (await client.get_account_info(Pubkey.from_string("So11111111111111111111111111111111111111112"))).value


async def test_prioritization_fees_and_fee_for_message(manual: LocalnetHandle, manual_client: AsyncClient) -> None:
    client = manual_client
    payer = await funded(client)
    blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
    budget = (set_compute_unit_limit(10_000), set_compute_unit_price(4321))
    tx = transfer_tx(payer, Keypair().pubkey(), 1000, blockhash, *budget)
    await client.send_transaction(tx, TxOpts(skip_preflight=True))

    fees = await rpc(manual.url, "getRecentPrioritizationFees", [str(payer.pubkey())])
    assert fees and all(set(f) == {"slot", "prioritizationFee"} for f in fees)
    assert max(f["prioritizationFee"] for f in fees) == 4321
    assert isinstance(await rpc(manual.url, "getRecentPrioritizationFees"), list)

    second = Keypair()

    def pay(signer: Keypair) -> Instruction:
        return transfer(TransferParams(from_pubkey=signer.pubkey(), to_pubkey=payer.pubkey(), lamports=1))

    one = Message.new_with_blockhash([pay(payer)], payer.pubkey(), blockhash)
    two = Message.new_with_blockhash([pay(payer), pay(second)], payer.pubkey(), blockhash)
    assert (await client.get_fee_for_message(one)).value == 5000
    assert (await client.get_fee_for_message(two)).value == 10_000


async def test_simulation_and_preflight_failures(manual_client: AsyncClient) -> None:
    client = manual_client
    payer = await funded(client, 10_000_000)
    blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
    ok = (await client.simulate_transaction(transfer_tx(payer, Keypair().pubkey(), 1000, blockhash))).value
    assert ok.err is None and ok.units_consumed and ok.logs and ok.accounts is None
    broke = transfer_tx(payer, Keypair().pubkey(), 5 * SOL, blockhash)
    sim = (await client.simulate_transaction(broke, sig_verify=True)).value
    assert sim.err is not None and any("insufficient lamports" in line for line in sim.logs or [])
    with pytest.raises(RPCException) as caught:
        await client.send_transaction(broke)
    failure = caught.value.args[0]
    assert failure.message.startswith(
        "Transaction simulation failed: Error processing Instruction 0: custom program error: 0x1"
    )
    assert failure.data.logs


async def test_base58_send_and_signature_verification(manual: LocalnetHandle, manual_client: AsyncClient) -> None:
    payer, to = await funded(manual_client), Keypair().pubkey()
    blockhash = (await manual_client.get_latest_blockhash(Processed)).value.blockhash
    tx = transfer_tx(payer, to, 4242, blockhash)
    assert await rpc(manual.url, "sendTransaction", b58encode(bytes(tx))) == str(tx.signatures[0])
    assert (await manual_client.get_balance(to)).value == 4242

    forged = Transaction.populate(transfer_tx(payer, to, 1, blockhash).message, [Keypair().sign_message(b"x")])
    async with httpx.AsyncClient() as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "sendTransaction", "params": [b58encode(bytes(forged))]}
        reply = (await http.post(manual.url, json=body)).json()
    assert reply["error"] == {"code": -32003, "message": "Transaction signature verification failure"}


async def test_json_rpc_errors_and_batches(ticking: LocalnetHandle) -> None:
    async with httpx.AsyncClient() as http:
        unknown = (await http.post(ticking.url, json={"jsonrpc": "2.0", "id": 9, "method": "getNothing"})).json()
        assert unknown == {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": 9}
        bad = (
            await http.post(ticking.url, json={"jsonrpc": "2.0", "id": 3, "method": "getBalance", "params": ["x"]})
        ).json()
        assert bad["error"]["code"] == -32602 and bad["id"] == 3
        batch = [{"jsonrpc": "2.0", "id": i, "method": m} for i, m in enumerate(["getHealth", "getVersion", "getSlot"])]
        replies = (await http.post(ticking.url, json=batch)).json()
        assert [r["id"] for r in replies] == [0, 1, 2] and replies[0]["result"] == "ok"


async def test_loads_accounts_and_programs(tmp_path: Path, manual_client: AsyncClient) -> None:
    memo_elf = (await manual_client.get_account_info(MEMO_PROGRAM)).value
    assert memo_elf is not None and memo_elf.executable
    program_file = tmp_path / "memo.so"
    program_file.write_bytes(bytes(memo_elf.data))
    program_id, address = Keypair().pubkey(), Keypair().pubkey()
    account_file = tmp_path / "account.json"
    account_file.write_text(
        json.dumps(
            {
                "pubkey": str(address),
                "account": {
                    "lamports": 4242,
                    "data": [base64.b64encode(b"hello").decode(), "base64"],
                    "owner": str(program_id),
                    "executable": False,
                    "rentEpoch": 0,
                    "space": 5,
                },
            }
        )
    )
    options = {"programs": [(str(program_id), program_file)], "accounts": [("-", account_file)], "slot_ms": 0}
    async with running_localnet(**options) as net, AsyncClient(net.url) as client:
        loaded = (await client.get_account_info(address)).value
        assert loaded is not None
        assert (loaded.lamports, bytes(loaded.data), loaded.owner) == (4242, b"hello", program_id)
        payer = await funded(client)
        blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
        ix = Instruction(program_id, b"via a loaded program", [AccountMeta(payer.pubkey(), True, False)])
        tx = Transaction([payer], Message([ix], payer.pubkey()), blockhash)
        result = (await client.simulate_transaction(tx)).value
        assert result.err is None and any("via a loaded program" in line for line in result.logs or [])


def test_cli_prints_the_url_and_serves() -> None:
    cmd = [sys.executable, "-m", "localnet", "--port", "0", "--quiet", "--slot-ms", "50"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            reply = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "getHealth"}).json()
            assert reply["result"] == "ok"
        finally:
            proc.terminate()
            assert proc.wait(timeout=15) == 0
