"""The ``meteora-dlmm`` package's view of our accounts: its pool state, and a mint's transfer fee in its
type. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from meteora_dlmm import DecodeError, PoolState, TransferFee
from solders.pubkey import Pubkey

from adapters.solana.accounts import decode_mint
from adapters.solana.errors import MalformedAccount

# The package's functions carry no annotations.
_from_accounts: Any = PoolState.from_accounts


def pool_state(lb_pair: bytes, bin_arrays: list[bytes], lb_pair_key: Pubkey | None = None) -> PoolState:
    """The package's decoding of a pair and some of its bin arrays (decimals unused)."""
    key = bytes(lb_pair_key) if lb_pair_key is not None else None
    try:
        state: PoolState = _from_accounts(lb_pair, bin_arrays, 0, 0, lb_pair_key=key)
    except DecodeError as exc:
        raise MalformedAccount(f"meteora-dlmm cannot read the pool: {exc}") from exc
    return state


def transfer_fee_at(mint: bytes, epoch: int) -> TransferFee | None:
    """The transfer fee a Token-2022 mint charges in ``epoch``: its newer fee from the newer fee's epoch on,
    the older one before (the package always reads the newer). None without the extension."""
    config = decode_mint(mint).transfer_fee
    if config is None:
        return None
    fee = config.at(epoch)
    return TransferFee(basis_points=fee.basis_points, max_fee=fee.maximum_fee)
