"""Address lookup tables for transactions too large for a legacy message (1,232 bytes).

:class:`LookupTables` keeps one table per set of accounts (in memory: a table is cheap to find again by
its accounts, and a process that forgets one makes a new one), reusing any table that already holds every
account a transaction needs. A new table is created and extended by the wallet in transactions of its own,
each confirmed before the next, and is used only from the slot after its last extension, when the runtime
starts resolving it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from solana.rpc.commitment import Confirmed, Processed
from solders.address_lookup_table_account import AddressLookupTable, AddressLookupTableAccount
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from adapters.solana.lookup_tables import EXTEND_CHUNK, create_lookup_table, extend_lookup_table, table_candidates
from adapters.solana.rpc import ChainRpc
from kernel.errors import FatalError, RetryableError

log = logging.getLogger("oee.chain.tables")


class TableNotReady(RetryableError):
    """A lookup table did not become usable in time: build again later."""

    code = "lookup_table_not_ready"


class LookupTables:
    """Finds or makes the lookup table covering a transaction's accounts. ``poll_s`` paces the waits and
    ``timeout_s`` bounds each."""

    def __init__(self, rpc: ChainRpc, keypair: Keypair, *, poll_s: float = 0.2, timeout_s: float = 60.0) -> None:
        self._rpc = rpc
        self._keypair = keypair
        self._poll_s = poll_s
        self._timeout_s = timeout_s
        self._tables: list[AddressLookupTableAccount] = []
        self._lock = asyncio.Lock()

    @property
    def known(self) -> Sequence[AddressLookupTableAccount]:
        """The tables made or found so far."""
        return tuple(self._tables)

    async def covering(self, instructions: Sequence[Instruction]) -> AddressLookupTableAccount:
        """A usable table holding every account of ``instructions`` that a table may carry."""
        wanted = table_candidates(instructions)
        async with self._lock:  # two orders needing the same new table make it once
            for table in self._tables:
                if set(wanted) <= set(table.addresses):
                    return table
            table = await self._make(wanted)
            self._tables.append(table)
            return table

    async def _make(self, addresses: list[Pubkey]) -> AddressLookupTableAccount:
        payer = self._keypair.pubkey()
        # The recent slot must be in SlotHashes: a confirmed slot is, and is no newer than the node's bank.
        recent = await self._rpc.slot(Confirmed)
        create, table = create_lookup_table(payer, payer, recent)
        chunks = [addresses[i : i + EXTEND_CHUNK] for i in range(0, len(addresses), EXTEND_CHUNK)] or [[]]
        await self._land([create, extend_lookup_table(table, payer, payer, chunks[0])])
        for chunk in chunks[1:]:
            await self._land([extend_lookup_table(table, payer, payer, chunk)])
        state = await self._usable(table, len(addresses))
        log.info("lookup table %s holds %d accounts (from slot %d)", table, len(addresses), recent)
        return AddressLookupTableAccount(table, list(state.addresses))

    async def _land(self, instructions: list[Instruction]) -> None:
        blockhash, _ = await self._rpc.latest_blockhash(Confirmed)
        tx = VersionedTransaction(Message.new_with_blockhash(instructions, self._keypair.pubkey(), blockhash),
                                  [self._keypair])  # fmt: skip
        signature = await self._rpc.send_raw(bytes(tx))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        while True:
            level, err = await self._rpc.signature_status(signature)
            if err is not None:
                raise FatalError(f"the lookup table transaction {signature} failed: {err}")
            if level in ("confirmed", "finalized"):
                return
            if loop.time() > deadline:
                raise TableNotReady(f"the lookup table transaction {signature} did not land in time")
            await asyncio.sleep(self._poll_s)

    async def _usable(self, table: Pubkey, count: int) -> AddressLookupTable:
        """The table's state once it holds ``count`` addresses and a slot has passed its last extension."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        while True:
            (account,) = await self._rpc.multiple_accounts([table], "reading a lookup table")
            if account is not None:
                state = AddressLookupTable.deserialize(bytes(account.data))
                if len(state.addresses) >= count and await self._rpc.slot(Processed) > state.meta.last_extended_slot:
                    return state
            if loop.time() > deadline:
                raise TableNotReady(f"lookup table {table} is not usable yet")
            await asyncio.sleep(self._poll_s)
