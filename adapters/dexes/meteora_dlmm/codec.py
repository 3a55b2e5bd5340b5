"""A declarative codec for Anchor accounts: each struct is a list of ``(field, kind)`` in layout order.

An integer kind is ``"u8"`` to ``"u1024"`` or ``"i32"``/``"i64"`` (little-endian); ``"pubkey"`` is 32
bytes; ``("bytes", n)`` (:func:`pad`) is raw padding; a class registered with :func:`layout` nests its
own layout; ``(count, kind)`` repeats a kind. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from solders.pubkey import Pubkey

from adapters.solana.errors import MalformedAccount

T = TypeVar("T")

# An integer kind is (size in bytes, signed); "pubkey" is 32 bytes; ("bytes", n) is raw padding; a struct
# class nests its own layout; (count, kind) repeats a kind.
_INTS: dict[str, tuple[int, bool]] = {
    "u8": (1, False), "u16": (2, False), "u32": (4, False), "i32": (4, True), "u64": (8, False),
    "i64": (8, True), "u128": (16, False), "u512": (64, False), "u1024": (128, False),
}  # fmt: skip
Kind = Any
_LAYOUTS: dict[type, tuple[tuple[str, Kind], ...]] = {}


def layout(*fields: tuple[str, Kind]) -> Callable[[type[T]], type[T]]:
    """Register a dataclass's byte layout: its ``(field, kind)`` pairs in the account's order."""

    def register(cls: type[T]) -> type[T]:
        _LAYOUTS[cls] = fields
        return cls

    return register


def _read(data: bytes, at: int, kind: Kind) -> tuple[Any, int]:
    if isinstance(kind, str):
        if kind == "pubkey":
            return Pubkey.from_bytes(data[at : at + 32]), at + 32
        size, signed = _INTS[kind]
        return int.from_bytes(data[at : at + size], "little", signed=signed), at + size
    if isinstance(kind, type):
        values: dict[str, Any] = {}
        for name, field_kind in _LAYOUTS[kind]:
            values[name], at = _read(data, at, field_kind)
        return kind(**values), at
    count, inner = kind
    if count == "bytes":
        return bytes(data[at : at + inner]), at + inner
    items = []
    for _ in range(count):
        item, at = _read(data, at, inner)
        items.append(item)
    return tuple(items), at


def _write(parts: list[bytes], value: Any, kind: Kind) -> None:
    if isinstance(kind, str):
        if kind == "pubkey":
            parts.append(bytes(value))
        else:
            size, signed = _INTS[kind]
            parts.append(int(value).to_bytes(size, "little", signed=signed))
    elif isinstance(kind, type):
        for name, field_kind in _LAYOUTS[kind]:
            _write(parts, getattr(value, name), field_kind)
    elif kind[0] == "bytes":
        if len(value) != kind[1]:
            raise ValueError(f"expected {kind[1]} bytes, got {len(value)}")
        parts.append(bytes(value))
    else:
        if len(value) != kind[0]:
            raise ValueError(f"expected {kind[0]} items, got {len(value)}")
        for item in value:
            _write(parts, item, kind[1])


def decode_account(cls: type[T], data: bytes, discriminator: bytes, size: int) -> T:
    """An Anchor account of ``size`` bytes, ``discriminator`` first; raises :class:`MalformedAccount`."""
    name = cls.__name__
    if len(data) != size:
        raise MalformedAccount(f"{name} account must be {size} bytes, got {len(data)}")
    if bytes(data[:8]) != discriminator:
        raise MalformedAccount(f"not a {name} account: discriminator {list(data[:8])}")
    value, end = _read(bytes(data), 8, cls)
    if end != size:  # a layout bug, not bad input
        raise AssertionError(f"the {name} layout covers {end} of {size} bytes")
    decoded: T = value
    return decoded


def encode_account(value: object, discriminator: bytes, size: int) -> bytes:
    """The ``size`` bytes of ``value``'s account, ``discriminator`` first."""
    parts = [discriminator]
    _write(parts, value, type(value))
    data = b"".join(parts)
    if len(data) != size:  # a layout bug, not bad input
        raise AssertionError(f"encoded {len(data)} bytes, the layout has {size}")
    return data


def pad(size: int) -> tuple[str, int]:
    """``size`` bytes of raw padding."""
    return ("bytes", size)
