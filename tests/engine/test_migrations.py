from __future__ import annotations

from alembic import command
from alembic.config import Config

from engine.db.urls import sqlalchemy_url
from engine.runtime import PROJECT_ROOT


def test_migrations_match_the_models(database_url: str) -> None:
    """The session database was built by ``alembic upgrade head``; the models must add nothing to it."""
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = sqlalchemy_url(database_url)
    command.upgrade(cfg, "head")  # idempotent on a migrated database
    command.check(cfg)  # raises if autogenerate would emit any operation
