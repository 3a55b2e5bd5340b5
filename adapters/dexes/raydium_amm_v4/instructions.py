"""AMM v4 addresses and the ``swap_base_in`` and ``swap_base_out`` instructions. Pure: no I/O.

Data: one tag byte (9 ``swap_base_in``: ``amount_in``, ``minimum_amount_out``; 11 ``swap_base_out``:
``max_amount_in``, ``amount_out``), then two u64. The program takes 17 accounts, or 18 with the pool's target
orders after its open orders (read by neither swap); these are the 17:

 0 SPL Token program            6 market program           12 market pc vault (W)
 1 amm (W)                      7 market (W)               13 market vault signer
 2 amm authority                8 bids (W)                 14 user source (W)
 3 amm open orders (W)          9 asks (W)                 15 user destination (W)
 4 pool coin vault (W)         10 event queue (W)          16 user owner (S)
 5 pool pc vault (W)           11 market coin vault (W)

The program checks the amm, its authority and both pool vaults against the pool state, the token program
(SPL Token only: AMM v4 trades no Token-2022 mint) and the owner's signature. Accounts 3 and 6 to 13 are
read only when the pool trades through its OpenBook market (status 1 or 5); for a pool that swaps without
it (status 6 or 7) they can be any accounts, read-only: :func:`swap_pool` passes the ones the pool state names.
"""

from __future__ import annotations

import functools
import struct

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from adapters.dexes.raydium_amm_v4.layouts import AmmInfo
from adapters.solana.spl import TOKEN_PROGRAM_ID

SWAP_BASE_IN = 9
SWAP_BASE_OUT = 11
AUTHORITY_SEED = b"amm authority"
_U64_MAX = 2**64 - 1


@functools.cache
def authority_address(program_id: Pubkey) -> tuple[Pubkey, int]:
    """The pools' one authority PDA ``["amm authority"]`` and its bump (every pool's ``nonce``)."""
    return Pubkey.find_program_address([AUTHORITY_SEED], program_id)


def authority_of(program_id: Pubkey, nonce: int) -> Pubkey:
    """The authority a pool names by its ``nonce``, as the program derives it (``create_program_address``)."""
    return Pubkey.create_program_address([AUTHORITY_SEED, bytes([nonce])], program_id)


def swap_base_in(
    program_id: Pubkey,
    *,
    amm: Pubkey,
    authority: Pubkey,
    open_orders: Pubkey,
    coin_vault: Pubkey,
    pc_vault: Pubkey,
    market_program: Pubkey,
    market: Pubkey,
    bids: Pubkey,
    asks: Pubkey,
    event_queue: Pubkey,
    market_coin_vault: Pubkey,
    market_pc_vault: Pubkey,
    market_vault_signer: Pubkey,
    user_source: Pubkey,
    user_destination: Pubkey,
    user_owner: Pubkey,
    amount_in: int,
    minimum_amount_out: int,
    exact_out: bool = False,
    order_book: bool = True,
) -> Instruction:
    """Swap exactly ``amount_in``; the program fails with 30 if the trader would get less than
    ``minimum_amount_out``. With ``exact_out`` it is ``swap_base_out``: receive exactly ``minimum_amount_out``
    for at most ``amount_in`` (30 when it would take more). The 17 accounts in the program's order.

    ``order_book`` passes the open orders and the market's accounts writable, as a swap through the order book
    needs; off, they are read-only (the program does not read them then, and read-only they lock nothing)."""
    for name, value in (("amount_in", amount_in), ("minimum_amount_out", minimum_amount_out)):
        if not 0 <= value <= _U64_MAX:
            raise ValueError(f"{name} must be a u64, got {value}")
    book = order_book
    accounts = [
        AccountMeta(TOKEN_PROGRAM_ID, is_signer=False, is_writable=False),
        AccountMeta(amm, is_signer=False, is_writable=True),
        AccountMeta(authority, is_signer=False, is_writable=False),
        AccountMeta(open_orders, is_signer=False, is_writable=book),
        AccountMeta(coin_vault, is_signer=False, is_writable=True),
        AccountMeta(pc_vault, is_signer=False, is_writable=True),
        AccountMeta(market_program, is_signer=False, is_writable=False),
        AccountMeta(market, is_signer=False, is_writable=book),
        AccountMeta(bids, is_signer=False, is_writable=book),
        AccountMeta(asks, is_signer=False, is_writable=book),
        AccountMeta(event_queue, is_signer=False, is_writable=book),
        AccountMeta(market_coin_vault, is_signer=False, is_writable=book),
        AccountMeta(market_pc_vault, is_signer=False, is_writable=book),
        AccountMeta(market_vault_signer, is_signer=False, is_writable=False),
        AccountMeta(user_source, is_signer=False, is_writable=True),
        AccountMeta(user_destination, is_signer=False, is_writable=True),
        AccountMeta(user_owner, is_signer=True, is_writable=False),
    ]
    data = struct.pack("<BQQ", SWAP_BASE_OUT if exact_out else SWAP_BASE_IN, amount_in, minimum_amount_out)
    return Instruction(program_id, data, accounts)


def swap_pool(
    program_id: Pubkey,
    address: Pubkey,
    amm: AmmInfo,
    *,
    owner: Pubkey,
    user_source: Pubkey,
    user_destination: Pubkey,
    amount_in: int,
    minimum_amount_out: int,
    exact_out: bool = False,
) -> Instruction:
    """:func:`swap_base_in` (or, ``exact_out``, ``swap_base_out``) on the pool at ``address`` as its state
    ``amm`` names it. The direction is the program's to find, from the mints of the two user accounts.

    Only pools that swap without their order book (status 6 or 7) are swapped here: their open orders and
    market are passed read-only, and the market's own key stands in for its bids, asks, event queue, vaults
    and vault signer (which live in the market account, never read here, and which the program ignores)."""
    market = amm.market
    return swap_base_in(
        program_id, amm=address, authority=authority_of(program_id, amm.nonce), open_orders=amm.open_orders,
        coin_vault=amm.coin_vault, pc_vault=amm.pc_vault, market_program=amm.market_program, market=market,
        bids=market, asks=market, event_queue=market, market_coin_vault=market, market_pc_vault=market,
        market_vault_signer=market, user_source=user_source, user_destination=user_destination, user_owner=owner,
        amount_in=amount_in, minimum_amount_out=minimum_amount_out, exact_out=exact_out, order_book=False,
    )  # fmt: skip
