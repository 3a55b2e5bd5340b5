"""The pure parts of chain settlement: memo encoding, compute budget bytes, fee arithmetic, config."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from solders.transaction_status import (
    InstructionErrorCustom,
    TransactionErrorFieldless,
    TransactionErrorInstructionError,
)

from adapters.dexes import meteora_dlmm, raydium_cpmm
from adapters.dexes.meteora_dlmm.config import MAINNET_PROGRAM_ID as METEORA_DLMM_PROGRAM
from adapters.solana.config import ChainConfig, sol_to_lamports
from adapters.solana.errors import (
    BlockhashNotFound,
    SimulationFailed,
    WalletUnfunded,
    failure_of,
    transaction_error,
)
from adapters.solana.spl import MEMO_PROGRAM_ID
from adapters.solana.transactions import (
    COMPUTE_BUDGET_PROGRAM_ID,
    MEMO_MAX_BYTES,
    MemoError,
    SwapMemo,
    TokenBalance,
    amount_received,
    build_transaction,
    clamp_price,
    compute_budget_instructions,
    compute_unit_limit,
    decode_memo,
    encode_memo,
    memo_of,
    percentile,
    priority_fee_lamports,
    program_at,
    transaction_fee_lamports,
    writable_accounts,
)
from kernel.errors import SlippageExceeded
from kernel.settings import Network, Settings
from kernel.tokens import NATIVE_MINT, Token, TokenRegistry
from kernel.venues import Quote, SwapTicket


def _token(symbol: str) -> Token:
    found = TokenRegistry.for_network(Network.MAINNET).resolve(symbol)
    assert found is not None
    return found


SOL, USDC = _token("SOL"), _token("USDC")
CPMM = Pubkey.from_string("CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C")
POOL = "7JuwJuNU88gurFnyWeiyGKbFmExMWcmRZntn9imEzdny"


def ticket(amount_out: int = 150_123_456, order_id: str | None = None) -> SwapTicket:
    quote = Quote("raydium", POOL, 1_000_000_000, amount_out, 2_500_000, SOL.mint, Decimal("150.12"), Decimal("0.01"))
    return SwapTicket(order_id or str(uuid.uuid4()), quote, SOL, USDC, amount_out * 995 // 1000)


# --- memo -------------------------------------------------------------------------------------------


def test_memo_round_trip_with_and_without_the_simulated_fill() -> None:
    t = ticket()
    simulated = SwapMemo.for_ticket(t, simulated=True)
    real = SwapMemo.for_ticket(t, simulated=False)
    assert simulated.sim == 150_123_456 and real.sim is None
    for memo in (simulated, real):
        assert decode_memo(encode_memo(memo)) == memo
    body = json.loads(encode_memo(simulated))
    assert list(body) == ["oee", "order", "dex", "pool", "in", "out", "amountIn", "minOut", "sim"]
    assert body == {
        "oee": 1, "order": t.order_id, "dex": "raydium", "pool": POOL, "in": SOL.mint, "out": USDC.mint,
        "amountIn": "1000000000", "minOut": str(150_123_456 * 995 // 1000), "sim": "150123456",
    }  # fmt: skip
    assert "sim" not in json.loads(encode_memo(real))
    assert b" " not in encode_memo(simulated)  # compact


def test_memo_of_the_largest_u64_amounts_fits() -> None:
    big = 2**64 - 1
    memo = SwapMemo(str(uuid.uuid4()), "meteora", POOL, SOL.mint, USDC.mint, big, big, big)
    assert len(encode_memo(memo)) < MEMO_MAX_BYTES
    assert decode_memo(encode_memo(memo)).sim == big


def test_memo_too_long_or_foreign_is_refused() -> None:
    with pytest.raises(MemoError):
        encode_memo(SwapMemo("x" * 600, "raydium", POOL, SOL.mint, USDC.mint, 1, 1))
    for raw in (b"hello", b'{"oee":2}', b'{"oee":1,"order":"x"}', b"\xff"):
        with pytest.raises(MemoError):
            decode_memo(raw)


# --- compute budget and the transaction ---------------------------------------------------------------


def test_compute_budget_instruction_bytes() -> None:
    limit, price = compute_budget_instructions(200_000, 12_345)
    assert limit.program_id == price.program_id == COMPUTE_BUDGET_PROGRAM_ID
    assert bytes(limit.data) == bytes([2]) + (200_000).to_bytes(4, "little")
    assert bytes(price.data) == bytes([3]) + (12_345).to_bytes(8, "little")
    assert not limit.accounts and not price.accounts
    assert len(compute_budget_instructions(1_000, 0)) == 1  # no price instruction when the price is zero


def test_built_transaction_is_signed_and_carries_the_memo() -> None:
    payer = Keypair()
    t = ticket()
    memo = encode_memo(SwapMemo.for_ticket(t, simulated=True))
    tx = build_transaction(payer, Hash.default(), 50_000, 1_000, memo)
    assert tx.signatures[0] == payer.sign_message(to_bytes_versioned(tx.message))
    assert all(tx.verify_with_results())
    assert [program_at(tx.message, i) for i in range(3)] == [COMPUTE_BUDGET_PROGRAM_ID] * 2 + [MEMO_PROGRAM_ID]
    assert program_at(tx.message, 3) is None
    memo_ix = tx.message.instructions[2]
    keys = tx.message.account_keys
    assert keys[memo_ix.accounts[0]] == payer.pubkey() and tx.message.is_signer(memo_ix.accounts[0])
    found = memo_of(tx)
    assert found is not None and found.order_id == t.order_id and found.sim == t.route.amount_out
    assert len(bytes(tx)) <= 1232
    assert isinstance(tx.message, Message)  # legacy: every client can read it back
    assert VersionedTransaction.from_bytes(bytes(tx)) == tx


def test_lookup_tables_make_a_v0_transaction() -> None:
    payer, pool = Keypair(), Keypair().pubkey()
    table = AddressLookupTableAccount(Keypair().pubkey(), [pool])
    swap = Instruction(CPMM, b"swap", [AccountMeta(payer.pubkey(), True, True), AccountMeta(pool, False, True)])
    memo = encode_memo(SwapMemo.for_ticket(ticket(), simulated=False))
    tx = build_transaction(payer, Hash.default(), 80_000, 0, memo, [swap], [table])
    assert isinstance(tx.message, MessageV0) and pool not in tx.message.account_keys
    assert all(tx.verify_with_results()) and memo_of(tx) is not None


def test_writable_accounts_are_the_priority_fee_scope() -> None:
    payer, pool, vault, program = Keypair().pubkey(), Keypair().pubkey(), Keypair().pubkey(), Keypair().pubkey()
    ixs = [
        Instruction(program, b"", [AccountMeta(payer, True, True), AccountMeta(pool, False, True)]),
        Instruction(program, b"", [AccountMeta(pool, False, True), AccountMeta(vault, False, False)]),
    ]
    assert writable_accounts(ixs) == [payer, pool]
    assert writable_accounts([]) == []


# --- fee arithmetic -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "margin", "expected"),
    [
        (1000, 1.1, 1100),
        (118_011, 1.1, 129_813),
        (100, 1.0, 100),
        (101, 1.15, 117),
        (0, 1.1, 1),
        (2_000_000, 1.1, 1_400_000),
    ],
)
def test_compute_unit_limit_is_exact(units: int, margin: float, expected: int) -> None:
    assert compute_unit_limit(units, margin) == expected


def test_priority_and_total_fees_in_lamports() -> None:
    assert priority_fee_lamports(200_000, 0) == 0
    assert priority_fee_lamports(200_000, 1) == 1  # 0.2 lamports rounds up
    assert priority_fee_lamports(200_000, 10_000) == 2_000
    assert priority_fee_lamports(129_813, 12_345) == 1_603  # ceil(1602.5)
    assert transaction_fee_lamports(1, 200_000, 10_000) == 7_000
    assert transaction_fee_lamports(2, 1_000, 0) == 10_000


def test_percentile_and_clamp() -> None:
    assert percentile([], 75) == 0
    assert percentile([5], 75) == 5
    assert percentile([0, 0, 0, 100], 75) == 0
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8], 75) == 6
    assert percentile([9, 1, 5, 3], 75) == 5
    assert clamp_price(5, 10, 100) == 10 and clamp_price(500, 10, 100) == 100 and clamp_price(50, 10, 100) == 50


def test_amount_received_from_token_balances() -> None:
    owner, other = str(Keypair().pubkey()), str(Keypair().pubkey())
    pre = [TokenBalance(1, owner, USDC.mint, 10), TokenBalance(2, other, USDC.mint, 999)]
    post = [TokenBalance(1, owner, USDC.mint, 150_000_010), TokenBalance(2, other, USDC.mint, 0)]
    common = {"owner_lamports_change": -1_005_000, "fee": 5_000}
    assert amount_received(owner=owner, mint=USDC.mint, pre_tokens=pre, post_tokens=post, **common) == 150_000_000
    # SOL out: the wrapped account opened and closed in the transaction, so the lamports tell.
    got = amount_received(owner=owner, mint=NATIVE_MINT, pre_tokens=[], post_tokens=[], owner_lamports_change=6_660_000,
                          fee=7_000)  # fmt: skip
    assert got == 6_667_000


# --- landed failures --------------------------------------------------------------------------------


BOTH_DEXES = (raydium_cpmm.SLIPPAGE, meteora_dlmm.SLIPPAGE)


def test_slippage_errors_are_recognised_per_program() -> None:
    cpmm_slip = TransactionErrorInstructionError(2, InstructionErrorCustom(6005))
    dlmm_slip = TransactionErrorInstructionError(1, InstructionErrorCustom(6003))
    programs: list[Pubkey | None] = [COMPUTE_BUDGET_PROGRAM_ID, METEORA_DLMM_PROGRAM, CPMM, MEMO_PROGRAM_ID]
    assert failure_of(cpmm_slip, programs, BOTH_DEXES)[0] == "slippage_exceeded"
    assert failure_of(dlmm_slip, programs, BOTH_DEXES)[0] == "slippage_exceeded"
    # The same codes from the other program, or another code, are plain failures.
    other_program = [TransactionErrorInstructionError(1, InstructionErrorCustom(6005)),
                     TransactionErrorInstructionError(2, InstructionErrorCustom(6003))]  # fmt: skip
    for err in other_program:
        assert failure_of(err, programs, BOTH_DEXES)[0] == "tx_failed"
    code, message = failure_of(TransactionErrorInstructionError(2, InstructionErrorCustom(1)), programs, BOTH_DEXES)
    assert code == "tx_failed" and "custom program error 1" in message
    assert failure_of(cpmm_slip, [], BOTH_DEXES)[0] == "slippage_exceeded"  # program unknown: the code decides
    # Every DEX declares its code at the boundary: a caller naming none (a bare simulation) still reads it.
    assert failure_of(dlmm_slip, programs, [raydium_cpmm.SLIPPAGE])[0] == "slippage_exceeded"
    assert failure_of(cpmm_slip, programs)[0] == "slippage_exceeded"
    # A code no DEX declared is a plain failure.
    stranger = [COMPUTE_BUDGET_PROGRAM_ID, Pubkey.from_bytes(bytes([9]) * 32)]
    assert failure_of(TransactionErrorInstructionError(1, InstructionErrorCustom(6005)), stranger)[0] == "tx_failed"


def test_pre_landing_transaction_errors() -> None:
    assert isinstance(transaction_error(TransactionErrorFieldless.BlockhashNotFound, "x"), BlockhashNotFound)
    for err in (TransactionErrorFieldless.AccountNotFound, TransactionErrorFieldless.InsufficientFundsForFee):
        assert isinstance(transaction_error(err, "simulating"), WalletUnfunded)
    slip = transaction_error(
        TransactionErrorInstructionError(2, InstructionErrorCustom(6005)), "simulating", [None, None, CPMM],
        slippage=BOTH_DEXES,
    )  # fmt: skip
    assert isinstance(slip, SlippageExceeded)
    other = transaction_error(
        TransactionErrorInstructionError(0, InstructionErrorCustom(1)), "simulating", logs=["a", "b"]
    )
    assert isinstance(other, SimulationFailed) and "last log: b" in str(other)


# --- config -----------------------------------------------------------------------------------------


def test_config_from_settings_and_explorer_links() -> None:
    def config(network: str, **kw: object) -> ChainConfig:
        settings = Settings(_env_file=None, solana_network=network, **kw)  # type: ignore[call-arg, arg-type]
        return ChainConfig.from_settings(settings)

    devnet = config("devnet", airdrop_sol=1.5, solana_commitment="Finalized")
    assert devnet.rpc_url == "https://api.devnet.solana.com" and devnet.airdrop_lamports == 1_500_000_000
    assert devnet.commitment == "finalized" and devnet.has_faucet
    assert devnet.explorer_url("abc") == "https://explorer.solana.com/tx/abc?cluster=devnet"
    mainnet = config("mainnet-beta", solana_rpc_url="https://rpc.example")
    assert mainnet.rpc_url == "https://rpc.example" and not mainnet.has_faucet
    assert mainnet.explorer_url("abc") == "https://explorer.solana.com/tx/abc"
    local = config("localnet")
    assert local.rpc_url == "http://127.0.0.1:8899" and local.has_faucet and local.explorer_url("abc") is None
    with pytest.raises(ValueError, match="SOLANA_COMMITMENT"):
        config("devnet", solana_commitment="max")
    with pytest.raises(ValueError):
        config("mock")
    assert sol_to_lamports(0.1) == 100_000_000 and sol_to_lamports("2") == 2_000_000_000
