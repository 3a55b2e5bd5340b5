"""What the Solana settlement venue needs from the settings, read once and checked."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kernel.settings import Network, Settings

LAMPORTS_PER_SOL = 1_000_000_000
COMMITMENTS = ("processed", "confirmed", "finalized")
# The most compute units a transaction may ask for; the first simulation runs with this limit.
MAX_COMPUTE_UNITS = 1_400_000
_FAUCET_NETWORKS = (Network.LOCALNET, Network.DEVNET)


def sol_to_lamports(sol: float | Decimal | str) -> int:
    """Whole SOL to lamports, exactly (``2.5`` → 2_500_000_000); rounds down below one lamport."""
    return int(Decimal(str(sol)) * LAMPORTS_PER_SOL)


@dataclass(frozen=True, slots=True)
class ChainConfig:
    """The cluster, how settled a transaction must be, fee policy and RPC patience.

    ``commitment`` is the level :meth:`SolanaSettlement.wait` reports a landing at. ``compute_unit_price``
    fixes the priority fee (micro-lamports per unit); unset, it comes from the RPC's recent fees clamped
    to ``[compute_unit_price_min, compute_unit_price_max]``.
    """

    network: Network
    rpc_url: str
    commitment: str = "confirmed"
    compute_unit_price: int | None = None
    compute_unit_price_min: int = 0
    compute_unit_price_max: int = 200_000
    compute_unit_margin: float = 1.1
    estimate_reuse_s: float = 2.0  # a blockhash and a priority-fee estimate, shared by the orders built meanwhile
    rpc_timeout_s: float = 10.0
    rpc_max_attempts: int = 5
    rpc_backoff_s: float = 0.1
    rpc_backoff_max_s: float = 2.0
    confirm_poll_ms: int = 400
    min_fee_balance_lamports: int = 1_000_000
    airdrop_lamports: int = 2 * LAMPORTS_PER_SOL

    def __post_init__(self) -> None:
        if self.network is Network.SIMULATED:
            raise ValueError("the simulated network has no chain: use the simulated ledger")
        if self.commitment not in COMMITMENTS:
            raise ValueError(f"SOLANA_COMMITMENT must be one of {', '.join(COMMITMENTS)}, not {self.commitment!r}")
        if self.compute_unit_price_min > self.compute_unit_price_max:
            raise ValueError("COMPUTE_UNIT_PRICE_MIN is above COMPUTE_UNIT_PRICE_MAX")

    @classmethod
    def from_settings(cls, settings: Settings, *, rpc_url: str | None = None) -> ChainConfig:
        """The chain settings of ``settings``; ``rpc_url`` overrides the configured endpoint."""
        url = rpc_url or settings.rpc_url
        if not url:
            raise ValueError(f"SOLANA_NETWORK={settings.solana_network.value} has no RPC endpoint")
        return cls(
            network=settings.solana_network,
            rpc_url=url,
            commitment=settings.solana_commitment.strip().lower(),
            compute_unit_price=settings.compute_unit_price,
            compute_unit_price_min=settings.compute_unit_price_min,
            compute_unit_price_max=settings.compute_unit_price_max,
            compute_unit_margin=settings.compute_unit_margin,
            estimate_reuse_s=settings.estimate_reuse_s,
            rpc_timeout_s=settings.rpc_timeout_s,
            rpc_max_attempts=settings.rpc_max_attempts,
            confirm_poll_ms=settings.confirm_poll_ms,
            min_fee_balance_lamports=settings.min_fee_balance_lamports,
            airdrop_lamports=sol_to_lamports(settings.airdrop_sol),
        )

    @property
    def has_faucet(self) -> bool:
        """Whether the cluster hands out SOL (localnet's faucet, devnet's)."""
        return self.network in _FAUCET_NETWORKS

    @property
    def explorer_cluster(self) -> str | None:
        """The explorer's ``cluster`` parameter: ``"devnet"``, ``""`` for mainnet-beta, None without an explorer."""
        if self.network is Network.DEVNET:
            return "devnet"
        if self.network is Network.MAINNET:
            return ""
        return None

    def explorer_url(self, signature: str) -> str | None:
        """The Solana Explorer page of ``signature``, where the cluster is public."""
        cluster = self.explorer_cluster
        if cluster is None:
            return None
        base = f"https://explorer.solana.com/tx/{signature}"
        return f"{base}?cluster={cluster}" if cluster else base
