"""Raydium CPMM pools placed on a running localnet with the adapter's own encoders, for benchmarks.

:func:`cpmm_pool` lays out a pool at its canonical address under AmmConfig 0 (pool state, two vault token
accounts, the oracle); :func:`place` writes accounts with ``localnet_setAccount``, as if the program had
written them, so account subscribers hear of every later replacement (:func:`vault_with`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx
from solders.pubkey import Pubkey

from adapters.dexes.raydium_cpmm.instructions import (
    authority_address,
    config_address,
    observation_address,
    pool_address,
    sort_mints,
    vault_address,
)
from adapters.dexes.raydium_cpmm.layouts import (
    AmmConfig,
    PoolState,
    encode_amm_config,
    encode_observation_state,
    encode_pool_state,
)
from adapters.pools import RAYDIUM_CPMM, PoolBook
from adapters.solana.accounts import encode_token_account
from adapters.solana.spl import NATIVE_MINT, TOKEN_PROGRAM_ID
from kernel.settings import Network
from kernel.tokens import Token

PROGRAM_ID = Pubkey.from_string(PoolBook.load(Network.LOCALNET).program(RAYDIUM_CPMM))
TOKEN_ACCOUNT_RENT = 2_039_280  # rent-exempt minimum of a 165-byte token account

# Mainnet's fee tier 0 (0.25%); its owners are placeholders.
CONFIG_0 = AmmConfig(
    bump=255, disable_create_pool=False, index=0, trade_fee_rate=2500, protocol_fee_rate=120_000,
    fund_fee_rate=40_000, create_pool_fee=150_000_000, protocol_owner=Pubkey.from_bytes(bytes([1]) * 32),
    fund_owner=Pubkey.from_bytes(bytes([2]) * 32),
)  # fmt: skip


def rent_exempt(size: int) -> int:
    """The rent-exempt minimum for ``size`` bytes of data."""
    return (size + 128) * 6960


def account(address: Pubkey, owner: Pubkey, data: bytes, lamports: int | None = None) -> dict[str, Any]:
    """One account as the solana CLI's account JSON, which ``localnet_setAccount`` takes."""
    return {
        "pubkey": str(address),
        "account": {
            "lamports": rent_exempt(len(data)) if lamports is None else lamports,
            "data": [base64.b64encode(data).decode(), "base64"],
            "owner": str(owner),
            "executable": False,
            "rentEpoch": 0,
            "space": len(data),
        },
    }


def amm_config(config: AmmConfig = CONFIG_0) -> dict[str, Any]:
    """The fee tier's account at its PDA."""
    return account(config_address(PROGRAM_ID, config.index), PROGRAM_ID, encode_amm_config(config))


@dataclass(frozen=True)
class CpmmPool:
    """A pool laid out by :func:`cpmm_pool`: its address, state and the tokens in program (sorted) order."""

    address: Pubkey
    state: PoolState
    token_0: Token
    token_1: Token

    def book_entry(self) -> dict[str, Any]:
        """The pool's entry in a ``POOLS_JSON`` document."""
        return {"dex": "raydium", "address": str(self.address), "mints": [self.token_0.mint, self.token_1.mint]}

    def vault_with(self, side: int, amount: int) -> dict[str, Any]:
        """Vault ``side`` (0 or 1) holding ``amount`` raw units: replacing it moves the pool's price."""
        vault, mint = (self.state.token_0_vault, self.state.token_0_mint) if side == 0 else (
            self.state.token_1_vault, self.state.token_1_mint)  # fmt: skip
        authority = authority_address(PROGRAM_ID)[0]
        if mint == NATIVE_MINT:
            data = encode_token_account(mint, authority, amount, native_reserve=TOKEN_ACCOUNT_RENT)
            return account(vault, TOKEN_PROGRAM_ID, data, TOKEN_ACCOUNT_RENT + amount)
        return account(vault, TOKEN_PROGRAM_ID, encode_token_account(mint, authority, amount), TOKEN_ACCOUNT_RENT)


def cpmm_pool(token_a: Token, reserve_a: int, token_b: Token, reserve_b: int) -> tuple[CpmmPool, list[dict[str, Any]]]:
    """A classic-Token pool of ``token_a``/``token_b`` with those reserves (raw units, no fees accrued) at its
    canonical PDA under AmmConfig 0, and its accounts: state, both vaults, the oracle (not the AmmConfig)."""
    mint_a, mint_b = Pubkey.from_string(token_a.mint), Pubkey.from_string(token_b.mint)
    mint_0, mint_1 = sort_mints(mint_a, mint_b)
    by_mint = {mint_a: (token_a, reserve_a), mint_b: (token_b, reserve_b)}
    (token_0, reserve_0), (token_1, reserve_1) = by_mint[mint_0], by_mint[mint_1]
    config = config_address(PROGRAM_ID, CONFIG_0.index)
    address = pool_address(PROGRAM_ID, config, mint_0, mint_1)
    lp_mint = Pubkey.find_program_address([b"pool_lp_mint", bytes(address)], PROGRAM_ID)[0]
    vault_0, vault_1 = vault_address(PROGRAM_ID, address, mint_0), vault_address(PROGRAM_ID, address, mint_1)
    state = PoolState(
        amm_config=config, pool_creator=Pubkey.from_bytes(bytes([3]) * 32), token_0_vault=vault_0,
        token_1_vault=vault_1, lp_mint=lp_mint, token_0_mint=mint_0, token_1_mint=mint_1,
        token_0_program=TOKEN_PROGRAM_ID, token_1_program=TOKEN_PROGRAM_ID,
        observation_key=observation_address(PROGRAM_ID, address), auth_bump=authority_address(PROGRAM_ID)[1],
        status=0, lp_mint_decimals=9, mint_0_decimals=token_0.decimals, mint_1_decimals=token_1.decimals,
        lp_supply=10**12, protocol_fees_token_0=0, protocol_fees_token_1=0, fund_fees_token_0=0,
        fund_fees_token_1=0, open_time=0, recent_epoch=0, creator_fee_on=0, enable_creator_fee=False,
        creator_fees_token_0=0, creator_fees_token_1=0,
    )  # fmt: skip
    pool = CpmmPool(address, state, token_0, token_1)
    accounts = [
        account(address, PROGRAM_ID, encode_pool_state(state)),
        pool.vault_with(0, reserve_0),
        pool.vault_with(1, reserve_1),
        account(state.observation_key, PROGRAM_ID, encode_observation_state(address)),
    ]
    return pool, accounts


async def rpc(http: httpx.AsyncClient, url: str, method: str, *params: Any) -> Any:
    """One JSON-RPC call; returns its ``result`` or raises ``RuntimeError`` with the error."""
    reply = (await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})).json()
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


async def place(http: httpx.AsyncClient, url: str, accounts: list[dict[str, Any]]) -> None:
    """Place or replace ``accounts`` on the localnet at ``url`` now."""
    for doc in accounts:
        await rpc(http, url, "localnet_setAccount", doc)
