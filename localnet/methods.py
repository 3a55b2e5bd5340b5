"""The Solana JSON-RPC methods the localnet answers (the non-standard ``localnet_*`` ones are in rpc.py).

Reads (getBalance, getAccountInfo, token reads) return the processed state whatever commitment is
asked; commitment is honoured where it changes the answer's meaning: getLatestBlockhash, getSlot,
getBlockHeight, getTransaction and getSignaturesForAddress.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from solders.hash import Hash
from solders.message import MessageV0, from_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from localnet.accounts import TOKEN_PROGRAMS, b58decode, encode_account, parse_token_account, ui_token_amount
from localnet.encoding import (
    decode_transaction,
    error_json,
    error_message,
    simulation_json,
    status_json,
    transaction_json,
)
from localnet.faucet import AirdropLimited, AirdropRefused
from localnet.records import LAMPORTS_PER_SIGNATURE, Commitment, SimulationResult

if TYPE_CHECKING:
    from localnet.chain import Chain
    from localnet.faucet import Faucet
    from localnet.faults import FaultInjector

API_VERSION = "2.2.0"
GENESIS_HASH = Hash.hash(b"oee-localnet-genesis")
_COMMITMENTS = {
    "recent": "processed",
    "single": "processed",
    "singleGossip": "confirmed",
    "root": "finalized",
    "max": "finalized",
}


class RpcError(Exception):
    """A JSON-RPC error answer: ``code``, ``message``, optional ``data``, and the HTTP status to send."""

    def __init__(self, code: int, message: str, data: Any = None, http_status: int = 200) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.http_status = http_status


def invalid(message: str) -> RpcError:
    return RpcError(-32602, message)


def config_at(params: list[Any], index: int) -> dict[str, Any]:
    value = params[index] if len(params) > index else None
    return value if isinstance(value, dict) else {}


def pubkey_param(value: Any) -> Pubkey:
    try:
        return Pubkey.from_string(str(value))
    except ValueError as exc:
        raise invalid(f"Invalid param: {exc}") from exc


def _signature(value: Any) -> Signature:
    try:
        return Signature.from_string(str(value))
    except ValueError as exc:
        raise invalid(f"Invalid param: {exc}") from exc


def _commitment(config: dict[str, Any]) -> Commitment:
    raw = str(config.get("commitment") or "finalized")
    try:
        return Commitment(_COMMITMENTS.get(raw, raw))
    except ValueError as exc:
        raise invalid(f"Invalid params: unknown commitment {raw!r}") from exc


def _decode_tx(params: list[Any], default_encoding: str) -> VersionedTransaction:
    if not params or not isinstance(params[0], str):
        raise invalid("Invalid params: a transaction string is required")
    try:
        return decode_transaction(params[0], config_at(params, 1).get("encoding") or default_encoding)
    except ValueError as exc:
        raise invalid(str(exc)) from exc


def register_methods(chain: Chain, faucet: Faucet, faults: FaultInjector) -> dict[str, Callable[[list[Any]], Any]]:
    """The method table over ``chain``: JSON-RPC method name → handler taking the params list. Airdrops ask
    ``faucet``; sends pass ``faults`` first."""

    def ctx(value: Any, slot: int | None = None) -> dict[str, Any]:
        return {"context": {"slot": chain.slot if slot is None else slot, "apiVersion": API_VERSION}, "value": value}

    def sim_json(result: SimulationResult, config: dict[str, Any]) -> dict[str, Any]:
        accounts = None
        wanted = config.get("accounts")
        if isinstance(wanted, dict):
            encoding = wanted.get("encoding") or "base64"
            accounts = []
            for key in (pubkey_param(address) for address in wanted.get("addresses", [])):
                account = result.post_accounts.get(key) or chain.account(key)
                accounts.append(encode_account(account, encoding, chain.decimals_of) if account else None)
        entry = chain.latest
        replacement = {"blockhash": str(entry.blockhash), "lastValidBlockHeight": chain.last_valid_block_height(entry)}
        return simulation_json(result, accounts, replacement if config.get("replaceRecentBlockhash") else None)

    def get_latest_blockhash(params: list[Any]) -> Any:
        commitment = _commitment(config_at(params, 0))
        entry = chain.blockhash_at(commitment)
        value = {"blockhash": str(entry.blockhash), "lastValidBlockHeight": chain.last_valid_block_height(entry)}
        return ctx(value, chain.commitment_slot(commitment))

    def get_slot(params: list[Any]) -> Any:
        return chain.commitment_slot(_commitment(config_at(params, 0)))

    def is_blockhash_valid(params: list[Any]) -> Any:
        try:
            blockhash = Hash.from_string(str(params[0]))
        except (IndexError, ValueError) as exc:
            raise invalid(f"Invalid param: {exc}") from exc
        return ctx(chain.is_blockhash_valid(blockhash))

    def send_transaction(params: list[Any]) -> Any:
        tx = _decode_tx(params, "base58")
        config = config_at(params, 1)
        if not all(tx.verify_with_results()):
            raise RpcError(-32003, "Transaction signature verification failure")
        signature = tx.signatures[0]
        if not config.get("skipPreflight"):
            result = chain.simulate(tx)
            if result.err is not None:
                message = f"Transaction simulation failed: {error_message(result.err)}"
                raise RpcError(-32002, message, sim_json(result, {}))
        if faults.drop_send():
            return str(signature)
        chain.submit(tx, delay_slots=faults.delay_slots)
        return str(signature)

    def simulate_transaction(params: list[Any]) -> Any:
        tx = _decode_tx(params, "base58")
        config = config_at(params, 1)
        sig_verify, replace = bool(config.get("sigVerify")), bool(config.get("replaceRecentBlockhash"))
        if sig_verify and replace:
            raise invalid("sigVerify may not be used with replaceRecentBlockhash")
        if sig_verify and not all(tx.verify_with_results()):
            raise RpcError(-32003, "Transaction signature verification failure")
        return ctx(sim_json(chain.simulate(tx, replace_blockhash=replace), config))

    def get_signature_statuses(params: list[Any]) -> Any:
        signatures = params[0] if params and isinstance(params[0], list) else None
        if signatures is None or len(signatures) > 256:
            raise invalid("Invalid params: expected a list of at most 256 signatures")
        search = bool(config_at(params, 1).get("searchTransactionHistory"))
        return ctx([status_json(chain.status(_signature(s), search_history=search)) for s in signatures])

    def get_transaction(params: list[Any]) -> Any:
        if not params:
            raise invalid("Invalid params: a signature is required")
        config = config_at(params, 1) or ({"encoding": params[1]} if len(params) > 1 else {})
        commitment = _commitment(config)
        if commitment == Commitment.PROCESSED:
            raise invalid("Method does not support commitment below `confirmed`")
        record = chain.transaction(_signature(params[0]))
        if record is None or record.transaction is None or chain.slot - record.slot < chain.depth_of(commitment):
            return None
        max_version = config.get("maxSupportedTransactionVersion")
        if isinstance(record.transaction.message, MessageV0) and max_version is None:
            raise RpcError(
                -32015,
                "Transaction version (0) is not supported by the requesting client. Please try "
                "the request again with the following configuration parameter: "
                '"maxSupportedTransactionVersion": 0',
            )
        encoding = str(config.get("encoding") or "json")
        return transaction_json(record, encoding, with_version=max_version is not None)

    def get_balance(params: list[Any]) -> Any:
        return ctx(chain.svm.get_balance(pubkey_param(params[0] if params else None)) or 0)

    def encoded(key: Pubkey, encoding: str) -> Any:
        account = chain.account(key)
        # LiteSVM keeps an empty system account for every absent account a transaction wrote; a validator
        # has no such account.
        if account is None or account.lamports == 0:
            return None
        return encode_account(account, encoding, chain.decimals_of)

    def get_account_info(params: list[Any]) -> Any:
        encoding = config_at(params, 1).get("encoding") or "base64"
        return ctx(encoded(pubkey_param(params[0] if params else None), encoding))

    def get_multiple_accounts(params: list[Any]) -> Any:
        keys = params[0] if params and isinstance(params[0], list) else None
        if keys is None or len(keys) > 100:
            raise invalid("Invalid params: expected a list of at most 100 addresses")
        encoding = config_at(params, 1).get("encoding") or "base64"
        return ctx([encoded(pubkey_param(k), encoding) for k in keys])

    def get_token_account_balance(params: list[Any]) -> Any:
        view = parse_token_account(chain.account(pubkey_param(params[0] if params else None)))
        decimals = chain.decimals_of(view.mint) if view is not None else None
        if view is None or decimals is None:
            raise invalid("Invalid param: not a Token account")
        return ctx(ui_token_amount(view.amount, decimals))

    def get_token_accounts_by_owner(params: list[Any]) -> Any:
        owner = pubkey_param(params[0] if params else None)
        flt = config_at(params, 1)
        mint = pubkey_param(flt["mint"]) if "mint" in flt else None
        program = pubkey_param(flt["programId"]) if "programId" in flt else None
        if (mint is None) == (program is None):
            raise invalid("Invalid params: a filter with exactly one of mint or programId is required")
        if program is not None and program not in TOKEN_PROGRAMS:
            raise invalid("Invalid param: unrecognized Token program id")
        encoding = config_at(params, 2).get("encoding") or "base64"
        found = []
        for key in chain.known_accounts():
            account = chain.account(key)
            if account is not None and account.executable:
                chain.forget_account(key)
            view = parse_token_account(account)
            if account is None or view is None or view.owner != owner:
                continue
            if (mint is not None and view.mint != mint) or (program is not None and view.program_id != program):
                continue
            found.append({"pubkey": str(key), "account": encode_account(account, encoding, chain.decimals_of)})
        return ctx(found)

    def get_program_accounts(params: list[Any]) -> Any:
        program = pubkey_param(params[0] if params else None)
        config = config_at(params, 1)
        encoding = config.get("encoding") or "base64"
        filters = config.get("filters") or []
        found = []
        for key in chain.known_accounts():
            account = chain.account(key)
            if account is None or account.owner != program:
                continue
            if all(_filter_matches(f, bytes(account.data)) for f in filters):
                found.append({"pubkey": str(key), "account": encode_account(account, encoding, chain.decimals_of)})
        return ctx(found) if config.get("withContext") else found

    def get_minimum_balance_for_rent_exemption(params: list[Any]) -> Any:
        if not params or not isinstance(params[0], int) or params[0] < 0:
            raise invalid("Invalid params: expected a data length")
        return chain.svm.minimum_balance_for_rent_exemption(params[0])

    def get_fee_for_message(params: list[Any]) -> Any:
        try:
            message = from_bytes_versioned(base64.b64decode(str(params[0]), validate=True))
        except Exception as exc:
            raise invalid(f"Invalid params: not a base64 message ({exc})") from exc
        if not chain.is_blockhash_valid(message.recent_blockhash):
            return ctx(None)
        return ctx(LAMPORTS_PER_SIGNATURE * message.header.num_required_signatures)

    def get_recent_prioritization_fees(params: list[Any]) -> Any:
        addresses = [pubkey_param(a) for a in (params[0] if params and isinstance(params[0], list) else [])]
        return [{"slot": s, "prioritizationFee": fee} for s, fee in chain.prioritization_fees(addresses)]

    def request_airdrop(params: list[Any]) -> Any:
        if len(params) < 2 or not isinstance(params[1], int):
            raise invalid("Invalid params: expected an address and a lamport amount")
        address = pubkey_param(params[0])
        try:
            faucet.authorise(str(address), params[1])
            return str(chain.airdrop(address, params[1]))
        except AirdropLimited as exc:
            raise RpcError(429, str(exc), http_status=429) from exc
        except (AirdropRefused, ValueError) as exc:  # over the per-request cap, or not a positive amount
            raise invalid(f"Invalid params: {exc}") from exc
        except RuntimeError as exc:  # LiteSVM's airdrop account ran dry
            raise RpcError(429, str(AirdropLimited()), http_status=429) from exc

    def get_epoch_info(params: list[Any]) -> Any:
        slot = chain.commitment_slot(_commitment(config_at(params, 0)))
        schedule = chain.svm.get_epoch_schedule()
        epoch, index = schedule.get_epoch_and_slot_index(slot)
        return {
            "absoluteSlot": slot,
            "blockHeight": slot,
            "epoch": epoch,
            "slotIndex": index,
            "slotsInEpoch": schedule.get_slots_in_epoch(epoch),
            "transactionCount": chain.transaction_count,
        }

    def get_signatures_for_address(params: list[Any]) -> Any:
        address = pubkey_param(params[0] if params else None)
        config = config_at(params, 1)
        depth = chain.depth_of(_commitment(config))
        limit = min(int(config.get("limit") or 1000), 1000)
        before, until = config.get("before"), config.get("until")
        out: list[dict[str, Any]] = []
        started = before is None
        for signature in chain.signatures_for(address):
            if not started:
                started = str(signature) == before
                continue
            if str(signature) == until or len(out) >= limit:
                break
            record, status = chain.transaction(signature), chain.status(signature, search_history=True)
            if record is None or status is None or chain.slot - record.slot < depth:
                continue
            out.append(
                {
                    "signature": str(signature),
                    "slot": record.slot,
                    "err": error_json(record.err),
                    "memo": record.memo,
                    "blockTime": record.block_time,
                    "confirmationStatus": str(status.confirmation_status),
                }
            )
        return out

    return {
        "getLatestBlockhash": get_latest_blockhash,
        "getBlockHeight": get_slot,
        "getSlot": get_slot,
        "isBlockhashValid": is_blockhash_valid,
        "sendTransaction": send_transaction,
        "simulateTransaction": simulate_transaction,
        "getSignatureStatuses": get_signature_statuses,
        "getTransaction": get_transaction,
        "getBalance": get_balance,
        "getAccountInfo": get_account_info,
        "getMultipleAccounts": get_multiple_accounts,
        "getProgramAccounts": get_program_accounts,
        "getTokenAccountBalance": get_token_account_balance,
        "getTokenAccountsByOwner": get_token_accounts_by_owner,
        "getMinimumBalanceForRentExemption": get_minimum_balance_for_rent_exemption,
        "getFeeForMessage": get_fee_for_message,
        "getRecentPrioritizationFees": get_recent_prioritization_fees,
        "requestAirdrop": request_airdrop,
        "getHealth": lambda p: "ok",
        "getVersion": lambda p: {"solana-core": API_VERSION, "feature-set": 0},
        "getGenesisHash": lambda p: str(GENESIS_HASH),
        "getEpochInfo": get_epoch_info,
        "getTransactionCount": lambda p: chain.transaction_count,
        "getSignaturesForAddress": get_signatures_for_address,
    }


def _filter_matches(flt: dict[str, Any], data: bytes) -> bool:
    """A getProgramAccounts filter: ``{"dataSize": n}`` or ``{"memcmp": {"offset", "bytes", "encoding"}}``."""
    if "dataSize" in flt:
        return len(data) == int(flt["dataSize"])
    memcmp = flt.get("memcmp")
    if not isinstance(memcmp, dict):
        raise invalid("Invalid params: unsupported filter")
    raw = memcmp.get("bytes", "")
    wanted = base64.b64decode(raw) if memcmp.get("encoding") == "base64" else b58decode(raw)
    offset = int(memcmp.get("offset", 0))
    return data[offset : offset + len(wanted)] == wanted
