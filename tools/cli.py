"""``oee``: run the API, the worker, both, the demo, and migrations; check the settings before any of them."""

from __future__ import annotations

import argparse
import glob
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from engine import __version__
from engine.runtime import resolve_services, run_migrations
from kernel.logs import setup_logging
from kernel.settings import Settings, load_settings
from tools.keys import ensure_local_key, how_to_use, local_key_path
from tools.processes import SIGNING_KEY_ENV, api_env, child_env, prepare_services, spawn
from tools.supervisor import Child, Supervisor

log = logging.getLogger("oee")

METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The commands whose processes record metrics, and those that start a deployment (its metrics begin at zero).
RECORDS_METRICS = {"api", "worker", "watcher", "up", "demo"}
STARTS_DEPLOYMENT = {"up", "demo"}


CHECK_TEXT = """Check every setting before anything starts: DATABASE_URL and REDIS_URL parsed (a URL of another
kind is refused) and reached, the wallet key readable, API_PORT free, OEE_DATA_DIR writable. Prints one line per
problem naming the setting and exits 2, or what it found and exits 0. up, api, worker, watcher and migrate run
the same checks first."""
MIGRATE_TEXT = "Bring the database DATABASE_URL names (or the embedded one) to the latest schema migration."
API_TEXT = """Run the HTTP and WebSocket API: it accepts orders, queues them for workers and streams their
progress. It never holds the wallet key. Starts embedded PostgreSQL and Redis when DATABASE_URL / REDIS_URL are
unset."""
WORKER_TEXT = """Run a worker: it takes queued orders, quotes every DEX, routes, builds, signs, submits and
confirms each, with at most ORDER_MAX_ATTEMPTS attempts. The only process that holds the wallet key."""
WATCHER_TEXT = """Run a watcher of waiting orders: one loop per pair reads its DEXes once per update, fires each
limit order whose price is met and each sniper order whose pool opened, and expires the rest on time."""
UP_TEXT = """Run a whole deployment: the API, WORKER_PROCESSES workers and WATCHER_PROCESSES watchers, each
restarted with back-off when it dies. A child that fails to start 5 times in a row stops everything with its
last error and exit status 1. Settings are checked first (see oee check)."""
DEMO_TEXT = """Start a deployment (its API on API_PORT, or on a free port when unset), submit market orders and
a limit, a sniper and a cancel, and show each order's progress live until every one is final."""


def with_metrics_dir(settings: Settings, *, fresh: bool) -> Settings:
    """Put the deployment's metrics directory in the environment, where prometheus-client reads it when first
    imported (so before anything imports it) and every child process inherits it. ``fresh``: a deployment
    starts, so the samples of an earlier one are removed."""
    directory = settings.prometheus_multiproc_dir
    if directory is None:
        directory = settings.data_dir / "metrics" / settings.namespace.replace(":", "-")
    directory = Path(directory).expanduser().resolve()
    if fresh and directory.is_dir():
        for file in glob.glob(str(directory / "*.db")):  # only prometheus-client's files, whatever else is there
            os.remove(file)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[METRICS_DIR_ENV] = str(directory)
    return settings.model_copy(update={"prometheus_multiproc_dir": directory})


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    services = resolve_services(settings)
    try:
        run_migrations(services.settings)
        print("database is at the latest migration")
    finally:
        services.stop()
    return 0


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    services = prepare_services(settings)
    s = services.settings
    processes = args.processes or s.api_processes
    # uvicorn re-raises the signal that stopped it once it has shut down; with the default SIGTERM
    # action that would end the process before the embedded servers it started are stopped.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    for name in SIGNING_KEY_ENV:
        os.environ.pop(name, None)
    try:
        if processes > 1:
            os.environ.update(api_env(s))
            uvicorn.run(
                "engine.api.app:create_app_from_env", factory=True, host=s.api_host, port=s.api_port,
                workers=processes, loop="uvloop", http="httptools", access_log=False, log_level="warning",
                proxy_headers=False, server_header=False,
            )  # fmt: skip
        else:
            from engine.api.app import create_asgi_app

            uvicorn.run(
                create_asgi_app(s), host=s.api_host, port=s.api_port, loop="uvloop", http="httptools",
                access_log=False, log_level="warning", proxy_headers=False, server_header=False,
            )  # fmt: skip
    finally:
        services.stop()
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from engine.worker import build_worker
    from wallets.keys import InvalidKey, load_keypair

    if args.concurrency:
        settings = settings.model_copy(update={"worker_concurrency": args.concurrency})
    try:
        signer = load_keypair(settings)
    except InvalidKey as exc:
        print(f"oee worker: {exc}", file=sys.stderr)
        return 2
    services = prepare_services(settings)

    async def run() -> None:
        # arq binds its worker to the loop it is built in: build it inside the running loop.
        worker = build_worker(services.settings, burst=args.burst, signer=signer)
        try:
            await worker.async_run()
        except asyncio.CancelledError:
            pass  # SIGTERM/SIGINT: arq cancels its main task once running jobs are handed back
        finally:
            await worker.close()

    try:
        import uvloop

        uvloop.run(run())
    finally:
        services.stop()
    return 0


