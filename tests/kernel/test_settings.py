from __future__ import annotations

import re

import pytest

from kernel.settings import LatencyRange, Network, Settings
from tests.support import ROOT


def test_env_example_documents_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert {name.upper() for name in Settings.model_fields} - named == set()


def test_latency_ranges_parse_single_values_and_ranges() -> None:
    assert LatencyRange.parse("2000-3000").mean_ms == 2500
    assert LatencyRange.parse(0).high_ms == 0
    with pytest.raises(ValueError):
        LatencyRange.parse("300-200")


def test_the_network_picks_its_rpc_endpoint_unless_one_is_given() -> None:
    assert Settings(_env_file=None, solana_network="devnet").rpc_url == "https://api.devnet.solana.com"  # type: ignore[call-arg]
    given = Settings(_env_file=None, solana_network="devnet", solana_rpc_url="http://x:1")  # type: ignore[call-arg]
    assert given.rpc_url == "http://x:1"
    assert Settings(_env_file=None).rpc_url is None  # type: ignore[call-arg]


def test_the_earlier_names_of_the_simulated_venue_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOLANA_NETWORK", "mock")
    monkeypatch.setenv("MOCK_FAILURE_RATE", "0.25")
    monkeypatch.setenv("MOCK_EXECUTION_LATENCY_MS", "5-9")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.solana_network is Network.SIMULATED
    assert settings.simulated_failure_rate == 0.25
    assert settings.simulated_execution_latency_ms == LatencyRange(low_ms=5, high_ms=9)
    monkeypatch.setenv("SIMULATED_FAILURE_RATE", "0.5")
    assert Settings(_env_file=None).simulated_failure_rate == 0.5  # type: ignore[call-arg]
