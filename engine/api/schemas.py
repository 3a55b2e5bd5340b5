"""The documented shapes of the API: request bodies, every 2xx answer, the error envelope, WebSocket messages.

These models describe; they do not validate on the hot path (the routes answer with bytes that
``engine.api.present`` builds). The suite holds the two together: schemathesis checks every answer
against the OpenAPI document made from these, and the WebSocket tests check every message received.
Amounts are decimal strings in the token's units; raw units never leave the service.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.api.fields import Amount, TokenView, price_field, token_field
from engine.api.fields import Strict as _Strict
from engine.api.orders import OrderSummary
from kernel.domain import EventKind, OrderStatus


class QuoteView(_Strict):
    """One DEX's answer. ``error`` is set (and the amounts are null) when that DEX could not quote."""

    attempt: int | None = Field(description="The order's attempt that asked; null for a quote call.")
    dex: str
    pool: str | None
    amountOut: Amount
    price: str | None
    fee: str | None = Field(description="The DEX's fee, in feeMint's units (a decimal string like every amount).")
    feeMint: str | None
    priceImpactPct: str | None
    latencyMs: int | None
    error: str | None


class RouteLegView(_Strict):
    """One swap of a route plan, through one pool; amounts in the leg's own tokens' units."""

    dex: str
    pool: str
    inputMint: str
    inputSymbol: str
    outputMint: str
    outputSymbol: str
    amountIn: str = Field(description="Exact in: what the leg spends. Exact out: the most it may spend.")
    amountOut: str = Field(description="Exact in: the quote. Exact out: exactly what the leg buys.")
    minAmountOut: str = Field(description="The least this leg accepts.")
    shareBps: int = Field(description="The leg's share of the order's input, in basis points.")
    sharePct: str = Field(description="The same share in percent.")
    mode: Literal["exact_in", "exact_out"]


class RouteCandidateView(_Strict):
    """A route routing weighed: one pool, a split over pools, or a hop through an intermediate token."""

    kind: Literal["single", "split", "hop", "split-hop"]
    label: str = Field(description="Its DEXes: `raydium`, `raydium+meteora`, `raydium>meteora via USDC`.")
    amountOut: str
    gainBps: int = Field(description="Over the best single pool (negative for the pools paying less).")
    legs: int
    chosen: bool


class RoutePlanView(_Strict):
    """The route the order's swap takes, every leg in one transaction, as aggregators show it."""

    kind: Literal["single", "split", "hop", "split-hop"]
    inputMint: str
    outputMint: str
    amountIn: str
    amountOut: str = Field(description="What the whole route is quoted to pay.")
    minAmountOut: str = Field(description="The order's floor, the quote less its slippage; the legs' floors add to it.")
    gainBps: int = Field(description="What the plan pays over the best single pool, in basis points.")
    legs: list[RouteLegView]
    candidates: list[RouteCandidateView]


class RouteView(_Strict):
    attempt: int | None
    dex: str
    pool: str | None
    amountOut: Amount
    minAmountOut: Amount
    reason: str | None
    routePlan: RoutePlanView | None = None


class AttemptView(_Strict):
    attempt: int
    startedAt: str | None
    finishedAt: str | None
    outcome: str | None
    errorCode: str | None
    error: str | None
    retryDelayMs: int | None


class EventView(_Strict):
    seq: int
    status: OrderStatus
    kind: EventKind
    data: dict[str, Any]
    at: str | None


class ChildView(_Strict):
    """One child a DCA placed: a market order of its own, with its own page."""

    orderId: str
    status: OrderStatus
    amountIn: str
    amountOut: Amount
    createdAt: str | None


class OrderDocument(OrderSummary):
    """The whole order: every quote, the route, every attempt and every event."""

    quotes: list[QuoteView]
    route: RouteView | None
    routes: list[RouteView]
    routePlan: RoutePlanView | None = Field(description="The chosen route's plan; null before routing.")
    quotedAmountOut: Amount
    explorerUrl: str | None
    attemptCount: int
    attempts: list[AttemptView]
    failureCode: str | None
    events: list[EventView]
    lastSeq: int
    finishedAt: str | None
    childOrders: list[ChildView] | None = Field(default=None, description="A DCA's children, as placed.")
    childrenAmountOut: Amount = Field(default=None, description="A DCA: what its confirmed children received.")


