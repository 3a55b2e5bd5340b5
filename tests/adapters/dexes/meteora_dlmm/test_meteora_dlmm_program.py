"""The adapter against the real DLMM program: quotes must equal what the program pays, to the unit.

Runs only where ``OEE_DLMM_SO`` names a build of the lb_clmm program (``lb_clmm_prod.so`` of
MeteoraAg/dlmm-sdk) and ``OEE_DLMM_FIXTURES`` a folder of real pair dumps laid out as that repository's
``commons/tests/fixtures`` (one folder per pair: ``lb_pair.bin``, ``bin_array_*.bin``, ``oracle.bin``,
``reserve_x.bin``, ``reserve_y.bin``, ``token_x_mint.bin`` and, unless Y is the native mint,
``token_y_mint.bin``). Neither is ever committed.

Each pair is loaded into a localnet running the program. The user's input balance is written as a token
account; SOL is wrapped by the adapter's own instructions. Pairs whose activation point lies ahead of the
localnet's young clock are loaded with it set to zero (it does not enter the price).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from meteora_dlmm import parse_mint
from solana.rpc.async_api import AsyncClient
from solana.rpc.types import TxOpts
from solders.compute_budget import set_compute_unit_limit
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionErrorType

from adapters.dexes.meteora_dlmm import SLIPPAGE, MeteoraDlmmAdapter, PoolQuote
from adapters.dexes.meteora_dlmm.instructions import bin_array_address, token_programs
from adapters.dexes.meteora_dlmm.layouts import decode_bin_array, decode_lb_pair, encode_bin_array, encode_lb_pair
from adapters.pools import PoolBook
from adapters.settlement import ChainRpc
from adapters.solana.errors import custom_error, failure_of
from adapters.solana.spl import NATIVE_MINT, associated_token_address
from kernel.errors import SlippageExceeded
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from kernel.venues import QuoteRequest, SwapTicket
from localnet import running_localnet
from tests.adapters.contract.meteora_dlmm import PROGRAM_ID, PairFiles, chain_config, token_account_data

SO = os.environ.get("OEE_DLMM_SO")
FIXTURES = os.environ.get("OEE_DLMM_FIXTURES")
pytestmark = pytest.mark.skipif(
    not (SO and FIXTURES), reason="set OEE_DLMM_SO and OEE_DLMM_FIXTURES to run the real DLMM program"
)
WALLET = Keypair()
BALANCE = 10**15  # raw units of each non-native input token the wallet holds
TX_FEE = 5_000  # one signature, no priority fee
# A Token-2022 account of a mint with a transfer fee: account type 2 after the 165 base bytes, then its
# TransferFeeAmount extension (type 2, length 8, nothing withheld).
TRANSFER_FEE_AMOUNT = bytes([2]) + (2).to_bytes(2, "little") + (8).to_bytes(2, "little") + bytes(8)
COMPUTE_LIMIT = set_compute_unit_limit(1_400_000)


@dataclass(frozen=True)
class FixturePair:
    address: Pubkey
    x: Token
    y: Token
    x_program: Pubkey
    y_program: Pubkey


@dataclass
class Net:
    url: str
    pairs: list[FixturePair]
    tokens: TokenRegistry


def _folders() -> list[Path]:
    return sorted(p for p in Path(FIXTURES or ".").iterdir() if (p / "lb_pair.bin").exists()) if FIXTURES else []


def _token(mint: Pubkey, data: bytes | None) -> Token:
    if mint == NATIVE_MINT:
        return Token("SOL", "Solana", 9, str(mint), native=True)
    assert data is not None
    return Token(f"T{str(mint)[:4]}", f"Token {mint}", data[44], str(mint))


def _load(files: PairFiles, folder: Path) -> FixturePair:
    address = Pubkey.from_string(folder.name)
    raw = (folder / "lb_pair.bin").read_bytes()
    pair = decode_lb_pair(raw)
    assert encode_lb_pair(pair) == raw  # the real account round-trips byte for byte
    files.write(address, PROGRAM_ID, encode_lb_pair(dataclasses.replace(pair, activation_point=0)))
    files.write(pair.oracle, PROGRAM_ID, (folder / "oracle.bin").read_bytes())
    for path in sorted(folder.glob("bin_array_*.bin")):
        data = path.read_bytes()
        array = decode_bin_array(data)
        assert encode_bin_array(array) == data and array.lb_pair == address
        files.write(bin_array_address(address, array.index, PROGRAM_ID), PROGRAM_ID, data)
    x_program, y_program = token_programs(pair)
    tokens = []
    for mint, program, reserve, name in (
        (pair.token_x_mint, x_program, pair.reserve_x, "x"),
        (pair.token_y_mint, y_program, pair.reserve_y, "y"),
    ):
        mint_file = folder / f"token_{name}_mint.bin"
        mint_data = mint_file.read_bytes() if mint_file.exists() else None
        if mint_data is not None:
            files.write(mint, program, mint_data)
        reserve_data = (folder / f"reserve_{name}.bin").read_bytes()
        lamports = 2_039_280 + (int.from_bytes(reserve_data[64:72], "little") if mint == NATIVE_MINT else 0)
        files.write(reserve, program, reserve_data, lamports)
        token = _token(mint, mint_data)
        tokens.append(token)
        if mint_data is not None:  # the wallet's balance of it, as its associated token account
            data = token_account_data(mint, WALLET.pubkey(), BALANCE)
            if parse_mint(mint_data, bytes(program)).transfer_fee is not None:
                data += TRANSFER_FEE_AMOUNT
            files.write(associated_token_address(WALLET.pubkey(), mint, program), program, data, 2_039_280)
    return FixturePair(address, tokens[0], tokens[1], x_program, y_program)


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Net]:
    files = PairFiles(Path(tmp_path_factory.mktemp("dlmm-program")))
    pairs = [_load(files, folder) for folder in _folders()]
    assert pairs, f"no pair dumps under {FIXTURES}"
    extra = [t for p in pairs for t in (p.x, p.y) if not t.native]
    tokens = TokenRegistry.for_network(Network.LOCALNET, extra=extra)
    async with running_localnet(
        slot_ms=0, programs=[(str(PROGRAM_ID), Path(SO or ""))], accounts=files.accounts, fund=[str(WALLET.pubkey())]
    ) as handle:
        yield Net(handle.url, pairs, tokens)


@pytest.fixture(scope="module")
async def adapter(net: Net) -> AsyncIterator[MeteoraDlmmAdapter]:
    pools = [{"dex": "meteora", "address": str(p.address), "mints": [p.x.mint, p.y.mint]} for p in net.pairs]
    book = PoolBook.load(Network.LOCALNET, inline=orjson.dumps({"pools": pools}).decode())
    built = MeteoraDlmmAdapter(ChainRpc(chain_config(net.url)), book, net.tokens)
    yield built
    await built.aclose()


async def _send(url: str, steps: list[Instruction]) -> TransactionErrorType | None:
    """Sign and send ``steps`` from the wallet; the landed transaction's error, None when it succeeded."""
    async with AsyncClient(url) as client:
        blockhash = (await client.get_latest_blockhash()).value.blockhash
        message = Message.new_with_blockhash([COMPUTE_LIMIT, *steps], WALLET.pubkey(), blockhash)
        tx = VersionedTransaction(message, [WALLET])
        signature = (await client.send_raw_transaction(bytes(tx), TxOpts(skip_preflight=True))).value
        for _ in range(500):
            status = (await client.get_signature_statuses([signature])).value[0]
            if status is not None:
                return status.err
            await asyncio.sleep(0.01)
    raise AssertionError(f"transaction {signature} never landed")


