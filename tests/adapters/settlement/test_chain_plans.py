"""Plans as one transaction, pure parts: what a plan must guarantee, the fresh wSOL account's instructions,
lookup table instructions, and how a landed swap's output is measured."""

from __future__ import annotations

import struct
from decimal import Decimal

import pytest
from solders.address_lookup_table_account import ID as LOOKUP_TABLE_PROGRAM
from solders.address_lookup_table_account import derive_lookup_table_address
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountWithSeedParams, create_account_with_seed
from spl.token import instructions as spl

from adapters.settlement.plans import check_plan, plan_of
from adapters.solana.lookup_tables import create_lookup_table, extend_lookup_table, table_candidates
from adapters.solana.spl import (
    NATIVE_MINT,
    SYSTEM_PROGRAM_ID,
    TOKEN_ACCOUNT_RENT,
    TOKEN_PROGRAM_ID,
    close_temporary_wsol,
    initialize_account3,
    open_temporary_wsol,
    temporary_seed,
    temporary_wsol_address,
)
from adapters.solana.transactions import SwapMemo, TokenBalance, amount_received, created_token_accounts
from kernel.errors import FatalError
from kernel.routes import LegMode, RouteLeg, RoutePlan
from kernel.tokens import Token
from kernel.venues import Quote, SwapTicket
from tests.adapters.settlement.helpers import SOL, USDC

OWNER = Pubkey.from_bytes(bytes([5]) * 32)
USDT = Token("USDT", "Tether USD", 6, "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB")


def _leg(
    token_in: Token,
    token_out: Token,
    amount_in: int,
    out: int,
    floor: int,
    *,
    mode: LegMode = LegMode.EXACT_IN,
    hop: int = 0,
) -> RouteLeg:
    return RouteLeg("raydium", "pool", token_in, token_out, amount_in, out, floor, mode=mode, hop=hop)


def test_a_single_route_is_a_plan_of_one_exact_in_leg() -> None:
    route = Quote("raydium", "p", 10**9, 150_000_000, 0, SOL.mint, Decimal(150), Decimal(0))
    plan = plan_of(SwapTicket("o", route, SOL, USDC, 149_000_000))
    (leg,) = plan.legs
    assert (leg.amount_in, leg.amount_out, leg.min_amount_out, leg.mode) == (10**9, 150_000_000, 149_000_000,
                                                                              LegMode.EXACT_IN)  # fmt: skip
    assert (plan.amount_in, plan.min_amount_out) == (10**9, 149_000_000)


def test_plans_must_guarantee_what_they_promise() -> None:
    split = RoutePlan((_leg(SOL, USDC, 6, 90, 89), _leg(SOL, USDC, 4, 60, 59)), SOL, USDC, 10, 150, 148)
    check_plan(split)
    with pytest.raises(FatalError, match="less than its minimum"):
        check_plan(RoutePlan(split.legs, SOL, USDC, 10, 150, 149))
    with pytest.raises(FatalError, match="more than its input"):
        check_plan(RoutePlan(split.legs, SOL, USDC, 9, 150, 148))
    first = _leg(SOL, USDC, 10, 150, 150, mode=LegMode.EXACT_OUT)
    hop = RoutePlan((first, _leg(USDC, USDT, 150, 149, 148, hop=1)), SOL, USDT, 10, 149, 148)
    check_plan(hop)
    # an exact-in first leg guarantees only its floor: the second may not spend more
    loose = RoutePlan((_leg(SOL, USDC, 10, 150, 149), _leg(USDC, USDT, 150, 149, 148, hop=1)), SOL, USDT, 10, 149, 148)
    with pytest.raises(FatalError, match="spends 150 raw USDC, its first guarantees only 149"):
        check_plan(loose)
    with pytest.raises(FatalError, match="pays out"):
        check_plan(RoutePlan(split.legs, SOL, USDT, 10, 150, 1))


