"""Where each DEX lives on each network: program IDs and pools per pair, from defaults, a file or the env.

A local network can host mainnet program builds at their mainnet addresses, so ``localnet`` starts from
the mainnet program IDs and takes its pools from configuration. ``POOLS_FILE`` (JSON) and ``POOLS_JSON``
(the same document inline) override the defaults:

    {"programs": {"raydium_cpmm": "<id>", "raydium_amm_v4": "<id>", "meteora_dlmm": "<id>",
                  "meteora_damm_v2": "<id>", "raydium_clmm": "<id>"},
     "pools": [{"dex": "raydium", "address": "<pool>", "mints": ["<mint>", "<mint>"]}, ...]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from solders.pubkey import Pubkey

from kernel.errors import FatalError
from kernel.settings import Network
from kernel.tokens import NATIVE_MINT

RAYDIUM_CPMM = "raydium_cpmm"
RAYDIUM_AMM_V4 = "raydium_amm_v4"
METEORA_DLMM = "meteora_dlmm"
METEORA_DAMM_V2 = "meteora_damm_v2"
RAYDIUM_CLMM = "raydium_clmm"
ORCA_WHIRLPOOL = "orca_whirlpool"
DEX_OF_PROGRAM = {
    RAYDIUM_CPMM: "raydium",
    RAYDIUM_AMM_V4: "raydium_amm_v4",
    METEORA_DLMM: "meteora",
    METEORA_DAMM_V2: "meteora_damm_v2",
    RAYDIUM_CLMM: "raydium_clmm",
    ORCA_WHIRLPOOL: "orca_whirlpool",
}

SOL = NATIVE_MINT
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"

_PROGRAMS: dict[Network, dict[str, str]] = {
    Network.MAINNET: {
        RAYDIUM_CPMM: "CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C",
        RAYDIUM_AMM_V4: "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8",
        METEORA_DLMM: "LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo",
        METEORA_DAMM_V2: "cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG",
        RAYDIUM_CLMM: "CAMMCzo5YL8w4VFF8KVHrK22GGUsp5VTaW7grrKgrWqK",
        ORCA_WHIRLPOOL: "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc",
    },
    Network.DEVNET: {
        RAYDIUM_CPMM: "DRaycpLY18LhpbydsBWbVJtxpNv9oXPgjRSfpF2bWpYb",
        RAYDIUM_AMM_V4: "DRaya7Kj3aMWQSy19kSjvmuwq9docCHofyP9kanQGaav",
        METEORA_DLMM: "LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo",
        METEORA_DAMM_V2: "cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG",
        RAYDIUM_CLMM: "DRayAUgENGQBKVaX8owNhgzkEDyoHTGVEGHVJT1E9pfH",
        ORCA_WHIRLPOOL: "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc",
    },
}
_PROGRAMS[Network.LOCALNET] = dict(_PROGRAMS[Network.MAINNET])

_POOLS: dict[Network, list[dict[str, Any]]] = {
    Network.MAINNET: [
        {"dex": "raydium", "address": "7JuwJuNU88gurFnyWeiyGKbFmExMWcmRZntn9imEzdny", "mints": [SOL, USDC]},
        {"dex": "meteora", "address": "HTvjzsfX3yU6BUodCjZ5vZkUrAxMDTrBs3CJaq43ashR", "mints": [SOL, USDC]},
        {"dex": "meteora", "address": "5BKxfWMbmYBAEWvyPZS9esPducUba9GqyMjtLCfbaqyF", "mints": [SOL, USDC]},
    ],
}


@dataclass(frozen=True, slots=True)
class PoolRef:
    """A configured pool: which DEX, its address, and the two mints it trades (in any order)."""

    dex: str
    address: str
    mints: frozenset[str]


@dataclass(slots=True)
class PoolBook:
    """Program IDs by program name and pools by DEX, for one network."""

    network: Network
    programs: dict[str, str]
    pools: list[PoolRef] = field(default_factory=list)

    def program(self, name: str) -> str:
        try:
            return self.programs[name]
        except KeyError:
            raise LookupError(f"no {name} program configured for {self.network.value}") from None

    def program_id(self, name: str) -> Pubkey:
        """:meth:`program` as an address; a malformed one is a fatal error."""
        return parse_address(self.program(name), f"{name} program")

    def find(self, dex: str, mint_a: str, mint_b: str) -> list[PoolRef]:
        """Configured pools of ``dex`` trading the two mints."""
        wanted = frozenset((mint_a, mint_b))
        return [p for p in self.pools if p.dex == dex and p.mints == wanted]

    @classmethod
    def load(cls, network: Network, path: Path | None = None, inline: str | None = None) -> PoolBook:
        programs = dict(_PROGRAMS.get(network, {}))
        entries = list(_POOLS.get(network, []))
        for document in _documents(path, inline):
            programs.update(document.get("programs", {}))
            entries.extend(document.get("pools", []))
        pools = [PoolRef(e["dex"], e["address"], frozenset(e["mints"])) for e in entries]
        return cls(network, programs, pools)


def _documents(path: Path | None, inline: str | None) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    if path is not None:
        docs.append(orjson.loads(Path(path).read_bytes()))
    if inline:
        docs.append(orjson.loads(inline))
    return docs


def parse_address(text: str, what: str) -> Pubkey:
    """``text`` as a Solana address; a malformed one in configuration is a fatal error naming ``what``."""
    try:
        return Pubkey.from_string(text)
    except ValueError as exc:
        raise FatalError(f"{what} {text!r} is not a Solana address") from exc