async def _holding(url: str, owner: Pubkey, token: Token, program: Pubkey) -> int:
    """What ``owner`` holds of ``token``: lamports for SOL, else its associated token account's amount."""
    async with AsyncClient(url) as client:
        if token.native:
            return int((await client.get_balance(owner)).value)
        account = (
            await client.get_account_info(associated_token_address(owner, Pubkey.from_string(token.mint), program))
        ).value
        return int.from_bytes(bytes(account.data)[64:72], "little") if account is not None else 0


def _directions(net: Net) -> list[tuple[FixturePair, bool, int]]:
    amounts = (10**6, 10**8, 10**9)
    return [(p, swap_for_y, amount) for p in net.pairs for swap_for_y in (True, False) for amount in amounts]


async def test_quotes_equal_what_the_program_pays(net: Net, adapter: MeteoraDlmmAdapter) -> None:
    checked = 0
    for pair, swap_for_y, amount in _directions(net):
        token_in, token_out = (pair.x, pair.y) if swap_for_y else (pair.y, pair.x)
        quote = await adapter.quote(QuoteRequest(token_in, token_out, amount))
        steps = await adapter.swap_instructions(
            SwapTicket("o", quote, token_in, token_out, quote.amount_out), WALLET.pubkey()
        )
        out_program = pair.y_program if swap_for_y else pair.x_program
        before = await _holding(net.url, WALLET.pubkey(), token_out, out_program)
        err = await _send(net.url, steps)
        assert err is None, f"{pair.address} {token_in.symbol}->{token_out.symbol} {amount}: {err}"
        after = await _holding(net.url, WALLET.pubkey(), token_out, out_program)
        paid = after - before + (TX_FEE if token_out.native else 0)
        assert paid == quote.amount_out, f"{pair.address} {token_in.symbol}->{token_out.symbol} {amount}"
        checked += 1
    assert checked == len(net.pairs) * 6


