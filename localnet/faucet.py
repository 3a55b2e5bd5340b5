"""What the localnet hands out: SOL through a rate-limited faucet, and test tokens through a minter.

:class:`Faucet` only decides (a per-request cap and sliding-window limits per address and overall); the
chain moves the lamports (LiteSVM's airdrop) and the RPC layer shapes a refusal the way the devnet
faucet does (HTTP 429 with a JSON-RPC error body). :class:`TokenMinter` creates the test mints at
start-up, holds their mint authority, and mints to a wallet's associated token account.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field
from solders.account import Account
from solders.compute_budget import set_compute_unit_limit
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from spl.token.instructions import (
    MintToParams,
    create_idempotent_associated_token_account,
    get_associated_token_address,
    mint_to,
)

from kernel.tokens import Token
from localnet.accounts import MINT_LEN, NATIVE_MINT, TOKEN_PROGRAM_ID, mint_data, parse_mint
from localnet.chain import Chain

LAMPORTS_PER_SOL = 1_000_000_000

# What api.devnet.solana.com answers, byte for byte, once an address or the faucet is over its limit.
DEVNET_LIMIT_MESSAGE = (
    "You've either reached your airdrop limit today or the airdrop faucet has run dry. "
    "Please visit https://faucet.solana.com for alternate sources of test SOL"
)


class FaucetConfig(BaseModel):
    """Faucet limits. ``None`` means unlimited; windows slide over the last ``window_s`` seconds."""

    model_config = ConfigDict(extra="forbid")

    max_per_request_lamports: int = Field(
        default=5 * LAMPORTS_PER_SOL, ge=1, description="Largest single airdrop; larger requests are refused."
    )
    max_requests_per_address: int | None = Field(default=None, ge=0, description="Airdrops per address per window.")
    max_lamports_per_address: int | None = Field(default=None, ge=0, description="Lamports per address per window.")
    max_requests_global: int | None = Field(default=None, ge=0, description="Airdrops to anyone per window.")
    max_lamports_global: int | None = Field(default=None, ge=0, description="Lamports to anyone per window.")
    window_s: float = Field(default=86_400.0, gt=0, description="Length of the sliding window, in seconds.")


class AirdropRefused(Exception):
    """Base of the faucet's refusals."""


class AirdropLimited(AirdropRefused):
    """The address or the faucet as a whole is over its limit for the current window."""

    def __init__(self) -> None:
        super().__init__(DEVNET_LIMIT_MESSAGE)


class AirdropTooLarge(AirdropRefused):
    """One request asked for more than the per-request cap."""

    def __init__(self, requested: int, cap: int) -> None:
        super().__init__(
            f"airdrop request of {requested} lamports exceeds the per-request cap of {cap} lamports "
            f"({cap / LAMPORTS_PER_SOL:g} SOL)"
        )
        self.requested = requested
        self.cap = cap


@dataclass(frozen=True, slots=True)
class _Grant:
    at: float
    address: str
    lamports: int


class Faucet:
    """Applies :class:`FaucetConfig` to airdrop requests. ``clock`` is injectable for tests."""

    def __init__(self, config: FaucetConfig | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or FaucetConfig()
        self._clock = clock
        self._grants: deque[_Grant] = deque()

    def authorise(self, address: str, lamports: int) -> None:
        """Raise :class:`AirdropRefused` if this airdrop is not allowed now; otherwise record it as granted."""
        c = self.config
        if lamports <= 0:
            raise ValueError("airdrop amount must be positive")
        if lamports > c.max_per_request_lamports:
            raise AirdropTooLarge(lamports, c.max_per_request_lamports)
        now = self._clock()
        self._forget_before(now - c.window_s)
        mine = [g for g in self._grants if g.address == address]
        if _over(c.max_requests_per_address, len(mine) + 1) or _over(
            c.max_lamports_per_address, sum(g.lamports for g in mine) + lamports
        ):
            raise AirdropLimited()
        if _over(c.max_requests_global, len(self._grants) + 1) or _over(
            c.max_lamports_global, sum(g.lamports for g in self._grants) + lamports
        ):
            raise AirdropLimited()
        self._grants.append(_Grant(now, address, lamports))

    def _forget_before(self, cutoff: float) -> None:
        while self._grants and self._grants[0].at <= cutoff:
            self._grants.popleft()


def _over(limit: int | None, value: int) -> bool:
    return limit is not None and value > limit


class MintError(ValueError):
    """A mint the localnet cannot mint (unknown, or its authority is not the localnet's), or a failed mint."""


class TokenMinter:
    """Creates SPL mints whose authority is a keypair the localnet keeps, and mints them to wallets."""

    def __init__(self, chain: Chain, authority: Keypair | None = None) -> None:
        self.chain = chain
        self.authority = authority or Keypair.from_seed(hashlib.sha256(b"oee-localnet-mint-authority").digest())
        self._nonce = 0
        chain.airdrop(self.authority.pubkey(), 1_000 * LAMPORTS_PER_SOL)  # pays for associated token accounts

    def create_mint(self, mint: Pubkey, decimals: int, *, with_authority: bool = True) -> None:
        """Write an initialised SPL Mint at ``mint`` (any address, e.g. a mainnet one) with zero supply."""
        authority = self.authority.pubkey() if with_authority else None
        rent = self.chain.svm.minimum_balance_for_rent_exemption(MINT_LEN)
        data = mint_data(authority, 0, decimals)
        self.chain.set_account(mint, Account(lamports=rent, data=data, owner=TOKEN_PROGRAM_ID, executable=False))

    def create_test_mints(self, tokens: Iterable[Token]) -> None:
        """The native mint (no authority, 9 decimals) and every other token at its own mint address."""
        for token in tokens:
            if token.native or Pubkey.from_string(token.mint) == NATIVE_MINT:
                continue
            self.create_mint(Pubkey.from_string(token.mint), token.decimals)
        if self.chain.account(NATIVE_MINT) is None:
            self.create_mint(NATIVE_MINT, 9, with_authority=False)

    def mint_to(self, mint: Pubkey, owner: Pubkey, amount: int) -> tuple[Signature, Pubkey]:
        """Mint ``amount`` raw units to ``owner``'s associated token account, creating it if needed."""
        view = parse_mint(self.chain.account(mint))
        if view is None:
            raise MintError(f"{mint} is not an SPL mint")
        if view.mint_authority != self.authority.pubkey():
            raise MintError(f"the localnet does not hold the mint authority of {mint}")
        if amount <= 0:
            raise MintError("amount must be positive")
        program = view.program_id
        payer = self.authority.pubkey()
        ata = get_associated_token_address(owner, mint, program)
        self._nonce += 1  # a distinct compute limit keeps two identical mints in one slot distinct transactions
        instructions = [
            set_compute_unit_limit(200_000 + self._nonce % 100_000),
            create_idempotent_associated_token_account(payer, owner, mint, program),
            mint_to(MintToParams(program_id=program, mint=mint, dest=ata, mint_authority=payer, amount=amount)),
        ]
        message = Message.new_with_blockhash(instructions, payer, self.chain.latest.blockhash)
        record = self.chain.execute(VersionedTransaction(message, [self.authority]))
        if record is None or record.err is not None:
            detail = f": {record.err} {record.logs}" if record is not None else ""
            raise MintError(f"minting {amount} of {mint} to {owner} failed{detail}")
        self.chain.note_account(ata)
        return record.signature, ata
