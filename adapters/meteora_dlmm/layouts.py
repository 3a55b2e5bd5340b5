"""Meteora DLMM (lb_clmm) account layouts: decoders and encoders, byte-exact. Pure: no I/O.

Offsets count the 8-byte Anchor discriminator. Every field of the program's IDL (0.12) is kept, padding
included, so ``encode(decode(data)) == data`` for a real account, and tests and local networks can build
accounts the program would accept. Quoting reads bins through the ``meteora-dlmm`` package
(:func:`pool_state`); the rest of an LbPair (reserves, oracle, bitmap, status) is read here.

- LbPair: 904 bytes. BinArray: 10136 bytes, 70 bins of 144 from offset 56; bin ``i`` of array ``k``
  has id ``70k + i``. BinArrayBitmapExtension: 1576 bytes, bitmaps of arrays outside ``[-512, 511]``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from meteora_dlmm import DecodeError, PoolState, TransferFee
from solders.pubkey import Pubkey

from kernel.errors import FatalError

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
T = TypeVar("T")


class LayoutError(FatalError):
    """Bytes that are not the account they were read as: wrong owner, size or discriminator."""


# --- a declarative codec: each struct is a list of (field, kind) in layout order ----------------------

# An integer kind is (size in bytes, signed); "pubkey" is 32 bytes; ("bytes", n) is raw padding; a struct
# class nests its own layout; (count, kind) repeats a kind.
_INTS: dict[str, tuple[int, bool]] = {
    "u8": (1, False), "u16": (2, False), "u32": (4, False), "i32": (4, True), "u64": (8, False),
    "i64": (8, True), "u128": (16, False), "u512": (64, False), "u1024": (128, False),
}  # fmt: skip
Kind = Any
_LAYOUTS: dict[type, tuple[tuple[str, Kind], ...]] = {}


def _layout(*fields: tuple[str, Kind]) -> Callable[[type[T]], type[T]]:
    def register(cls: type[T]) -> type[T]:
        _LAYOUTS[cls] = fields
        return cls

    return register


def _read(data: bytes, at: int, kind: Kind) -> tuple[Any, int]:
    if isinstance(kind, str):
        if kind == "pubkey":
            return Pubkey.from_bytes(data[at : at + 32]), at + 32
        size, signed = _INTS[kind]
        return int.from_bytes(data[at : at + size], "little", signed=signed), at + size
    if isinstance(kind, type):
        values: dict[str, Any] = {}
        for name, field_kind in _LAYOUTS[kind]:
            values[name], at = _read(data, at, field_kind)
        return kind(**values), at
    count, inner = kind
    if count == "bytes":
        return bytes(data[at : at + inner]), at + inner
    items = []
    for _ in range(count):
        item, at = _read(data, at, inner)
        items.append(item)
    return tuple(items), at


def _write(parts: list[bytes], value: Any, kind: Kind) -> None:
    if isinstance(kind, str):
        if kind == "pubkey":
            parts.append(bytes(value))
        else:
            size, signed = _INTS[kind]
            parts.append(int(value).to_bytes(size, "little", signed=signed))
    elif isinstance(kind, type):
        for name, field_kind in _LAYOUTS[kind]:
            _write(parts, getattr(value, name), field_kind)
    elif kind[0] == "bytes":
        if len(value) != kind[1]:
            raise ValueError(f"expected {kind[1]} bytes, got {len(value)}")
        parts.append(bytes(value))
    else:
        if len(value) != kind[0]:
            raise ValueError(f"expected {kind[0]} items, got {len(value)}")
        for item in value:
            _write(parts, item, kind[1])


def _decode(cls: type[T], data: bytes, discriminator: bytes, size: int) -> T:
    name = cls.__name__
    if len(data) != size:
        raise LayoutError(f"{name} account must be {size} bytes, got {len(data)}")
    if bytes(data[:8]) != discriminator:
        raise LayoutError(f"not a {name} account: discriminator {list(data[:8])}")
    value, end = _read(bytes(data), 8, cls)
    if end != size:  # a layout bug, not bad input
        raise AssertionError(f"the {name} layout covers {end} of {size} bytes")
    decoded: T = value
    return decoded


def _encode(value: object, discriminator: bytes, size: int) -> bytes:
    parts = [discriminator]
    _write(parts, value, type(value))
    data = b"".join(parts)
    if len(data) != size:  # a layout bug, not bad input
        raise AssertionError(f"encoded {len(data)} bytes, the layout has {size}")
    return data


def _padding(size: int) -> tuple[str, int]:
    return ("bytes", size)


# --- LbPair ---------------------------------------------------------------------------------------


@_layout(
    ("base_factor", "u16"), ("filter_period", "u16"), ("decay_period", "u16"), ("reduction_factor", "u16"),
    ("variable_fee_control", "u32"), ("max_volatility_accumulator", "u32"), ("min_bin_id", "i32"),
    ("max_bin_id", "i32"), ("protocol_share", "u16"), ("base_fee_power_factor", "u8"), ("function_type", "u8"),
    ("collect_fee_mode", "u8"), ("padding", _padding(3)),
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


@_layout(
    ("volatility_accumulator", "u32"), ("volatility_reference", "u32"), ("index_reference", "i32"),
    ("padding", _padding(4)), ("last_update_timestamp", "i64"), ("padding_1", _padding(8)),
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


@_layout(
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


@_layout(
    ("parameters", StaticParameters), ("v_parameters", VariableParameters), ("bump_seed", "u8"),
    ("bin_step_seed", _padding(2)), ("pair_type", "u8"), ("active_id", "i32"), ("bin_step", "u16"),
    ("status", "u8"), ("require_base_factor_seed", "u8"), ("base_factor_seed", _padding(2)),
    ("activation_type", "u8"), ("creator_pool_on_off_control", "u8"), ("token_x_mint", "pubkey"),
    ("token_y_mint", "pubkey"), ("reserve_x", "pubkey"), ("reserve_y", "pubkey"), ("protocol_fee_x", "u64"),
    ("protocol_fee_y", "u64"), ("padding_1", _padding(32)), ("reward_infos", (2, RewardInfo)),
    ("oracle", "pubkey"), ("bin_array_bitmap", "u1024"), ("last_updated_at", "i64"), ("padding_2", _padding(32)),
    ("pre_activation_swap_address", "pubkey"), ("base_key", "pubkey"), ("activation_point", "u64"),
    ("pre_activation_duration", "u64"), ("padding_3", _padding(8)), ("padding_4", "u64"), ("creator", "pubkey"),
    ("token_mint_x_program_flag", "u8"), ("token_mint_y_program_flag", "u8"), ("version", "u8"),
    ("reserved", _padding(21)),
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
    """An LbPair from its account data; raises :class:`LayoutError` on a wrong size or discriminator."""
    return _decode(LbPair, data, LB_PAIR_DISCRIMINATOR, LB_PAIR_SIZE)


def encode_lb_pair(pair: LbPair) -> bytes:
    """The 904 bytes of ``pair``'s account, discriminator first."""
    return _encode(pair, LB_PAIR_DISCRIMINATOR, LB_PAIR_SIZE)


