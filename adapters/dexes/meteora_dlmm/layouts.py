"""Meteora DLMM (lb_clmm) account layouts: decoders and encoders, byte-exact. Pure: no I/O.

Offsets count the 8-byte Anchor discriminator. Every field of the program's IDL (0.12) is kept, padding
included, so ``encode(decode(data)) == data`` for a real account, and tests and local networks can build
accounts the program would accept (the codec is :mod:`.codec`). Quoting reads bins through the
``meteora-dlmm`` package (:mod:`.package`); the rest of an LbPair (reserves, oracle, bitmap, status) is
read here. A decoder given the wrong bytes raises :class:`~adapters.solana.errors.MalformedAccount`.

- LbPair: 904 bytes. BinArray: 10136 bytes, 70 bins of 144 from offset 56; bin ``i`` of array ``k``
  has id ``70k + i``. BinArrayBitmapExtension: 1576 bytes, bitmaps of arrays outside ``[-512, 511]``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from solders.pubkey import Pubkey

from adapters.dexes.meteora_dlmm.codec import decode_account, encode_account, layout, pad
from adapters.solana.errors import MalformedAccount

LB_PAIR_DISCRIMINATOR = bytes([33, 11, 49, 98, 181, 101, 177, 13])
BIN_ARRAY_DISCRIMINATOR = bytes([92, 142, 92, 220, 5, 148, 70, 181])
BITMAP_EXTENSION_DISCRIMINATOR = bytes([80, 111, 124, 113, 55, 237, 18, 5])
LB_PAIR_SIZE = 904
BIN_ARRAY_SIZE = 10136
BITMAP_EXTENSION_SIZE = 1576
BIN_SIZE = 144
BINS_PER_ARRAY = 70
BIN_ARRAY_HEADER = 56
# The LbPair's own bitmap covers arrays [-512, 511]; the extension adds 12 words of 512 on each side.
BITMAP_ARRAYS = 512
EXTENSION_WORDS = 12
# Offsets the discovery filters use.
TOKEN_X_MINT_OFFSET = 88
TOKEN_Y_MINT_OFFSET = 120

# pair_type values under which swaps wait for activation_point; status 0 is enabled.
PAIR_PERMISSION = 1
PAIR_CUSTOMIZABLE_PERMISSIONLESS = 2
ACTIVATION_BY_SLOT = 0
ACTIVATION_BY_TIMESTAMP = 1
FUNCTION_LIQUIDITY_MINING = 1
FUNCTION_LIMIT_ORDER = 2

_ZERO_KEY = Pubkey.default()


# --- LbPair ---------------------------------------------------------------------------------------


@layout(
    ("base_factor", "u16"), ("filter_period", "u16"), ("decay_period", "u16"), ("reduction_factor", "u16"),
    ("variable_fee_control", "u32"), ("max_volatility_accumulator", "u32"), ("min_bin_id", "i32"),
    ("max_bin_id", "i32"), ("protocol_share", "u16"), ("base_fee_power_factor", "u8"), ("function_type", "u8"),
    ("collect_fee_mode", "u8"), ("padding", pad(3)),
)  # fmt: skip
@dataclass(frozen=True, slots=True)
class StaticParameters:
    """The pair's fee configuration (32 bytes at offset 8)."""

    base_factor: int = 10_000
    filter_period: int = 30
    decay_period: int = 600
    reduction_factor: int = 5_000
    variable_fee_control: int = 40_000
    max_volatility_accumulator: int = 350_000
    min_bin_id: int = -443_636
    max_bin_id: int = 443_636
    protocol_share: int = 500
    base_fee_power_factor: int = 0
    function_type: int = 0
    collect_fee_mode: int = 0
    padding: bytes = bytes(3)


@layout(
    ("volatility_accumulator", "u32"), ("volatility_reference", "u32"), ("index_reference", "i32"),
    ("padding", pad(4)), ("last_update_timestamp", "i64"), ("padding_1", pad(8)),
)  # fmt: skip
@dataclass(frozen=True, slots=True)
class VariableParameters:
    """The pair's volatility state as of its last swap (32 bytes at offset 40)."""

    volatility_accumulator: int = 0
    volatility_reference: int = 0
    index_reference: int = 0
    padding: bytes = bytes(4)
    last_update_timestamp: int = 0
    padding_1: bytes = bytes(8)


@layout(
    ("mint", "pubkey"), ("vault", "pubkey"), ("funder", "pubkey"), ("reward_duration", "u64"),
    ("reward_duration_end", "u64"), ("reward_rate", "u128"), ("last_update_time", "u64"),
    ("cumulative_seconds_with_empty_liquidity_reward", "u64"),
)  # fmt: skip
@dataclass(frozen=True, slots=True)
class RewardInfo:
    """One of the pair's two farming rewards (144 bytes)."""

    mint: Pubkey = _ZERO_KEY
    vault: Pubkey = _ZERO_KEY
    funder: Pubkey = _ZERO_KEY
    reward_duration: int = 0
    reward_duration_end: int = 0
    reward_rate: int = 0
    last_update_time: int = 0
    cumulative_seconds_with_empty_liquidity_reward: int = 0