async def test_one_unit_above_the_quote_fails_with_6003(net: Net, adapter: MeteoraDlmmAdapter) -> None:
    pair = net.pairs[0]
    quote = await adapter.quote(QuoteRequest(pair.x, pair.y, 10**8))
    with pytest.raises(SlippageExceeded):  # the adapter refuses to build it...
        await adapter.swap_instructions(SwapTicket("o", quote, pair.x, pair.y, quote.amount_out + 1), WALLET.pubkey())
    mints = (Pubkey.from_string(pair.x.mint), Pubkey.from_string(pair.y.mint))
    fresh = (await adapter.client.quote([pair.address], *mints, 10**8))[pair.address]
    assert isinstance(fresh, PoolQuote)
    steps = adapter.instructions(fresh, fresh.quote.amount_out + 1, WALLET.pubkey())  # ...the program too
    err = await _send(net.url, steps)
    assert err is not None
    index, code = custom_error(err) or (None, None)
    assert code == 6003
    programs: list[Pubkey | None] = [COMPUTE_LIMIT.program_id, *(ix.program_id for ix in steps)]
    assert index is not None and programs[index] == PROGRAM_ID
    assert failure_of(err, programs, [SLIPPAGE])[0] == "slippage_exceeded"


async def test_snapshot_quotes_equal_the_adapter_and_what_the_program_pays(
    net: Net, adapter: MeteoraDlmmAdapter
) -> None:
    from adapters.dexes.meteora_dlmm.watch import MeteoraDlmmWatcher

    watcher = MeteoraDlmmWatcher(adapter)
    for pair in net.pairs:
        for token_in, token_out, out_program in ((pair.x, pair.y, pair.y_program), (pair.y, pair.x, pair.x_program)):
            snapshot = await watcher.snapshot(token_in, token_out)
            for amount in (10**6, 10**8):
                expected = await adapter.quote(QuoteRequest(token_in, token_out, amount))
                assert snapshot.quote(amount) == dataclasses.replace(expected, latency_ms=0)
            quote = snapshot.quote(10**7)
            steps = await adapter.swap_instructions(
                SwapTicket("w", quote, token_in, token_out, quote.amount_out), WALLET.pubkey()
            )
            before = await _holding(net.url, WALLET.pubkey(), token_out, out_program)
            assert await _send(net.url, steps) is None
            after = await _holding(net.url, WALLET.pubkey(), token_out, out_program)
            assert after - before + (TX_FEE if token_out.native else 0) == quote.amount_out
