"""Byte layout of the Pool account a DAMM v2 quote reads, decoded and encoded. Pure: no I/O.

Pool is cp-amm's zero-copy Anchor account (``state/pool.rs``): the 8-byte discriminator, then 1104 bytes
packed with no padding between fields. Offsets below count the discriminator. A swap reads nothing else of
the program's (no config account): its fees, price range, liquidity and tracked reserves are all here.

- ``pool_fees`` at 8 (160 bytes): the base fee (32 bytes whose byte 8 is the mode: a fee time scheduler,
  linear or exponential; a rate limiter; a market-cap scheduler, linear or exponential), its padding, the
  protocol and referral percentages (48, 50), ``compounding_fee_bps`` (54), the dynamic fee (56, 96 bytes)
  and ``init_sqrt_price`` (152).
- Mints at 168 and 200 (what a search filters on), vaults 232 and 264, the whitelisted vault 296.
- ``liquidity`` u128 360, protocol fees accrued 392 and 400, ``sqrt_min_price`` 424, ``sqrt_max_price`` 440,
  ``sqrt_price`` 456 (Q64.64), ``activation_point`` 472, then one byte each from 480: activation type,
  pool status, token A and B flags (0 SPL Token, 1 Token-2022), collect fee mode, pool type, fee version.
- ``token_a_amount`` 680 and ``token_b_amount`` 688: the reserves the pool tracks (layout version 1, at 696).

Fields a quote never reads (fee and reward accumulators, metrics, paddings) are kept as bytes, so a real
account round-trips. The encoder exists so tests and local networks can build pools byte-exactly. A decoder
given bytes of the wrong size or kind raises :class:`~adapters.solana.errors.MalformedAccount`.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from solders.pubkey import Pubkey

from adapters.solana.accounts import require_size
from adapters.solana.errors import MalformedAccount

POOL_DISCRIMINATOR = bytes([241, 154, 109, 4, 17, 177, 109, 188])
POOL_LEN = 1112
TOKEN_A_MINT_OFFSET = 168
TOKEN_B_MINT_OFFSET = 200
BASE_FEE_LEN = 32


class BaseFeeMode(enum.IntEnum):
    """Byte 8 of the base fee: how the base fee numerator is found at swap time."""

    FEE_TIME_SCHEDULER_LINEAR = 0
    FEE_TIME_SCHEDULER_EXPONENTIAL = 1
    RATE_LIMITER = 2
    FEE_MARKET_CAP_SCHEDULER_LINEAR = 3
    FEE_MARKET_CAP_SCHEDULER_EXPONENTIAL = 4


class CollectFeeMode(enum.IntEnum):
    """Which token fees are taken in. ``COMPOUNDING`` pools are constant product on their tracked reserves
    (no price range); the other two are concentrated between ``sqrt_min_price`` and ``sqrt_max_price``."""

    BOTH_TOKEN = 0
    ONLY_B = 1
    COMPOUNDING = 2


class ActivationType(enum.IntEnum):
    """What ``activation_point`` counts: slots or unix seconds."""

    SLOT = 0
    TIMESTAMP = 1


POOL_STATUS_ENABLED = 0
NO_KEY = Pubkey.default()  # the all-zero key: no whitelisted vault, no creator

# cliff_fee_numerator, mode, 5 padding bytes, then the mode's own u16, u64 | u32 u32, u64.
_BASE_HEAD = struct.Struct("<QB5sH")
_SCHEDULER_TAIL = struct.Struct("<QQ")
_LIMITER_TAIL = struct.Struct("<IIQ")
_MARKET_CAP_TAIL = struct.Struct("<IIQ")


@dataclass(frozen=True, slots=True)
class FeeTimeScheduler:
    """Base fee by time since activation: ``period = (point - activation_point) // period_frequency``, capped
    at ``number_of_period``; linear ``cliff - period * reduction_factor``, exponential
    ``cliff * (1 - reduction_factor / 10000) ** period`` in Q64.64. A zero ``period_frequency`` is a flat fee."""

    cliff_fee_numerator: int
    mode: BaseFeeMode = BaseFeeMode.FEE_TIME_SCHEDULER_LINEAR
    number_of_period: int = 0
    period_frequency: int = 0
    reduction_factor: int = 0


@dataclass(frozen=True, slots=True)
class FeeRateLimiter:
    """Base fee growing with the size of a B-to-A swap for ``max_limiter_duration`` points after activation:
    ``cliff`` up to ``reference_amount``, then ``fee_increment_bps`` more per further ``reference_amount``,
    up to ``max_fee_bps``."""

    cliff_fee_numerator: int
    fee_increment_bps: int = 0
    max_limiter_duration: int = 0
    max_fee_bps: int = 0
    reference_amount: int = 0
    mode: BaseFeeMode = BaseFeeMode.RATE_LIMITER


@dataclass(frozen=True, slots=True)
class FeeMarketCapScheduler:
    """Base fee by how far the price rose since the pool began: ``period = (sqrt_price - init_sqrt_price) *
    10000 // init_sqrt_price // sqrt_price_step_bps``, capped; the lowest fee once
    ``scheduler_expiration_duration`` points have passed. Linear or exponential as the time scheduler."""

    cliff_fee_numerator: int
    mode: BaseFeeMode = BaseFeeMode.FEE_MARKET_CAP_SCHEDULER_LINEAR
    number_of_period: int = 0
    sqrt_price_step_bps: int = 0
    scheduler_expiration_duration: int = 0
    reduction_factor: int = 0


@dataclass(frozen=True, slots=True)
class UnknownBaseFee:
    """A base fee whose mode this code does not know (the program refuses to swap such a pool)."""

    data: bytes


BaseFee = FeeTimeScheduler | FeeRateLimiter | FeeMarketCapScheduler | UnknownBaseFee


def decode_base_fee(data: bytes) -> BaseFee:
    cliff, mode, _, u16 = _BASE_HEAD.unpack_from(data)
    if mode in (BaseFeeMode.FEE_TIME_SCHEDULER_LINEAR, BaseFeeMode.FEE_TIME_SCHEDULER_EXPONENTIAL):
        frequency, reduction = _SCHEDULER_TAIL.unpack_from(data, 16)
        return FeeTimeScheduler(cliff, BaseFeeMode(mode), u16, frequency, reduction)
    if mode == BaseFeeMode.RATE_LIMITER:
        duration, max_bps, reference = _LIMITER_TAIL.unpack_from(data, 16)
        return FeeRateLimiter(cliff, u16, duration, max_bps, reference)
    if mode in (BaseFeeMode.FEE_MARKET_CAP_SCHEDULER_LINEAR, BaseFeeMode.FEE_MARKET_CAP_SCHEDULER_EXPONENTIAL):
        step, expiration, reduction = _MARKET_CAP_TAIL.unpack_from(data, 16)
        return FeeMarketCapScheduler(cliff, BaseFeeMode(mode), u16, step, expiration, reduction)
    return UnknownBaseFee(bytes(data))


def encode_base_fee(fee: BaseFee) -> bytes:
    if isinstance(fee, UnknownBaseFee):
        return fee.data
    if isinstance(fee, FeeTimeScheduler):
        head = _BASE_HEAD.pack(fee.cliff_fee_numerator, fee.mode, bytes(5), fee.number_of_period)
        return head + _SCHEDULER_TAIL.pack(fee.period_frequency, fee.reduction_factor)
    if isinstance(fee, FeeRateLimiter):
        head = _BASE_HEAD.pack(fee.cliff_fee_numerator, fee.mode, bytes(5), fee.fee_increment_bps)
        return head + _LIMITER_TAIL.pack(fee.max_limiter_duration, fee.max_fee_bps, fee.reference_amount)
    head = _BASE_HEAD.pack(fee.cliff_fee_numerator, fee.mode, bytes(5), fee.number_of_period)
    return head + _MARKET_CAP_TAIL.pack(fee.sqrt_price_step_bps, fee.scheduler_expiration_duration,
                                        fee.reduction_factor)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DynamicFee:
    """The volatility fee (off unless ``initialized``). A swap pays ``ceil((volatility_accumulator * bin_step)
    ** 2 * variable_fee_control / 1e11)`` on top of the base fee, with the accumulator the last swap left."""

    initialized: int = 0
    max_volatility_accumulator: int = 0
    variable_fee_control: int = 0
    bin_step: int = 0
    filter_period: int = 0
    decay_period: int = 0
    reduction_factor: int = 0
    last_update_timestamp: int = 0
    bin_step_u128: int = 0
    sqrt_price_reference: int = 0
    volatility_accumulator: int = 0
    volatility_reference: int = 0

    @property
    def enabled(self) -> bool:
        return self.initialized != 0


@dataclass(frozen=True, slots=True)
class PoolFees:
    """``pool_fees``: the base fee, the protocol's percentage of every fee (of which ``referral_fee_percent``
    goes to a referral account when the swap names one), the share of LP fees compounded into the pool
    (basis points, compounding pools only), the dynamic fee and the price the market-cap scheduler counts from."""

    base_fee: BaseFee
    protocol_fee_percent: int = 20
    referral_fee_percent: int = 20
    compounding_fee_bps: int = 0
    dynamic_fee: DynamicFee = field(default_factory=DynamicFee)
    init_sqrt_price: int = 0
    base_fee_padding: int = 0


@dataclass(frozen=True, slots=True)
class Pool:
    """A DAMM v2 pool. Prices are Q64.64 square roots of token B per token A in raw units."""

    pool_fees: PoolFees
    token_a_mint: Pubkey
    token_b_mint: Pubkey
    token_a_vault: Pubkey
    token_b_vault: Pubkey
    liquidity: int
    sqrt_min_price: int
    sqrt_max_price: int
    sqrt_price: int
    activation_point: int = 0
    activation_type: int = ActivationType.TIMESTAMP
    pool_status: int = POOL_STATUS_ENABLED
    token_a_flag: int = 0
    token_b_flag: int = 0
    collect_fee_mode: int = CollectFeeMode.BOTH_TOKEN
    pool_type: int = 0
    fee_version: int = 0
    whitelisted_vault: Pubkey = NO_KEY
    protocol_a_fee: int = 0
    protocol_b_fee: int = 0
    creator: Pubkey = NO_KEY
    token_a_amount: int = 0
    token_b_amount: int = 0
    layout_version: int = 1
    fee_a_per_liquidity: int = 0
    fee_b_per_liquidity: int = 0
    permanent_lock_liquidity: int = 0
    metrics: bytes = bytes(80)
    reward_infos: bytes = bytes(384)
    paddings: bytes = field(default=bytes(107), repr=False)  # every padding field, in order

    @property
    def swap_enabled(self) -> bool:
        return self.pool_status == POOL_STATUS_ENABLED

    @property
    def compounding(self) -> bool:
        return self.collect_fee_mode == CollectFeeMode.COMPOUNDING


_POOL = struct.Struct(
    "<8s"
    "32sQ"
    "B1sB3sH"  # base fee, its padding; protocol %, padding, referral %, padding, compounding bps
    "B7sIIHHHHQ16s16s16s16s"  # the dynamic fee
    "16s"  # init_sqrt_price
    "32s32s32s32s32s32s"  # mints, vaults, whitelisted vault, padding_0
    "16s16sQQ16s16s16s16s"  # liquidity, padding_1, protocol fees, padding_2, sqrt min / max / current
    "QBBBBBBBs"  # activation point, seven flags, padding_3
    "32s32s16s80s32sQQB7s24s384s"
)
assert _POOL.size == POOL_LEN
_PADDING_SIZES = (1, 3, 7, 32, 16, 16, 1, 7, 24)  # the paddings after the dynamic fee's, in order


def _u128(raw: bytes) -> int:
    return int.from_bytes(raw, "little")


def _b128(value: int) -> bytes:
    return value.to_bytes(16, "little")


def decode_pool(data: bytes) -> Pool:
    require_size(data, POOL_LEN, "Pool")
    f = _POOL.unpack(data)
    if f[0] != POOL_DISCRIMINATOR:
        raise MalformedAccount("Pool: wrong discriminator")
    dynamic = DynamicFee(
        initialized=f[8], max_volatility_accumulator=f[10], variable_fee_control=f[11], bin_step=f[12],
        filter_period=f[13], decay_period=f[14], reduction_factor=f[15], last_update_timestamp=f[16],
        bin_step_u128=_u128(f[17]), sqrt_price_reference=_u128(f[18]), volatility_accumulator=_u128(f[19]),
        volatility_reference=_u128(f[20]),
    )  # fmt: skip
    fees = PoolFees(
        base_fee=decode_base_fee(f[1]), protocol_fee_percent=f[3], referral_fee_percent=f[5],
        compounding_fee_bps=f[7], dynamic_fee=dynamic, init_sqrt_price=_u128(f[21]), base_fee_padding=f[2],
    )  # fmt: skip
    keys = [Pubkey.from_bytes(raw) for raw in f[22:27]]
    return Pool(
        pool_fees=fees, token_a_mint=keys[0], token_b_mint=keys[1], token_a_vault=keys[2], token_b_vault=keys[3],
        whitelisted_vault=keys[4], liquidity=_u128(f[28]), protocol_a_fee=f[30], protocol_b_fee=f[31],
        sqrt_min_price=_u128(f[33]), sqrt_max_price=_u128(f[34]), sqrt_price=_u128(f[35]), activation_point=f[36],
        activation_type=f[37], pool_status=f[38], token_a_flag=f[39], token_b_flag=f[40], collect_fee_mode=f[41],
        pool_type=f[42], fee_version=f[43], fee_a_per_liquidity=int.from_bytes(f[45], "little"),
        fee_b_per_liquidity=int.from_bytes(f[46], "little"), permanent_lock_liquidity=_u128(f[47]), metrics=f[48],
        creator=Pubkey.from_bytes(f[49]), token_a_amount=f[50], token_b_amount=f[51], layout_version=f[52],
        reward_infos=f[55], paddings=b"".join((f[4], f[6], f[9], f[27], f[29], f[32], f[44], f[53], f[54])),
    )  # fmt: skip


def encode_pool(pool: Pool) -> bytes:
    if len(pool.paddings) != sum(_PADDING_SIZES):
        raise ValueError(f"Pool paddings are {sum(_PADDING_SIZES)} bytes, got {len(pool.paddings)}")
    pads, at = [], 0
    for size in _PADDING_SIZES:
        pads.append(pool.paddings[at : at + size])
        at += size
    fees, dynamic = pool.pool_fees, pool.pool_fees.dynamic_fee
    return _POOL.pack(
        POOL_DISCRIMINATOR,
        encode_base_fee(fees.base_fee), fees.base_fee_padding,
        fees.protocol_fee_percent, pads[0], fees.referral_fee_percent, pads[1], fees.compounding_fee_bps,
        dynamic.initialized, pads[2], dynamic.max_volatility_accumulator, dynamic.variable_fee_control,
        dynamic.bin_step, dynamic.filter_period, dynamic.decay_period, dynamic.reduction_factor,
        dynamic.last_update_timestamp, _b128(dynamic.bin_step_u128), _b128(dynamic.sqrt_price_reference),
        _b128(dynamic.volatility_accumulator), _b128(dynamic.volatility_reference),
        _b128(fees.init_sqrt_price),
        bytes(pool.token_a_mint), bytes(pool.token_b_mint), bytes(pool.token_a_vault), bytes(pool.token_b_vault),
        bytes(pool.whitelisted_vault), pads[3],
        _b128(pool.liquidity), pads[4], pool.protocol_a_fee, pool.protocol_b_fee, pads[5],
        _b128(pool.sqrt_min_price), _b128(pool.sqrt_max_price), _b128(pool.sqrt_price),
        pool.activation_point, pool.activation_type, pool.pool_status, pool.token_a_flag, pool.token_b_flag,
        pool.collect_fee_mode, pool.pool_type, pool.fee_version, pads[6],
        pool.fee_a_per_liquidity.to_bytes(32, "little"), pool.fee_b_per_liquidity.to_bytes(32, "little"),
        _b128(pool.permanent_lock_liquidity), pool.metrics, bytes(pool.creator), pool.token_a_amount,
        pool.token_b_amount, pool.layout_version, pads[7], pads[8], pool.reward_infos,
    )  # fmt: skip
