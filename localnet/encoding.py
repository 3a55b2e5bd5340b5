"""JSON shapes of the Solana RPC: transaction errors, signature statuses, transactions with their meta.

Pure functions from the ledger's records to what ``solana-test-validator`` answers, so that solana-py's
response classes (solders) parse them.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import orjson
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.rpc.responses import RpcSimulateTransactionResult
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import InnerInstruction
from solders.transaction_status import TransactionErrorType

from localnet.accounts import b58decode, b58encode
from localnet.records import MEMO_PROGRAM_IDS, SignatureStatus, SimulationResult, TxRecord, is_writable

PACKET_DATA_SIZE = 1232  # the largest transaction a validator accepts
_TX_ERRORS = {
    "AccountInUse": "Account in use",
    "AccountLoadedTwice": "Account loaded twice",
    "AccountNotFound": "Attempt to debit an account but found no record of a prior credit.",
    "ProgramAccountNotFound": "Attempt to load a program that does not exist",
    "InsufficientFundsForFee": "Insufficient funds for fee",
    "InvalidAccountForFee": "This account may not be used to pay transaction fees",
    "AlreadyProcessed": "This transaction has already been processed",
    "BlockhashNotFound": "Blockhash not found",
    "SignatureFailure": "Transaction did not pass signature verification",
    "InvalidAccountIndex": "Transaction contains an invalid account reference",
    "SanitizeFailure": "Transaction failed to sanitize accounts offsets correctly",
}
_IX_ERRORS = {
    "GenericError": "generic instruction error",
    "InvalidArgument": "invalid program argument",
    "InvalidInstructionData": "invalid instruction data",
    "InvalidAccountData": "invalid account data for instruction",
    "AccountDataTooSmall": "account data too small for instruction",
    "InsufficientFunds": "insufficient funds for instruction",
    "IncorrectProgramId": "incorrect program id for instruction",
    "MissingRequiredSignature": "missing required signature for instruction",
    "AccountAlreadyInitialized": "instruction requires an uninitialized account",
    "UninitializedAccount": "instruction requires an initialized account",
    "ProgramFailedToComplete": "Program failed to complete",
    "ComputationalBudgetExceeded": "Computational budget exceeded",
}


def error_json(err: TransactionErrorType | None) -> Any:
    """A TransactionError as the RPC spells it, e.g. ``"BlockhashNotFound"`` or
    ``{"InstructionError": [0, {"Custom": 1}]}``."""
    if err is None:
        return None
    return orjson.loads(RpcSimulateTransactionResult(err=err).to_json())["err"]


def error_message(err: TransactionErrorType) -> str:
    """The validator's Display text of a TransactionError (used in preflight failure messages)."""
    value = error_json(err)
    if isinstance(value, str):
        return _TX_ERRORS.get(value, _words(value))
    name, detail = next(iter(value.items()))
    if name == "InstructionError":
        index, inner = detail
        if isinstance(inner, dict) and "Custom" in inner:
            text = f"custom program error: {int(inner['Custom']):#x}"
        elif isinstance(inner, str):
            text = _IX_ERRORS.get(inner, _words(inner))
        else:
            text = _words(next(iter(inner)))
        return f"Error processing Instruction {index}: {text}"
    if name == "InsufficientFundsForRent":
        return f"Transaction results in an account ({detail['account_index']}) with insufficient funds for rent"
    return _words(name)


