"""Helpers of the local network's tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Processed
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from tests.support import json_rpc as rpc

MEMO_PROGRAM = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
USDC = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
SOL = 1_000_000_000
FINALITY = 4
T = TypeVar("T")


# --- helpers --------------------------------------------------------------------------------------


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
