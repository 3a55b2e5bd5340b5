"""The local network as an RPC server: injected faults, tokens, fees, simulation, encodings, JSON-RPC errors
and batches, loaded accounts and programs, and its command line."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Processed
from solana.rpc.core import RPCException
from solana.rpc.types import TokenAccountOpts, TxOpts
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction
from spl.token.instructions import get_associated_token_address

from localnet import LocalnetHandle, running_localnet
from localnet.accounts import b58encode
from tests.localnet.helpers import (
    MEMO_PROGRAM,
    SOL,
    USDC,
    funded,
    rpc,
    transfer_tx,
)


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
            # then the PubSub WebSocket, on the RPC port + 1
            port = int(url.rsplit(":", 1)[1])
            assert proc.stdout.readline().strip() == f"ws://127.0.0.1:{port + 1}"
        finally:
            proc.terminate()
            assert proc.wait(timeout=15) == 0


async def test_one_option_loads_a_folder_of_dumped_programs_and_accounts(
    tmp_path: Path, manual_client: AsyncClient
) -> None:
    """The layout `solana program dump` and `solana account --output json` leave: <ADDRESS>.so and *.json."""
    memo_elf = (await manual_client.get_account_info(MEMO_PROGRAM)).value
    assert memo_elf is not None
    program_id, address = Keypair().pubkey(), Keypair().pubkey()
    (tmp_path / f"{program_id}.so").write_bytes(bytes(memo_elf.data))
    account = {"lamports": 777, "data": [base64.b64encode(b"pool").decode(), "base64"], "owner": str(program_id),
               "executable": False, "rentEpoch": 0, "space": 4}  # fmt: skip
    (tmp_path / "pool.json").write_text(json.dumps({"pubkey": str(address), "account": account}))
    cmd = [sys.executable, "-m", "localnet", "--port", "0", "--quiet", "--slot-ms", "50", "--fixtures", str(tmp_path)]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        url = (await proc.stdout.readline()).decode().strip()
        async with AsyncClient(url) as client:
            loaded = (await client.get_account_info(address)).value
            program = (await client.get_account_info(program_id)).value
        assert loaded is not None and (loaded.lamports, bytes(loaded.data)) == (777, b"pool")
        assert program is not None and program.executable
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), timeout=15) == 0


def test_a_fixtures_folder_without_fixtures_is_refused(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "localnet", "--port", "0", "--fixtures", str(tmp_path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "holds no *.so program and no *.json account" in result.stderr
