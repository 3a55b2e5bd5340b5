from __future__ import annotations

import json
from pathlib import Path

import based58
import pytest
from solders.keypair import Keypair

from kernel.settings import Settings
from wallets.keys import InvalidKey, load_keypair


def settings(**kw: object) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg, arg-type]


def test_base58_and_json_array_and_file_give_the_same_key(tmp_path: Path) -> None:
    kp = Keypair()
    b58 = based58.b58encode(bytes(kp)).decode()
    array = json.dumps(list(bytes(kp)))
    path = tmp_path / "id.json"
    path.write_text(array)
    for s in (settings(solana_private_key=b58), settings(solana_private_key=array), settings(solana_keypair_path=path)):
        loaded = load_keypair(s)
        assert loaded is not None and loaded.pubkey() == kp.pubkey()


def test_no_key_configured() -> None:
    assert load_keypair(settings()) is None


@pytest.mark.parametrize(
    "secret",
    ["[1, 2, 3]", "[300]", "not base58 0OIl", "3yZe7d", "[" + ",".join(["7"] * 64) + "]"],
)
def test_malformed_keys_fail_without_showing_the_key(secret: str) -> None:
    with pytest.raises(InvalidKey) as exc:
        load_keypair(settings(solana_private_key=secret))
    assert secret not in str(exc.value)
    assert "SOLANA_PRIVATE_KEY" in str(exc.value)


def test_the_secret_never_shows_in_settings_repr() -> None:
    kp = Keypair()
    b58 = based58.b58encode(bytes(kp)).decode()
    s = settings(solana_private_key=b58)
    assert b58 not in repr(s) and b58 not in str(s.model_dump())
