"""Byte layouts of the accounts a Raydium CLMM swap reads, decoded and encoded. Pure: no I/O.

Offsets count the 8-byte Anchor discriminator. PoolState, TickArrayState, TickArrayBitmapExtension and
ObservationState are zero-copy (packed, no padding between fields); AmmConfig is borsh.

- PoolState (1544 bytes): ``bump`` 8, ``amm_config`` 9, ``owner`` 41, ``token_mint_0`` 73, ``token_mint_1`` 105
  (mint 0 sorts below mint 1), ``token_vault_0`` 137, ``token_vault_1`` 169, ``observation_key`` 201, decimals
  233 and 234, ``tick_spacing`` u16 235, ``liquidity`` u128 237, ``sqrt_price_x64`` u128 253 (Q64.64 of token 1
  per token 0), ``tick_current`` i32 269, fee growths 277 and 293, protocol fees 309 and 317, swap totals
  325..389, ``status`` 389 (bit 4 set disables swaps), three reward infos of 169 bytes from 397,
  ``tick_array_bitmap`` [u64; 16] 904 (bit ``start / (60 * spacing) + 512`` marks an initialized tick array),
  fee totals 1032..1064, fund fees 1064 and 1072, ``open_time`` 1080 (a swap needs now > open_time),
  ``recent_epoch`` 1088, padding to 1544.
- AmmConfig (117 bytes): ``bump`` 8, ``index`` u16 9, ``owner`` 11, ``protocol_fee_rate`` u32 43,
  ``trade_fee_rate`` 47, ``tick_spacing`` u16 51, ``fund_fee_rate`` 53, ``padding_u32`` 57, ``fund_owner`` 61,
  padding 93. Rates are parts per 1,000,000; protocol and fund rates are shares of the trade fee.
- TickArrayState (10240 bytes): ``pool_id`` 8, ``start_tick_index`` i32 40, 60 ticks of 168 bytes from 44,
  ``initialized_tick_count`` 10124, ``recent_epoch`` 10125, padding. A tick: ``tick`` i32 0,
  ``liquidity_net`` i128 4, ``liquidity_gross`` u128 20 (non-zero: initialized), fee growths outside 36 and 52,
  reward growths 68, padding 116.
- TickArrayBitmapExtension (1832 bytes): ``pool_id`` 8, then 14 positive and 14 negative bitmaps of 512 bits,
  for tick arrays beyond the pool's own bitmap.
- ObservationState (4483 bytes): ``initialized`` 8, ``recent_epoch`` 9, ``observation_index`` 17, ``pool_id``
  19, 100 observations of 44 bytes, padding. A swap checks ``pool_id`` and writes an observation; only the
  encoder is here, for local networks.

Fields a quote never reads are kept as bytes, so a real account round-trips. A decoder given bytes of the
wrong size or kind raises :class:`~adapters.solana.errors.MalformedAccount`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from solders.pubkey import Pubkey

from adapters.solana.accounts import require_size
from adapters.solana.errors import MalformedAccount

POOL_DISCRIMINATOR = bytes([247, 237, 227, 245, 215, 195, 222, 70])
AMM_CONFIG_DISCRIMINATOR = bytes([218, 244, 33, 104, 203, 203, 43, 111])
TICK_ARRAY_DISCRIMINATOR = bytes([192, 155, 85, 205, 49, 249, 129, 42])
BITMAP_EXTENSION_DISCRIMINATOR = bytes([60, 150, 36, 219, 97, 128, 139, 153])
OBSERVATION_DISCRIMINATOR = bytes([122, 174, 197, 53, 129, 9, 165, 132])

POOL_LEN = 1544
AMM_CONFIG_LEN = 117
TICK_ARRAY_LEN = 10240
BITMAP_EXTENSION_LEN = 1832
OBSERVATION_LEN = 4483
TOKEN_MINT_0_OFFSET = 73
TOKEN_MINT_1_OFFSET = 105
TICK_ARRAY_SIZE = 60  # ticks per tick array
EXTENSION_BITMAPS = 14  # bitmaps of 512 tick arrays on each side, beyond the pool's own
SWAP_DISABLED_BIT = 1 << 4
NO_KEY = Pubkey.default()  # the all-zero key
REWARD_INFOS_LEN = 3 * 169

_POOL = struct.Struct(
    "<8sB32s32s32s32s32s32s32sBBH16s16siHH"  # .. tick_current, padding3, padding4
    "16s16sQQ16s16s16s16sB7s"  # fee growths, protocol fees, swap totals, status, padding
    f"{REWARD_INFOS_LEN}s128sQQQQQQQQ192s256s"
)
assert _POOL.size == POOL_LEN
_AMM_CONFIG = struct.Struct("<8sBH32sIIHII32s24s")
assert _AMM_CONFIG.size == AMM_CONFIG_LEN
_TICK = struct.Struct("<i16s16s16s16s48s52s")
assert _TICK.size == 168
_TICK_ARRAY_HEAD = struct.Struct("<8s32si")
_TICK_ARRAY_TAIL = struct.Struct("<BQ107s")
assert _TICK_ARRAY_HEAD.size + TICK_ARRAY_SIZE * _TICK.size + _TICK_ARRAY_TAIL.size == TICK_ARRAY_LEN
_OBSERVATION_HEAD = struct.Struct("<8sBQH32s")


def _u128(raw: bytes) -> int:
    return int.from_bytes(raw, "little")


def _b128(value: int) -> bytes:
    return value.to_bytes(16, "little")


def _check(data: bytes, size: int, discriminator: bytes, what: str) -> None:
    require_size(data, size, what)
    if data[:8] != discriminator:
        raise MalformedAccount(f"{what}: wrong discriminator")


@dataclass(frozen=True, slots=True)
class AmmConfig:
    """A fee tier: the trade fee every swap of its pools pays, and the protocol's and fund's shares of it."""

    trade_fee_rate: int
    tick_spacing: int
    protocol_fee_rate: int = 120_000
    fund_fee_rate: int = 40_000
    index: int = 0
    bump: int = 0
    owner: Pubkey = NO_KEY
    fund_owner: Pubkey = NO_KEY
    padding_u32: int = 0
    padding: bytes = field(default=bytes(24), repr=False)


def decode_amm_config(data: bytes) -> AmmConfig:
    _check(data, AMM_CONFIG_LEN, AMM_CONFIG_DISCRIMINATOR, "AmmConfig")
    f = _AMM_CONFIG.unpack(data)
    return AmmConfig(
        trade_fee_rate=f[5], tick_spacing=f[6], protocol_fee_rate=f[4], fund_fee_rate=f[7], index=f[2], bump=f[1],
        owner=Pubkey.from_bytes(f[3]), fund_owner=Pubkey.from_bytes(f[9]), padding_u32=f[8], padding=f[10],
    )  # fmt: skip


def encode_amm_config(config: AmmConfig) -> bytes:
    return _AMM_CONFIG.pack(
        AMM_CONFIG_DISCRIMINATOR, config.bump, config.index, bytes(config.owner), config.protocol_fee_rate,
        config.trade_fee_rate, config.tick_spacing, config.fund_fee_rate, config.padding_u32,
        bytes(config.fund_owner), config.padding,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class PoolState:
    """A CLMM pool. Token 0 and 1 are in byte order of their mints; prices are Q64.64 square roots of token 1
    per token 0 in raw units."""

    amm_config: Pubkey
    token_mint_0: Pubkey
    token_mint_1: Pubkey
    token_vault_0: Pubkey
    token_vault_1: Pubkey
    observation_key: Pubkey
    tick_spacing: int
    liquidity: int
    sqrt_price_x64: int
    tick_current: int
    tick_array_bitmap: int = 0  # 1024 bits, little-endian words as the program's U1024
    mint_decimals_0: int = 0
    mint_decimals_1: int = 0
    status: int = 0
    open_time: int = 0
    bump: int = 0
    owner: Pubkey = NO_KEY
    fee_growth_global_0_x64: int = 0
    fee_growth_global_1_x64: int = 0
    protocol_fees_token_0: int = 0
    protocol_fees_token_1: int = 0
    swap_in_amount_token_0: int = 0
    swap_out_amount_token_1: int = 0
    swap_in_amount_token_1: int = 0
    swap_out_amount_token_0: int = 0
    total_fees_token_0: int = 0
    total_fees_claimed_token_0: int = 0
    total_fees_token_1: int = 0
    total_fees_claimed_token_1: int = 0
    fund_fees_token_0: int = 0
    fund_fees_token_1: int = 0
    recent_epoch: int = 0
    reward_infos: bytes = field(default=bytes(REWARD_INFOS_LEN), repr=False)
    paddings: bytes = field(default=bytes(4 + 7 + 192 + 256), repr=False)  # padding3/4, padding, padding1, 2

    @property
    def swap_enabled(self) -> bool:
        return not self.status & SWAP_DISABLED_BIT


def decode_pool(data: bytes) -> PoolState:
    _check(data, POOL_LEN, POOL_DISCRIMINATOR, "PoolState")
    f = _POOL.unpack(data)
    keys = [Pubkey.from_bytes(raw) for raw in f[2:9]]
    return PoolState(
        bump=f[1], amm_config=keys[0], owner=keys[1], token_mint_0=keys[2], token_mint_1=keys[3],
        token_vault_0=keys[4], token_vault_1=keys[5], observation_key=keys[6], mint_decimals_0=f[9],
        mint_decimals_1=f[10], tick_spacing=f[11], liquidity=_u128(f[12]), sqrt_price_x64=_u128(f[13]),
        tick_current=f[14], fee_growth_global_0_x64=_u128(f[17]), fee_growth_global_1_x64=_u128(f[18]),
        protocol_fees_token_0=f[19], protocol_fees_token_1=f[20], swap_in_amount_token_0=_u128(f[21]),
        swap_out_amount_token_1=_u128(f[22]), swap_in_amount_token_1=_u128(f[23]),
        swap_out_amount_token_0=_u128(f[24]), status=f[25], reward_infos=f[27],
        tick_array_bitmap=int.from_bytes(f[28], "little"), total_fees_token_0=f[29],
        total_fees_claimed_token_0=f[30], total_fees_token_1=f[31], total_fees_claimed_token_1=f[32],
        fund_fees_token_0=f[33], fund_fees_token_1=f[34], open_time=f[35], recent_epoch=f[36],
        paddings=f[15].to_bytes(2, "little") + f[16].to_bytes(2, "little") + f[26] + f[37] + f[38],
    )  # fmt: skip


def encode_pool(pool: PoolState) -> bytes:
    pads = pool.paddings
    if len(pads) != 459:
        raise ValueError(f"PoolState paddings are 459 bytes, got {len(pads)}")
    return _POOL.pack(
        POOL_DISCRIMINATOR, pool.bump, bytes(pool.amm_config), bytes(pool.owner), bytes(pool.token_mint_0),
        bytes(pool.token_mint_1), bytes(pool.token_vault_0), bytes(pool.token_vault_1), bytes(pool.observation_key),
        pool.mint_decimals_0, pool.mint_decimals_1, pool.tick_spacing, _b128(pool.liquidity),
        _b128(pool.sqrt_price_x64), pool.tick_current, int.from_bytes(pads[0:2], "little"),
        int.from_bytes(pads[2:4], "little"), _b128(pool.fee_growth_global_0_x64), _b128(pool.fee_growth_global_1_x64),
        pool.protocol_fees_token_0, pool.protocol_fees_token_1, _b128(pool.swap_in_amount_token_0),
        _b128(pool.swap_out_amount_token_1), _b128(pool.swap_in_amount_token_1), _b128(pool.swap_out_amount_token_0),
        pool.status, pads[4:11], pool.reward_infos, pool.tick_array_bitmap.to_bytes(128, "little"),
        pool.total_fees_token_0, pool.total_fees_claimed_token_0, pool.total_fees_token_1,
        pool.total_fees_claimed_token_1, pool.fund_fees_token_0, pool.fund_fees_token_1, pool.open_time,
        pool.recent_epoch, pads[11:203], pads[203:459],
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class TickState:
    """One tick: the liquidity that starts (positive) or ends (negative) there, crossing upwards. A tick with
    no gross liquidity is not initialized: the swap walks past it."""

    tick: int = 0
    liquidity_net: int = 0
    liquidity_gross: int = 0
    fee_growth_outside_0_x64: int = 0
    fee_growth_outside_1_x64: int = 0
    reward_growths_outside: bytes = field(default=bytes(48), repr=False)
    padding: bytes = field(default=bytes(52), repr=False)

    @property
    def initialized(self) -> bool:
        return self.liquidity_gross != 0


@dataclass(frozen=True, slots=True)
class TickArrayState:
    """60 ticks from ``start_tick_index``, ``tick_spacing`` apart; its address is
    ``["tick_array", pool, start as i32 big-endian]``."""

    pool_id: Pubkey
    start_tick_index: int
    ticks: tuple[TickState, ...] = tuple(TickState() for _ in range(TICK_ARRAY_SIZE))
    initialized_tick_count: int = 0
    recent_epoch: int = 0
    padding: bytes = field(default=bytes(107), repr=False)


def decode_tick_array(data: bytes) -> TickArrayState:
    _check(data, TICK_ARRAY_LEN, TICK_ARRAY_DISCRIMINATOR, "TickArrayState")
    _, pool_id, start = _TICK_ARRAY_HEAD.unpack_from(data)
    ticks = []
    for i in range(TICK_ARRAY_SIZE):
        t = _TICK.unpack_from(data, _TICK_ARRAY_HEAD.size + i * _TICK.size)
        net = int.from_bytes(t[1], "little", signed=True)
        ticks.append(TickState(t[0], net, _u128(t[2]), _u128(t[3]), _u128(t[4]), t[5], t[6]))
    count, epoch, padding = _TICK_ARRAY_TAIL.unpack_from(data, TICK_ARRAY_LEN - _TICK_ARRAY_TAIL.size)
    return TickArrayState(Pubkey.from_bytes(pool_id), start, tuple(ticks), count, epoch, padding)


def encode_tick_array(array: TickArrayState) -> bytes:
    if len(array.ticks) != TICK_ARRAY_SIZE:
        raise ValueError(f"a tick array holds {TICK_ARRAY_SIZE} ticks, got {len(array.ticks)}")
    parts = [_TICK_ARRAY_HEAD.pack(TICK_ARRAY_DISCRIMINATOR, bytes(array.pool_id), array.start_tick_index)]
    for t in array.ticks:
        parts.append(_TICK.pack(
            t.tick, t.liquidity_net.to_bytes(16, "little", signed=True), _b128(t.liquidity_gross),
            _b128(t.fee_growth_outside_0_x64), _b128(t.fee_growth_outside_1_x64), t.reward_growths_outside, t.padding,
        ))  # fmt: skip
    parts.append(_TICK_ARRAY_TAIL.pack(array.initialized_tick_count, array.recent_epoch, array.padding))
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class TickArrayBitmapExtension:
    """Which tick arrays beyond the pool's own bitmap are initialized: bitmap ``i`` of each side covers the
    512 arrays from ``(i + 1)`` (positive) or ``-(i + 1)`` (negative) times ``512 * 60 * spacing`` outwards.
    Its address is ``["pool_tick_array_bitmap_extension", pool]``."""

    pool_id: Pubkey
    positive: tuple[int, ...] = (0,) * EXTENSION_BITMAPS  # each 512 bits, little-endian words
    negative: tuple[int, ...] = (0,) * EXTENSION_BITMAPS


def decode_bitmap_extension(data: bytes) -> TickArrayBitmapExtension:
    _check(data, BITMAP_EXTENSION_LEN, BITMAP_EXTENSION_DISCRIMINATOR, "TickArrayBitmapExtension")
    words = [int.from_bytes(data[40 + 64 * i : 104 + 64 * i], "little") for i in range(2 * EXTENSION_BITMAPS)]
    return TickArrayBitmapExtension(
        Pubkey.from_bytes(data[8:40]), tuple(words[:EXTENSION_BITMAPS]), tuple(words[EXTENSION_BITMAPS:])
    )


def encode_bitmap_extension(extension: TickArrayBitmapExtension) -> bytes:
    bitmaps = (*extension.positive, *extension.negative)
    if len(bitmaps) != 2 * EXTENSION_BITMAPS:
        raise ValueError(f"the extension holds {EXTENSION_BITMAPS} bitmaps each side")
    body = b"".join(b.to_bytes(64, "little") for b in bitmaps)
    return BITMAP_EXTENSION_DISCRIMINATOR + bytes(extension.pool_id) + body


def encode_observation_state(pool_id: Pubkey, *, initialized: bool = True) -> bytes:
    """A fresh ObservationState for ``pool_id`` (no observation recorded yet)."""
    head = _OBSERVATION_HEAD.pack(OBSERVATION_DISCRIMINATOR, int(initialized), 0, 0, bytes(pool_id))
    return head + bytes(OBSERVATION_LEN - len(head))


def observation_pool_id(data: bytes) -> Pubkey:
    _check(data, OBSERVATION_LEN, OBSERVATION_DISCRIMINATOR, "ObservationState")
    return Pubkey.from_bytes(data[19:51])
