"""The local networks the chain settlement tests run against: a fast running clock, a clock moved by hand
(expiry and dropped sends, step by step), and a faucet that refuses everything (the simulated-ledger
fallback)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from solders.keypair import Keypair

from adapters.settlement import ChainRpc, SolanaSettlement
from localnet import LocalnetHandle, running_localnet
from tests.adapters.settlement.helpers import FUNDER, SOL_LAMPORTS, chain_config, fund, transfer_lamports

# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def ticking() -> AsyncIterator[LocalnetHandle]:
    """A fast clock and an unlimited faucet."""
    async with running_localnet(slot_ms=20, finality_depth=4, fund=[str(FUNDER.pubkey())]) as net:
        yield net


@pytest.fixture(scope="module")
async def manual() -> AsyncIterator[LocalnetHandle]:
    """A clock that moves only on localnet_advanceSlots, and blockhashes that live 5 blocks."""
    async with running_localnet(slot_ms=0, finality_depth=4, blockhash_window=5, fund=[str(FUNDER.pubkey())]) as net:
        yield net


@pytest.fixture(scope="module")
async def dry() -> AsyncIterator[LocalnetHandle]:
    """A faucet that refuses every airdrop the way devnet's does when limited."""
    options = {"slot_ms": 20, "finality_depth": 4, "max_requests_per_address": 0, "fund": [str(FUNDER.pubkey())]}
    async with running_localnet(**options) as net:
        yield net


@pytest.fixture
async def settlement(ticking: LocalnetHandle) -> AsyncIterator[SolanaSettlement]:
    config = chain_config(ticking.url)
    venue = SolanaSettlement(config, ChainRpc(config), Keypair())
    await fund(venue.rpc, venue.wallet)
    yield venue
    await venue.aclose()


@pytest.fixture
async def manual_settlement(manual: LocalnetHandle) -> AsyncIterator[SolanaSettlement]:
    config = chain_config(manual.url)
    wallet = Keypair()
    venue = SolanaSettlement(config, ChainRpc(config), wallet)
    await transfer_lamports(venue.rpc, FUNDER, wallet.pubkey(), SOL_LAMPORTS)
    yield venue
    await venue.aclose()
