"""Accounts for the localnet: solana CLI account files, SPL Token layouts, and their RPC encodings.

``--account ADDRESS FILE.json`` reads the format ``solana account --output json`` writes::

    {"pubkey": "...", "account": {"lamports": 1, "data": ["<base64>", "base64"], "owner": "...",
     "executable": false, "rentEpoch": 0, "space": 0}}

The SPL layouts are the classic Token program's; Token-2022 accounts share the same first bytes, with
an account-type byte at offset 165 when extensions follow.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey

TOKEN_PROGRAM_ID = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
TOKEN_2022_PROGRAM_ID = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
TOKEN_PROGRAMS = (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID)
NATIVE_MINT = Pubkey.from_string("So11111111111111111111111111111111111111112")
MINT_LEN = 82
TOKEN_ACCOUNT_LEN = 165
_ACCOUNT_TYPE_MINT = 1
_ACCOUNT_TYPE_ACCOUNT = 2
_STATES = {0: "uninitialized", 1: "initialized", 2: "frozen"}


class AccountFileError(ValueError):
    """An account file that cannot be read as the solana CLI's account JSON."""


def load_account_file(path: Path, address: str | None = None) -> tuple[Pubkey, Account]:
    """Read a solana CLI account JSON file. ``address`` (unless ``None`` or ``"-"``) overrides its pubkey."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AccountFileError(f"{path}: not a solana account JSON file ({exc})") from exc
    try:
        return account_from_json(doc, address)
    except AccountFileError as exc:
        raise AccountFileError(f"{path}: {exc}") from exc


def account_from_json(doc: Any, address: str | None = None) -> tuple[Pubkey, Account]:
    """An account in the solana CLI's JSON shape (``{"pubkey", "account": {lamports, data, owner, ...}}``).
    ``address`` (unless ``None`` or ``"-"``) overrides its pubkey."""
    try:
        raw = doc["account"]
        key = address if address not in (None, "-") else doc["pubkey"]
        data = _decode_data(raw.get("data", ["", "base64"]))
        account = Account(
            lamports=int(raw["lamports"]),
            data=data,
            owner=Pubkey.from_string(raw["owner"]),
            executable=bool(raw.get("executable", False)),
            rent_epoch=int(raw.get("rentEpoch", 0)),
        )
        return Pubkey.from_string(str(key)), account
    except AccountFileError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise AccountFileError(f"not a solana account JSON document ({exc})") from exc


def read_program_file(path: Path) -> bytes:
    """The bytes of an SBF program (``--bpf-program``), checked to be a 64-bit little-endian BPF/SBF ELF.

    LiteSVM panics (a ``BaseException``, with a Rust backtrace) on bytes it cannot load, so the obvious
    mistakes are caught here first.
    """
    data = Path(path).read_bytes()
    if data[:6] != b"\x7fELF\x02\x01" or int.from_bytes(data[18:20], "little") not in (247, 263):
        raise AccountFileError(f"{path}: not an SBF program (expected a 64-bit little-endian BPF/SBF ELF)")
    return data


def _decode_data(field: Any) -> bytes:
    if isinstance(field, str):  # very old files: a bare base58 string
        return b58decode(field)
    text, encoding = field[0], field[1]
    if encoding == "base64":
        return base64.b64decode(text)
    if encoding == "base58":
        return b58decode(text)
    raise AccountFileError(f"unsupported account data encoding {encoding!r} (write the file with base64)")


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58, as Solana uses for keys, signatures and instruction data."""
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rem = divmod(number, 58)
        out.append(_B58[rem])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        digit = _B58_INDEX.get(char)
        if digit is None:
            raise ValueError(f"invalid base58 character {char!r}")
        number = number * 58 + digit
    pad = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * pad + body


# --- SPL Token layouts ------------------------------------------------------------------------


def _coption_pubkey(value: Pubkey | None) -> bytes:
    return struct.pack("<I", 1) + bytes(value) if value is not None else bytes(36)


def _read_coption_pubkey(data: bytes, offset: int) -> Pubkey | None:
    (tag,) = struct.unpack_from("<I", data, offset)
    return Pubkey.from_bytes(data[offset + 4 : offset + 36]) if tag == 1 else None


def mint_data(
    mint_authority: Pubkey | None, supply: int, decimals: int, freeze_authority: Pubkey | None = None
) -> bytes:
    """An initialised 82-byte SPL Mint: authority COption, supply u64, decimals, is_initialized, freeze COption."""
    data = _coption_pubkey(mint_authority) + struct.pack("<QB?", supply, decimals, True)
    data += _coption_pubkey(freeze_authority)
    assert len(data) == MINT_LEN
    return data


@dataclass(frozen=True, slots=True)
class MintView:
    """The fields of an SPL Mint account."""

    mint_authority: Pubkey | None
    supply: int
    decimals: int
    is_initialized: bool
    freeze_authority: Pubkey | None
    program_id: Pubkey


