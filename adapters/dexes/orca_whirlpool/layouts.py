"""Byte layouts of the two accounts an Orca Whirlpool quote reads, decoded and encoded. Pure: no I/O.

Offsets below count the 8-byte Anchor discriminator.

- ``Whirlpool`` (``state/whirlpool.rs``), a Borsh account of 653 bytes: ``whirlpools_config`` 8, bump 40,
  ``tick_spacing`` u16 41, its seed bytes 43, ``fee_rate`` u16 45 (per 1e6), ``protocol_fee_rate`` u16 47 (per
  1e4, a share of the fee), ``liquidity`` u128 49, ``sqrt_price`` u128 65 (Q64.64), ``tick_current_index`` i32
  81, protocol fees owed 85 and 93, ``token_mint_a`` 101, ``token_vault_a`` 133, ``fee_growth_global_a`` 165,
  ``token_mint_b`` 181, ``token_vault_b`` 213, ``fee_growth_global_b`` 245, ``reward_last_updated_timestamp``
  261, then three reward infos of 128 bytes from 269. Token A's mint is below token B's in byte order (the
  program refuses to make a pool otherwise), so one search by the two offsets finds a pair.
- ``TickArray`` (``state/tick.rs``), zero-copy and packed, 9988 bytes: ``start_tick_index`` i32 8, then 88
  ticks of 113 bytes from 12 (``initialized`` bool 0, ``liquidity_net`` i128 1, ``liquidity_gross`` u128 17,
  fee growths outside 33 and 49, three reward growths from 65), then ``whirlpool`` at 9956. Tick ``i`` of the
  array is the tick index ``start_tick_index + i * tick_spacing``.

Fields a quote never reads (fee and reward growths) are kept, so a real account round-trips. The encoders exist
so tests and local networks can build pools byte-exactly. A decoder given bytes of the wrong size or kind
raises :class:`~adapters.solana.errors.MalformedAccount`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from solders.pubkey import Pubkey

from adapters.solana.accounts import require_size
from adapters.solana.errors import MalformedAccount

WHIRLPOOL_DISCRIMINATOR = bytes([63, 149, 209, 12, 225, 128, 99, 9])
TICK_ARRAY_DISCRIMINATOR = bytes([69, 97, 189, 190, 110, 7, 66, 187])
WHIRLPOOL_LEN = 653
TICK_ARRAY_LEN = 9988
TICK_LEN = 113
TICK_ARRAY_SIZE = 88
TOKEN_MINT_A_OFFSET = 101
TOKEN_MINT_B_OFFSET = 181
TICK_ARRAY_WHIRLPOOL_OFFSET = 9956
REWARD_INFO_LEN = 128
NUM_REWARDS = 3

_WHIRLPOOL = struct.Struct("<8s32sBH2sHH16s16siQQ32s32s16s32s32s16sQ384s")
assert _WHIRLPOOL.size == WHIRLPOOL_LEN
_TICK = struct.Struct("<?16s16s16s16s48s")
assert _TICK.size == TICK_LEN
_TICK_ARRAY_HEAD = struct.Struct("<8si")
assert _TICK_ARRAY_HEAD.size + TICK_ARRAY_SIZE * TICK_LEN + 32 == TICK_ARRAY_LEN


def _u128(raw: bytes) -> int:
    return int.from_bytes(raw, "little")


def _b128(value: int) -> bytes:
    return value.to_bytes(16, "little")


@dataclass(frozen=True, slots=True)
class Whirlpool:
    """A Whirlpool: a concentrated-liquidity pool whose Q64.64 ``sqrt_price`` is the square root of token B per
    token A in raw units, at tick ``tick_current_index``, with ``liquidity`` in range there."""

    whirlpools_config: Pubkey
    tick_spacing: int
    fee_rate: int
    protocol_fee_rate: int
    liquidity: int
    sqrt_price: int
    tick_current_index: int
    token_mint_a: Pubkey
    token_vault_a: Pubkey
    token_mint_b: Pubkey
    token_vault_b: Pubkey
    whirlpool_bump: int = 255
    tick_spacing_seed: bytes | None = None  # None: the tick spacing's own two bytes, as the program writes them
    protocol_fee_owed_a: int = 0
    protocol_fee_owed_b: int = 0
    fee_growth_global_a: int = 0
    fee_growth_global_b: int = 0
    reward_last_updated_timestamp: int = 0
    reward_infos: bytes = field(default=bytes(REWARD_INFO_LEN * NUM_REWARDS), repr=False)

    def __post_init__(self) -> None:
        if self.tick_spacing_seed is None:
            object.__setattr__(self, "tick_spacing_seed", struct.pack("<H", self.tick_spacing))


def decode_whirlpool(data: bytes) -> Whirlpool:
    require_size(data, WHIRLPOOL_LEN, "Whirlpool")
    f = _WHIRLPOOL.unpack(data)
    if f[0] != WHIRLPOOL_DISCRIMINATOR:
        raise MalformedAccount("Whirlpool: wrong discriminator")
    return Whirlpool(
        whirlpools_config=Pubkey.from_bytes(f[1]), whirlpool_bump=f[2], tick_spacing=f[3], tick_spacing_seed=f[4],
        fee_rate=f[5], protocol_fee_rate=f[6], liquidity=_u128(f[7]), sqrt_price=_u128(f[8]),
        tick_current_index=f[9], protocol_fee_owed_a=f[10], protocol_fee_owed_b=f[11],
        token_mint_a=Pubkey.from_bytes(f[12]), token_vault_a=Pubkey.from_bytes(f[13]),
        fee_growth_global_a=_u128(f[14]), token_mint_b=Pubkey.from_bytes(f[15]),
        token_vault_b=Pubkey.from_bytes(f[16]), fee_growth_global_b=_u128(f[17]),
        reward_last_updated_timestamp=f[18], reward_infos=f[19],
    )  # fmt: skip


def encode_whirlpool(pool: Whirlpool) -> bytes:
    if len(pool.reward_infos) != REWARD_INFO_LEN * NUM_REWARDS:
        raise ValueError(f"reward infos are {REWARD_INFO_LEN * NUM_REWARDS} bytes, got {len(pool.reward_infos)}")
    seed = pool.tick_spacing_seed if pool.tick_spacing_seed is not None else struct.pack("<H", pool.tick_spacing)
    return _WHIRLPOOL.pack(
        WHIRLPOOL_DISCRIMINATOR, bytes(pool.whirlpools_config), pool.whirlpool_bump, pool.tick_spacing, seed,
        pool.fee_rate, pool.protocol_fee_rate, _b128(pool.liquidity), _b128(pool.sqrt_price),
        pool.tick_current_index, pool.protocol_fee_owed_a, pool.protocol_fee_owed_b, bytes(pool.token_mint_a),
        bytes(pool.token_vault_a), _b128(pool.fee_growth_global_a), bytes(pool.token_mint_b),
        bytes(pool.token_vault_b), _b128(pool.fee_growth_global_b), pool.reward_last_updated_timestamp,
        pool.reward_infos,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Tick:
    """One tick: crossing it left to right adds ``liquidity_net`` to the pool's liquidity (right to left
    subtracts it). Only initialized ticks stop a swap's walk."""

    initialized: bool = False
    liquidity_net: int = 0
    liquidity_gross: int = 0
    fee_growth_outside_a: int = 0
    fee_growth_outside_b: int = 0
    reward_growths_outside: tuple[int, int, int] = (0, 0, 0)


