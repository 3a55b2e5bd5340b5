"""Byte layouts of the accounts a CPMM quote reads, decoded and encoded. Pure: no I/O.

PoolState and AmmConfig are Anchor accounts (an 8-byte discriminator first); offsets below count it.
Encoders exist so tests and local networks can build accounts byte-exactly. A decoder given bytes of the
wrong size or kind raises :class:`MalformedAccount`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from solders.pubkey import Pubkey

from kernel.errors import FatalError

POOL_STATE_DISCRIMINATOR = bytes([247, 237, 227, 245, 215, 195, 222, 70])
AMM_CONFIG_DISCRIMINATOR = bytes([218, 244, 33, 104, 203, 203, 43, 111])
OBSERVATION_STATE_DISCRIMINATOR = bytes([122, 174, 197, 53, 129, 9, 165, 132])
POOL_STATE_LEN = 637
AMM_CONFIG_LEN = 236
OBSERVATION_STATE_LEN = 4075
TOKEN_0_MINT_OFFSET = 168
TOKEN_1_MINT_OFFSET = 200
# Status bit values: 1 disables deposits, 2 withdrawals, 4 swaps.
STATUS_SWAP_DISABLED = 4

TOKEN_ACCOUNT_LEN = 165
TOKEN_ACCOUNT_AMOUNT_OFFSET = 64
MINT_LEN = 82
# Token-2022: a mint with extensions is padded to the token account size, then an account-type byte, then
# type-length-value extension entries (u16 type, u16 length).
_ACCOUNT_TYPE_OFFSET = TOKEN_ACCOUNT_LEN
_ACCOUNT_TYPE_MINT = 1
_EXTENSIONS_OFFSET = TOKEN_ACCOUNT_LEN + 1
_EXTENSION_TRANSFER_FEE_CONFIG = 1
_TRANSFER_FEE_CONFIG_LEN = 108
MAX_FEE_BASIS_POINTS = 10_000
CLOCK_LEN = 40

_POOL = struct.Struct("<8s" + "32s" * 10 + "5B" + "7Q" + "B?6s" + "2Q" + "224s")
_CONFIG = struct.Struct("<8sB?H4Q32s32sQ120s")
_MINT = struct.Struct("<I32sQB?I32s")
_TOKEN_ACCOUNT = struct.Struct("<32s32sQI32sBIQQI32s")
_TRANSFER_FEE = struct.Struct("<QQH")
_CLOCK = struct.Struct("<QqQQq")
assert _POOL.size == POOL_STATE_LEN and _CONFIG.size == AMM_CONFIG_LEN
assert _MINT.size == MINT_LEN and _TOKEN_ACCOUNT.size == TOKEN_ACCOUNT_LEN


class MalformedAccount(FatalError):
    """An account's bytes are not what the address promised (wrong size, discriminator or owner)."""

    code = "malformed_account"


def _require(data: bytes, size: int, what: str, *, exact: bool = True) -> None:
    if len(data) < size or (exact and len(data) != size):
        raise MalformedAccount(f"{what}: expected {size} bytes, got {len(data)}")


# --- PoolState -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolState:
    """A CPMM pool. ``status`` bit value 4 disables swaps; fees accrued for the protocol, the fund and the
    creator sit in the vaults until collected, so they are not liquidity. ``creator_fee_on``: 0 either
    token, 1 token 0 only, 2 token 1 only (pools created before August 2025 hold zeros there)."""

    amm_config: Pubkey
    pool_creator: Pubkey
    token_0_vault: Pubkey
    token_1_vault: Pubkey
    lp_mint: Pubkey
    token_0_mint: Pubkey
    token_1_mint: Pubkey
    token_0_program: Pubkey
    token_1_program: Pubkey
    observation_key: Pubkey
    auth_bump: int
    status: int
    lp_mint_decimals: int
    mint_0_decimals: int
    mint_1_decimals: int
    lp_supply: int
    protocol_fees_token_0: int
    protocol_fees_token_1: int
    fund_fees_token_0: int
    fund_fees_token_1: int
    open_time: int
    recent_epoch: int
    creator_fee_on: int = 0
    enable_creator_fee: bool = False
    creator_fees_token_0: int = 0
    creator_fees_token_1: int = 0

    @property
    def swap_enabled(self) -> bool:
        return not self.status & STATUS_SWAP_DISABLED

    @property
    def accrued_fees_token_0(self) -> int:
        """Token 0 in the vault that belongs to the protocol, the fund and the creator."""
        return self.protocol_fees_token_0 + self.fund_fees_token_0 + self.creator_fees_token_0

    @property
    def accrued_fees_token_1(self) -> int:
        return self.protocol_fees_token_1 + self.fund_fees_token_1 + self.creator_fees_token_1


