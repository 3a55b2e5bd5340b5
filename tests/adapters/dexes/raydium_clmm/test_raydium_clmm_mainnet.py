"""The CLMM quote on swaps captured from mainnet: the pool and tick arrays as they stood just before each swap,
and what the swap moved.

Needs a folder of captures (``swap_*.json``: ``pool_b64``, ``tick_arrays`` with ``data_b64``, and ``swap`` with
``amount``, ``other_amount_threshold``, ``sqrt_price_limit_x64``, ``is_base_input``, ``zero_for_one``,
``observed_amount_in`` and ``observed_amount_out``) named by ``OEE_CLMM_FIXTURES``; skipped without it. The
captures are of the 0.04% SOL/USDC pool (trade fee 400 per 1e6), which is all the quote reads of its config.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from adapters.dexes.raydium_clmm.layouts import AmmConfig, decode_pool, decode_tick_array
from adapters.dexes.raydium_clmm.math import swap

FOLDER = os.environ.get("OEE_CLMM_FIXTURES")
pytestmark = pytest.mark.skipif(not FOLDER, reason="OEE_CLMM_FIXTURES names no folder of captured CLMM swaps")
SOL_USDC_TRADE_FEE = 400


def _captures() -> list[Path]:
    return sorted(Path(FOLDER).glob("swap_*.json")) if FOLDER else []


def test_there_are_captures() -> None:
    assert len(_captures()) >= 10


@pytest.mark.parametrize("path", _captures(), ids=lambda p: p.stem)
def test_the_quote_moves_what_mainnet_moved(path: Path) -> None:
    capture = json.loads(path.read_text(encoding="utf-8"))
    pool = decode_pool(base64.b64decode(capture["pool_b64"]))
    arrays = [decode_tick_array(base64.b64decode(a["data_b64"])) for a in capture["tick_arrays"]]
    done = capture["swap"]
    quote = swap(
        pool, AmmConfig(trade_fee_rate=SOL_USDC_TRADE_FEE, tick_spacing=pool.tick_spacing),
        {a.start_tick_index: a for a in arrays}, int(done["amount"]), zero_for_one=done["zero_for_one"],
        is_base_input=done["is_base_input"], sqrt_price_limit_x64=int(done["sqrt_price_limit_x64"]),
    )  # fmt: skip
    assert (quote.amount_in, quote.amount_out) == (int(done["observed_amount_in"]), int(done["observed_amount_out"]))
    threshold = int(done["other_amount_threshold"])
    assert quote.amount_out >= threshold if done["is_base_input"] else quote.amount_in <= threshold
