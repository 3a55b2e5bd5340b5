"""Chain settlement against the local Solana network (`localnet`), driven over JSON-RPC like devnet: landing."""

from __future__ import annotations

import based58
import pytest
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solders.compute_budget import ID as COMPUTE_BUDGET_ID
from solders.keypair import Keypair
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from adapters.settlement import ChainRpc, SolanaSettlement
from adapters.settlement.settlement import SIMULATED_ROUTE_NOTE
from adapters.solana.errors import (
    WalletUnfunded,
)
from adapters.solana.spl import MEMO_PROGRAM_ID
from adapters.solana.transactions import decode_memo, priority_fee_lamports
from kernel.orders import PriorityFee
from kernel.venues import PreparedTx, TxState
from localnet import LocalnetHandle, running_localnet
from tests.adapters.settlement.helpers import (
    FUNDER,
    advance,
    chain_config,
    fund,
    landed,
    rpc,
    ticket,
    transfer_lamports,
    wait_for,
)

# --- landing ----------------------------------------------------------------------------------------


async def test_memo_only_swap_lands_once_with_the_order_in_its_memo(settlement: SolanaSettlement) -> None:
    t = ticket()
    before = await settlement.rpc.balance(settlement.wallet)
    tx = await settlement.prepare(t)
    assert tx.kind == "chain" and tx.note == SIMULATED_ROUTE_NOTE
    assert tx.last_valid > await settlement.rpc.block_height()
    assert settlement.explorer_url(tx.signature) is None  # a localnet has no public explorer
    for _ in range(3):  # a rebroadcast of the same bytes is the same signature: it cannot run twice
        await settlement.send(tx)
    status = await landed(settlement, tx)
    assert status.state is TxState.LANDED and status.amount_out == t.route.amount_out

    found = await settlement.rpc.get_transaction(Signature.from_string(tx.signature))
    assert found is not None and found.transaction.meta is not None
    meta = found.transaction.meta
    message = found.transaction.transaction.message  # type: ignore[union-attr]
    keys = [str(k) for k in message.account_keys]
    memos = [
        based58.b58decode(str(ix.data).encode())  # type: ignore[union-attr]
        for ix in message.instructions
        if keys[ix.program_id_index] == str(MEMO_PROGRAM_ID)  # type: ignore[union-attr]
    ]
    assert [decode_memo(m).order_id for m in memos] == [t.order_id]
    assert any(t.order_id in line for line in meta.log_messages or [])

    await settlement.send(tx)  # once more after landing: still nothing new
    assert await settlement.wait(tx, 0) == status
    assert before - await settlement.rpc.balance(settlement.wallet) == meta.fee


def budget_of(tx: PreparedTx) -> tuple[int, int]:
    """The (unit limit, unit price) a prepared transaction asks for."""
    ixs = VersionedTransaction.from_bytes(tx.raw).message.instructions
    price = int.from_bytes(bytes(ixs[1].data)[1:9], "little") if bytes(ixs[1].data)[:1] == b"\x03" else 0
    return int.from_bytes(bytes(ixs[0].data)[1:5], "little"), price