class AcceptedOrder(_Strict):
    """Answer to a submission: 202 for a new order, 200 for the order an Idempotency-Key already placed."""

    orderId: str
    status: OrderStatus
    wsUrl: str = Field(description="Where the order's live stream is.")
    order: OrderSummary


class LaunchPoolRequest(_Strict):
    """The body of ``POST /api/pools/launch``: a simulated pool for a pair that has none (e.g. NEWT/USDC)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"base": "NEWT", "quote": "USDC", "price": "0.05", "opensInS": 5}]},
    )

    base: str = token_field("launched")
    quote: str = token_field("it trades against")
    price: Any = price_field("Units of quote per unit of base at launch.")
    opensInS: float | None = Field(default=0, ge=0, description="Seconds until the pool takes swaps.")


class LaunchedPool(_Strict):
    """A launched simulated pool: every process quotes it from now on, and swaps from ``opensAt`` (ISO 8601)."""

    base: TokenView
    quote: TokenView
    price: str
    opensAt: str


class ActivePage(_Strict):
    activeCount: int
    orderIds: list[str]


class RecentPage(_Strict):
    count: int
    orders: list[OrderSummary]


class QuoteAnswer(_Strict):
    """Every DEX's quote, the best route and the minimum out at the given slippage; nothing is placed."""

    tokenIn: TokenView
    tokenOut: TokenView
    amountIn: str
    slippageBps: int
    quotes: list[QuoteView]
    route: RouteView
    minAmountOut: str
    routePlan: RoutePlanView


class RpcView(_Strict):
    reachable: bool
    latencyMs: int | None = Field(description="How long the last probe (a balance read) took; null if it failed.")
    error: str | None = Field(description="The failure's code when unreachable.")


class WalletView(_Strict):
    address: str = Field(description="The wallet's public address (never its key).")
    balanceLamports: int | None = Field(description="Null when the RPC could not be read.")
    minFeeBalanceLamports: int | None = Field(description="The fee floor: below it the wallet is unfunded.")


class WorkerView(_Strict):
    """What one live worker last published about itself."""

    worker: str
    reportedAt: str
    network: str = Field(description="simulated, localnet, devnet or mainnet-beta.")
    settlement: Literal["simulated", "chain"] = Field(description="Where the worker is configured to settle.")
    routing: str = Field(description="simulated or onchain.")
    rpc: RpcView | None = Field(description="Null for the simulated ledger, which has no RPC.")
    wallet: WalletView | None
    fallback: str | None = Field(description="Why orders settle on the simulated ledger right now; null if not.")
    problems: list[str]


class Health(_Strict):
    """``ok`` (200) when everything is, else ``degraded`` (503) with each reason in ``degraded``."""

    status: Literal["ok", "degraded"]
    checks: dict[str, str] = Field(description="database, redis, worker, settlement: `ok` or what is wrong.")
    degraded: list[str] = Field(description="Each thing degraded, in words; empty when the status is ok.")
    workers: list[WorkerView]
    version: str
    time: str


class ErrorFieldView(_Strict):
    field: str
    reason: str


class ErrorBody(_Strict):
    status: int = Field(description="The HTTP status, repeated.")
    code: str = Field(description="Stable machine-readable code, e.g. invalid_request, unsupported_pair.")
    message: str
    fields: list[ErrorFieldView] = Field(description="Each field at fault; empty when none is.")


class ErrorEnvelope(_Strict):
    """Every error answer, whatever its status."""

    error: ErrorBody


# --- WebSocket messages (README: "WebSocket messages") ---------------------------------------------


class WsAccepted(AcceptedOrder):
    """First message of a submission over ``/api/orders/execute``."""

    type: Literal["accepted"]


class WsSnapshot(_Strict):
    """First message of a stream (after ``accepted`` on a submission): the whole order as it stands."""

    type: Literal["snapshot"]
    order: OrderDocument


class WsEvent(_Strict):
    """One event of the order, in ``seq`` order, each exactly once."""

    type: Literal["event"]
    orderId: str
    seq: int
    status: OrderStatus
    kind: EventKind
    data: dict[str, Any]
    at: str | None


class WsError(_Strict):
    """A refused submission or stream request; the server closes the socket right after it."""

    type: Literal["error"]
    error: ErrorBody


WS_MESSAGES: tuple[type[BaseModel], ...] = (WsAccepted, WsSnapshot, WsEvent, WsError)
