"""The localnet's JSON-RPC 2.0 server: a Starlette app answering Solana RPC methods from a :class:`Localnet`.

Single and batch requests are served on ``POST /``; ``GET /health`` answers ``ok``. Errors are shaped as a
validator's (``-32602`` invalid params, ``-32601`` unknown method, ``-32002`` preflight failure with the
simulation in ``data``). Faults (:mod:`localnet.faults`) apply to every call except the
non-standard ``localnet_*`` methods, so tests can always turn them off again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from solders.pubkey import Pubkey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from kernel.settings import Network
from kernel.tokens import TokenRegistry
from localnet.accounts import AccountFileError, account_from_json, load_account_file, read_program_file
from localnet.chain import Chain, ChainConfig
from localnet.faucet import LAMPORTS_PER_SOL, Faucet, FaucetConfig, MintError, TokenMinter
from localnet.faults import SERVICE_UNAVAILABLE, TOO_MANY_REQUESTS, FaultConfig, FaultInjector
from localnet.methods import RpcError, config_at, invalid, pubkey_param, register_methods
from localnet.pubsub import PubSub
from localnet.tally import RequestTally, peer_of

log = logging.getLogger("oee.localnet")


class LocalnetConfig(BaseModel):
    """Everything ``oee localnet`` is started with. Token amounts in ``fund_tokens`` are whole-token
    decimals (``"1000.5"``), converted with the mint's on-chain decimals at start-up."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Address the RPC server binds to.")
    port: int = Field(default=8899, ge=0, le=65535, description="RPC port; 0 picks a free one.")
    chain: ChainConfig = Field(default_factory=ChainConfig)
    faucet: FaucetConfig = Field(default_factory=FaucetConfig)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    create_test_mints: bool = Field(default=True, description="Create the engine's tokens at their mainnet mints.")
    fund: list[str] = Field(default_factory=list, description="Wallets funded at start-up.")
    fund_lamports: int = Field(default=100 * LAMPORTS_PER_SOL, ge=0, description="SOL given to each funded wallet.")
    fund_tokens: dict[str, Decimal] = Field(default_factory=dict, description="Symbol or mint → amount per wallet.")
    programs: list[tuple[str, Path]] = Field(default_factory=list, description="(program id, .so file) pairs.")
    accounts: list[tuple[str, Path]] = Field(default_factory=list, description="(address or '-', JSON file) pairs.")