EMPTY_TICK = Tick()


@dataclass(frozen=True, slots=True)
class TickArray:
    """88 consecutive usable ticks of one pool, from ``start_tick_index`` (a multiple of ``88 * tick_spacing``)."""

    start_tick_index: int
    whirlpool: Pubkey
    ticks: tuple[Tick, ...] = (EMPTY_TICK,) * TICK_ARRAY_SIZE

    def __post_init__(self) -> None:
        if len(self.ticks) != TICK_ARRAY_SIZE:
            raise ValueError(f"a tick array holds {TICK_ARRAY_SIZE} ticks, got {len(self.ticks)}")


def _decode_tick(data: bytes, offset: int) -> Tick:
    initialized, net, gross, fee_a, fee_b, rewards = _TICK.unpack_from(data, offset)
    if not initialized and not any(data[offset : offset + TICK_LEN]):
        return EMPTY_TICK
    growths = tuple(_u128(rewards[i * 16 : i * 16 + 16]) for i in range(NUM_REWARDS))
    return Tick(initialized, int.from_bytes(net, "little", signed=True), _u128(gross), _u128(fee_a), _u128(fee_b),
                growths)  # type: ignore[arg-type]  # fmt: skip


def _encode_tick(tick: Tick) -> bytes:
    rewards = b"".join(_b128(g) for g in tick.reward_growths_outside)
    return _TICK.pack(tick.initialized, tick.liquidity_net.to_bytes(16, "little", signed=True),
                      _b128(tick.liquidity_gross), _b128(tick.fee_growth_outside_a), _b128(tick.fee_growth_outside_b),
                      rewards)  # fmt: skip


def decode_tick_array(data: bytes) -> TickArray:
    require_size(data, TICK_ARRAY_LEN, "TickArray")
    discriminator, start = _TICK_ARRAY_HEAD.unpack_from(data)
    if discriminator != TICK_ARRAY_DISCRIMINATOR:
        raise MalformedAccount("TickArray: wrong discriminator")
    ticks = tuple(_decode_tick(data, _TICK_ARRAY_HEAD.size + i * TICK_LEN) for i in range(TICK_ARRAY_SIZE))
    whirlpool = Pubkey.from_bytes(data[TICK_ARRAY_WHIRLPOOL_OFFSET:])
    return TickArray(start, whirlpool, ticks)


def encode_tick_array(array: TickArray) -> bytes:
    head = _TICK_ARRAY_HEAD.pack(TICK_ARRAY_DISCRIMINATOR, array.start_tick_index)
    return head + b"".join(_encode_tick(t) for t in array.ticks) + bytes(array.whirlpool)
