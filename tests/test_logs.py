"""Log lines carry what is bound about the order they belong to, as JSON or as text."""

from __future__ import annotations

import asyncio
import io
import logging

import orjson

from kernel.logs import ConsoleFormatter, JsonFormatter, bind, bound


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"oee.test.{id(out)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_json_lines_carry_the_bound_fields_and_drop_them_after() -> None:
    logger, out = capture(JsonFormatter())
    with bound(orderId="o-1", attempt=2):
        bind(signature="5Kx")
        logger.info("sent %s", "tx")
        with bound(dex="raydium"):
            logger.warning("slow")
    logger.info("outside")
    first, second, third = (orjson.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "sent tx" and first["level"] == "info"
    assert (first["orderId"], first["attempt"], first["signature"]) == ("o-1", 2, "5Kx")
    assert second["dex"] == "raydium" and second["orderId"] == "o-1"
    assert "orderId" not in third and "signature" not in third


async def test_concurrent_orders_keep_their_own_fields() -> None:
    logger, out = capture(JsonFormatter())

    async def order(order_id: str) -> None:
        with bound(orderId=order_id):
            await asyncio.sleep(0)
            logger.info("step")

    await asyncio.gather(*(order(f"o-{n}") for n in range(20)))
    ids = sorted(orjson.loads(line)["orderId"] for line in out.getvalue().splitlines())
    assert ids == sorted(f"o-{n}" for n in range(20))


def test_console_lines_end_with_the_fields() -> None:
    logger, out = capture(ConsoleFormatter())
    with bound(orderId="o-9"):
        logger.info("confirmed")
    assert out.getvalue().rstrip().endswith("confirmed orderId=o-9")