class Localnet:
    """The ledger, the faucet, the token minter and the fault injector behind one JSON-RPC endpoint."""

    def __init__(self, config: LocalnetConfig | None = None) -> None:
        self.config = config or LocalnetConfig()
        self.chain = Chain(self.config.chain)
        self.faucet = Faucet(self.config.faucet)
        self.faults = FaultInjector(self.config.faults)
        self.minter = TokenMinter(self.chain)
        self.tokens = TokenRegistry.for_network(Network.LOCALNET)
        self.tally = RequestTally()
        self.pubsub = PubSub(self.chain, self.tally)
        self.methods: dict[str, Callable[[list[Any]], Any]] = register_methods(self.chain, self.faucet, self.faults) | {
            "localnet_setFaults": self._set_faults,
            "localnet_setFaucet": self._set_faucet,
            "localnet_mintTo": self._mint_to,
            "localnet_advanceSlots": self._advance_slots,
            "localnet_setAccount": self._set_account,
            "localnet_info": self._info,
            "localnet_requests": self._requests,
        }
        self._bootstrap()

    def _bootstrap(self) -> None:
        for address, path in self.config.programs:
            self._load_program(Pubkey.from_string(address), Path(path))
        for address, path in self.config.accounts:
            key, account = load_account_file(Path(path), address)
            self.chain.set_account(key, account)
            log.info("loaded account %s from %s", key, path)
        if self.config.create_test_mints:
            self.minter.create_test_mints(
                t for t in self.tokens if self.chain.account(Pubkey.from_string(t.mint)) is None
            )
        for wallet in self.config.fund:
            self.fund(Pubkey.from_string(wallet))
        log.info(
            "localnet: %d test mints (authority %s), slot %d ms, finalized after %d slots",
            len(self.tokens.tokens) if self.config.create_test_mints else 0,
            self.minter.authority.pubkey(),
            self.config.chain.slot_ms,
            self.config.chain.finality_depth,
        )

    def _load_program(self, program_id: Pubkey, path: Path) -> None:
        data = read_program_file(path)
        try:
            self.chain.svm.add_program(program_id, data)
        except BaseException as exc:  # LiteSVM panics (pyo3 PanicException) on an ELF it cannot verify
            if type(exc).__name__ != "PanicException":
                raise
            raise AccountFileError(f"{path}: LiteSVM cannot load this program ({exc})") from None
        log.info("loaded program %s from %s", program_id, path)

    def fund(self, wallet: Pubkey) -> None:
        """Give ``wallet`` the configured SOL and tokens (minted to its associated token accounts)."""
        if self.config.fund_lamports:
            self.chain.airdrop(wallet, self.config.fund_lamports)
        for name, amount in self.config.fund_tokens.items():
            token = self.tokens.resolve(name)
            try:
                mint = Pubkey.from_string(token.mint if token is not None else name)
            except ValueError as exc:
                raise ValueError(f"unknown token {name!r}: neither a symbol nor a mint address") from exc
            decimals = self.chain.decimals_of(mint)
            if decimals is None:
                raise ValueError(f"cannot fund {wallet} with {name}: no mint at {mint}")
            raw = amount.scaleb(decimals)
            if raw <= 0 or raw != raw.to_integral_value():
                raise ValueError(f"{amount} {name} is not a positive whole number of raw units ({decimals} decimals)")
            self.minter.mint_to(mint, wallet, int(raw))
        log.info("funded %s", wallet)

    # --- non-standard methods, for tests -----------------------------------------------------------

    def _set_faults(self, params: list[Any]) -> Any:
        """``localnet_setFaults [{dropRate, delaySlots, rate429, rate5xx, seed}]`` (any subset) → the faults now."""
        try:
            self.faults.update(config_at(params, 0))
        except ValueError as exc:
            raise invalid(f"Invalid params: {exc}") from exc
        return self.faults.as_json()

    def _set_faucet(self, params: list[Any]) -> Any:
        """``localnet_setFaucet [{max_requests_per_address, ...}]`` (FaucetConfig fields) → the faucet config."""
        try:
            self.faucet.config = FaucetConfig.model_validate(self.faucet.config.model_dump() | config_at(params, 0))
        except ValueError as exc:
            raise invalid(f"Invalid params: {exc}") from exc
        return self.faucet.config.model_dump()

    def _mint_to(self, params: list[Any]) -> Any:
        """``localnet_mintTo [mint, owner, amount]`` or ``[{mint, owner, amount}]``, amount in raw units."""
        args = config_at(params, 0) or dict(zip(("mint", "owner", "amount"), params, strict=False))
        amount = args.get("amount")
        if not isinstance(amount, int) and not (isinstance(amount, str) and amount.isdigit()):
            raise invalid("Invalid params: amount must be an integer number of raw token units")
        try:
            mint, owner = pubkey_param(args.get("mint")), pubkey_param(args.get("owner"))
            signature, account = self.minter.mint_to(mint, owner, int(amount))
        except MintError as exc:
            raise invalid(f"Invalid params: {exc}") from exc
        return {"signature": str(signature), "tokenAccount": str(account)}

    def _advance_slots(self, params: list[Any]) -> Any:
        """``localnet_advanceSlots [n]`` or ``[{slots: n, unixTimestamp: t}]``: move the clock now (the only way
        when slot_ms is 0). ``unixTimestamp`` warps the block time of the first new slot to ``t`` (time runs on
        from there; it never goes back)."""
        options = config_at(params, 0)
        count = params[0] if params and isinstance(params[0], int) else options.get("slots", 1)
        if not isinstance(count, int) or not 0 <= count <= 100_000:
            raise invalid("Invalid params: slots must be an integer in [0, 100000]")
        unix_time = options.get("unixTimestamp")
        if unix_time is not None and (not isinstance(unix_time, int) or count < 1):
            raise invalid("Invalid params: unixTimestamp must be an integer, with at least one slot")
        try:
            self.chain.advance_slot(count, unix_time=unix_time)
        except ValueError as exc:
            raise invalid(f"Invalid params: {exc}") from exc
        return {"slot": self.chain.slot, "unixTimestamp": self.chain.latest.unix_timestamp}

    def _set_account(self, params: list[Any]) -> Any:
        """``localnet_setAccount [{pubkey, account: {lamports, data: [base64, "base64"], owner, executable}}]``
        (the solana CLI's account JSON) or ``[address, account]``: place or replace an account now, as if a
        program had written it (account subscribers hear of it). Lamports 0 removes it."""
        doc = config_at(params, 0)
        if not doc and len(params) >= 2 and isinstance(params[1], dict):
            doc = {"pubkey": params[0], "account": params[1]}
        try:
            key, account = account_from_json(doc)
        except AccountFileError as exc:
            raise invalid(f"Invalid params: {exc}") from exc
        if account.executable:
            raise invalid("Invalid params: load programs at start-up (--bpf-program), not with localnet_setAccount")
        self.chain.set_account(key, account)
        return {"pubkey": str(key), "slot": self.chain.slot}

    def _requests(self, params: list[Any]) -> Any:
        """``localnet_requests [{reset}]``: what each client asked so far (:mod:`localnet.tally`); ``reset``
        true starts a fresh count after answering."""
        answer = self.tally.as_json()
        if config_at(params, 0).get("reset") is True:
            self.tally.reset()
        return answer

    def _info(self, params: list[Any]) -> Any:
        """``localnet_info []``: slot, clock settings, the mint authority, the test mints and the faults."""
        c = self.config.chain
        return {
            "slot": self.chain.slot,
            "slotMs": c.slot_ms,
            "finalityDepth": c.finality_depth,
            "blockhashWindow": c.blockhash_window,
            "mintAuthority": str(self.minter.authority.pubkey()),
            "mints": [t.as_dict() for t in self.tokens],
            "faults": self.faults.as_json(),
        }

    # --- HTTP -------------------------------------------------------------------------------------

    def call(self, request: Any) -> tuple[dict[str, Any], int]:
        """Serve one JSON-RPC request object. Returns the response object and the HTTP status it asks for."""
        rid = request.get("id") if isinstance(request, dict) else None
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(rid, -32600, "Invalid request"), 200
        handler = self.methods.get(request["method"])
        if handler is None:
            return _error(rid, -32601, "Method not found"), 200
        params = request.get("params", [])
        if params is None:
            params = []
        if not isinstance(params, list):
            params = [params]
        try:
            return {"jsonrpc": "2.0", "result": handler(params), "id": rid}, 200
        except RpcError as exc:
            return _error(rid, exc.code, exc.message, exc.data), exc.http_status
        except Exception as exc:  # a bug: answer like a validator's internal error and keep serving
            log.exception("localnet: %s failed", request["method"])
            return _error(rid, -32603, f"Internal error: {exc}"), 200

    async def handle_http(self, request: Request) -> Response:
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _json(_error(None, -32700, "Parse error"))
        calls = payload if isinstance(payload, list) else [payload]
        if not calls:
            return _json(_error(None, -32600, "Invalid request"))
        first_id = calls[0].get("id") if isinstance(calls[0], dict) else None
        peer = peer_of(request.client)
        for c in calls:
            self.tally.request("http", peer, c)
        if not all(isinstance(c, dict) and str(c.get("method", "")).startswith("localnet_") for c in calls):
            fault = self.faults.http_status()
            if fault is not None:
                body = TOO_MANY_REQUESTS if fault == 429 else SERVICE_UNAVAILABLE
                return _json({"jsonrpc": "2.0", "error": body, "id": first_id}, fault)
        if isinstance(payload, list):
            return _json([self.call(c)[0] for c in calls])
        response, status = self.call(payload)
        return _json(response, status)

    async def run_clock(self) -> None:
        """Advance one slot every ``slot_ms`` (catching up without bursts after a stall)."""
        loop = asyncio.get_running_loop()
        period = self.config.chain.slot_ms / 1000
        next_at = loop.time() + period
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                self.chain.advance_slot()
            except Exception:
                log.exception("localnet: advancing the slot failed")
            next_at += period
            if loop.time() - next_at > 10 * period:
                next_at = loop.time() + period

    def app(self) -> Starlette:
        """The Starlette app; its lifespan runs the slot clock (unless ``slot_ms`` is 0)."""

        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            clock = asyncio.create_task(self.run_clock()) if self.config.chain.slot_ms > 0 else None
            try:
                yield
            finally:
                if clock is not None:
                    clock.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await clock

        async def health(_: Request) -> Response:
            return PlainTextResponse("ok")

        routes = [Route("/", self.handle_http, methods=["POST"]), Route("/health", health, methods=["GET"])]
        return Starlette(routes=routes, lifespan=lifespan)


def create_app(config: LocalnetConfig | None = None) -> Starlette:
    """A Starlette app serving a fresh :class:`Localnet` built from ``config``."""
    return Localnet(config).app()


def _error(rid: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "error": error, "id": rid}


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")
