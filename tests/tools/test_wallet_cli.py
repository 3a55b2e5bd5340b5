"""``oee wallet`` against the local Solana network: key files, .env lines, faucet limits, no secret printed."""

from __future__ import annotations

import io
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import based58
import pytest
from solders.keypair import Keypair

from kernel.settings import Settings
from localnet import LocalnetHandle, start_localnet
from tools.wallet import EXIT_FAILED, EXIT_OK, EXIT_RATE_LIMITED, main
from wallets import load_keypair


@pytest.fixture(scope="module")
def localnet() -> Iterator[LocalnetHandle]:
    net = start_localnet(slot_ms=20, finality_depth=4)
    yield net
    net.stop()


@pytest.fixture(scope="module")
def dry() -> Iterator[LocalnetHandle]:
    """A faucet that refuses every airdrop, answering like devnet's when limited."""
    net = start_localnet(slot_ms=20, finality_depth=4, max_requests_per_address=0)
    yield net
    net.stop()


def settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(_env_file=None, oee_data_dir=tmp_path / ".oee", **kw)  # type: ignore[call-arg, arg-type]


def run(argv: list[str], config: Settings) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, config, stdout=out, stderr=err, airdrop_backoff_s=0.01)
    return code, out.getvalue(), err.getvalue()


def secrets_of(keypair: Keypair) -> list[str]:
    raw = list(bytes(keypair))
    return [based58.b58encode(bytes(keypair)).decode(), json.dumps(raw), str(raw), ",".join(map(str, raw))]


def test_setup_writes_a_private_keypair_and_env_lines_and_funds_it(tmp_path: Path, localnet: LocalnetHandle) -> None:
    env = tmp_path / ".env"
    env.write_text("# engine settings\nLOG_LEVEL=DEBUG\nSOLANA_NETWORK=mock\n\nREDIS_URL=redis://x\n")
    config = settings(tmp_path)
    argv = ["setup", "--network", "localnet", "--rpc-url", localnet.url, "--airdrop", "1.5", "--env-file", str(env)]
    code, out, err = run(argv, config)
    assert code == EXIT_OK, out + err

    key_file = tmp_path / ".oee" / "wallet-localnet.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    numbers = json.loads(key_file.read_text())
    assert isinstance(numbers, list) and len(numbers) == 64
    keypair = Keypair.from_bytes(bytes(numbers))
    assert f"address: {keypair.pubkey()}" in out
    assert "balance: 1.5 SOL (1500000000 lamports)" in out
    assert not any(secret in out + err for secret in secrets_of(keypair))
    assert "`make demo`" in out and "now talk to localnet" in out  # said loudly, whatever else it says

    assert env.read_text().splitlines() == [
        "# engine settings",
        "LOG_LEVEL=DEBUG",
        "SOLANA_NETWORK=localnet",
        "",
        "REDIS_URL=redis://x",
        "",
        f"SOLANA_RPC_URL={localnet.url}",
        "SOLANA_KEYPAIR_PATH=.oee/wallet-localnet.json",
    ]
    # The engine reads those lines back to the same key (paths are relative to where .env lives).
    written = Settings(_env_file=env, oee_data_dir=tmp_path / ".oee")  # type: ignore[call-arg]
    assert written.solana_network.value == "localnet" and written.solana_rpc_url == localnet.url
    assert written.solana_keypair_path is not None
    loaded = load_keypair(written.model_copy(update={"solana_keypair_path": tmp_path / written.solana_keypair_path}))
    assert loaded is not None and loaded.pubkey() == keypair.pubkey()

    # Again: the same key is kept, and a funded wallet asks the faucet for nothing.
    code, out, _ = run(argv, config)
    assert code == EXIT_OK and f"address: {keypair.pubkey()}" in out
    assert "kept the existing file" in out and "airdrop: not needed" in out
    assert env.read_text().count("SOLANA_KEYPAIR_PATH=") == 1


def test_setup_says_plainly_when_the_faucet_is_rate_limited(tmp_path: Path, dry: LocalnetHandle) -> None:
    env = tmp_path / ".env"
    code, out, err = run(["setup", "--network", "localnet", "--rpc-url", dry.url, "--env-file", str(env)],
                         settings(tmp_path))  # fmt: skip
    assert code == EXIT_RATE_LIMITED
    assert "the localnet faucet is rate-limited: no SOL was sent" in err
    assert "Traceback" not in out + err
    assert "balance: 0 SOL (0 lamports)" in out
    assert (tmp_path / ".oee" / "wallet-localnet.json").exists()  # the wallet is set up, only unfunded
    assert "SOLANA_KEYPAIR_PATH=.oee/wallet-localnet.json" in env.read_text()

    code, _, err = run(["airdrop", "1", "--network", "localnet", "--rpc-url", dry.url], settings(tmp_path))
    assert code == EXIT_RATE_LIMITED and "rate-limited" in err


def test_show_and_airdrop_never_print_the_secret(tmp_path: Path, localnet: LocalnetHandle) -> None:
    keypair = Keypair()
    key_file = tmp_path / "id.json"
    key_file.write_text(json.dumps(list(bytes(keypair))))
    common = ["--network", "localnet", "--rpc-url", localnet.url]

    code, out, err = run(["airdrop", "0.25", *common, "--keypair", str(key_file)], settings(tmp_path))
    assert code == EXIT_OK, out + err
    assert "balance: 0.25 SOL (250000000 lamports)" in out

    for config, extra in (
        (settings(tmp_path), ["--keypair", str(key_file)]),
        (settings(tmp_path, solana_private_key=based58.b58encode(bytes(keypair)).decode()), []),
        (settings(tmp_path, solana_keypair_path=key_file), []),
    ):
        code, out, err = run(["show", *common, *extra], config)
        assert code == EXIT_OK, out + err
        assert f"address: {keypair.pubkey()}" in out and "network: localnet" in out
        assert "balance: 0.25 SOL" in out
        assert not any(secret in out + err for secret in secrets_of(keypair))


def test_show_without_a_wallet_and_with_a_broken_key_file(tmp_path: Path, localnet: LocalnetHandle) -> None:
    code, _, err = run(["show", "--network", "devnet"], settings(tmp_path))
    assert code == EXIT_FAILED and "oee wallet setup --network devnet" in err

    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2, 3]")
    code, out, err = run(["show", "--network", "localnet", "--rpc-url", localnet.url, "--keypair", str(broken)],
                         settings(tmp_path))  # fmt: skip
    assert code == EXIT_FAILED and "bytes" in err
    assert "[1, 2, 3]" not in out + err

    code, _, err = run(["airdrop", "1", "--network", "mainnet-beta", "--keypair", str(broken)], settings(tmp_path))
    assert code == EXIT_FAILED