def cmd_watcher(settings: Settings, args: argparse.Namespace) -> int:
    from engine.watcher.process import run_watcher

    services = prepare_services(settings)
    try:
        import uvloop

        uvloop.run(run_watcher(services.settings))
    finally:
        services.stop()
    return 0


def cmd_pools(settings: Settings, args: argparse.Namespace) -> int:
    from tools.pools import main as pools_main

    services = prepare_services(settings)
    try:
        return pools_main(args, services.settings)
    finally:
        services.stop()


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    from tools.demo_view import mode_line

    services = prepare_services(settings)
    s = services.settings
    env = child_env(s)
    children = [Child("api", ("api", "--processes", str(s.api_processes)))]
    children += [Child(f"worker-{n + 1}", ("worker",)) for n in range(s.worker_processes)]
    # Watchers need no wallet: they read venues and move orders in PostgreSQL; workers execute what they fire.
    children += [Child(f"watcher-{n + 1}", ("watcher",)) for n in range(s.watcher_processes)]
    # The API child gets no signing key: only workers sign.
    supervisor = Supervisor(
        lambda argv: spawn(argv, env if argv[0] == "worker" else api_env(s), stderr=subprocess.PIPE), children
    )
    supervisor.install_signal_handlers()
    try:
        _, created = ensure_local_key(s)
        supervisor.start()
        api_url = f"http://{s.api_host}:{s.api_port}"
        announce(s, f"API on {api_url} (docs at /docs, metrics at /metrics), {s.worker_processes} worker(s), "
                    f"{s.watcher_processes} watcher(s)", apiUrl=api_url, workers=s.worker_processes,
                 watchers=s.watcher_processes)  # fmt: skip
        announce(s, mode_line(s).plain, network=s.solana_network.value, routing=s.routing.value,
                 dexes=list(s.enabled_dexes))  # fmt: skip
        announce(s, how_to_use(s, created), apiKeyFile=str(local_key_path(s)), apiKeyCreated=created)
        gave_up = supervisor.run()
    finally:
        services.stop()
    if gave_up:
        if s.log_format == "json":
            log.error("oee up: %s", gave_up)
        else:
            print(f"oee up: {gave_up}", file=sys.stderr, flush=True)
        return 1
    return 0


def announce(settings: Settings, text: str, **fields: object) -> None:
    """A start-up line: plain for a terminal, or a JSON log line with its facts as fields (LOG_FORMAT=json)."""
    if settings.log_format == "json":
        log.info("oee up: %s", text, extra=fields)
    else:
        print(f"oee up: {text}", flush=True)


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from tools.check import summary

    for line in summary(settings):  # the checks themselves ran before any command (see main)
        print(f"oee check: {line}")
    print("oee check: every setting is good")
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from tools.demo import run_demo

    return run_demo(settings, orders=args.orders, fast=args.fast, waiting=not args.market_only)


def cmd_localnet(settings: Settings, args: argparse.Namespace) -> int:
    from localnet.__main__ import main as localnet_main

    return localnet_main(args.localnet_args)


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    from tools.keys import parse, run

    parsed = parse(args.keys_args)  # help and usage errors before any server starts
    services = prepare_services(settings)
    try:
        return run(parsed, services.settings)
    finally:
        services.stop()