def decode_pool_state(data: bytes) -> PoolState:
    _require(data, POOL_STATE_LEN, "PoolState")
    f = _POOL.unpack(data)
    if f[0] != POOL_STATE_DISCRIMINATOR:
        raise MalformedAccount("PoolState: wrong discriminator")
    k = [Pubkey.from_bytes(raw) for raw in f[1:11]]
    return PoolState(
        amm_config=k[0], pool_creator=k[1], token_0_vault=k[2], token_1_vault=k[3], lp_mint=k[4],
        token_0_mint=k[5], token_1_mint=k[6], token_0_program=k[7], token_1_program=k[8], observation_key=k[9],
        auth_bump=f[11], status=f[12], lp_mint_decimals=f[13], mint_0_decimals=f[14], mint_1_decimals=f[15],
        lp_supply=f[16], protocol_fees_token_0=f[17], protocol_fees_token_1=f[18], fund_fees_token_0=f[19],
        fund_fees_token_1=f[20], open_time=f[21], recent_epoch=f[22], creator_fee_on=f[23],
        enable_creator_fee=f[24], creator_fees_token_0=f[26], creator_fees_token_1=f[27],
    )  # fmt: skip


def encode_pool_state(pool: PoolState) -> bytes:
    keys = (
        pool.amm_config, pool.pool_creator, pool.token_0_vault, pool.token_1_vault, pool.lp_mint,
        pool.token_0_mint, pool.token_1_mint, pool.token_0_program, pool.token_1_program, pool.observation_key,
    )  # fmt: skip
    return _POOL.pack(
        POOL_STATE_DISCRIMINATOR,
        *(bytes(k) for k in keys),
        pool.auth_bump,
        pool.status,
        pool.lp_mint_decimals,
        pool.mint_0_decimals,
        pool.mint_1_decimals,
        pool.lp_supply,
        pool.protocol_fees_token_0,
        pool.protocol_fees_token_1,
        pool.fund_fees_token_0,
        pool.fund_fees_token_1,
        pool.open_time,
        pool.recent_epoch,
        pool.creator_fee_on,
        pool.enable_creator_fee,
        bytes(6),
        pool.creator_fees_token_0,
        pool.creator_fees_token_1,
        bytes(224),
    )


# --- AmmConfig -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AmmConfig:
    """A fee tier. Rates are parts per million: ``trade_fee_rate`` of the trade; ``protocol_fee_rate`` and
    ``fund_fee_rate`` of the trade fee; ``creator_fee_rate`` of the trade, charged when a pool enables it."""

    bump: int
    disable_create_pool: bool
    index: int
    trade_fee_rate: int
    protocol_fee_rate: int
    fund_fee_rate: int
    create_pool_fee: int
    protocol_owner: Pubkey
    fund_owner: Pubkey
    creator_fee_rate: int = 0