def _words(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower().capitalize()


def decode_transaction(text: str, encoding: str) -> VersionedTransaction:
    """A wire transaction from its base64 or base58 text; ``ValueError`` with the validator's wording if bad."""
    try:
        raw = base64.b64decode(text, validate=True) if encoding == "base64" else b58decode(text)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid {encoding} encoding: {exc}") from exc
    if len(raw) > PACKET_DATA_SIZE:
        raise ValueError(
            f"{encoding} encoded solana_sdk::transaction::versioned::VersionedTransaction too large: "
            f"{len(raw)} bytes (max: {PACKET_DATA_SIZE} bytes)"
        )
    try:
        tx = VersionedTransaction.from_bytes(raw)
        tx.sanitize()
    except Exception as exc:  # solders raises its own error types for malformed bytes
        raise ValueError(
            f"failed to deserialize solana_sdk::transaction::versioned::VersionedTransaction: {exc}"
        ) from exc
    return tx


def simulation_json(
    result: SimulationResult, accounts: list[Any] | None, replacement: dict[str, Any] | None
) -> dict[str, Any]:
    """A simulateTransaction value (also the ``data`` of a -32002 preflight failure)."""
    return_data = None
    if result.return_data is not None:
        program, data = result.return_data
        return_data = {"programId": str(program), "data": [base64.b64encode(data).decode(), "base64"]}
    return {
        "err": error_json(result.err),
        "logs": result.logs,
        "accounts": accounts,
        "unitsConsumed": result.units_consumed,
        "returnData": return_data,
        "innerInstructions": None,
        "replacementBlockhash": replacement,
    }


def status_json(status: SignatureStatus | None) -> dict[str, Any] | None:
    if status is None:
        return None
    err = error_json(status.err)
    return {
        "slot": status.slot,
        "confirmations": status.confirmations,
        "err": err,
        "status": {"Ok": None} if err is None else {"Err": err},
        "confirmationStatus": str(status.confirmation_status),
    }


def transaction_json(record: TxRecord, encoding: str, with_version: bool) -> dict[str, Any]:
    """A getTransaction result in ``json``, ``jsonParsed``, ``base64`` or ``base58`` encoding."""
    tx = record.transaction
    assert tx is not None
    message = tx.message
    if encoding in ("base64", "base58"):
        raw = bytes(tx)
        text = base64.b64encode(raw).decode() if encoding == "base64" else b58encode(raw)
        encoded: Any = [text, encoding]
    else:
        build = _parsed_message if encoding == "jsonParsed" else _message
        encoded = {"signatures": [str(s) for s in tx.signatures], "message": build(message, record)}
    out: dict[str, Any] = {
        "slot": record.slot,
        "blockTime": record.block_time,
        "transaction": encoded,
        "meta": meta_json(record, parsed=encoding == "jsonParsed"),
    }
    if with_version:
        out["version"] = 0 if isinstance(message, MessageV0) else "legacy"
    return out


def meta_json(record: TxRecord, *, parsed: bool = False) -> dict[str, Any]:
    err = error_json(record.err)
    inner = [
        {"index": index, "instructions": [_inner(ix, parsed, record) for ix in group]}
        for index, group in enumerate(record.inner_instructions)
        if group
    ]
    return {
        "err": err,
        "status": {"Ok": None} if err is None else {"Err": err},
        "fee": record.fee,
        "preBalances": record.pre_balances,
        "postBalances": record.post_balances,
        "innerInstructions": inner,
        "logMessages": record.logs,
        "preTokenBalances": record.pre_token_balances,
        "postTokenBalances": record.post_token_balances,
        "rewards": [],
        "loadedAddresses": {
            "writable": [str(k) for k in record.loaded_writable],
            "readonly": [str(k) for k in record.loaded_readonly],
        },
        "computeUnitsConsumed": record.units_consumed,
    }


def _message(message: Message | MessageV0, record: TxRecord) -> dict[str, Any]:
    header = message.header
    out: dict[str, Any] = {
        "accountKeys": [str(k) for k in message.account_keys],
        "header": {
            "numRequiredSignatures": header.num_required_signatures,
            "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
            "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
        },
        "recentBlockhash": str(message.recent_blockhash),
        "instructions": [
            {
                "programIdIndex": ix.program_id_index,
                "accounts": list(bytes(ix.accounts)),
                "data": b58encode(bytes(ix.data)),
                "stackHeight": None,
            }
            for ix in message.instructions
        ],
    }
    if isinstance(message, MessageV0):
        out["addressTableLookups"] = [
            {
                "accountKey": str(lookup.account_key),
                "writableIndexes": list(bytes(lookup.writable_indexes)),
                "readonlyIndexes": list(bytes(lookup.readonly_indexes)),
            }
            for lookup in message.address_table_lookups
        ]
    return out


def _all_keys(record: TxRecord) -> list[Pubkey]:
    assert record.transaction is not None
    return list(record.transaction.message.account_keys) + record.loaded_writable + record.loaded_readonly


def _parsed_message(message: Message | MessageV0, record: TxRecord) -> dict[str, Any]:
    keys = _all_keys(record)
    static = len(message.account_keys)
    signers = message.header.num_required_signatures
    account_keys = [
        {
            "pubkey": str(key),
            "writable": is_writable(message, i, len(record.loaded_writable)),
            "signer": i < signers,
            "source": "transaction" if i < static else "lookupTable",
        }
        for i, key in enumerate(keys)
    ]
    instructions = [
        _parsed_ix(keys, ix.program_id_index, bytes(ix.accounts), bytes(ix.data)) for ix in message.instructions
    ]
    out: dict[str, Any] = {
        "accountKeys": account_keys,
        "recentBlockhash": str(message.recent_blockhash),
        "instructions": instructions,
    }
    if isinstance(message, MessageV0):
        out["addressTableLookups"] = _message(message, record)["addressTableLookups"]
    return out


def _parsed_ix(keys: list[Pubkey], program_index: int, accounts: bytes, data: bytes, height: int | None = None) -> Any:
    program = keys[program_index]
    if program in MEMO_PROGRAM_IDS:
        text = data.decode("utf-8", errors="replace")
        return {"parsed": text, "program": "spl-memo", "programId": str(program), "stackHeight": height}
    return {
        "accounts": [str(keys[i]) for i in accounts],
        "data": b58encode(data),
        "programId": str(program),
        "stackHeight": height,
    }


def _inner(inner: InnerInstruction, parsed: bool, record: TxRecord) -> dict[str, Any]:
    ix = inner.instruction()
    height: int | None = getattr(inner, "stack_height", lambda: None)()  # a method at run time, absent from the stubs
    if parsed:
        return dict(_parsed_ix(_all_keys(record), ix.program_id_index, bytes(ix.accounts), bytes(ix.data), height))
    return {
        "programIdIndex": ix.program_id_index,
        "accounts": list(bytes(ix.accounts)),
        "data": b58encode(bytes(ix.data)),
        "stackHeight": height,
    }