async def test_compute_budget_comes_from_the_simulation_and_the_settings(ticking: LocalnetHandle) -> None:
    wallet = Keypair()
    config = chain_config(ticking.url, compute_unit_price=7_777, compute_unit_margin=1.25)
    venue = SolanaSettlement(config, ChainRpc(config), wallet)
    try:
        await fund(venue.rpc, venue.wallet)
        tx = await venue.prepare(ticket())
        await venue.send(tx)
        await landed(venue, tx)
        found = await venue.rpc.get_transaction(Signature.from_string(tx.signature))
        assert found is not None and found.transaction.meta is not None
        used = found.transaction.meta.compute_units_consumed
        assert used is not None and budget_of(tx) == (-(-used * 125 // 100), 7_777)
        # Unset, the price is the RPC's recent fees (a percentile over recent slots) clamped to the range.
        assert 0 <= await venue.rpc.prioritization_fee([venue.wallet]) <= 7_777
        clamped = chain_config(ticking.url, compute_unit_price_min=10, compute_unit_price_max=5_000)
        second = SolanaSettlement(clamped, ChainRpc(clamped), wallet)
        try:
            assert 10 <= budget_of(await second.prepare(ticket()))[1] <= 5_000
        finally:
            await second.aclose()
    finally:
        await venue.aclose()


async def test_expiry_after_the_blockhash_window_and_a_never_sent_tx_stays_unknown(
    manual: LocalnetHandle, manual_settlement: SolanaSettlement
) -> None:
    venue = manual_settlement
    tx = await venue.prepare(ticket())
    assert (await venue.wait(tx, 0)).state is TxState.UNKNOWN
    assert not await venue.expired(tx)

    async def expired() -> bool:
        await advance(manual.url)
        return await venue.expired(tx)

    await wait_for(expired, "the blockhash to expire")
    assert await venue.rpc.block_height() > tx.last_valid
    await venue.send(tx)  # too late: the validator drops it
    await advance(manual.url, 3)
    assert (await venue.wait(tx, 0)).state is TxState.UNKNOWN


async def test_a_dropped_send_lands_on_rebroadcast(manual: LocalnetHandle, manual_settlement: SolanaSettlement) -> None:
    venue = manual_settlement
    tx = await venue.prepare(ticket())
    await rpc(manual.url, "localnet_setFaults", {"dropRate": 1.0})
    try:
        await venue.send(tx)
        await advance(manual.url, 2)
        assert (await venue.wait(tx, 0)).state is TxState.UNKNOWN
    finally:
        await rpc(manual.url, "localnet_setFaults", {"dropRate": 0.0})
    await venue.send(tx)
    assert (await venue.wait(tx, 0)).state is TxState.PENDING  # processed, not yet confirmed
    await advance(manual.url)
    status = await venue.wait(tx, 0)
    assert status.state is TxState.LANDED and status.amount_out == 150_250_000


async def test_rpc_retries_through_injected_429s_and_503s() -> None:
    wallet = Keypair()
    faults = {"rate_429": 0.3, "rate_5xx": 0.1, "seed": 5}
    async with running_localnet(slot_ms=20, finality_depth=4, fund=[str(wallet.pubkey())], **faults) as net:
        async with AsyncClient(net.url) as plain:  # without retries, some calls fail
            failures = 0
            for _ in range(30):
                try:
                    await plain.get_slot()
                except SolanaRpcException:
                    failures += 1
            assert failures > 0
        config = chain_config(net.url, rpc_max_attempts=15)
        venue = SolanaSettlement(config, ChainRpc(config), wallet)
        try:
            t = ticket()
            tx = await venue.prepare(t)
            await venue.send(tx)
            status = await landed(venue, tx)
            assert status.state is TxState.LANDED and status.amount_out == t.route.amount_out
        finally:
            await venue.aclose()


async def test_unfunded_wallet_is_rejected_at_prepare(ticking: LocalnetHandle) -> None:
    config = chain_config(ticking.url)
    venue = SolanaSettlement(config, ChainRpc(config), Keypair())
    try:
        with pytest.raises(WalletUnfunded, match="does not exist"):
            await venue.prepare(ticket())
        await transfer_lamports(venue.rpc, FUNDER, venue.wallet, 1_000)  # less than one fee

        async def arrived() -> bool:
            return await venue.rpc.balance(venue.wallet) == 1_000

        await wait_for(arrived, "the transfer")
        with pytest.raises(WalletUnfunded):
            await venue.prepare(ticket())
    finally:
        await venue.aclose()


PRIORITY_CASES = [(PriorityFee(lamports=7_000), (6_999, 7_000)), (PriorityFee(max_lamports=1), (0, 1))]


@pytest.mark.parametrize(("fee", "paid"), PRIORITY_CASES)
async def test_an_orders_priority_fee_is_what_its_landed_transaction_asks(
    settlement: SolanaSettlement, fee: PriorityFee, paid: tuple[int, int]
) -> None:
    """Exactly ``lamports``, or the estimate capped at ``max_lamports``: read off the compute-budget
    instructions of the transaction that landed (the price times the limit)."""
    from dataclasses import replace

    tx = await settlement.prepare(replace(ticket(), priority_fee=fee))
    await settlement.send(tx)
    assert (await landed(settlement, tx)).state is TxState.LANDED
    message = VersionedTransaction.from_bytes(tx.raw).message
    keys = [str(k) for k in message.account_keys]
    budget = [bytes(ix.data) for ix in message.instructions if keys[ix.program_id_index] == str(COMPUTE_BUDGET_ID)]
    limit = next(int.from_bytes(d[1:5], "little") for d in budget if d[0] == 2)
    price = next((int.from_bytes(d[1:9], "little") for d in budget if d[0] == 3), 0)  # none when it is 0
    assert paid[0] <= priority_fee_lamports(limit, price) <= paid[1], (limit, price)


async def _methods(url: str, *, reset: bool = False) -> dict[str, int]:
    """Every client's calls to the localnet by method (the localnet's own tally), optionally reset after."""
    import httpx

    async with httpx.AsyncClient() as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "localnet_requests", "params": [{"reset": reset}]}
        tally = (await http.post(url, json=body)).json()["result"]
    counts: dict[str, int] = {}
    for row in tally["requests"]:
        if row["transport"] == "http" and not row["method"].startswith("localnet_"):
            counts[row["method"]] = counts.get(row["method"], 0) + row["count"]
    return counts


@pytest.mark.parametrize(("reuse_s", "reads"), [(30.0, 1), (0.0, 3)])
async def test_orders_built_together_share_one_blockhash_and_fee_estimate(
    ticking: LocalnetHandle, reuse_s: float, reads: int
) -> None:
    """Counted where the calls arrive: three orders built within ESTIMATE_REUSE_S read the blockhash and the
    recent fees once; with sharing off, once each. Each transaction is still its own (its own signature)."""
    from dataclasses import replace

    config = replace(chain_config(ticking.url), estimate_reuse_s=reuse_s)
    venue = SolanaSettlement(config, ChainRpc(config), Keypair())
    try:
        await fund(venue.rpc, venue.wallet)
        await _methods(ticking.url, reset=True)
        built = [await venue.prepare(ticket()) for _ in range(3)]
        counts = await _methods(ticking.url)
    finally:
        await venue.aclose()
    assert len({tx.signature for tx in built}) == 3
    assert counts.get("getLatestBlockhash") == reads, counts
    assert counts.get("getRecentPrioritizationFees") == reads, counts