def decode_amm_config(data: bytes) -> AmmConfig:
    _require(data, AMM_CONFIG_LEN, "AmmConfig")
    f = _CONFIG.unpack(data)
    if f[0] != AMM_CONFIG_DISCRIMINATOR:
        raise MalformedAccount("AmmConfig: wrong discriminator")
    return AmmConfig(
        bump=f[1], disable_create_pool=f[2], index=f[3], trade_fee_rate=f[4], protocol_fee_rate=f[5],
        fund_fee_rate=f[6], create_pool_fee=f[7], protocol_owner=Pubkey.from_bytes(f[8]),
        fund_owner=Pubkey.from_bytes(f[9]), creator_fee_rate=f[10],
    )  # fmt: skip


def encode_amm_config(config: AmmConfig) -> bytes:
    return _CONFIG.pack(
        AMM_CONFIG_DISCRIMINATOR,
        config.bump,
        config.disable_create_pool,
        config.index,
        config.trade_fee_rate,
        config.protocol_fee_rate,
        config.fund_fee_rate,
        config.create_pool_fee,
        bytes(config.protocol_owner),
        bytes(config.fund_owner),
        config.creator_fee_rate,
        bytes(120),
    )


# --- ObservationState (only encoded: quotes never read it) ---------------------------------------------


def encode_observation_state(pool: Pubkey) -> bytes:
    """A fresh, uninitialised oracle account for ``pool``: the program initialises it on the first swap."""
    data = OBSERVATION_STATE_DISCRIMINATOR + struct.pack("<?H32s", False, 0, bytes(pool))
    return data + bytes(OBSERVATION_STATE_LEN - len(data))


# --- SPL token accounts and mints ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenAccount:
    """The parts of an SPL token account a quote needs."""

    mint: Pubkey
    owner: Pubkey
    amount: int


def decode_token_account(data: bytes) -> TokenAccount:
    """A classic or Token-2022 token account (the latter may carry extensions past byte 165)."""
    _require(data, TOKEN_ACCOUNT_LEN, "token account", exact=False)
    (amount,) = struct.unpack_from("<Q", data, TOKEN_ACCOUNT_AMOUNT_OFFSET)
    return TokenAccount(Pubkey.from_bytes(data[0:32]), Pubkey.from_bytes(data[32:64]), amount)


def encode_token_account(mint: Pubkey, owner: Pubkey, amount: int, *, native_reserve: int | None = None) -> bytes:
    """An initialised 165-byte token account, no delegate or close authority. ``native_reserve`` (the rent
    reserve) marks a wrapped-SOL account, whose lamports must then be ``native_reserve + amount``."""
    native = (1, native_reserve) if native_reserve is not None else (0, 0)
    return _TOKEN_ACCOUNT.pack(bytes(mint), bytes(owner), amount, 0, bytes(32), 1, *native, 0, 0, bytes(32))


