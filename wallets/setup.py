"""Setting up the engine's wallet: a keypair file, SOL from the faucet, and the ``.env`` lines that use them.

The keypair file is in the Solana CLI format (a JSON array of the 64 secret key bytes), readable only by
its owner (0600). It lives under the data directory (``.oee/wallet-<network>.json`` by default), which
git ignores. Nothing here prints, logs or returns the secret.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from adapters.solana.config import ChainConfig
from adapters.solana.rpc import ChainRpc
from kernel.errors import RetryableError
from kernel.settings import DEFAULT_RPC_URLS, Network, Settings
from wallets.keys import parse_secret

KEYPAIR_MODE = 0o600
# How many balance reads an airdrop gets to show up in.
_ARRIVAL_POLLS = 60
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


class AirdropNotReceived(RetryableError):
    """The faucet answered with a signature but the SOL never arrived (a validator's faucet past its
    per-request cap answers that way)."""

    code = "airdrop_not_received"


def default_keypair_path(settings: Settings, network: Network) -> Path:
    """``<data dir>/wallet-<network>.json``: kept out of git with the rest of the data directory."""
    return settings.data_dir / f"wallet-{network.value}.json"


def ensure_keypair(path: Path) -> tuple[Keypair, bool]:
    """The keypair in ``path``, or a new one written there (0600). Returns it and whether it was created."""
    path = path.expanduser()
    if path.exists():
        return parse_secret(path.read_text(), f"the keypair file {path}"), False
    path.parent.mkdir(parents=True, exist_ok=True)
    keypair = Keypair()
    # O_EXCL: never overwrite a keypair another process wrote meanwhile; the mode applies from creation.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEYPAIR_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(list(bytes(keypair))))
    os.chmod(path, KEYPAIR_MODE)  # in case the umask narrowed it oddly; never wider
    return keypair, True


def _quoted(value: str) -> str:
    if value and re.fullmatch(r"[A-Za-z0-9_./:@+,=-]+", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def update_env_file(path: Path, values: Mapping[str, str]) -> list[str]:
    """Set ``values`` in the dotenv file ``path``: lines for those keys are rewritten in place, missing
    keys appended, every other line kept as it was. Returns the keys written."""
    lines = path.read_text().splitlines() if path.exists() else []
    done: set[str] = set()
    out: list[str] = []
    for line in lines:
        match = _ENV_LINE.match(line)
        key = match.group(1) if match else None
        if key is not None and key in values:
            out.append(f"{key}={_quoted(values[key])}")
            done.add(key)
        else:
            out.append(line)
    missing = [k for k in values if k not in done]
    if missing and out and out[-1].strip():
        out.append("")
    out.extend(f"{k}={_quoted(values[k])}" for k in missing)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(out) + "\n")
    if path.exists():
        os.chmod(tmp, path.stat().st_mode & 0o777)
    tmp.replace(path)
    return list(values)


def env_path_value(keypair_path: Path, env_file: Path) -> str:
    """The keypair path as ``.env`` should hold it: relative to the ``.env`` folder when inside it."""
    resolved = keypair_path.expanduser().resolve()
    try:
        return str(resolved.relative_to(env_file.expanduser().resolve().parent))
    except ValueError:
        return str(resolved)


def chain_config(settings: Settings, network: Network, rpc_url: str | None = None) -> ChainConfig:
    """The chain settings for ``network``: ``rpc_url``, else ``SOLANA_RPC_URL`` when it is for that network,
    else the network's public endpoint."""
    url = rpc_url
    if url is None and settings.solana_network is network:
        url = settings.solana_rpc_url
    url = url or DEFAULT_RPC_URLS[network]
    scoped = settings.model_copy(update={"solana_network": network, "solana_rpc_url": url})
    return ChainConfig.from_settings(scoped)


@dataclass(frozen=True, slots=True)
class AirdropResult:
    signature: Signature
    before: int
    after: int


async def request_airdrop(
    rpc: ChainRpc, wallet: Pubkey, lamports: int, *, attempts: int = 3, backoff_s: float = 2.0
) -> AirdropResult:
    """Ask the faucet for ``lamports`` with back-off (``attempts`` tries, waits doubling from ``backoff_s``),
    then wait for them to arrive. Raises ``AirdropRateLimited`` when the faucet still refuses."""
    before = await rpc.balance(wallet)
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=backoff_s, max=max(backoff_s, 30.0)),
        retry=retry_if_exception_type(RetryableError),
        reraise=True,
    )
    signature: Signature | None = None
    async for attempt in retrying:
        with attempt:
            signature = await rpc.request_airdrop(wallet, lamports)
    assert signature is not None
    after = before
    for _ in range(_ARRIVAL_POLLS):
        after = await rpc.balance(wallet)
        if after >= before + lamports:
            return AirdropResult(signature, before, after)
        await asyncio.sleep(rpc.config.confirm_poll_ms / 1000)
    raise AirdropNotReceived(f"the faucet answered {signature} but the balance did not grow by {lamports} lamports")
