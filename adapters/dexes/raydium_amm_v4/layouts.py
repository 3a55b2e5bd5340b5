"""Byte layout of the AmmInfo account an AMM v4 quote reads, decoded and encoded. Pure: no I/O.

AmmInfo is raydium-amm's ``#[repr(C, packed)]`` struct of ``program/src/state.rs`` (752 bytes, no
discriminator): sixteen u64 parameters, ``Fees`` (8 u64), ``StateData`` (144 bytes, its u128 counters
little-endian), nine keys, 64 bytes of padding, the owner key and four u64. The offsets a search filters
on: coin mint 400, pc mint 432. The encoder exists so tests and local networks can build pools byte-exactly;
the padding is kept, so a real account round-trips. Given bytes of the wrong size the decoder raises
:class:`~adapters.solana.errors.MalformedAccount`; a status outside :class:`AmmStatus` is left for the quote
to refuse (the program panics on it). Vaults, mints and the clock are in
:mod:`adapters.solana.accounts`.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from solders.pubkey import Pubkey

from adapters.solana.accounts import require_size

AMM_INFO_LEN = 752
FEES_OFFSET = 128
STATE_DATA_OFFSET = 192
COIN_VAULT_OFFSET = 336
COIN_MINT_OFFSET = 400
PC_MINT_OFFSET = 432

_PARAMS = "16Q"
_FEES = "8Q"
# need_take_pnl_coin, need_take_pnl_pc, total_pnl_pc, total_pnl_coin, pool_open_time, padding (16 bytes),
# orderbook_to_init_time, then the u128 counters as (low, high) u64 pairs and the two fee accumulators.
_STATE_DATA = "5Q16sQ" + "QQQQQ" + "QQQQQ"
_KEYS = "32s" * 9
_AMM = struct.Struct("<" + _PARAMS + _FEES + _STATE_DATA + _KEYS + "64s32s4Q")
assert _AMM.size == AMM_INFO_LEN
_U64 = 2**64
_PARAM_NAMES = (
    "status", "nonce", "order_num", "depth", "coin_decimals", "pc_decimals", "state", "reset_flag", "min_size",
    "vol_max_cut_ratio", "amount_wave", "coin_lot_size", "pc_lot_size", "min_price_multiplier",
    "max_price_multiplier", "sys_decimal_value",
)  # fmt: skip


class AmmStatus(enum.IntEnum):
    """``AmmInfo.status``. Swaps are allowed in 1 (through the OpenBook market, until the build that removed
    it), 6 and 7 (once its open time passes; the first swap turns it into 6); while the order book existed, a
    swap in 5 past ``orderbook_to_init_time`` turned it into 1."""

    UNINITIALIZED = 0
    INITIALIZED = 1
    DISABLED = 2
    WITHDRAW_ONLY = 3
    LIQUIDITY_ONLY = 4
    ORDER_BOOK_ONLY = 5
    SWAP_ONLY = 6
    WAITING_TRADE = 7


@dataclass(frozen=True, slots=True)
class Fees:
    """Fractions, numerator over denominator. Swaps charge ``swap_fee``; ``trade_fee`` prices the order book's
    orders and ``pnl`` the protocol's share of the pool's gains. Defaults are the program's ``initialize``."""

    min_separate_numerator: int = 5
    min_separate_denominator: int = 10_000
    trade_fee_numerator: int = 25
    trade_fee_denominator: int = 10_000
    pnl_numerator: int = 12
    pnl_denominator: int = 100
    swap_fee_numerator: int = 25
    swap_fee_denominator: int = 10_000


@dataclass(frozen=True, slots=True)
class StateData:
    """The pool's running totals. ``need_take_pnl_*`` sit in the vaults but belong to the protocol, so they are
    not liquidity. ``pool_open_time`` (unix seconds) gates swaps of a pool in status 7."""

    need_take_pnl_coin: int = 0
    need_take_pnl_pc: int = 0
    total_pnl_pc: int = 0
    total_pnl_coin: int = 0
    pool_open_time: int = 0
    padding: bytes = bytes(16)
    orderbook_to_init_time: int = 0
    swap_coin_in_amount: int = 0
    swap_pc_out_amount: int = 0
    swap_acc_pc_fee: int = 0
    swap_pc_in_amount: int = 0
    swap_coin_out_amount: int = 0
    swap_acc_coin_fee: int = 0