@dataclass(frozen=True, slots=True)
class TransferFee:
    """One epoch's Token-2022 transfer fee: ``min(ceil(amount * bps / 10000), maximum_fee)``."""

    epoch: int
    maximum_fee: int
    basis_points: int

    def fee(self, amount: int) -> int:
        if self.basis_points == 0 or amount == 0:
            return 0
        return min(-(-amount * self.basis_points // MAX_FEE_BASIS_POINTS), self.maximum_fee)


@dataclass(frozen=True, slots=True)
class TransferFeeConfig:
    """The TransferFeeConfig extension: the newer fee applies from its epoch on, the older one before."""

    older: TransferFee
    newer: TransferFee
    config_authority: Pubkey | None = None
    withdraw_withheld_authority: Pubkey | None = None
    withheld_amount: int = 0

    def at(self, epoch: int) -> TransferFee:
        return self.newer if epoch >= self.newer.epoch else self.older

    def fee(self, amount: int, epoch: int) -> int:
        return self.at(epoch).fee(amount)


@dataclass(frozen=True, slots=True)
class Mint:
    """An SPL mint's decimals and supply, and its transfer fee when it is a Token-2022 mint with one."""

    decimals: int
    supply: int
    transfer_fee: TransferFeeConfig | None = None


def _optional_key(raw: bytes) -> Pubkey | None:
    return None if raw == bytes(32) else Pubkey.from_bytes(raw)


def decode_mint(data: bytes) -> Mint:
    _require(data, MINT_LEN, "mint", exact=False)
    _, _, supply, decimals, initialized, _, _ = _MINT.unpack_from(data)
    if not initialized:
        raise MalformedAccount("mint: not initialised")
    if len(data) == MINT_LEN:
        return Mint(decimals, supply)
    if len(data) <= _EXTENSIONS_OFFSET or data[_ACCOUNT_TYPE_OFFSET] != _ACCOUNT_TYPE_MINT:
        raise MalformedAccount(f"mint: {len(data)} bytes but no Token-2022 mint extensions")
    return Mint(decimals, supply, _transfer_fee_config(data))


def _transfer_fee_config(data: bytes) -> TransferFeeConfig | None:
    offset = _EXTENSIONS_OFFSET
    while offset + 4 <= len(data):
        kind, length = struct.unpack_from("<HH", data, offset)
        offset += 4
        if kind == 0:  # Uninitialized: the rest is padding
            return None
        if offset + length > len(data):
            raise MalformedAccount("mint: an extension runs past the end of the account")
        if kind == _EXTENSION_TRANSFER_FEE_CONFIG:
            if length != _TRANSFER_FEE_CONFIG_LEN:
                raise MalformedAccount(f"mint: TransferFeeConfig of {length} bytes")
            body = data[offset : offset + length]
            (withheld,) = struct.unpack_from("<Q", body, 64)
            older = TransferFee(*_TRANSFER_FEE.unpack_from(body, 72))
            newer = TransferFee(*_TRANSFER_FEE.unpack_from(body, 72 + _TRANSFER_FEE.size))
            return TransferFeeConfig(older, newer, _optional_key(body[0:32]), _optional_key(body[32:64]), withheld)
        offset += length
    return None


def encode_mint(
    decimals: int,
    supply: int = 0,
    *,
    mint_authority: Pubkey | None = None,
    freeze_authority: Pubkey | None = None,
    transfer_fee: TransferFeeConfig | None = None,
) -> bytes:
    """An initialised mint: 82 bytes, or with ``transfer_fee`` a Token-2022 mint carrying that extension."""

    def option(key: Pubkey | None) -> tuple[int, bytes]:
        return (1, bytes(key)) if key is not None else (0, bytes(32))

    data = _MINT.pack(*option(mint_authority), supply, decimals, True, *option(freeze_authority))
    if transfer_fee is None:
        return data
    fee = transfer_fee
    body = (
        bytes(fee.config_authority or bytes(32))
        + bytes(fee.withdraw_withheld_authority or bytes(32))
        + struct.pack("<Q", fee.withheld_amount)
        + _TRANSFER_FEE.pack(fee.older.epoch, fee.older.maximum_fee, fee.older.basis_points)
        + _TRANSFER_FEE.pack(fee.newer.epoch, fee.newer.maximum_fee, fee.newer.basis_points)
    )
    header = struct.pack("<HH", _EXTENSION_TRANSFER_FEE_CONFIG, len(body))
    return data + bytes(TOKEN_ACCOUNT_LEN - MINT_LEN) + bytes([_ACCOUNT_TYPE_MINT]) + header + body


# --- the Clock sysvar ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clock:
    """The cluster clock: Token-2022 fees follow ``epoch``; a pool opens at ``unix_timestamp >= open_time``."""

    slot: int
    epoch: int
    unix_timestamp: int


def decode_clock(data: bytes) -> Clock:
    _require(data, CLOCK_LEN, "Clock sysvar")
    slot, _, epoch, _, unix_timestamp = _CLOCK.unpack(data)
    return Clock(slot, epoch, unix_timestamp)


def encode_clock(clock: Clock) -> bytes:
    return _CLOCK.pack(clock.slot, clock.unix_timestamp, clock.epoch, clock.epoch, clock.unix_timestamp)