def cmd_wallet(settings: Settings, args: argparse.Namespace) -> int:
    from tools.wallet import main as wallet_main

    return wallet_main(args.wallet_args, settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oee", description="Order execution engine for Solana swaps.")
    parser.add_argument("--version", action="version", version=f"oee {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "check", help="check every setting (URLs, servers, wallet key, port) and exit", description=CHECK_TEXT
    ).set_defaults(run=cmd_check)
    sub.add_parser("migrate", help="bring the database schema up to date", description=MIGRATE_TEXT).set_defaults(
        run=cmd_migrate
    )
    api = sub.add_parser("api", help="run the HTTP and WebSocket API", description=API_TEXT)
    api.add_argument("--host", help="address to bind (API_HOST)")
    api.add_argument("--port", type=int, help="port to listen on (API_PORT)")
    api.add_argument("--processes", type=int, help="API processes sharing the port (API_PROCESSES)")
    api.set_defaults(run=cmd_api)
    worker = sub.add_parser("worker", help="run a worker that executes queued orders", description=WORKER_TEXT)
    worker.add_argument("--concurrency", type=int, help="orders executed at once (WORKER_CONCURRENCY)")
    worker.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    worker.set_defaults(run=cmd_worker)
    sub.add_parser(
        "watcher", help="run a watcher of waiting limit and sniper orders (one loop per pair)", description=WATCHER_TEXT
    ).set_defaults(run=cmd_watcher)
    pools = sub.add_parser(
        "pools", help="simulated pools: launch BASE QUOTE --price P --opens-in S",
        description="Manage the simulated market's pools: launch one for a token that has none (NEWT, PUMP), "
        "which sniper orders waiting for it then buy into.",
    )  # fmt: skip
    pools_sub = pools.add_subparsers(dest="pools_command", required=True)
    launch = pools_sub.add_parser("launch", help="launch a simulated pool that sniper orders may wait for")
    launch.add_argument("base", help="the launched token, e.g. NEWT or PUMP")
    launch.add_argument("quote", help="what it trades against, e.g. USDC")
    launch.add_argument("--price", required=True, help="units of QUOTE per unit of BASE, e.g. 0.05")
    launch.add_argument("--opens-in", type=float, default=0.0, help="seconds until the pool takes swaps")
    pools.set_defaults(run=cmd_pools)
    sub.add_parser(
        "up", help="run the API, the worker(s) and the watcher(s), starting embedded services when needed",
        description=UP_TEXT,
    ).set_defaults(run=cmd_up)  # fmt: skip
    demo = sub.add_parser("demo", help="start everything, submit orders at once, watch them live",
                          description=DEMO_TEXT)  # fmt: skip
    demo.add_argument("--orders", type=int, default=12)
    demo.add_argument("--fast", action="store_true", help="no simulated latency")
    demo.add_argument("--market-only", action="store_true", help="market orders only (no limit, sniper or cancel)")
    demo.set_defaults(run=cmd_demo)
    localnet = sub.add_parser(
        "localnet",
        help="serve Solana JSON-RPC over LiteSVM on 127.0.0.1:8899 (oee localnet --help for options)",
        add_help=False,
        prefix_chars="\0",  # every flag goes through to the local network's own parser
    )
    localnet.add_argument("localnet_args", nargs=argparse.REMAINDER)
    localnet.set_defaults(run=cmd_localnet)
    keys = sub.add_parser(
        "keys", help="manage API keys: create [--name N --rate R --burst B], list, revoke ID", add_help=False,
        prefix_chars="\0",
    )  # fmt: skip
    keys.add_argument("keys_args", nargs=argparse.REMAINDER)
    keys.set_defaults(run=cmd_keys)
    wallet = sub.add_parser(
        "wallet",
        help="set up, show and fund the Solana wallet: setup --network devnet|localnet, show, airdrop AMOUNT",
        add_help=False,
        prefix_chars="\0",
    )
    wallet.add_argument("wallet_args", nargs=argparse.REMAINDER)
    wallet.set_defaults(run=cmd_wallet)
    return parser


def settings_or_exit() -> Settings:
    """The settings, or one line per bad variable (its name, what it accepts) and exit status 2."""
    try:
        return load_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper() or "settings"
            given = error.get("input")
            secret = any(word in name for word in ("KEY", "SECRET", "PASSWORD", "URL"))
            short = isinstance(given, str | int | float) and len(str(given)) < 80
            shown = f" (got {given!r})" if short and not secret else ""
            print(f"oee: {name}: {error['msg']}{shown}", file=sys.stderr)
        raise SystemExit(2) from None


def checked_or_exit(settings: Settings, command: str) -> None:
    """The checks of :mod:`tools.check` for what ``command`` uses; one line per problem and exit status 2."""
    from tools.check import COMMAND_NEEDS, problems

    needs = COMMAND_NEEDS.get(command)
    if needs is None:
        return
    found = problems(settings, needs)
    for problem in found:
        if settings.log_format == "json":
            log.error(problem.line(), extra={"setting": problem.setting, "reason": problem.reason})
        else:
            print(problem.line(), file=sys.stderr)
    if found:
        raise SystemExit(2)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = settings_or_exit()
    if args.command == "api":
        if args.host:
            settings = settings.model_copy(update={"api_host": args.host})
        if args.port:
            settings = settings.model_copy(update={"api_port": args.port})
    if args.command == "demo" and "api_port" not in settings.model_fields_set:
        from engine.runtime import free_port

        settings = settings.model_copy(update={"api_port": free_port()})  # API_PORT unset: any free port
    setup_logging(settings.log_level, settings.log_format, access_log=settings.access_log)
    checked_or_exit(settings, args.command)
    if args.command in RECORDS_METRICS:
        settings = with_metrics_dir(settings, fresh=args.command in STARTS_DEPLOYMENT)
    return int(args.run(settings, args))


if __name__ == "__main__":
    sys.exit(main())
