"""The two local networks these tests run against: a running clock, and a clock moved by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from solana.rpc.async_api import AsyncClient

from localnet import LocalnetHandle, running_localnet
from tests.localnet.helpers import FINALITY

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
