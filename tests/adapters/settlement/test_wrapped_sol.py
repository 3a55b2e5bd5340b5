"""Wrapped SOL the wallet already holds is never touched, and a swap's output is what the token moved.

A desk (tests/adapters/settlement/desk.py) trades through the real SPL Token program on the localnet, so this runs
without any DEX binary. The wallet holds 3 wrapped SOL in its own wSOL account before every order.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from adapters.settlement import ChainRpc, SolanaSettlement
from adapters.solana.spl import NATIVE_MINT, TOKEN_ACCOUNT_RENT, associated_token_address
from kernel.errors import FatalError
from kernel.routes import RouteLeg, RoutePlan
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from kernel.venues import Quote, SwapTicket, TxState
from localnet import running_localnet
from tests.adapters.contract.accounts import AccountFiles
from tests.adapters.settlement.desk import DESK, Desk, write_token_account
from tests.adapters.settlement.helpers import SOL, USDC, chain_config, landed

USDC_MINT = Pubkey.from_string(USDC.mint)
USDT = TokenRegistry.for_network(Network.LOCALNET).by_mint("Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB")
HELD_WSOL = 3 * 10**9
SIGNATURE_FEE = 5_000


@dataclass
class Setup:
    venue: SolanaSettlement
    rpc: ChainRpc
    wallet: Keypair
    wsol: Pubkey
    usdc: Pubkey


@pytest.fixture(scope="module")
async def setup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    wallet, desk_owner = Keypair(), Keypair()
    files = AccountFiles(Path(tmp_path_factory.mktemp("desk")))
    vaults = {token.mint: Pubkey.from_bytes(bytes([21 + i]) * 32) for i, token in enumerate((SOL, USDC, USDT))}
    write_token_account(files, vaults[USDT.mint], Pubkey.from_string(USDT.mint), desk_owner.pubkey(), 10**11,
                        wallet.pubkey())  # fmt: skip
    write_token_account(files, vaults[SOL.mint], NATIVE_MINT, desk_owner.pubkey(), 100 * 10**9, wallet.pubkey())
    write_token_account(files, vaults[USDC.mint], USDC_MINT, desk_owner.pubkey(), 10**11, wallet.pubkey())
    wsol = associated_token_address(wallet.pubkey(), NATIVE_MINT)
    write_token_account(files, wsol, NATIVE_MINT, wallet.pubkey(), HELD_WSOL)
    options = {"slot_ms": 20, "finality_depth": 2, "accounts": files.accounts, "fund": [str(wallet.pubkey())]}
    async with running_localnet(**options, fund_tokens={"USDC": "1000", "USDT": "1"}) as net:
        config = chain_config(net.url, compute_unit_price=0)
        venue = SolanaSettlement(config, ChainRpc(config), wallet, swaps={DESK: Desk(vaults)})
        rpc = ChainRpc(config)
        yield Setup(venue, rpc, wallet, wsol, associated_token_address(wallet.pubkey(), USDC_MINT))
        await rpc.aclose()
        await venue.aclose()


def _ticket(token_in: Token, token_out: Token, amount_in: int, amount_out: int) -> SwapTicket:
    route = Quote(DESK, "desk", amount_in, amount_out, 0, token_in.mint, Decimal(1), Decimal(0))
    return SwapTicket(str(uuid.uuid4()), route, token_in, token_out, amount_out)


async def _account(s: Setup, address: Pubkey) -> tuple[int, int]:
    """``(lamports, token amount)`` of a token account."""
    found = (await s.rpc.multiple_accounts([address], "reading a token account"))[0]
    assert found is not None
    return found.lamports, int.from_bytes(bytes(found.data)[64:72], "little")


async def _settle(s: Setup, ticket: SwapTicket) -> int:
    tx = await s.venue.prepare(ticket)
    await s.venue.send(tx)
    status = await landed(s.venue, tx)
    assert status.state is TxState.LANDED, status
    assert status.amount_out is not None
    return status.amount_out


async def test_sol_in_spends_exactly_the_input_and_leaves_held_wsol_alone(setup: Setup) -> None:
    s = setup
    wallet = s.wallet.pubkey()
    before, held, usdc = await s.rpc.balance(wallet), await _account(s, s.wsol), await _account(s, s.usdc)
    recorded = await _settle(s, _ticket(SOL, USDC, 10**9, 150_000_000))
    assert await _account(s, s.wsol) == held == (TOKEN_ACCOUNT_RENT + HELD_WSOL, HELD_WSOL)
    assert (await _account(s, s.usdc))[1] - usdc[1] == recorded == 150_000_000
    assert await s.rpc.balance(wallet) == before - 10**9 - SIGNATURE_FEE


async def test_sol_out_records_the_sol_paid_not_the_rent(setup: Setup) -> None:
    s = setup
    wallet = s.wallet.pubkey()
    before, held, usdc = await s.rpc.balance(wallet), await _account(s, s.wsol), await _account(s, s.usdc)
    recorded = await _settle(s, _ticket(USDC, SOL, 150_000_000, 999_999_937))
    # The SOL paid, to the lamport: no wSOL account's rent counted as output, the held one untouched.
    assert recorded == 999_999_937
    assert await s.rpc.balance(wallet) == before + 999_999_937 - SIGNATURE_FEE
    assert await _account(s, s.wsol) == held
    assert usdc[1] - (await _account(s, s.usdc))[1] == 150_000_000


async def test_a_hop_through_sol_leaves_no_sol_behind(setup: Setup) -> None:
    """USDC -> SOL -> USDT in one transaction: the intermediate SOL passes through the fresh account, and the
    output is the USDT the wallet received."""
    s = setup
    wallet, usdt_account = s.wallet.pubkey(), associated_token_address(s.wallet.pubkey(), Pubkey.from_string(USDT.mint))
    before, held, usdc, usdt = (await s.rpc.balance(wallet), await _account(s, s.wsol), await _account(s, s.usdc),
                                await _account(s, usdt_account))  # fmt: skip
    first = RouteLeg(DESK, "desk", USDC, SOL, 100_000_000, 600_000_000, 600_000_000)
    second = RouteLeg(DESK, "desk", SOL, USDT, 600_000_000, 99_000_000, 98_000_000, hop=1)
    plan = RoutePlan((first, second), USDC, USDT, 100_000_000, 99_000_000, 98_000_000)
    ticket = replace(_ticket(USDC, USDT, 100_000_000, 99_000_000), min_amount_out=98_000_000, plan=plan)
    recorded = await _settle(s, ticket)
    assert recorded == (await _account(s, usdt_account))[1] - usdt[1] == 99_000_000
    assert usdc[1] - (await _account(s, s.usdc))[1] == 100_000_000
    assert await s.rpc.balance(wallet) == before - SIGNATURE_FEE
    assert await _account(s, s.wsol) == held


async def test_a_plan_whose_first_hop_cannot_pay_its_second_is_refused(setup: Setup) -> None:
    first = RouteLeg(DESK, "desk", USDC, SOL, 100_000_000, 600_000_000, 590_000_000)
    second = RouteLeg(DESK, "desk", SOL, USDT, 600_000_000, 99_000_000, 98_000_000, hop=1)
    plan = RoutePlan((first, second), USDC, USDT, 100_000_000, 99_000_000, 98_000_000)
    with pytest.raises(FatalError, match="second hop spends 600000000"):
        await setup.venue.prepare(replace(_ticket(USDC, USDT, 100_000_000, 99_000_000), plan=plan))
