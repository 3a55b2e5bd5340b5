"""Accounts written as solana CLI account JSON files, for ``oee localnet --account`` (its ``accounts`` option)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import based58
from solders.pubkey import Pubkey

from tools.chain_pools import account, rent_exempt

__all__ = ["AccountFiles", "filter_matches", "place_accounts", "rent_exempt"]


@dataclass
class AccountFiles:
    """Writes accounts into ``folder``; ``accounts`` lists them, as the localnet's ``accounts`` option takes."""

    folder: Path
    accounts: list[tuple[str, Path]] = field(default_factory=list)

    def write(self, address: Pubkey, owner: Pubkey, data: bytes, lamports: int | None = None) -> None:
        doc = account(address, owner, data, lamports)
        path = self.folder / f"{address}.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        self.accounts.append((str(address), path))


def filter_matches(flt: dict[str, Any], data: bytes) -> bool:
    """Whether account ``data`` passes one getProgramAccounts filter (``dataSize`` or ``memcmp``)."""
    if "dataSize" in flt:
        return bool(len(data) == int(flt["dataSize"]))
    memcmp = flt["memcmp"]
    text = memcmp["bytes"]
    wanted = base64.b64decode(text) if memcmp.get("encoding") == "base64" else based58.b58decode(text.encode())
    return data[memcmp["offset"] : memcmp["offset"] + len(wanted)] == wanted


async def place_accounts(url: str, files: AccountFiles) -> None:
    """Place every account ``files`` wrote on a running localnet now (``localnet_setAccount``), as if a
    program had just created them."""
    from tests.support import json_rpc

    for _, path in files.accounts:
        await json_rpc(url, "localnet_setAccount", json.loads(path.read_text(encoding="utf-8")))
