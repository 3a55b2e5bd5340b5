"""Helpers of the chain settlement tests."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import based58
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from adapters.settlement import ChainConfig, ChainRpc
from kernel.settings import Network, Settings
from kernel.tokens import Token, TokenRegistry
from kernel.venues import PreparedTx, Quote, SwapTicket, TxState, TxStatus
from tests.support import json_rpc as rpc

SOL_LAMPORTS = 1_000_000_000
T = TypeVar("T")


def _token(symbol: str) -> Token:
    found = TokenRegistry.for_network(Network.LOCALNET).resolve(symbol)
    assert found is not None
    return found


SOL, USDC = _token("SOL"), _token("USDC")


# --- helpers --------------------------------------------------------------------------------------


async def advance(url: str, slots: int = 1) -> int:
    return int((await rpc(url, "localnet_advanceSlots", slots))["slot"])


async def wait_for(check: Callable[[], Awaitable[T | None]], what: str, limit_s: float = 30.0) -> T:
    """Poll ``check`` until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def chain_config(url: str, network: Network = Network.LOCALNET, **overrides: Any) -> ChainConfig:
    options: dict[str, Any] = {"confirm_poll_ms": 20, "rpc_backoff_s": 0.01, "rpc_backoff_max_s": 0.05}
    return ChainConfig(network, url, **(options | overrides))


def ticket(order_id: str | None = None, amount_out: int = 150_250_000) -> SwapTicket:
    route = Quote("raydium", "7JuwJuNU88gurFnyWeiyGKbFmExMWcmRZntn9imEzdny", SOL_LAMPORTS, amount_out, 2_500_000,
                  SOL.mint, Decimal("150.25"), Decimal("0.02"))  # fmt: skip
    return SwapTicket(order_id or str(uuid.uuid4()), route, SOL, USDC, amount_out * 99 // 100)


async def landed(venue: Any, tx: PreparedTx) -> TxStatus:
    """Wait for a final status (landed or failed), asking in short rounds the way the engine does."""

    async def final() -> TxStatus | None:
        status: TxStatus = await venue.wait(tx, 0.5)
        return status if status.state in (TxState.LANDED, TxState.FAILED) else None

    return await wait_for(final, f"{tx.signature} to land")


async def fund(chain: ChainRpc, wallet: Pubkey, lamports: int = SOL_LAMPORTS) -> None:
    before = await chain.balance(wallet)
    await chain.request_airdrop(wallet, lamports)

    async def arrived() -> bool:
        return await chain.balance(wallet) >= before + lamports

    await wait_for(arrived, "the airdrop")


async def transfer_lamports(chain: ChainRpc, payer: Keypair, to: Pubkey, lamports: int) -> None:
    blockhash, _ = await chain.latest_blockhash()
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=lamports))
    await chain.send_raw(bytes(Transaction([payer], Message([ix], payer.pubkey()), blockhash)))


def secrets_of(keypair: Keypair) -> list[str]:
    return [based58.b58encode(bytes(keypair)).decode(), json.dumps(list(bytes(keypair))), str(list(bytes(keypair)))]


FUNDER = Keypair()


def sim_settings(redis_url: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        solana_network=Network.LOCALNET,
        redis_url=redis_url,
        simulated_quote_latency_ms="0",  # type: ignore[arg-type]
        simulated_execution_latency_ms="0",  # type: ignore[arg-type]
    )
