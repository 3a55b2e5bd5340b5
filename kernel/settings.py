"""The one typed settings root, read once at start-up and passed down.

Nothing below the composition roots (``tools.cli``, ``engine.api.app``, ``engine.worker``) reads the
environment: they build a :class:`Settings` and hand it on.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Network(StrEnum):
    """Where orders settle. ``simulated`` is the simulated ledger; ``mock``, its earlier name, still reads."""

    SIMULATED = "simulated"
    LOCALNET = "localnet"
    DEVNET = "devnet"
    MAINNET = "mainnet-beta"

    @classmethod
    def _missing_(cls, value: object) -> Network | None:
        return cls.SIMULATED if isinstance(value, str) and value.lower() == "mock" else None


class Routing(StrEnum):
    """Which DEXes quote: ``simulated`` (the simulated DEXes, on any network) or ``onchain`` (the real pools of
    the configured network, through their programs)."""

    SIMULATED = "simulated"
    ONCHAIN = "onchain"


DEFAULT_RPC_URLS: dict[Network, str] = {
    Network.LOCALNET: "http://127.0.0.1:8899",
    Network.DEVNET: "https://api.devnet.solana.com",
    Network.MAINNET: "https://api.mainnet-beta.solana.com",
}


class LatencyRange(BaseModel):
    """A latency drawn uniformly from ``[low_ms, high_ms]``; ``"2000-3000"`` or ``"250"`` in the environment."""

    low_ms: int = Field(ge=0)
    high_ms: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> LatencyRange:
        if self.high_ms < self.low_ms:
            raise ValueError("the upper bound is below the lower bound")
        return self

    @classmethod
    def parse(cls, value: Any) -> LatencyRange:
        if isinstance(value, LatencyRange):
            return value
        if isinstance(value, dict):
            return cls.model_validate(value)
        if isinstance(value, int | float):
            return cls(low_ms=int(value), high_ms=int(value))
        text = str(value).strip()
        if "-" in text:
            low, high = text.split("-", 1)
            return cls(low_ms=int(low), high_ms=int(high))
        return cls(low_ms=int(text), high_ms=int(text))

    @property
    def mean_ms(self) -> float:
        return (self.low_ms + self.high_ms) / 2

    def __str__(self) -> str:
        return str(self.low_ms) if self.low_ms == self.high_ms else f"{self.low_ms}-{self.high_ms}"


class Settings(BaseSettings):
    """Every knob of the engine. Each field maps to the upper-case environment variable of its name."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- infrastructure -------------------------------------------------------------------------
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: an embedded PostgreSQL is started under OEE_DATA_DIR.",
    )
    redis_url: str | None = Field(
        default=None, description="Redis URL. Unset: an embedded Redis is started under OEE_DATA_DIR."
    )
    oee_data_dir: Path = Field(default=Path(".oee"), description="Where embedded servers keep their data.")
    db_pool_size: int = Field(default=10, ge=1, description="PostgreSQL connections per process.")

    # --- API ----------------------------------------------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="Address the HTTP API binds to.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port of the HTTP API.")
    api_processes: int = Field(default=1, ge=1, description="API processes started by `oee up`.")
    write_batch_max: int = Field(default=512, ge=1, description="Most orders committed in one batch.")
    api_cors_origins: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Comma-separated browser origins allowed to call the API and open its WebSockets (none: no CORS).",
    )
    request_db_timeout_s: float = Field(
        default=2.0,
        gt=0,
        description="Longest a request waits on PostgreSQL (a connection, a query, a commit) before it answers 503.",
    )
    request_redis_timeout_s: float = Field(
        default=2.0, gt=0, description="Longest an API process waits on one Redis call before giving up on it."
    )

    # --- API keys -------------------------------------------------------------------------------
    rate_limit_per_s: float = Field(
        default=1000.0, gt=0, description="Requests a second one API key may make, unless the key sets its own."
    )
    rate_limit_burst: int = Field(
        default=2000, ge=1, description="Requests one API key may make at once, unless the key sets its own."
    )
    ws_max_per_key: int = Field(default=1000, ge=1, description="WebSockets one API key may hold open per API process.")
    ws_max_per_process: int = Field(default=20_000, ge=1, description="WebSockets one API process holds at most.")
    api_key_cache_s: float = Field(
        default=5.0, ge=0, description="How long an API process trusts a looked-up key (a revoke takes this long)."
    )

    # --- worker -------------------------------------------------------------------------------
    worker_concurrency: int = Field(default=10, ge=1, description="Orders one worker process runs at once.")
    worker_processes: int = Field(default=1, ge=1, description="Worker processes started by `oee up`.")
    oee_namespace: str | None = Field(
        default=None,
        description="Prefix of this deployment's Redis keys and channels. Unset: derived from DATABASE_URL's "
        "host, port and database, so deployments sharing one Redis never see each other's queue or events.",
    )
    queue_name: str | None = Field(default=None, description="The order queue's Redis key. Unset: <namespace>:orders.")
    queue_poll_delay_ms: int = Field(default=5, ge=1, description="Queue poll interval of an idle worker.")
    job_timeout_s: int = Field(default=60, ge=1, description="Longest one order job may run.")
    job_lease_s: float = Field(
        default=3.0,
        gt=0,
        description="A worker holds each order it runs for this long, renewed while it lives: a killed worker's "
        "orders go to another worker this long after its last renewal.",
    )
    job_lease_renew_s: float = Field(default=1.0, gt=0, description="How often a worker renews its leases.")
    recovery_interval_s: float = Field(
        default=5.0, gt=0, description="How often a worker re-enqueues accepted orders whose job was lost."
    )
    worker_shutdown_grace_s: int = Field(
        default=20,
        ge=0,
        description="On SIGTERM a worker stops taking orders and lets those it runs finish for this long, then "
        "hands the rest back to the queue for another worker.",
    )
    redis_timeout_s: float = Field(
        default=5.0, gt=0, description="Longest a worker waits on one Redis call before it backs off and retries."
    )
    db_timeout_s: float = Field(
        default=10.0, gt=0, description="Longest a worker waits on one PostgreSQL query or connection."
    )
    worker_status_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often a worker publishes its status (network, RPC, wallet balance, fallback) for /health.",
    )

    # --- orders -------------------------------------------------------------------------------
    order_max_attempts: int = Field(default=3, ge=1, le=10, description="Attempts per order before it fails.")
    order_retry_base_ms: int = Field(default=500, ge=0, description="First back-off; doubles each attempt.")
    order_retry_max_ms: int = Field(default=8000, ge=0, description="Longest back-off between attempts.")
    quote_timeout_ms: int = Field(default=1500, ge=1, description="How long routing waits for one DEX quote.")
    default_slippage_bps: int = Field(default=50, ge=1, le=5000, description="Slippage when none is given.")
    enabled_dexes: Annotated[list[str], NoDecode] = Field(
        default=["raydium", "meteora"], description="Comma-separated DEXes routing asks for quotes."
    )
    route_max_legs: int = Field(
        default=3, ge=1, le=6, description="Most pools one order's input is split over (1: never split)."
    )
    route_split_steps: int = Field(
        default=20, ge=2, le=100, description="Fractions of the order each pool is priced at to find a split."
    )
    split_min_gain_bps: int = Field(
        default=2, ge=0, le=1000, description="A split must pay at least this much more than the best single pool."
    )
    route_intermediates: Annotated[list[str], NoDecode] = Field(
        default=["USDC", "SOL"], description="Comma-separated tokens a route may hop through (none: no hops)."
    )
    hop_min_gain_bps: int = Field(
        default=2, ge=0, le=1000, description="A hop must pay at least this much more than the best direct pool."
    )

    # --- simulated venues -----------------------------------------------------------------------
    simulated_quote_latency_ms: Annotated[LatencyRange, NoDecode] = Field(
        validation_alias=AliasChoices("simulated_quote_latency_ms", "mock_quote_latency_ms"),
        default=LatencyRange(low_ms=200, high_ms=200),
        description="Simulated quote latency (ms or low-high).",
    )
    simulated_execution_latency_ms: Annotated[LatencyRange, NoDecode] = Field(
        validation_alias=AliasChoices("simulated_execution_latency_ms", "mock_execution_latency_ms"),
        default=LatencyRange(low_ms=2000, high_ms=3000),
        description="Simulated time from send to confirmation (ms or low-high).",
    )
    simulated_failure_rate: float = Field(
        validation_alias=AliasChoices("simulated_failure_rate", "mock_failure_rate"),
        default=0.0,
        ge=0,
        le=1,
        description="Share of simulated quotes that fail with a transient error.",
    )
    simulated_drop_rate: float = Field(
        validation_alias=AliasChoices("simulated_drop_rate", "mock_drop_rate"),
        default=0.0,
        ge=0,
        le=1,
        description="Share of simulated transactions the venue drops (never land).",
    )
    simulated_tx_ttl_ms: int = Field(
        validation_alias=AliasChoices("simulated_tx_ttl_ms", "mock_tx_ttl_ms"),
        default=10_000,
        ge=1,
        description="How long a simulated transaction stays valid (its blockhash life).",
    )
    simulated_pool_depth_usd: int = Field(
        validation_alias=AliasChoices("simulated_pool_depth_usd", "mock_pool_depth_usd"),
        default=5_000_000,
        ge=1000,
        description="Liquidity of each simulated pool, in US dollars per side.",
    )
    simulated_seed: int = Field(
        validation_alias=AliasChoices("simulated_seed", "mock_seed"),
        default=7,
        description="Seed of the simulated market's price path.",
    )

    simulated_watch_poll_ms: int = Field(
        default=250, ge=1, description="How often a watcher re-reads a simulated pair (its price moves with the clock)."
    )
    simulated_feed_refresh_ms: int = Field(
        default=0,
        ge=0,
        description="Longest a process prices on its last read of the simulated market's shared feed (launches, "
        "set prices) before reading it again; 0 reads it before every quote, so a worker never quotes an older "
        "market than the watcher that fired the order saw.",
    )

    # --- waiting orders (limit, sniper) ---------------------------------------------------------
    watcher_processes: int = Field(default=1, ge=0, description="Watcher processes started by `oee up`.")
    watch_max_wait_s: float = Field(
        default=1.0, gt=0, description="Longest a pair's watcher waits for a venue's change before reading again."
    )
    watch_lease_s: float = Field(
        default=3.0,
        gt=0,
        description="A watcher holds each pair it watches for this long, renewed while it lives: a standby watcher "
        "takes a dead one's pairs over this long after its last renewal.",
    )
    watch_resync_s: float = Field(
        default=5.0, gt=0, description="How often a watcher re-reads waiting orders and pairs from PostgreSQL."
    )
    waiting_max_s: int = Field(
        default=30 * 24 * 3600, ge=1, description="Longest a limit or sniper order may wait before it expires."
    )

    # --- Solana ---------------------------------------------------------------------------------
    solana_network: Network = Field(
        default=Network.SIMULATED, description="simulated (mock), localnet, devnet or mainnet-beta."
    )
    solana_rpc_url: str | None = Field(default=None, description="Overrides the network's RPC endpoint.")
    solana_private_key: SecretStr | None = Field(
        default=None, description="Base58 secret key or the JSON byte array of a keypair file."
    )
    solana_keypair_path: Path | None = Field(default=None, description="A Solana CLI keypair file.")
    routing: Routing = Field(
        default=Routing.SIMULATED,
        description="simulated (the simulated DEXes quote) or onchain (Raydium CPMM and Meteora DLMM pools).",
    )
    pools_file: Path | None = Field(default=None, description="JSON file of program IDs and pools per DEX.")
    pools_json: str | None = Field(default=None, description="The same document as POOLS_FILE, inline.")
    solana_commitment: str = Field(default="confirmed", description="Commitment orders are confirmed at.")
    compute_unit_price: int | None = Field(
        default=None, ge=0, description="Fixed priority fee, micro-lamports per compute unit (unset: from the RPC)."
    )
    compute_unit_price_min: int = Field(default=0, ge=0, description="Lowest priority fee taken from the RPC.")
    compute_unit_price_max: int = Field(default=200_000, ge=0, description="Highest priority fee taken from the RPC.")
    compute_unit_margin: float = Field(default=1.1, ge=1.0, description="Compute unit limit = simulated use x this.")
    estimate_reuse_s: float = Field(
        default=2.0, ge=0, le=30,
        description="Seconds a blockhash and a priority-fee estimate are shared by the orders a worker builds "
        "(0: each order reads its own). A blockhash stays valid about 60 s, so a reused one loses at most this.",
    )  # fmt: skip
    rpc_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one RPC call.")
    rpc_max_attempts: int = Field(default=5, ge=1, description="Tries of one RPC call on transient errors.")
    confirm_poll_ms: int = Field(default=400, ge=10, description="How often a sent signature's status is read.")
    rebroadcast_ms: int = Field(default=1500, ge=10, description="How often unconfirmed signed bytes are re-sent.")
    min_fee_balance_lamports: int = Field(
        default=1_000_000, ge=0, description="Below this balance the wallet is treated as unable to pay fees."
    )
    airdrop_sol: float = Field(default=2.0, gt=0, description="SOL requested when the wallet must be funded.")

    # --- logging --------------------------------------------------------------------------------
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    access_log: bool = Field(
        default=False,
        description="One log line per HTTP request (oee.access). Off: at thousands of orders a second it costs "
        "about half the acceptance throughput.",
    )
    log_format: Literal["console", "json"] = Field(
        default="console", description="console (text lines) or json (one JSON object per line)."
    )
    prometheus_multiproc_dir: Path | None = Field(
        default=None,
        description="Where every process of the deployment writes its metrics for /metrics to add up. "
        "Unset: <OEE_DATA_DIR>/metrics/<namespace>, emptied by oee up and oee demo at start.",
    )

    @model_validator(mode="after")
    def _renewed_within_the_lease(self) -> Settings:
        if self.job_lease_renew_s >= self.job_lease_s:
            raise ValueError("JOB_LEASE_RENEW_S must be shorter than JOB_LEASE_S, or leases lapse while renewed")
        return self

    @field_validator("enabled_dexes", mode="before")
    @classmethod
    def _split_dexes(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("route_intermediates", mode="before")
    @classmethod
    def _split_intermediates(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator("simulated_quote_latency_ms", "simulated_execution_latency_ms", mode="before")
    @classmethod
    def _latency(cls, value: Any) -> LatencyRange:
        return LatencyRange.parse(value)

    @property
    def rpc_url(self) -> str | None:
        """The RPC endpoint: ``SOLANA_RPC_URL``, or the network's public one (none for ``simulated``)."""
        if self.solana_rpc_url:
            return self.solana_rpc_url
        return DEFAULT_RPC_URLS.get(self.solana_network)

    @property
    def namespace(self) -> str:
        """``OEE_NAMESPACE``, or ``oee:`` and a digest of the database's address: one deployment, one database."""
        return self.oee_namespace or derived_namespace(self.database_url)

    @property
    def order_queue_key(self) -> str:
        return self.queue_name or f"{self.namespace}:orders"

    @property
    def events_channel(self) -> str:
        return f"{self.namespace}:events"

    @property
    def worker_status_key(self) -> str:
        """The Redis hash where each worker publishes its status record (one field per worker)."""
        return f"{self.namespace}:worker-status"

    @property
    def data_dir(self) -> Path:
        return self.oee_data_dir.expanduser().resolve()


def derived_namespace(database_url: str | None) -> str:
    """``oee:`` and 8 hex digits naming the database (host, port, name; never the credentials)."""
    if not database_url:
        return "oee"
    parts = urlsplit(database_url)
    query = parse_qs(parts.query)
    address = f"{parts.hostname}:{parts.port}{parts.path}?{query.get('host', [''])[0]}"
    return "oee:" + hashlib.sha256(address.encode()).hexdigest()[:8]


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment and ``.env``, with explicit overrides on top."""
    return Settings(**overrides)