@layout(
    ("parameters", StaticParameters), ("v_parameters", VariableParameters), ("bump_seed", "u8"),
    ("bin_step_seed", pad(2)), ("pair_type", "u8"), ("active_id", "i32"), ("bin_step", "u16"),
    ("status", "u8"), ("require_base_factor_seed", "u8"), ("base_factor_seed", pad(2)),
    ("activation_type", "u8"), ("creator_pool_on_off_control", "u8"), ("token_x_mint", "pubkey"),
    ("token_y_mint", "pubkey"), ("reserve_x", "pubkey"), ("reserve_y", "pubkey"), ("protocol_fee_x", "u64"),
    ("protocol_fee_y", "u64"), ("padding_1", pad(32)), ("reward_infos", (2, RewardInfo)),
    ("oracle", "pubkey"), ("bin_array_bitmap", "u1024"), ("last_updated_at", "i64"), ("padding_2", pad(32)),
    ("pre_activation_swap_address", "pubkey"), ("base_key", "pubkey"), ("activation_point", "u64"),
    ("pre_activation_duration", "u64"), ("padding_3", pad(8)), ("padding_4", "u64"), ("creator", "pubkey"),
    ("token_mint_x_program_flag", "u8"), ("token_mint_y_program_flag", "u8"), ("version", "u8"),
    ("reserved", pad(21)),
)  # fmt: skip
@dataclass(frozen=True, slots=True)
class LbPair:
    """A DLMM pair. ``bin_array_bitmap`` is the 1024-bit bitmap as one integer: bit ``k + 512`` set means
    bin array ``k`` exists. Token program flags: 0 SPL Token, 1 Token-2022."""

    parameters: StaticParameters = field(default_factory=StaticParameters)
    v_parameters: VariableParameters = field(default_factory=VariableParameters)
    bump_seed: int = 0
    bin_step_seed: bytes = bytes(2)
    pair_type: int = 0
    active_id: int = 0
    bin_step: int = 10
    status: int = 0
    require_base_factor_seed: int = 0
    base_factor_seed: bytes = bytes(2)
    activation_type: int = 0
    creator_pool_on_off_control: int = 0
    token_x_mint: Pubkey = _ZERO_KEY
    token_y_mint: Pubkey = _ZERO_KEY
    reserve_x: Pubkey = _ZERO_KEY
    reserve_y: Pubkey = _ZERO_KEY
    protocol_fee_x: int = 0
    protocol_fee_y: int = 0
    padding_1: bytes = bytes(32)
    reward_infos: tuple[RewardInfo, RewardInfo] = (RewardInfo(), RewardInfo())
    oracle: Pubkey = _ZERO_KEY
    bin_array_bitmap: int = 0
    last_updated_at: int = 0
    padding_2: bytes = bytes(32)
    pre_activation_swap_address: Pubkey = _ZERO_KEY
    base_key: Pubkey = _ZERO_KEY
    activation_point: int = 0
    pre_activation_duration: int = 0
    padding_3: bytes = bytes(8)
    padding_4: int = 0
    creator: Pubkey = _ZERO_KEY
    token_mint_x_program_flag: int = 0
    token_mint_y_program_flag: int = 0
    version: int = 0
    reserved: bytes = bytes(21)

    @property
    def support_limit_order(self) -> bool:
        """Whether swaps fill limit orders too: by function type, or, undetermined, when no reward is set."""
        kind = self.parameters.function_type
        if kind == FUNCTION_LIMIT_ORDER:
            return True
        if kind == FUNCTION_LIQUIDITY_MINING:
            return False
        return kind == 0 and all(r.mint == _ZERO_KEY for r in self.reward_infos)

    def fee_on_input(self, swap_for_y: bool) -> bool:
        """Collect-fee mode 1 takes the fee in token Y: from the output selling X, from the input buying X."""
        return self.parameters.collect_fee_mode != 1 or not swap_for_y


def decode_lb_pair(data: bytes) -> LbPair:
    """An LbPair from its account data; raises :class:`MalformedAccount` on a wrong size or discriminator."""
    return decode_account(LbPair, data, LB_PAIR_DISCRIMINATOR, LB_PAIR_SIZE)


def encode_lb_pair(pair: LbPair) -> bytes:
    """The 904 bytes of ``pair``'s account, discriminator first."""
    return encode_account(pair, LB_PAIR_DISCRIMINATOR, LB_PAIR_SIZE)


# --- BinArray -------------------------------------------------------------------------------------


