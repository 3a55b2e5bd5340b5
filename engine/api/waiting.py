"""The API's side of waiting orders: cancelling one, and launching a simulated pool for snipers to wait for."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from adapters.registry import build_pool_launcher
from engine import presenter
from engine.api.services import ApiServices
from engine.api.validation import parse_body
from engine.auth.keys import ApiKey
from engine.db import repository, waiting
from engine.db.records import OrderHistory
from engine.db.waiting import Move
from engine.events import event_message, publish
from engine.metrics import orders_accepted, waited
from engine.watcher.launch import check_launch, launch
from engine.watcher.notify import CANCELLED, by_pair
from kernel.domain import OrderStatus
from kernel.errors import FieldIssue, InvalidRequest, NotCancellable, NotFound

log = logging.getLogger("oee.api")

CANCEL_REASON = "cancelled by its owner"
LAUNCH_FIELDS = ("base", "quote", "price", "opensInS")


async def cancel(api: ApiServices, order_id: uuid.UUID, caller: ApiKey) -> OrderHistory:
    """Cancel ``caller``'s waiting order; the whole order after. Raises ``NotFound`` or ``NotCancellable``."""
    async with api.db() as conn:
        async with conn.transaction():
            # The same single-row compare-and-set as a trigger's: only a still-waiting order moves.
            moved = await waiting.move(
                conn, [Move(order_id, presenter.cancelled(CANCEL_REASON))], OrderStatus.CANCELLED, reason=CANCEL_REASON,
                owner=caller.id,
            )  # fmt: skip
        doc = await repository.order_document(conn, order_id, caller.id)
    if doc is None:
        raise NotFound(f"no order {order_id}")
    if moved:
        event = moved[0]
        orders_accepted([(event.order_type, event.status)])
        waited(event.order_type, event.status, event.waited_s)
        log.info(
            "order %s is cancelled",
            order_id,
            extra={"orderId": str(order_id), "status": event.status, "type": event.order_type, "reason": CANCEL_REASON},
        )
        messages = [event_message(str(order_id), event.seq, event.status, "status", event.data)]
        # Best effort, after the commit: streams replay from PostgreSQL, watchers re-read it.
        try:
            await publish(api.redis, messages, api.settings.events_channel)
            await api.notify_waiting(
                by_pair(CANCELLED, [(order_id, doc.order.spec.token_in.mint, doc.order.spec.token_out.mint)])
            )
        except Exception as exc:
            log.warning("order %s is cancelled; telling streams and watchers failed (%r)", order_id, exc)
    elif doc.order.status != OrderStatus.CANCELLED.value:
        status = doc.order.status
        why = f"it is {status}" if doc.order.spec.waits else "it is not a limit or sniper order"
        raise NotCancellable(f"order {order_id} cannot be cancelled: {why}")
    return doc


async def launch_from_body(api: ApiServices, body: bytes) -> dict[str, Any]:
    """Check and apply a launch request's body; the launched pool."""
    payload = parse_body(body)
    if not isinstance(payload, dict):
        raise InvalidRequest([FieldIssue("body", "must be a JSON object")])
    unknown = [
        FieldIssue(name[:64], f"is not a field of this request; known: {', '.join(LAUNCH_FIELDS)}")
        for name in payload
        if name not in LAUNCH_FIELDS
    ]
    if unknown:
        raise InvalidRequest(unknown)
    request = check_launch(api.tokens, payload.get("base"), payload.get("quote"), payload.get("price"),
                           payload.get("opensInS"))  # fmt: skip
    launcher = build_pool_launcher(api.settings, api.redis)
    if launcher is None:
        raise InvalidRequest([FieldIssue("base", "pools are launched on the simulated DEXes only")])
    await launch(launcher, request)
    return request.as_dict()
