"""Database URLs: parsed once by SQLAlchemy's URL parser, refused unless they name PostgreSQL through asyncpg.

asyncpg takes ``postgresql://``; SQLAlchemy (migrations) wants its driver named, ``postgresql+asyncpg://``.
A URL of another kind (``mysql://``, ``sqlite:///``, ``postgresql+psycopg2://``) is refused, never rewritten
into one that happens to reach some other server.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

POSTGRES = frozenset({"postgresql", "postgres"})
SHAPE = "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"


class DatabaseUrlError(ValueError):
    """``DATABASE_URL`` is not a PostgreSQL URL the engine can use. The message never repeats the URL (it may
    hold a password)."""


def parse_database_url(url: str) -> URL:
    try:
        parsed = make_url(url.strip())
    except (ArgumentError, ValueError):
        raise DatabaseUrlError(f"is not a URL; expected {SHAPE}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend not in POSTGRES:
        raise DatabaseUrlError(f"names a {backend} database; orders are stored in PostgreSQL: {SHAPE}")
    if driver not in ("", "asyncpg"):
        raise DatabaseUrlError(f"names the {driver} driver; the engine connects with asyncpg: {SHAPE}")
    if not parsed.database:
        raise DatabaseUrlError(f"names no database; expected {SHAPE}")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise DatabaseUrlError(f"has port {parsed.port}, outside 1 to 65535")
    return parsed


def _render(url: str, drivername: str) -> str:
    return parse_database_url(url).set(drivername=drivername).render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    return _render(url, "postgresql")


def sqlalchemy_url(url: str) -> str:
    return _render(url, "postgresql+asyncpg")


def display_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    return parse_database_url(url).render_as_string(hide_password=True)
