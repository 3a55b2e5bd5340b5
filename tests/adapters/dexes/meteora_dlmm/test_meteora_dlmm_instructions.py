"""``swap2``: data bytes, account order and flags, optional accounts, and the PDAs it names (checked against
addresses of a real mainnet pair, derived by Meteora's own SDK)."""

from __future__ import annotations

import hashlib
import struct

from solders.instruction import AccountMeta
from solders.pubkey import Pubkey

from adapters.dexes.meteora_dlmm.config import MAINNET_PROGRAM_ID
from adapters.dexes.meteora_dlmm.instructions import (
    SWAP2_DISCRIMINATOR,
    bin_array_address,
    bitmap_extension_address,
    event_authority_address,
    oracle_address,
    reserve_address,
    swap2,
    swap2_data,
    token_programs,
)
from adapters.dexes.meteora_dlmm.layouts import LbPair
from adapters.solana.spl import MEMO_PROGRAM_ID, TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID
from tests.adapters.contract.meteora_dlmm import pubkey_for

P = Pubkey.from_string
# A mainnet pair and the accounts Meteora's Rust SDK test derives for it (commons/tests/integration/test_swap.rs).
REAL_PAIR = P("EtAdVRLFH22rjWh3mcUasKFF27WtHhsaCvK27tPFFWig")
REAL_MINT_X = P("Df6yfrKC8kZE3KNkrHERKzAetSxbrWeniQfyJY4Jpump")
NATIVE = P("So11111111111111111111111111111111111111112")


def test_pdas_match_a_real_pair() -> None:
    assert bin_array_address(REAL_PAIR, 0) == P("5Sm2ecMeqohRkNpFJPWSqHL1BkA7AEW4ck8TmdF1gD4t")
    assert bin_array_address(REAL_PAIR, -1) == P("E6gur9Jw8675DCR7GpJVhoSrkruRgt8EdEVqLAc5RLUt")
    assert reserve_address(REAL_PAIR, REAL_MINT_X) == P("BmW4cCRpJwwL8maFB1AoAuEQf96t64Eq5gUvXikZardM")
    assert reserve_address(REAL_PAIR, NATIVE) == P("FDZDrPtCjmSHeq14goCxp5pCJSRekSXY3XSgGz5Rvass")
    assert oracle_address(REAL_PAIR) == P("Fnkg415DEx72GSPooKUWTbPS9wzKucQe4qnvFrrvcZK2")
    assert event_authority_address() == P("D1ZN9Wj1fRSUQfCjhvnu1hqDMT7hzjzBBpi12nVniYD6")


def test_bin_array_seeds_take_the_index_as_i64_little_endian() -> None:
    for index in (-28, -1, 0, 1, 6_337, -6_338):
        seeds = [b"bin_array", bytes(REAL_PAIR), struct.pack("<q", index)]
        assert bin_array_address(REAL_PAIR, index) == Pubkey.find_program_address(seeds, MAINNET_PROGRAM_ID)[0]
    assert struct.pack("<q", -28) == bytes([0xE4]) + b"\xff" * 7
    other = pubkey_for("program")
    assert (
        bitmap_extension_address(REAL_PAIR, other)
        == Pubkey.find_program_address([b"bitmap", bytes(REAL_PAIR)], other)[0]
    )


def test_swap2_data_bytes() -> None:
    data = swap2_data(1_500_000_000, 212_000_123)
    assert data == (
        bytes([65, 75, 63, 76, 235, 91, 91, 136])
        + (1_500_000_000).to_bytes(8, "little")
        + (212_000_123).to_bytes(8, "little")
        + b"\x00\x00\x00\x00"  # remaining_accounts_info: an empty vector of slices
    )
    assert data[:8] == SWAP2_DISCRIMINATOR and len(data) == 28


PAIR = LbPair(
    token_x_mint=pubkey_for("x"),
    token_y_mint=pubkey_for("y"),
    reserve_x=pubkey_for("reserve-x"),
    reserve_y=pubkey_for("reserve-y"),
    oracle=pubkey_for("oracle"),
    token_mint_x_program_flag=1,
)
ADDRESS, USER = pubkey_for("pair"), pubkey_for("user")
USER_IN, USER_OUT = pubkey_for("user-in"), pubkey_for("user-out")


