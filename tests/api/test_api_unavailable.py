"""When the order store is down, submission answers 503 and accepts nothing."""

from __future__ import annotations

import pytest

from engine.api.app import create_app
from engine.api.errors import error_reply
from engine.api.services import services_of
from engine.api.submission import submit
from kernel.errors import ServiceUnavailable
from kernel.settings import Settings
from tests.support import create_api_key


async def test_submission_answers_503_when_the_store_is_down(settings: Settings) -> None:
    app = create_app(settings)
    api = services_of(app)
    async with app.router.lifespan_context(app):
        key = await api.gate.caller(create_api_key(settings.database_url or ""))
        await api.pool.close()  # the order store goes away
        with pytest.raises(ServiceUnavailable) as refused:
            await submit(
                api,
                b'{"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"}',
                content_type="application/json",
                key=None,
                caller=key,
            )
    status, _, body = error_reply(refused.value)
    assert status == 503
    assert b'"code":"unavailable"' in body
