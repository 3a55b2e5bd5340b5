"""When the order store is down, submission answers 503 and accepts nothing."""

from __future__ import annotations

import orjson

from engine.api.app import create_app
from kernel.settings import Settings


async def test_submission_answers_503_when_the_store_is_down(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await app.state.db.close()  # the order store goes away
        status, body = await app.state.submit(b'{"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"}', None)
    assert status == 503
    assert orjson.loads(body)["error"] == "unavailable"