@layout(
    ("amount_x", "u64"), ("amount_y", "u64"), ("price", "u128"), ("liquidity_supply", "u128"),
    ("fulfilled_order_amount_x", "u64"), ("fulfilled_order_amount_y", "u64"), ("limit_order_fee_ask_side", "u64"),
    ("limit_order_fee_bid_side", "u64"), ("fee_amount_x_per_token_stored", "u128"),
    ("fee_amount_y_per_token_stored", "u128"), ("open_order_amount", "u64"), ("total_processing_order_amount", "u64"),
    ("processed_order_remaining_amount", "u64"), ("order_age", "u32"), ("limit_order_ask_side", "u8"),
    ("padding", pad(3)),
)  # fmt: skip
@dataclass(frozen=True, slots=True)
class Bin:
    """One price bin (144 bytes). ``price`` is Q64.64 raw Y per raw X; amounts are raw units."""

    amount_x: int = 0
    amount_y: int = 0
    price: int = 0
    liquidity_supply: int = 0
    fulfilled_order_amount_x: int = 0
    fulfilled_order_amount_y: int = 0
    limit_order_fee_ask_side: int = 0
    limit_order_fee_bid_side: int = 0
    fee_amount_x_per_token_stored: int = 0
    fee_amount_y_per_token_stored: int = 0
    open_order_amount: int = 0
    total_processing_order_amount: int = 0
    processed_order_remaining_amount: int = 0
    order_age: int = 0
    limit_order_ask_side: int = 0
    padding: bytes = bytes(3)


EMPTY_BIN = Bin()


@layout(
    ("index", "i64"), ("version", "u8"), ("padding", pad(7)), ("lb_pair", "pubkey"),
    ("bins", (BINS_PER_ARRAY, Bin)),
)  # fmt: skip
@dataclass(frozen=True, slots=True)
class BinArray:
    """70 consecutive bins of one pair: bin ``i`` has id ``index * 70 + i``."""

    index: int
    lb_pair: Pubkey
    bins: tuple[Bin, ...] = (EMPTY_BIN,) * BINS_PER_ARRAY
    version: int = 2
    padding: bytes = bytes(7)

    def __post_init__(self) -> None:
        if len(self.bins) != BINS_PER_ARRAY:
            raise ValueError(f"a bin array holds {BINS_PER_ARRAY} bins, got {len(self.bins)}")

    @property
    def lower_bin_id(self) -> int:
        return self.index * BINS_PER_ARRAY


def bin_array_index(bin_id: int) -> int:
    """The array holding ``bin_id``: ``floor(bin_id / 70)``, rounding down for negative ids."""
    return bin_id // BINS_PER_ARRAY


def check_bin_array(data: bytes, lb_pair: Pubkey, index: int) -> None:
    """Raise :class:`MalformedAccount` unless ``data`` is bin array ``index`` of ``lb_pair`` (header only)."""
    if len(data) != BIN_ARRAY_SIZE or bytes(data[:8]) != BIN_ARRAY_DISCRIMINATOR:
        raise MalformedAccount(f"bin array {index} of {lb_pair} is not a {BIN_ARRAY_SIZE}-byte BinArray account")
    (found,) = struct.unpack_from("<q", data, 8)
    owner = Pubkey.from_bytes(bytes(data[24:56]))
    if found != index or owner != lb_pair:
        raise MalformedAccount(f"bin array {index} of {lb_pair} holds array {found} of {owner}")


def decode_bin_array(data: bytes) -> BinArray:
    """A BinArray from its account data; raises :class:`MalformedAccount` on a wrong size or discriminator."""
    return decode_account(BinArray, data, BIN_ARRAY_DISCRIMINATOR, BIN_ARRAY_SIZE)


def encode_bin_array(array: BinArray) -> bytes:
    """The 10136 bytes of ``array``'s account, discriminator first."""
    return encode_account(array, BIN_ARRAY_DISCRIMINATOR, BIN_ARRAY_SIZE)


# --- BinArrayBitmapExtension ------------------------------------------------------------------------


@layout(
    ("lb_pair", "pubkey"), ("positive", (EXTENSION_WORDS, "u512")), ("negative", (EXTENSION_WORDS, "u512"))
)  # fmt: skip
@dataclass(frozen=True, slots=True)
class BitmapExtension:
    """Which bin arrays outside ``[-512, 511]`` exist. Word ``w`` (a 512-bit integer) of ``positive``
    covers arrays ``512 (w + 1) + b``; of ``negative``, arrays ``-(512 (w + 1) + b) - 1``."""

    lb_pair: Pubkey
    positive: tuple[int, ...] = (0,) * EXTENSION_WORDS
    negative: tuple[int, ...] = (0,) * EXTENSION_WORDS

    def __post_init__(self) -> None:
        if len(self.positive) != EXTENSION_WORDS or len(self.negative) != EXTENSION_WORDS:
            raise ValueError(f"a bitmap extension has {EXTENSION_WORDS} words per side")


def decode_bitmap_extension(data: bytes) -> BitmapExtension:
    return decode_account(BitmapExtension, data, BITMAP_EXTENSION_DISCRIMINATOR, BITMAP_EXTENSION_SIZE)


def encode_bitmap_extension(extension: BitmapExtension) -> bytes:
    return encode_account(extension, BITMAP_EXTENSION_DISCRIMINATOR, BITMAP_EXTENSION_SIZE)
