"""AMM v4 addresses and the swap instructions: the authority against mainnet's, accounts, flags and bytes."""

from __future__ import annotations

import struct

import pytest
from solders.instruction import Instruction
from solders.pubkey import Pubkey

from adapters.dexes.raydium_amm_v4.instructions import authority_address, authority_of, swap_base_in, swap_pool
from adapters.dexes.raydium_amm_v4.layouts import AmmInfo, AmmStatus, Fees, StateData
from adapters.solana.spl import TOKEN_PROGRAM_ID

MAINNET = Pubkey.from_string("675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8")


def _key(n: int) -> Pubkey:
    return Pubkey.from_bytes(bytes([n]) * 32)


def test_the_authority_is_mainnets() -> None:
    authority = Pubkey.from_string("5Q544fKrFoe6tsEbD7S8EmxGTJYAKtTVhAW5Q5pge4j1")
    assert authority_address(MAINNET) == (authority, 254)
    assert authority_of(MAINNET, 254) == authority  # as the program derives it from a pool's nonce


def _swap(exact_out: bool = False, order_book: bool = True) -> Instruction:
    return swap_base_in(
        MAINNET, amm=_key(1), authority=_key(2), open_orders=_key(3), coin_vault=_key(4), pc_vault=_key(5),
        market_program=_key(6), market=_key(7), bids=_key(8), asks=_key(9), event_queue=_key(10),
        market_coin_vault=_key(11), market_pc_vault=_key(12), market_vault_signer=_key(13), user_source=_key(14),
        user_destination=_key(15), user_owner=_key(16), amount_in=0x0102030405060708, minimum_amount_out=42,
        exact_out=exact_out, order_book=order_book,
    )  # fmt: skip


def test_swap_base_in_bytes_and_accounts() -> None:
    ix = _swap()
    assert ix.program_id == MAINNET
    assert bytes(ix.data) == bytes([9]) + struct.pack("<QQ", 0x0102030405060708, 42)
    assert bytes(ix.data).hex() == "09" + "0807060504030201" + "2a00000000000000"
    keys = [m.pubkey for m in ix.accounts]
    assert keys == [TOKEN_PROGRAM_ID, *(_key(n) for n in range(1, 17))]
    writable = [m.is_writable for m in ix.accounts]
    assert writable == [False, True, False, True, True, True, False, True, True, True, True, True, True, False,
                        True, True, False]  # fmt: skip
    assert [m.is_signer for m in ix.accounts] == [False] * 16 + [True]


def test_swap_base_out_and_the_order_book_accounts_read_only() -> None:
    ix = _swap(exact_out=True, order_book=False)
    assert bytes(ix.data)[0] == 11 and len(bytes(ix.data)) == 17
    writable = {m.pubkey: m.is_writable for m in ix.accounts}
    assert [n for n in range(1, 17) if writable[_key(n)]] == [1, 4, 5, 14, 15]


@pytest.mark.parametrize("bad", [-1, 2**64])
def test_amounts_must_be_u64(bad: int) -> None:
    with pytest.raises(ValueError, match="u64"):
        swap_base_in(
            MAINNET, amm=_key(1), authority=_key(2), open_orders=_key(3), coin_vault=_key(4), pc_vault=_key(5),
            market_program=_key(6), market=_key(7), bids=_key(8), asks=_key(9), event_queue=_key(10),
            market_coin_vault=_key(11), market_pc_vault=_key(12), market_vault_signer=_key(13),
            user_source=_key(14), user_destination=_key(15), user_owner=_key(16), amount_in=bad, minimum_amount_out=0,
        )  # fmt: skip


def test_swap_pool_takes_its_accounts_from_the_pool_state() -> None:
    amm = AmmInfo(
        status=AmmStatus.SWAP_ONLY, nonce=254, order_num=7, depth=3, coin_decimals=9, pc_decimals=6, state=1,
        reset_flag=1, min_size=1, vol_max_cut_ratio=500, amount_wave=1, coin_lot_size=1, pc_lot_size=1,
        min_price_multiplier=1, max_price_multiplier=1, sys_decimal_value=1, fees=Fees(), state_data=StateData(),
        coin_vault=_key(21), pc_vault=_key(22), coin_vault_mint=_key(23), pc_vault_mint=_key(24), lp_mint=_key(25),
        open_orders=_key(26), market=_key(27), market_program=_key(28), target_orders=_key(29), amm_owner=_key(30),
        lp_amount=1,
    )  # fmt: skip
    ix = swap_pool(
        MAINNET, _key(20), amm, owner=_key(40), user_source=_key(41), user_destination=_key(42), amount_in=5,
        minimum_amount_out=4, exact_out=True,
    )  # fmt: skip
    keys = [m.pubkey for m in ix.accounts]
    authority = authority_address(MAINNET)[0]
    assert keys == [TOKEN_PROGRAM_ID, _key(20), authority, _key(26), _key(21), _key(22), _key(28), *[_key(27)] * 7,
                    _key(41), _key(42), _key(40)]  # fmt: skip
    assert bytes(ix.data) == bytes([11]) + struct.pack("<QQ", 5, 4)
    assert not any(m.is_writable for m in ix.accounts[6:14])  # the market's accounts lock nothing
