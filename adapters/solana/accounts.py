"""The Solana accounts every on-chain DEX reads besides its own: SPL token accounts, mints (with the
Token-2022 transfer fee), and the Clock sysvar. Decoders and encoders, byte-exact. Pure: no I/O.

Encoders exist so tests and local networks can build accounts byte-exactly. A decoder given bytes of the
wrong size or kind raises :class:`~adapters.solana.errors.MalformedAccount`; :func:`read_clock` and
:func:`read_mint` also check who owns the account.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from solders.account import Account
from solders.pubkey import Pubkey

from adapters.solana.errors import MalformedAccount
from adapters.solana.spl import TOKEN_PROGRAMS
from kernel.money import ceil_div

CLOCK_SYSVAR = Pubkey.from_string("SysvarC1ock11111111111111111111111111111111")
SYSVAR_OWNER = Pubkey.from_string("Sysvar1111111111111111111111111111111111111")

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

_MINT = struct.Struct("<I32sQB?I32s")
_TOKEN_ACCOUNT = struct.Struct("<32s32sQI32sBIQQI32s")
_TRANSFER_FEE = struct.Struct("<QQH")
_CLOCK = struct.Struct("<QqQQq")
assert _MINT.size == MINT_LEN and _TOKEN_ACCOUNT.size == TOKEN_ACCOUNT_LEN


def require_size(data: bytes, size: int, what: str, *, exact: bool = True) -> None:
    """Raise :class:`MalformedAccount` unless ``data`` is ``size`` bytes (at least ``size`` if not ``exact``)."""
    if len(data) < size or (exact and len(data) != size):
        raise MalformedAccount(f"{what}: expected {size} bytes, got {len(data)}")


# --- SPL token accounts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenAccount:
    """The parts of an SPL token account a quote needs."""

    mint: Pubkey
    owner: Pubkey
    amount: int


def decode_token_account(data: bytes) -> TokenAccount:
    """A classic or Token-2022 token account (the latter may carry extensions past byte 165)."""
    require_size(data, TOKEN_ACCOUNT_LEN, "token account", exact=False)
    (amount,) = struct.unpack_from("<Q", data, TOKEN_ACCOUNT_AMOUNT_OFFSET)
    return TokenAccount(Pubkey.from_bytes(data[0:32]), Pubkey.from_bytes(data[32:64]), amount)


def encode_token_account(mint: Pubkey, owner: Pubkey, amount: int, *, native_reserve: int | None = None) -> bytes:
    """An initialised 165-byte token account, no delegate or close authority. ``native_reserve`` (the rent
    reserve) marks a wrapped-SOL account, whose lamports must then be ``native_reserve + amount``."""
    native = (1, native_reserve) if native_reserve is not None else (0, 0)
    return _TOKEN_ACCOUNT.pack(bytes(mint), bytes(owner), amount, 0, bytes(32), 1, *native, 0, 0, bytes(32))


# --- mints and the Token-2022 transfer fee -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransferFee:
    """One epoch's Token-2022 transfer fee: ``min(ceil(amount * bps / 10000), maximum_fee)``."""

    epoch: int
    maximum_fee: int
    basis_points: int

    def fee(self, amount: int) -> int:
        if self.basis_points == 0 or amount == 0:
            return 0
        return min(ceil_div(amount * self.basis_points, MAX_FEE_BASIS_POINTS), self.maximum_fee)


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
    require_size(data, MINT_LEN, "mint", exact=False)
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


def check_mint_owner(account: Account, mint: Pubkey, program: Pubkey | None = None) -> None:
    """Raise :class:`MalformedAccount` unless a token program (``program``, when the pool names one) owns
    the mint."""
    if account.owner not in TOKEN_PROGRAMS or (program is not None and account.owner != program):
        raise MalformedAccount(f"mint {mint} is owned by {account.owner}, not {program or 'a token program'}")


def read_mint(account: Account, mint: Pubkey, program: Pubkey | None = None) -> Mint:
    """The mint at ``mint``, checked to be owned by a token program (``program``, when the pool names one)."""
    check_mint_owner(account, mint, program)
    try:
        return decode_mint(bytes(account.data))
    except MalformedAccount as exc:
        raise MalformedAccount(f"mint {mint}: {exc}") from exc


# --- the Clock sysvar ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clock:
    """What swaps read from the Clock sysvar: Token-2022 fees follow ``epoch``; pools open, activate and
    decay their fees by ``slot`` or ``unix_timestamp``."""

    slot: int
    unix_timestamp: int
    epoch: int = 0


def decode_clock(data: bytes) -> Clock:
    """The Clock sysvar: slot u64, epoch start i64, epoch u64, leader schedule epoch u64, unix time i64."""
    require_size(data, CLOCK_LEN, "Clock sysvar")
    slot, _, epoch, _, unix_timestamp = _CLOCK.unpack(data)
    return Clock(slot, unix_timestamp, epoch)


def encode_clock(clock: Clock) -> bytes:
    return _CLOCK.pack(clock.slot, clock.unix_timestamp, clock.epoch, clock.epoch, clock.unix_timestamp)


def read_clock(account: Account | None) -> Clock:
    """The Clock sysvar as fetched, checked to exist and be owned by the sysvar program."""
    if account is None or account.owner != SYSVAR_OWNER:
        raise MalformedAccount("the Clock sysvar is missing or not owned by the sysvar program")
    return decode_clock(bytes(account.data))
