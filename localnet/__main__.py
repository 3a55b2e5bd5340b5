"""``python -m localnet`` / ``oee localnet``: serve Solana JSON-RPC over LiteSVM on 127.0.0.1:8899."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pydantic import ValidationError

from kernel.logs import setup_logging
from localnet import build_config, pubsub_url, serve
from localnet.accounts import AccountFileError
from localnet.faucet import LAMPORTS_PER_SOL, MintError
from localnet.rpc import LocalnetConfig


def _sol(text: str) -> int:
    """Whole SOL (``"1.5"``) to lamports, exactly."""
    try:
        value = Decimal(text) * LAMPORTS_PER_SOL
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"not an amount of SOL: {text!r}") from exc
    if value < 0 or value != value.to_integral_value():
        raise argparse.ArgumentTypeError(f"not a whole number of lamports: {text!r} SOL")
    return int(value)


def _token_amount(text: str) -> tuple[str, Decimal]:
    name, sep, amount = text.partition("=")
    try:
        if not sep or not name:
            raise InvalidOperation
        return name, Decimal(amount)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"expected SYMBOL=AMOUNT or MINT=AMOUNT, got {text!r}") from exc


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="oee localnet", description="Serve Solana JSON-RPC over LiteSVM (a local Solana VM)."
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8899, help="RPC port (default 8899; 0 picks a free one)")
    clock = p.add_argument_group("slots")
    clock.add_argument("--slot-ms", type=int, default=400, help="slot length in ms; 0 stops the clock (default 400)")
    clock.add_argument("--finality-depth", type=int, default=31, help="slots until finalized (default 31)")
    clock.add_argument("--blockhash-window", type=int, default=150, help="blocks a blockhash lives (default 150)")
    faucet = p.add_argument_group("faucet")
    faucet.add_argument("--faucet-limit", type=int, help="airdrops per address per window (default unlimited)")
    faucet.add_argument("--faucet-max-sol", type=_sol, help="SOL per address per window (default unlimited)")
    faucet.add_argument("--faucet-global-limit", type=int, help="airdrops to anyone per window (default unlimited)")
    faucet.add_argument("--faucet-window", type=float, default=86_400.0, help="window in seconds (default 86400)")
    faucet.add_argument("--faucet-cap-sol", type=_sol, default=5 * LAMPORTS_PER_SOL, help="largest airdrop (5 SOL)")
    faults = p.add_argument_group("fault injection")
    faults.add_argument("--drop-rate", type=float, default=0.0, help="share of sends answered but never executed")
    faults.add_argument("--delay-slots", type=int, default=0, help="slots a sent transaction waits before it runs")
    faults.add_argument("--rate-429", type=float, default=0.0, help="share of calls answered with HTTP 429")
    faults.add_argument("--rate-5xx", type=float, default=0.0, help="share of calls answered with HTTP 503")
    faults.add_argument("--seed", type=int, default=0, help="seed of the fault RNG")
    setup = p.add_argument_group("start-up state")
    setup.add_argument("--fund", action="append", default=[], metavar="ADDRESS", help="fund a wallet (repeatable)")
    setup.add_argument("--fund-sol", type=_sol, default=100 * LAMPORTS_PER_SOL, help="SOL per funded wallet (100)")
    setup.add_argument(
        "--fund-token",
        action="append",
        type=_token_amount,
        default=[],
        metavar="SYMBOL=AMOUNT",
        help="tokens minted to each funded wallet, e.g. USDC=1000 (repeatable)",
    )
    setup.add_argument("--no-test-mints", action="store_true", help="do not create the engine's token mints")
    setup.add_argument(
        "--bpf-program",
        nargs=2,
        action="append",
        default=[],
        metavar=("ADDRESS", "FILE"),
        help="load an SBF program (repeatable)",
    )
    setup.add_argument(
        "--account",
        nargs=2,
        action="append",
        default=[],
        metavar=("ADDRESS", "FILE"),
        help="load an account from a solana CLI JSON file; ADDRESS '-' uses the file's pubkey (repeatable)",
    )
    setup.add_argument(
        "--fixtures",
        action="append",
        default=[],
        metavar="DIR",
        type=Path,
        help="load every <ADDRESS>.so in DIR as a program and every *.json in it as an account (repeatable)",
    )
    p.add_argument("--quiet", action="store_true", help="log warnings only")
    return p


def fixtures_in(folder: Path) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]]]:
    """The programs (``<ADDRESS>.so``) and accounts (solana CLI ``*.json``, pubkey inside) of a folder, as
    ``solana program dump`` and ``solana account --output json`` write them; sorted, so loads repeat."""
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"--fixtures: {folder} is not a folder")
    programs = [(path.stem, path) for path in sorted(folder.glob("*.so"))]
    accounts = [("-", path) for path in sorted(folder.glob("*.json"))]
    if not programs and not accounts:
        raise argparse.ArgumentTypeError(f"--fixtures: {folder} holds no *.so program and no *.json account")
    return programs, accounts


def config_from_args(args: argparse.Namespace) -> LocalnetConfig:
    programs: list[tuple[str, Path]] = []
    accounts: list[tuple[str, Path]] = []
    for folder in args.fixtures:
        found_programs, found_accounts = fixtures_in(folder)
        programs += found_programs
        accounts += found_accounts
    return build_config(
        host=args.host,
        port=args.port,
        slot_ms=args.slot_ms,
        finality_depth=args.finality_depth,
        blockhash_window=args.blockhash_window,
        max_requests_per_address=args.faucet_limit,
        max_lamports_per_address=args.faucet_max_sol,
        max_requests_global=args.faucet_global_limit,
        window_s=args.faucet_window,
        max_per_request_lamports=args.faucet_cap_sol,
        drop_rate=args.drop_rate,
        delay_slots=args.delay_slots,
        rate_429=args.rate_429,
        rate_5xx=args.rate_5xx,
        seed=args.seed,
        fund=args.fund,
        fund_lamports=args.fund_sol,
        fund_tokens=dict(args.fund_token),
        create_test_mints=not args.no_test_mints,
        programs=[(address, Path(path)) for address, path in args.bpf_program] + programs,
        accounts=[(address, Path(path)) for address, path in args.account] + accounts,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the localnet until interrupted. Prints the RPC URL on one line once it is ready, then the PubSub
    WebSocket URL on the next."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except (ValidationError, argparse.ArgumentTypeError) as exc:
        parser.error(str(exc))
    setup_logging("WARNING" if args.quiet else "INFO")
    logging.getLogger("oee.localnet").setLevel(logging.WARNING if args.quiet else logging.INFO)

    def ready(url: str) -> None:
        print(url, flush=True)
        print(pubsub_url(url), flush=True)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(config, on_ready=ready, stop=stop)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return 0
    except (OSError, AccountFileError, MintError, ValueError, RuntimeError) as exc:
        print(f"oee localnet: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