@dataclass(frozen=True, slots=True)
class AmmInfo:
    """An AMM v4 pool. "Coin" and "pc" are the program's base and quote sides, in no byte order: which is which
    was chosen when the pool was made. ``nonce`` is the bump of the authority PDA ``["amm authority"]``."""

    status: int
    nonce: int
    order_num: int
    depth: int
    coin_decimals: int
    pc_decimals: int
    state: int
    reset_flag: int
    min_size: int
    vol_max_cut_ratio: int
    amount_wave: int
    coin_lot_size: int
    pc_lot_size: int
    min_price_multiplier: int
    max_price_multiplier: int
    sys_decimal_value: int
    fees: Fees
    state_data: StateData
    coin_vault: Pubkey
    pc_vault: Pubkey
    coin_vault_mint: Pubkey
    pc_vault_mint: Pubkey
    lp_mint: Pubkey
    open_orders: Pubkey
    market: Pubkey
    market_program: Pubkey
    target_orders: Pubkey
    amm_owner: Pubkey
    lp_amount: int
    client_order_id: int = 0
    recent_epoch: int = 0
    padding1: bytes = bytes(64)
    padding2: int = 0


def decode_amm_info(data: bytes) -> AmmInfo:
    require_size(data, AMM_INFO_LEN, "AmmInfo")
    f = _AMM.unpack(data)
    fees = Fees(*f[16:24])
    s = f[24:41]
    state_data = StateData(
        need_take_pnl_coin=s[0], need_take_pnl_pc=s[1], total_pnl_pc=s[2], total_pnl_coin=s[3],
        pool_open_time=s[4], padding=s[5], orderbook_to_init_time=s[6], swap_coin_in_amount=s[7] + s[8] * _U64,
        swap_pc_out_amount=s[9] + s[10] * _U64, swap_acc_pc_fee=s[11], swap_pc_in_amount=s[12] + s[13] * _U64,
        swap_coin_out_amount=s[14] + s[15] * _U64, swap_acc_coin_fee=s[16],
    )  # fmt: skip
    k = [Pubkey.from_bytes(raw) for raw in f[41:50]]
    params = dict(zip(_PARAM_NAMES, f[0:16], strict=True))
    return AmmInfo(
        **params, fees=fees, state_data=state_data, coin_vault=k[0], pc_vault=k[1], coin_vault_mint=k[2],
        pc_vault_mint=k[3], lp_mint=k[4], open_orders=k[5], market=k[6], market_program=k[7], target_orders=k[8],
        padding1=f[50], amm_owner=Pubkey.from_bytes(f[51]), lp_amount=f[52], client_order_id=f[53],
        recent_epoch=f[54], padding2=f[55],
    )  # fmt: skip


def _u128(value: int) -> tuple[int, int]:
    return value % _U64, value // _U64


def encode_amm_info(amm: AmmInfo) -> bytes:
    fees, s = amm.fees, amm.state_data
    keys = (
        amm.coin_vault, amm.pc_vault, amm.coin_vault_mint, amm.pc_vault_mint, amm.lp_mint, amm.open_orders,
        amm.market, amm.market_program, amm.target_orders,
    )  # fmt: skip
    return _AMM.pack(
        amm.status, amm.nonce, amm.order_num, amm.depth, amm.coin_decimals, amm.pc_decimals, amm.state,
        amm.reset_flag, amm.min_size, amm.vol_max_cut_ratio, amm.amount_wave, amm.coin_lot_size, amm.pc_lot_size,
        amm.min_price_multiplier, amm.max_price_multiplier, amm.sys_decimal_value,
        fees.min_separate_numerator, fees.min_separate_denominator, fees.trade_fee_numerator,
        fees.trade_fee_denominator, fees.pnl_numerator, fees.pnl_denominator, fees.swap_fee_numerator,
        fees.swap_fee_denominator,
        s.need_take_pnl_coin, s.need_take_pnl_pc, s.total_pnl_pc, s.total_pnl_coin, s.pool_open_time, s.padding,
        s.orderbook_to_init_time, *_u128(s.swap_coin_in_amount), *_u128(s.swap_pc_out_amount), s.swap_acc_pc_fee,
        *_u128(s.swap_pc_in_amount), *_u128(s.swap_coin_out_amount), s.swap_acc_coin_fee,
        *(bytes(k) for k in keys), amm.padding1, bytes(amm.amm_owner), amm.lp_amount, amm.client_order_id,
        amm.recent_epoch, amm.padding2,
    )  # fmt: skip
