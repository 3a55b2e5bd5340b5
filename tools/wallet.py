"""``oee wallet``: set up, show and fund the engine's wallet on localnet or devnet.

``setup`` creates (or keeps) a keypair file, writes SOLANA_NETWORK, SOLANA_KEYPAIR_PATH (and
SOLANA_RPC_URL when given) into ``.env``, asks the faucet for SOL and prints the address and balance.
``show`` prints the address, network and balance; ``airdrop AMOUNT`` asks the faucet again. Exit codes: 0
done, 1 failed, 2 the faucet is rate-limited (try later). The secret key is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

from solders.keypair import Keypair

from adapters.solana.config import sol_to_lamports
from adapters.solana.errors import AirdropRateLimited
from adapters.solana.rpc import ChainRpc
from kernel.errors import EngineError
from kernel.money import format_amount
from kernel.settings import Network, Settings
from wallets.keys import InvalidKey, load_keypair, parse_secret
from wallets.setup import (
    AirdropNotReceived,
    chain_config,
    default_keypair_path,
    ensure_keypair,
    env_path_value,
    request_airdrop,
    update_env_file,
)

EXIT_OK, EXIT_FAILED, EXIT_RATE_LIMITED = 0, 1, 2
FAUCET_NETWORKS = (Network.LOCALNET, Network.DEVNET)


def sol(lamports: int) -> str:
    return f"{format_amount(lamports, 9)} SOL ({lamports} lamports)"


def _sol_amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"not an amount of SOL: {text!r}") from exc
    if value < 0 or not value.is_finite():
        raise argparse.ArgumentTypeError(f"not an amount of SOL: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oee wallet", description="Set up and fund the engine's Solana wallet.")
    sub = parser.add_subparsers(dest="action", required=True)
    setup = sub.add_parser("setup", help="create a keypair, fund it from the faucet, write .env")
    setup.add_argument("--network", choices=[n.value for n in FAUCET_NETWORKS], required=True)
    setup.add_argument("--keypair", type=Path, help="keypair file (default: <OEE_DATA_DIR>/wallet-<network>.json)")
    setup.add_argument("--rpc-url", help="RPC endpoint (default: the network's public one)")
    setup.add_argument("--airdrop", type=_sol_amount, help="SOL to ask the faucet for (default: AIRDROP_SOL); 0: none")
    setup.add_argument("--env-file", type=Path, default=Path(".env"), help="dotenv file to update (default: .env)")
    for name, text in (("show", "print the wallet's address, network and balance"), ("airdrop", "ask the faucet")):
        cmd = sub.add_parser(name, help=text)
        if name == "airdrop":
            cmd.add_argument("amount", type=_sol_amount, help="SOL to ask for")
        cmd.add_argument("--network", choices=[n.value for n in Network], help="default: SOLANA_NETWORK")
        cmd.add_argument("--keypair", type=Path, help="keypair file (default: the configured key)")
        cmd.add_argument("--rpc-url", help="RPC endpoint (default: SOLANA_RPC_URL or the network's public one)")
    return parser


class _Out:
    """Plain text lines to stdout, problems to stderr."""

    def __init__(self, stdout: TextIO, stderr: TextIO) -> None:
        self.stdout, self.stderr = stdout, stderr

    def line(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def problem(self, text: str) -> None:
        print(text, file=self.stderr, flush=True)


def main(
    argv: Sequence[str] | None,
    settings: Settings,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    airdrop_backoff_s: float = 2.0,
) -> int:
    """Run ``oee wallet ARGV``; returns the exit code."""
    args = build_parser().parse_args(argv)
    out = _Out(stdout or sys.stdout, stderr or sys.stderr)
    try:
        return asyncio.run(_run(args, settings, out, airdrop_backoff_s))
    except InvalidKey as exc:  # a malformed key: the message names the file or setting, never the key
        out.problem(f"error: {exc}")
        return EXIT_FAILED


async def _run(args: argparse.Namespace, settings: Settings, out: _Out, backoff_s: float) -> int:
    if args.action == "setup":
        return await _setup(args, settings, out, backoff_s)
    network = Network(args.network) if args.network else settings.solana_network
    keypair = _configured_keypair(args, settings, network)
    if keypair is None:
        out.problem(f"no wallet configured: run `oee wallet setup --network {_suggested(network)}`")
        return EXIT_FAILED
    out.line(f"address: {keypair.pubkey()}")
    out.line(f"network: {network.value}")
    if network is Network.SIMULATED:
        out.line("balance: none (the simulated network settles on the simulated ledger)")
        return EXIT_OK if args.action == "show" else _no_faucet(out, network)
    rpc = ChainRpc(chain_config(settings, network, args.rpc_url))
    try:
        if args.action == "airdrop":
            if network not in FAUCET_NETWORKS:
                return _no_faucet(out, network)
            code = await _airdrop(rpc, keypair, sol_to_lamports(args.amount), out, backoff_s)
            if code != EXIT_OK:
                return code
        return await _print_balance(rpc, keypair, out)
    finally:
        await rpc.aclose()


async def _setup(args: argparse.Namespace, settings: Settings, out: _Out, backoff_s: float) -> int:
    network = Network(args.network)
    path: Path = (args.keypair or default_keypair_path(settings, network)).expanduser()
    keypair, created = ensure_keypair(path)
    config = chain_config(settings, network, args.rpc_url)
    out.line(f"network: {network.value} ({config.rpc_url})")
    out.line(f"keypair: {path} ({'created' if created else 'kept the existing file'})")
    out.line(f"address: {keypair.pubkey()}")
    values = {"SOLANA_NETWORK": network.value}
    if args.rpc_url:
        values["SOLANA_RPC_URL"] = args.rpc_url
    values["SOLANA_KEYPAIR_PATH"] = env_path_value(path, args.env_file)
    written = update_env_file(args.env_file, values)
    out.line(f"env: set {', '.join(written)} in {args.env_file}")
    for line in _env_changes_the_engine(args.env_file, network, config.rpc_url):
        out.line(line)
    if settings.solana_private_key is not None:
        out.line("note: SOLANA_PRIVATE_KEY is also set and takes precedence over SOLANA_KEYPAIR_PATH")
    wanted = sol_to_lamports(args.airdrop if args.airdrop is not None else Decimal(str(settings.airdrop_sol)))
    rpc = ChainRpc(config)
    try:
        balance = await rpc.balance(keypair.pubkey())
        if wanted > 0 and balance < wanted:
            code = await _airdrop(rpc, keypair, wanted, out, backoff_s)
            if code != EXIT_OK:
                out.line(f"balance: {sol(await rpc.balance(keypair.pubkey()))}")
                return code
        elif wanted > 0:
            out.line(f"airdrop: not needed, the wallet already holds {format_amount(balance, 9)} SOL")
        return await _print_balance(rpc, keypair, out)
    except EngineError as exc:
        out.problem(f"error: {exc}")
        return EXIT_FAILED
    finally:
        await rpc.aclose()


async def _airdrop(rpc: ChainRpc, keypair: Keypair, lamports: int, out: _Out, backoff_s: float) -> int:
    network = rpc.config.network.value
    out.line(f"airdrop: asking the {network} faucet for {format_amount(lamports, 9)} SOL")
    try:
        result = await request_airdrop(rpc, keypair.pubkey(), lamports, backoff_s=backoff_s)
    except AirdropRateLimited:
        out.problem(
            f"the {network} faucet is rate-limited: no SOL was sent. Try again later"
            + (", or use https://faucet.solana.com" if rpc.config.network is Network.DEVNET else "")
            + f" (address {keypair.pubkey()})."
        )
        return EXIT_RATE_LIMITED
    except AirdropNotReceived as exc:
        out.problem(f"the {network} faucet answered but sent no SOL ({exc.code}); try a smaller amount")
        return EXIT_RATE_LIMITED
    except EngineError as exc:
        out.problem(f"the airdrop failed: {exc}")
        return EXIT_FAILED
    out.line(f"airdrop: received {format_amount(result.after - result.before, 9)} SOL ({result.signature})")
    return EXIT_OK


async def _print_balance(rpc: ChainRpc, keypair: Keypair, out: _Out) -> int:
    try:
        balance = await rpc.balance(keypair.pubkey())
    except EngineError as exc:
        out.problem(f"balance: unavailable ({exc})")
        return EXIT_FAILED
    out.line(f"balance: {sol(balance)}")
    if balance < rpc.config.min_fee_balance_lamports:
        needed = rpc.config.min_fee_balance_lamports
        out.line(f"note: below {format_amount(needed, 9)} SOL the engine settles orders on the simulated ledger")
    return EXIT_OK


def _configured_keypair(args: argparse.Namespace, settings: Settings, network: Network) -> Keypair | None:
    if args.keypair is not None:
        path = args.keypair.expanduser()
        return parse_secret(path.read_text(), f"the keypair file {path}") if path.exists() else None
    configured = load_keypair(settings)
    if configured is not None:
        return configured
    if network is Network.SIMULATED:
        return None
    default = default_keypair_path(settings, network)
    return parse_secret(default.read_text(), f"the keypair file {default}") if default.exists() else None


def _env_changes_the_engine(env_file: Path, network: Network, rpc_url: str) -> list[str]:
    """Said loudly: the engine reads .env, so the demo that settled on the simulated ledger now uses a cluster."""
    here = env_file.expanduser().resolve() == Path(".env").resolve()
    where = "in this folder" if here else f"in the folder whose .env is {env_file}"
    return [
        "!" * 100,
        f"!! {env_file} now points the engine at {network.value} ({rpc_url}), no longer the simulated network:",
        f"!! `make demo`, `make up` and every oee command run {where} now talk to {network.value}.",
        f"!! To go back, remove SOLANA_NETWORK, SOLANA_RPC_URL and SOLANA_KEYPAIR_PATH from {env_file}.",
        "!" * 100,
    ]


def _no_faucet(out: _Out, network: Network) -> int:
    out.problem(f"{network.value} has no faucet: fund the wallet by a transfer")
    return EXIT_FAILED


def _suggested(network: Network) -> str:
    return network.value if network in FAUCET_NETWORKS else Network.DEVNET.value


__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_RATE_LIMITED", "build_parser", "main"]
