"""Funded or simulated: the fallback to the simulated ledger while the wallet cannot pay fees, and back."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis
from solders.keypair import Keypair
from solders.transaction import VersionedTransaction

from adapters.settlement import ChainRpc, FundedOrSimulated, SolanaSettlement
from adapters.settlement.settlement import SIMULATED_ROUTE_NOTE
from adapters.simulated import build_simulated
from adapters.solana.transactions import memo_of
from kernel.settings import Network
from kernel.venues import PreparedTx, QuoteRequest, SwapTicket, TxState
from localnet import LocalnetHandle
from tests.adapters.settlement.helpers import (
    FUNDER,
    SOL,
    SOL_LAMPORTS,
    USDC,
    chain_config,
    landed,
    secrets_of,
    sim_settings,
    ticket,
    transfer_lamports,
    wait_for,
)

# --- funded or simulated ---------------------------------------------------------------------------


async def test_falls_back_to_the_ledger_while_the_faucet_is_limited_then_settles_on_chain(
    dry: LocalnetHandle, redis_url: str, redis: aioredis.Redis
) -> None:
    wallet = Keypair()
    config = chain_config(dry.url, Network.DEVNET, min_fee_balance_lamports=10_000_000)
    chain = SolanaSettlement(config, ChainRpc(config), wallet)
    dexes, ledger = build_simulated(sim_settings(redis_url), redis, wallet)
    venue = FundedOrSimulated(chain, ledger, balance_ttl_s=0, airdrop_cooldown_s=0)
    try:
        route = await dexes[0].quote(QuoteRequest(SOL, USDC, SOL_LAMPORTS))  # a fill the simulated pool honours
        t = SwapTicket(str(uuid.uuid4()), route, SOL, USDC, route.min_amount_out(100))
        simulated_tx = await venue.prepare(t)
        assert simulated_tx.kind == "simulated" and simulated_tx.note is not None
        assert simulated_tx.note == (
            f"wallet {str(wallet.pubkey())[:4]}… cannot pay fees (0 lamports) and the devnet faucet is "
            "rate-limited: settled on the simulated ledger"
        )
        assert not any(secret in simulated_tx.note for secret in secrets_of(wallet))
        await venue.send(simulated_tx)
        simulated_status = await landed(venue, simulated_tx)
        assert simulated_status.state is TxState.LANDED and simulated_status.amount_out

        await transfer_lamports(chain.rpc, FUNDER, wallet.pubkey(), SOL_LAMPORTS)

        async def on_chain() -> PreparedTx | None:
            tx = await venue.prepare(t)
            return tx if tx.kind == "chain" else None

        chain_tx = await wait_for(on_chain, "chain settlement to resume")
        assert chain_tx.note == SIMULATED_ROUTE_NOTE
        await venue.send(chain_tx)
        status = await landed(venue, chain_tx)
        assert status.state is TxState.LANDED and status.amount_out == t.route.amount_out
        decoded = memo_of(VersionedTransaction.from_bytes(chain_tx.raw))
        assert decoded is not None and decoded.order_id == t.order_id
        # Each transaction is still confirmed on the venue that built it.
        assert await venue.wait(simulated_tx, 0) == simulated_status
        assert not await venue.expired(chain_tx)
        assert venue.explorer_url(chain_tx.signature) == (
            f"https://explorer.solana.com/tx/{chain_tx.signature}?cluster=devnet"
        )
    finally:
        await venue.aclose()


async def test_an_empty_wallet_is_funded_by_the_faucet(
    ticking: LocalnetHandle, redis_url: str, redis: aioredis.Redis
) -> None:
    wallet = Keypair()
    config = chain_config(ticking.url, airdrop_lamports=SOL_LAMPORTS // 2)
    chain = SolanaSettlement(config, ChainRpc(config), wallet)
    _, ledger = build_simulated(sim_settings(redis_url), redis, wallet)
    venue = FundedOrSimulated(chain, ledger)
    try:
        tx = await venue.prepare(ticket())
        assert tx.kind == "chain" and tx.note == SIMULATED_ROUTE_NOTE
        assert await chain.rpc.balance(wallet.pubkey()) == SOL_LAMPORTS // 2
    finally:
        await venue.aclose()


async def test_without_a_faucet_or_when_the_chain_says_unfunded(
    ticking: LocalnetHandle, redis_url: str, redis: aioredis.Redis
) -> None:
    wallet = Keypair()
    _, ledger = build_simulated(sim_settings(redis_url), redis, wallet)
    mainnet = chain_config(ticking.url, Network.MAINNET)
    venue = FundedOrSimulated(SolanaSettlement(mainnet, ChainRpc(mainnet), wallet), ledger)
    try:
        tx = await venue.prepare(ticket())
        assert tx.kind == "simulated" and tx.note is not None and "mainnet-beta has no faucet" in tx.note
        assert await venue.chain.rpc.balance(wallet.pubkey()) == 0  # no airdrop was asked for
    finally:
        await venue.chain.aclose()

    # No minimum balance configured: the chain's own answer (the simulation) decides.
    lenient = chain_config(ticking.url, Network.MAINNET, min_fee_balance_lamports=0)
    venue = FundedOrSimulated(SolanaSettlement(lenient, ChainRpc(lenient), wallet), ledger)
    try:
        tx = await venue.prepare(ticket())
        assert tx.kind == "simulated" and tx.note == (
            f"wallet {str(wallet.pubkey())[:4]}… cannot pay fees: the fee payer's account does not exist: "
            "settled on the simulated ledger"
        )
    finally:
        await venue.aclose()