def test_swap2_accounts_in_order_with_absent_optionals_as_the_program() -> None:
    arrays = [bin_array_address(ADDRESS, i) for i in (-28, -29)]
    ix = swap2(
        lb_pair=ADDRESS, pair=PAIR, user=USER, user_token_in=USER_IN, user_token_out=USER_OUT,
        amount_in=10**9, min_amount_out=141_000_000, bin_arrays=arrays,
    )  # fmt: skip
    assert ix.program_id == MAINNET_PROGRAM_ID
    assert bytes(ix.data) == swap2_data(10**9, 141_000_000)
    w, r, program = True, False, MAINNET_PROGRAM_ID
    assert list(ix.accounts) == [
        AccountMeta(ADDRESS, False, w),
        AccountMeta(program, False, r),  # no bitmap extension
        AccountMeta(PAIR.reserve_x, False, w),
        AccountMeta(PAIR.reserve_y, False, w),
        AccountMeta(USER_IN, False, w),
        AccountMeta(USER_OUT, False, w),
        AccountMeta(PAIR.token_x_mint, False, r),
        AccountMeta(PAIR.token_y_mint, False, r),
        AccountMeta(PAIR.oracle, False, w),
        AccountMeta(program, False, r),  # no host fee account
        AccountMeta(USER, True, r),
        AccountMeta(TOKEN_2022_PROGRAM_ID, False, r),  # X's flag says Token-2022
        AccountMeta(TOKEN_PROGRAM_ID, False, r),
        AccountMeta(MEMO_PROGRAM_ID, False, r),
        AccountMeta(P("D1ZN9Wj1fRSUQfCjhvnu1hqDMT7hzjzBBpi12nVniYD6"), False, r),
        AccountMeta(program, False, r),
        AccountMeta(arrays[0], False, w),  # the crossed bin arrays, writable, in walk order
        AccountMeta(arrays[1], False, w),
    ]


def test_swap2_with_the_bitmap_extension_host_fee_and_another_program() -> None:
    other = pubkey_for("devnet-program")
    extension, host = bitmap_extension_address(ADDRESS, other), pubkey_for("host")
    ix = swap2(
        lb_pair=ADDRESS, pair=PAIR, user=USER, user_token_in=USER_IN, user_token_out=USER_OUT, amount_in=5,
        min_amount_out=4, bin_arrays=[], bitmap_extension=extension, host_fee_in=host, program_id=other,
    )  # fmt: skip
    accounts = list(ix.accounts)
    assert ix.program_id == other and len(accounts) == 16
    assert accounts[1] == AccountMeta(extension, False, True)
    assert accounts[9] == AccountMeta(host, False, True)
    assert accounts[14].pubkey == event_authority_address(other) != event_authority_address()
    assert accounts[15] == AccountMeta(other, False, False)


def test_token_programs_follow_the_flags() -> None:
    assert token_programs(LbPair()) == (TOKEN_PROGRAM_ID, TOKEN_PROGRAM_ID)
    flagged = LbPair(token_mint_x_program_flag=0, token_mint_y_program_flag=1)
    assert token_programs(flagged) == (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID)


def test_swap_exact_out2_data_bytes_and_accounts() -> None:
    data = swap2_data(1_500_000_000, 212_000_123, exact_out=True)
    # sha256("global:swap_exact_out2")[:8], then max_in_amount and out_amount, then no transfer hooks
    assert data[:8] == hashlib.sha256(b"global:swap_exact_out2").digest()[:8] == bytes.fromhex("2bd7f784893cf351")
    assert data[8:] == swap2_data(1_500_000_000, 212_000_123)[8:]
    arrays = [bin_array_address(ADDRESS, -28)]
    common = dict(lb_pair=ADDRESS, pair=PAIR, user=USER, user_token_in=USER_IN, user_token_out=USER_OUT,
                  amount_in=9, min_amount_out=4, bin_arrays=arrays)  # fmt: skip
    assert swap2(**common, exact_out=True).accounts == swap2(**common).accounts  # type: ignore[arg-type]
