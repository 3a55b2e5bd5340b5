"""Tokens named by mint at intake: the known list, plus what the chain says of any other mint an order names.

Before an order or quote body is validated, each of ``tokenIn`` and ``tokenOut`` that is a bounded string
outside the known list is asked of the :class:`~kernel.tokens.TokenSource` (on-chain routing reads the
mint; elsewhere only the known list answers). An address holding no mint is refused naming the field
(422); a chain that does not answer within the quote timeout is 503, with nothing done.
"""

from __future__ import annotations

import asyncio
from typing import Any

from engine.api.errors import unavailable
from engine.api.validation import MAX_TOKEN_CHARS
from kernel.errors import FieldIssue, InvalidRequest, RetryableError
from kernel.tokens import NotAMint, Token, TokenRegistry, TokenSource

TOKEN_FIELDS = ("tokenIn", "tokenOut")


async def resolve_tokens(
    payload: Any, known: TokenRegistry, source: TokenSource | None, timeout_s: float
) -> TokenRegistry:
    """``known`` plus the tokens the payload names by a mint outside it, as ``source`` reads them."""
    if source is None or not isinstance(payload, dict):
        return known
    wanted = {
        field: value.strip()
        for field in TOKEN_FIELDS
        if isinstance(value := payload.get(field), str) and 0 < len(value) <= MAX_TOKEN_CHARS
        and known.resolve(value) is None
    }  # fmt: skip
    if not wanted:
        return known
    found: list[Token] = []
    issues: list[FieldIssue] = []
    try:
        async with asyncio.timeout(timeout_s):
            for field, text in wanted.items():
                try:
                    token = await source.resolve(text)
                except NotAMint as exc:
                    issues.append(FieldIssue(field, f"{text} is not a mint: {exc}"))
                    continue
                if token is not None:
                    found.append(token)
    except (TimeoutError, RetryableError) as exc:
        raise unavailable() from exc
    if issues:
        raise InvalidRequest(issues)
    return known.with_tokens(found)