def test_the_fresh_wsol_account_is_created_with_a_seed_and_initialised_without_rent() -> None:
    seed = temporary_seed("9b5f0c1e-order")
    assert len(seed) == 32 and seed == temporary_seed("9b5f0c1e-order") != temporary_seed("another")
    account = temporary_wsol_address(OWNER, seed)
    assert account == Pubkey.create_with_seed(OWNER, seed, TOKEN_PROGRAM_ID)
    create, initialise = open_temporary_wsol(OWNER, seed, 10**9)
    assert create == create_account_with_seed(CreateAccountWithSeedParams(
        from_pubkey=OWNER, to_pubkey=account, base=OWNER, seed=seed, lamports=TOKEN_ACCOUNT_RENT + 10**9, space=165,
        owner=TOKEN_PROGRAM_ID))  # fmt: skip
    assert TOKEN_ACCOUNT_RENT == 2_039_280
    assert initialise == initialize_account3(account, NATIVE_MINT, OWNER)
    assert initialise.data == bytes([18]) + bytes(OWNER)
    assert [(m.pubkey, m.is_writable) for m in initialise.accounts] == [(account, True), (NATIVE_MINT, False)]
    assert close_temporary_wsol(OWNER, seed) == spl.close_account(
        spl.CloseAccountParams(TOKEN_PROGRAM_ID, account, OWNER, OWNER)
    )


def test_lookup_table_instructions() -> None:
    create, table = create_lookup_table(OWNER, OWNER, 1234)
    address, bump = derive_lookup_table_address(OWNER, 1234)
    assert table == address and create.program_id == LOOKUP_TABLE_PROGRAM
    assert create.data == struct.pack("<IQB", 0, 1234, bump)
    assert [(m.pubkey, m.is_signer, m.is_writable) for m in create.accounts] == [
        (table, False, True), (OWNER, True, False), (OWNER, True, True), (SYSTEM_PROGRAM_ID, False, False),
    ]  # fmt: skip
    keys = [Pubkey.from_bytes(bytes([n]) * 32) for n in (1, 2)]
    extend = extend_lookup_table(table, OWNER, OWNER, keys)
    assert extend.data == struct.pack("<IQ", 2, 2) + bytes(keys[0]) + bytes(keys[1])
    # signers and programs stay static in a v0 message: a table carries neither
    assert table_candidates([create, extend]) == [table, SYSTEM_PROGRAM_ID]


def test_sol_out_counts_the_rent_of_accounts_the_swap_created_but_not_any_closed_account() -> None:
    owner = str(OWNER)
    # X -> USDC -> SOL: the USDC account was created (rent 2,039,280 paid), the fresh wSOL account
    # opened and closed (no token balance either side); the wallet's lamports moved by out - fee - rent.
    pre = [TokenBalance(3, owner, "X", 500)]
    post = [TokenBalance(3, owner, "X", 0), TokenBalance(4, owner, USDC.mint, 0)]
    assert created_token_accounts(pre, post, owner) == [4]
    got = amount_received(owner=owner, mint=str(NATIVE_MINT), pre_tokens=pre, post_tokens=post,
                          owner_lamports_change=1_000_000 - 5_000 - TOKEN_ACCOUNT_RENT, fee=5_000,
                          created_rent=TOKEN_ACCOUNT_RENT)  # fmt: skip
    assert got == 1_000_000
    # a token out is its movement alone, whatever the lamports did
    usdc = amount_received(owner=owner, mint=USDC.mint, pre_tokens=pre, post_tokens=[*post[:1], TokenBalance(4, owner,
                           USDC.mint, 77)], owner_lamports_change=-9_999_999, fee=5_000)  # fmt: skip
    assert usdc == 77


def test_the_memo_of_a_plan_names_its_dexes_and_its_totals() -> None:
    route = Quote("raydium", "p1", 6, 90, 0, SOL.mint, Decimal(1), Decimal(0))
    legs = (_leg(SOL, USDC, 6, 90, 89), RouteLeg("meteora", "p2", SOL, USDC, 4, 60, 59))
    ticket = SwapTicket("o", route, SOL, USDC, 148, RoutePlan(legs, SOL, USDC, 10, 150, 148))
    memo = SwapMemo.for_ticket(ticket, simulated=False)
    assert (memo.dex, memo.pool, memo.amount_in, memo.min_out) == ("raydium+meteora", "pool", 10, 148)
