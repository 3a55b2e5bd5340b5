"""Address lookup tables through the real Address Lookup Table program on the localnet, and v0 transactions
that use them: sent, simulated, and read back with their loaded addresses."""

from __future__ import annotations

import base64

from solana.rpc.commitment import Processed
from solders.address_lookup_table_account import AddressLookupTable
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.system_program import TransferParams, transfer

from adapters.settlement import SolanaSettlement
from adapters.solana.lookup_tables import PACKET_DATA_SIZE, table_candidates
from adapters.solana.transactions import build_transaction
from tests.adapters.settlement.helpers import wait_for
from tests.support import json_rpc as rpc

DESTINATIONS = [Keypair().pubkey() for _ in range(40)]


def _transfers(venue: SolanaSettlement) -> list[Instruction]:
    """One lamport to each of 40 new accounts: too many keys for a legacy message."""
    return [transfer(TransferParams(from_pubkey=venue.wallet, to_pubkey=d, lamports=1)) for d in DESTINATIONS]


async def test_a_table_makes_a_too_large_transaction_fit_and_it_lands_as_v0(settlement: SolanaSettlement) -> None:
    venue = settlement
    ixs = _transfers(venue)
    assert table_candidates(ixs) == DESTINATIONS  # the payer signs and the system program runs: both stay static
    legacy = build_transaction(venue._keypair, Hash.default(), 1_400_000, 0, b"{}", ixs)
    assert len(bytes(legacy)) > PACKET_DATA_SIZE

    table = await venue.tables.covering(ixs)
    assert list(table.addresses) == DESTINATIONS
    assert await venue.tables.covering(ixs[:10]) is table  # a table holding every account is reused

    blockhash, _ = await venue.rpc.latest_blockhash()
    tx = build_transaction(venue._keypair, blockhash, 1_400_000, 0, b"{}", ixs, [table])
    assert len(bytes(tx)) <= PACKET_DATA_SIZE
    assert await venue.rpc.simulate(tx) > 0
    signature = await venue.rpc.send_raw(bytes(tx))

    async def confirmed() -> bool:
        level, err = await venue.rpc.signature_status(signature)
        assert err is None, err
        return level in ("confirmed", "finalized")

    await wait_for(confirmed, "the v0 transaction")
    found = await rpc(venue.rpc.url, "getTransaction", str(signature),
                      {"encoding": "json", "maxSupportedTransactionVersion": 0, "commitment": "confirmed"})  # fmt: skip
    assert found["version"] == 0
    loaded = found["meta"]["loadedAddresses"]
    assert sorted(loaded["writable"]) == sorted(str(d) for d in DESTINATIONS) and loaded["readonly"] == []
    for destination in DESTINATIONS[:3]:
        assert await venue.rpc.balance(destination) == 1


async def test_a_new_table_is_handed_out_from_the_slot_after_its_extension(settlement: SolanaSettlement) -> None:
    venue = settlement
    fresh = [
        transfer(TransferParams(from_pubkey=venue.wallet, to_pubkey=Keypair().pubkey(), lamports=1)) for _ in range(3)
    ]
    table = await venue.tables.covering(fresh)
    now = await venue.rpc.slot(Processed)
    found = await rpc(venue.rpc.url, "getAccountInfo", str(table.key), {"encoding": "base64"})
    assert found["value"]["owner"] == "AddressLookupTab1e1111111111111111111111111"
    state = AddressLookupTable.deserialize(base64.b64decode(found["value"]["data"][0]))
    assert list(state.addresses) == table_candidates(fresh) and state.meta.last_extended_slot < now
    assert state.meta.authority == venue.wallet
