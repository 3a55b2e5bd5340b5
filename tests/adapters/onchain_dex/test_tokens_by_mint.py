"""Tokens by mint on a localnet: decimals, token program and the Token-2022 transfer fee read from the
chain and cached; the known list answers with no read; an address that is not a mint is refused, and at
API intake the refusal names the field."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from adapters.onchain_dex.tokens import ChainTokens
from adapters.settlement import ChainRpc
from adapters.solana.accounts import TransferFee as ChainFee
from adapters.solana.accounts import TransferFeeConfig, encode_mint
from adapters.solana.spl import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID
from engine.api.orders import read_spec
from engine.api.tokens import resolve_tokens
from engine.api.validation import JsonNumber
from kernel.errors import InvalidRequest
from kernel.settings import Network
from kernel.tokens import KnownTokens, NotAMint, TokenRegistry, TokenSource, TransferFee
from localnet import LocalnetHandle, running_localnet
from tests.adapters.contract.accounts import AccountFiles
from tests.adapters.contract.raydium_cpmm import chain_config

REGISTRY = TokenRegistry.for_network(Network.LOCALNET)
FEES = TransferFeeConfig(ChainFee(0, 2_000_000, 150), ChainFee(7, 5_000_000, 300))


@dataclass
class Mints:
    net: LocalnetHandle
    fee: Pubkey  # Token-2022, 150 bps until epoch 7, then 300
    plain: Pubkey  # classic SPL, 3 decimals
    system: Pubkey  # a wallet: an account, not a mint


@pytest.fixture(scope="module")
async def mints() -> AsyncIterator[Mints]:
    fee, plain, system = Keypair().pubkey(), Keypair().pubkey(), Keypair().pubkey()
    with tempfile.TemporaryDirectory(prefix="oee-mints-") as folder:
        files = AccountFiles(Path(folder))
        files.write(fee, TOKEN_2022_PROGRAM_ID, encode_mint(8, 10**15, transfer_fee=FEES))
        files.write(plain, TOKEN_PROGRAM_ID, encode_mint(3, 10**9))
        files.write(system, Pubkey.default(), b"", 10**9)
        async with running_localnet(slot_ms=0, accounts=files.accounts) as net:
            yield Mints(net, fee, plain, system)


@pytest.fixture
async def source(mints: Mints) -> AsyncIterator[ChainTokens]:
    tokens = ChainTokens(ChainRpc(chain_config(mints.net.url)), REGISTRY, owns_rpc=True)
    yield tokens
    await tokens.aclose()


async def test_an_unknown_mint_is_read_from_the_chain_once(mints: Mints, source: ChainTokens) -> None:
    assert isinstance(source, TokenSource)
    token = await source.resolve(str(mints.fee))
    assert token is not None and token.decimals == 8 and token.program == str(TOKEN_2022_PROGRAM_ID)
    assert token.transfer_fee == TransferFee(150, 2_000_000, 7, 300, 5_000_000)
    assert token.transfer_fee.fee(10**6, epoch=0) == 15_000 and token.transfer_fee.fee(10**12, epoch=7) == 5_000_000
    text = str(mints.fee)
    assert token.symbol == f"{text[:4]}…{text[-4:]}" and token.mint == text
    plain = await source.resolve(f"  {mints.plain}  ")
    assert plain is not None and (plain.decimals, plain.transfer_fee, plain.program) == (3, None, str(TOKEN_PROGRAM_ID))
    reads = source.reads
    assert await source.resolve(str(mints.fee)) == token  # cached
    assert source.reads == reads


async def test_known_tokens_need_no_read(source: ChainTokens) -> None:
    usdc = await source.resolve("usdc")
    assert usdc is not None and usdc.symbol == "USDC"
    assert await source.resolve("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v") == usdc
    assert await source.resolve("NOT-A-TOKEN") is None
    assert source.reads == 0


async def test_an_address_that_is_not_a_mint_is_refused(mints: Mints, source: ChainTokens) -> None:
    with pytest.raises(NotAMint, match="no account"):
        await source.resolve(str(Keypair().pubkey()))
    with pytest.raises(NotAMint, match="not a mint"):
        await source.resolve(str(mints.system))


async def test_intake_takes_a_mint_and_names_the_field_of_a_non_mint(mints: Mints, source: ChainTokens) -> None:
    payload = {"tokenIn": str(mints.fee), "tokenOut": "USDC", "amountIn": "1.23456789"}
    tokens = await resolve_tokens(payload, REGISTRY, source, timeout_s=10)
    order = read_spec(_numbers(payload), tokens, 50)
    assert order.token_in.mint == str(mints.fee) and order.amount_in == 123_456_789
    with pytest.raises(InvalidRequest) as refused:
        await resolve_tokens({"tokenIn": "SOL", "tokenOut": str(mints.system)}, REGISTRY, source, timeout_s=10)
    assert [issue.field for issue in refused.value.fields] == ["tokenOut"]
    assert "is not a mint" in refused.value.fields[0].reason
    # without a chain to read (simulated routing) a mint outside the list stays unknown to validation
    known = await resolve_tokens(payload, REGISTRY, KnownTokens(REGISTRY), timeout_s=10)
    with pytest.raises(InvalidRequest) as unknown:
        read_spec(_numbers(payload), known, 50)
    assert [issue.field for issue in unknown.value.fields] == ["tokenIn"]


def _numbers(payload: dict[str, str]) -> dict[str, object]:
    """The payload as the body parser gives it: numbers kept as written."""
    return {k: JsonNumber(v) if k == "amountIn" else v for k, v in payload.items()}
