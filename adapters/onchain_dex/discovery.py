"""Finding a pair's pools when none is configured: a cache of what was found, and the program search.

Discovered pools are remembered for ``ttl_s``; a pair with none is asked again after ``miss_ttl_s`` (a
pool may be created meanwhile). Many public RPC nodes refuse ``getProgramAccounts``: that refusal is
:class:`~adapters.solana.errors.DiscoveryRefused`, so an adapter can fall back or find nothing, while a
transient failure stays retryable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from solana.exceptions import SolanaRpcException
from solana.rpc.core import RPCException
from solana.rpc.types import MemcmpOpts
from solders.account import Account
from solders.pubkey import Pubkey

from adapters.solana.errors import DiscoveryRefused, RpcErrorCode
from adapters.solana.rpc import ChainRpc
from kernel.errors import FatalError

Monotonic = Callable[[], float]
MintPair = tuple[Pubkey, Pubkey]


def mint_pair(mint_a: Pubkey, mint_b: Pubkey) -> MintPair:
    """The two mints in byte order, whichever way round they come."""
    return (mint_a, mint_b) if bytes(mint_a) < bytes(mint_b) else (mint_b, mint_a)


class DiscoveryCache:
    """The pools found per mint pair, each answer kept until its deadline on ``clock``."""

    def __init__(self, clock: Monotonic, ttl_s: float, miss_ttl_s: float) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._miss_ttl_s = miss_ttl_s
        self._found: dict[MintPair, tuple[float, tuple[Pubkey, ...]]] = {}

    def get(self, pair: MintPair) -> tuple[Pubkey, ...] | None:
        """What was found for ``pair``, while it is fresh; None when the pair must be searched."""
        cached = self._found.get(pair)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        return None

    def put(self, pair: MintPair, addresses: tuple[Pubkey, ...]) -> None:
        ttl = self._ttl_s if addresses else self._miss_ttl_s
        self._found[pair] = (self._clock() + ttl, addresses)


async def search_program(
    rpc: ChainRpc, program_id: Pubkey, size: int, mints: Sequence[tuple[int, Pubkey]], action: str
) -> list[tuple[Pubkey, Account]]:
    """``getProgramAccounts`` of ``program_id``'s accounts of ``size`` bytes holding each mint at its offset.
    Raises :class:`DiscoveryRefused` when the node answers with a JSON-RPC error or an HTTP 4xx."""
    filters: list[int | MemcmpOpts] = [size, *(MemcmpOpts(offset=offset, bytes=str(mint)) for offset, mint in mints)]
    try:
        return await rpc.program_accounts(program_id, filters, action)
    except FatalError as exc:
        # A JSON-RPC error reply or an HTTP 4xx (classified fatal, never retried) is the node refusing the
        # method; a transient failure stays a RetryableError and propagates.
        if isinstance(exc.__cause__, RPCException | SolanaRpcException | RpcErrorCode):
            raise DiscoveryRefused(str(exc)) from exc
        raise
