"""Settlement on a Solana cluster (localnet, devnet, mainnet-beta) through its JSON-RPC.

:class:`SolanaSettlement` lands swap transactions; :class:`FundedOrSimulated` falls back to the simulated
ledger while the wallet cannot pay fees. :func:`build_chain_settlement` is the entry point a composition
root needs.
"""

from __future__ import annotations

from solders.keypair import Keypair

from adapters.settlement.funding import FundedOrSimulated
from adapters.settlement.settlement import SolanaSettlement
from adapters.solana.config import ChainConfig
from adapters.solana.errors import AirdropRateLimited, WalletUnfunded
from adapters.solana.rpc import ChainRpc
from kernel.settings import Settings
from kernel.venues import SettlementVenue

__all__ = [
    "AirdropRateLimited",
    "ChainConfig",
    "ChainRpc",
    "FundedOrSimulated",
    "SolanaSettlement",
    "WalletUnfunded",
    "build_chain_settlement",
]


def build_chain_settlement(settings: Settings, keypair: Keypair, ledger: SettlementVenue) -> FundedOrSimulated:
    """Chain settlement of simulated routes for ``settings.solana_network`` signed by ``keypair``, falling
    back to ``ledger`` (the simulated one) while the wallet cannot pay fees. Build once per process;
    ``aclose`` it."""
    config = ChainConfig.from_settings(settings)
    chain = SolanaSettlement(config, ChainRpc(config), keypair)
    return FundedOrSimulated(chain, ledger)
