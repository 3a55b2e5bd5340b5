"""Byte layouts of the accounts a CPMM quote reads, decoded and encoded. Pure: no I/O.

PoolState and AmmConfig are Anchor accounts (an 8-byte discriminator first); offsets below count it.
Encoders exist so tests and local networks can build accounts byte-exactly. A decoder given bytes of the
wrong size or kind raises :class:`~adapters.solana.errors.MalformedAccount`. The vaults, mints and clock
a quote also reads are in :mod:`adapters.solana.accounts`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from solders.pubkey import Pubkey

from adapters.solana.accounts import require_size
from adapters.solana.errors import MalformedAccount

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

_POOL = struct.Struct("<8s" + "32s" * 10 + "5B" + "7Q" + "B?6s" + "2Q" + "224s")
_CONFIG = struct.Struct("<8sB?H4Q32s32sQ120s")
assert _POOL.size == POOL_STATE_LEN and _CONFIG.size == AMM_CONFIG_LEN


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
    require_size(data, POOL_STATE_LEN, "PoolState")
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
    require_size(data, AMM_CONFIG_LEN, "AmmConfig")
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