@dataclass(frozen=True, slots=True)
class TokenAccountView:
    """The fields of an SPL token account (amount is the u64 at offset 64)."""

    mint: Pubkey
    owner: Pubkey
    amount: int
    delegate: Pubkey | None
    state: int
    is_native: int | None
    delegated_amount: int
    close_authority: Pubkey | None
    program_id: Pubkey


def _token_kind(account: Account) -> int | None:
    """1 for a mint, 2 for a token account, ``None`` for anything else."""
    if account.owner not in TOKEN_PROGRAMS:
        return None
    size = len(account.data)
    if size == MINT_LEN:
        return _ACCOUNT_TYPE_MINT
    if size == TOKEN_ACCOUNT_LEN:
        return _ACCOUNT_TYPE_ACCOUNT
    if account.owner == TOKEN_2022_PROGRAM_ID and size > TOKEN_ACCOUNT_LEN:
        kind = account.data[TOKEN_ACCOUNT_LEN]
        return kind if kind in (_ACCOUNT_TYPE_MINT, _ACCOUNT_TYPE_ACCOUNT) else None
    return None


def parse_mint(account: Account | None) -> MintView | None:
    if account is None or _token_kind(account) != _ACCOUNT_TYPE_MINT:
        return None
    d = bytes(account.data)
    supply, decimals, initialized = struct.unpack_from("<QB?", d, 36)
    return MintView(
        _read_coption_pubkey(d, 0), supply, decimals, initialized, _read_coption_pubkey(d, 46), account.owner
    )


def parse_token_account(account: Account | None) -> TokenAccountView | None:
    if account is None or _token_kind(account) != _ACCOUNT_TYPE_ACCOUNT:
        return None
    d = bytes(account.data)
    (amount,) = struct.unpack_from("<Q", d, 64)
    (native_tag, native_reserve) = struct.unpack_from("<IQ", d, 109)
    (delegated,) = struct.unpack_from("<Q", d, 121)
    return TokenAccountView(
        mint=Pubkey.from_bytes(d[0:32]),
        owner=Pubkey.from_bytes(d[32:64]),
        amount=amount,
        delegate=_read_coption_pubkey(d, 72),
        state=d[108],
        is_native=native_reserve if native_tag == 1 else None,
        delegated_amount=delegated,
        close_authority=_read_coption_pubkey(d, 129),
        program_id=account.owner,
    )


# --- RPC encodings ----------------------------------------------------------------------------


def ui_token_amount(amount: int, decimals: int) -> dict[str, Any]:
    """The validator's UiTokenAmount: amount as a string, the float, and a trimmed decimal string."""
    value = Decimal(amount).scaleb(-decimals)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return {"amount": str(amount), "decimals": decimals, "uiAmount": float(value), "uiAmountString": text}


def encode_account(account: Account, encoding: str, decimals_of: Any = None) -> dict[str, Any]:
    """An account as the RPC returns it. ``jsonParsed`` parses SPL mints and token accounts and falls back
    to base64 for anything else; ``decimals_of(mint) -> int | None`` supplies a token account's decimals."""
    data: Any
    raw = bytes(account.data)
    if encoding == "jsonParsed":
        data = _parsed_token_data(account, decimals_of) or [base64.b64encode(raw).decode(), "base64"]
    elif encoding == "base58":
        data = [b58encode(raw), "base58"]
    else:
        data = [base64.b64encode(raw).decode(), "base64"]
    return {
        "lamports": account.lamports,
        "owner": str(account.owner),
        "data": data,
        "executable": account.executable,
        "rentEpoch": account.rent_epoch,
        "space": len(raw),
    }


def _parsed_token_data(account: Account, decimals_of: Any) -> dict[str, Any] | None:
    program = "spl-token" if account.owner == TOKEN_PROGRAM_ID else "spl-token-2022"
    mint = parse_mint(account)
    if mint is not None:
        info: dict[str, Any] = {
            "decimals": mint.decimals,
            "freezeAuthority": _opt(mint.freeze_authority),
            "isInitialized": mint.is_initialized,
            "mintAuthority": _opt(mint.mint_authority),
            "supply": str(mint.supply),
        }
        return {"program": program, "parsed": {"info": info, "type": "mint"}, "space": len(account.data)}
    token = parse_token_account(account)
    if token is None or decimals_of is None:
        return None
    decimals = decimals_of(token.mint)
    if decimals is None:
        return None
    info = {
        "isNative": token.is_native is not None,
        "mint": str(token.mint),
        "owner": str(token.owner),
        "state": _STATES.get(token.state, "uninitialized"),
        "tokenAmount": ui_token_amount(token.amount, decimals),
    }
    if token.delegate is not None:
        info["delegate"] = str(token.delegate)
        info["delegatedAmount"] = ui_token_amount(token.delegated_amount, decimals)
    if token.is_native is not None:
        info["rentExemptReserve"] = ui_token_amount(token.is_native, 9)
    if token.close_authority is not None:
        info["closeAuthority"] = str(token.close_authority)
    return {"program": program, "parsed": {"info": info, "type": "account"}, "space": len(account.data)}


def _opt(key: Pubkey | None) -> str | None:
    return str(key) if key is not None else None