# --- BinArray -------------------------------------------------------------------------------------


@_layout(
    ("amount_x", "u64"), ("amount_y", "u64"), ("price", "u128"), ("liquidity_supply", "u128"),
    ("fulfilled_order_amount_x", "u64"), ("fulfilled_order_amount_y", "u64"), ("limit_order_fee_ask_side", "u64"),
    ("limit_order_fee_bid_side", "u64"), ("fee_amount_x_per_token_stored", "u128"),
    ("fee_amount_y_per_token_stored", "u128"), ("open_order_amount", "u64"), ("total_processing_order_amount", "u64"),
    ("processed_order_remaining_amount", "u64"), ("order_age", "u32"), ("limit_order_ask_side", "u8"),
    ("padding", _padding(3)),
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


@_layout(
    ("index", "i64"), ("version", "u8"), ("padding", _padding(7)), ("lb_pair", "pubkey"),
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
    """Raise :class:`LayoutError` unless ``data`` is bin array ``index`` of ``lb_pair`` (header only)."""
    if len(data) != BIN_ARRAY_SIZE or bytes(data[:8]) != BIN_ARRAY_DISCRIMINATOR:
        raise LayoutError(f"bin array {index} of {lb_pair} is not a {BIN_ARRAY_SIZE}-byte BinArray account")
    (found,) = struct.unpack_from("<q", data, 8)
    owner = Pubkey.from_bytes(bytes(data[24:56]))
    if found != index or owner != lb_pair:
        raise LayoutError(f"bin array {index} of {lb_pair} holds array {found} of {owner}")


def decode_bin_array(data: bytes) -> BinArray:
    """A BinArray from its account data; raises :class:`LayoutError` on a wrong size or discriminator."""
    return _decode(BinArray, data, BIN_ARRAY_DISCRIMINATOR, BIN_ARRAY_SIZE)


def encode_bin_array(array: BinArray) -> bytes:
    """The 10136 bytes of ``array``'s account, discriminator first."""
    return _encode(array, BIN_ARRAY_DISCRIMINATOR, BIN_ARRAY_SIZE)


# --- BinArrayBitmapExtension ------------------------------------------------------------------------


@_layout(
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
    return _decode(BitmapExtension, data, BITMAP_EXTENSION_DISCRIMINATOR, BITMAP_EXTENSION_SIZE)


def encode_bitmap_extension(extension: BitmapExtension) -> bytes:
    return _encode(extension, BITMAP_EXTENSION_DISCRIMINATOR, BITMAP_EXTENSION_SIZE)


# --- the Clock sysvar -----------------------------------------------------------------------------

CLOCK_SYSVAR = Pubkey.from_string("SysvarC1ock11111111111111111111111111111111")


@dataclass(frozen=True, slots=True)
class ChainClock:
    """What a swap's fee, activation and transfer-fee checks read from the Clock sysvar."""

    slot: int
    unix_timestamp: int
    epoch: int = 0


def decode_clock(data: bytes) -> ChainClock:
    """The Clock sysvar: slot u64, epoch start i64, epoch u64, leader schedule epoch u64, unix time i64."""
    if len(data) < 40:
        raise LayoutError(f"Clock sysvar must be 40 bytes, got {len(data)}")
    slot, _, epoch, _, unix_timestamp = struct.unpack_from("<QqQQq", data, 0)
    return ChainClock(slot, unix_timestamp, epoch)


# --- Token-2022 transfer fees ----------------------------------------------------------------------

_MINT_TLV_START = 166  # 82 bytes of mint, padding to 165, the account type byte
_TRANSFER_FEE_CONFIG = 1


def transfer_fee_at(mint: bytes, epoch: int) -> TransferFee | None:
    """The transfer fee a Token-2022 mint charges in ``epoch``: its newer fee from the newer fee's epoch on,
    the older one before (the ``meteora-dlmm`` package always reads the newer). None without the extension."""
    at = _MINT_TLV_START
    while at + 4 <= len(mint):
        kind, length = struct.unpack_from("<HH", mint, at)
        if kind == 0 and length == 0:
            break
        if kind == _TRANSFER_FEE_CONFIG and length >= 108:
            # authority, withdraw authority, withheld amount; then older and newer (epoch, max fee, bps)
            older = struct.unpack_from("<QQH", mint, at + 4 + 72)
            newer = struct.unpack_from("<QQH", mint, at + 4 + 90)
            _, maximum, bps = newer if epoch >= newer[0] else older
            return TransferFee(basis_points=bps, max_fee=maximum)
        at += 4 + length
    return None


# --- the meteora-dlmm package's view ---------------------------------------------------------------


def pool_state(lb_pair: bytes, bin_arrays: list[bytes], lb_pair_key: Pubkey | None = None) -> PoolState:
    """The ``meteora-dlmm`` package's decoding of a pair and some of its bin arrays (decimals unused)."""
    key = bytes(lb_pair_key) if lb_pair_key is not None else None
    try:
        state: PoolState = _from_accounts(lb_pair, bin_arrays, 0, 0, lb_pair_key=key)
    except DecodeError as exc:
        raise LayoutError(f"meteora-dlmm cannot read the pool: {exc}") from exc
    return state


_from_accounts: Any = PoolState.from_accounts
