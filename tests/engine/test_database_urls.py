"""Database URLs are parsed by SQLAlchemy's parser and refused unless PostgreSQL through asyncpg."""

from __future__ import annotations

import pytest

from engine.db.urls import DatabaseUrlError, asyncpg_dsn, display_url, sqlalchemy_url


@pytest.mark.parametrize(
    ("url", "dsn"),
    [
        ("postgresql://postgres@127.0.0.1:5432/oee", "postgresql://postgres@127.0.0.1:5432/oee"),
        ("postgres://u@h/oee", "postgresql://u@h/oee"),
        ("postgresql+asyncpg://u@h/oee", "postgresql://u@h/oee"),
        # A password with characters a URL escapes, and a query, come through as they were.
        (
            "postgresql://u:p%40ss%2Fw@h:6543/oee?sslmode=require",
            "postgresql://u:p%40ss%2Fw@h:6543/oee?sslmode=require",
        ),
        ("postgresql://postgres@/oee?host=/run/pg", "postgresql://postgres@/oee?host=%2Frun%2Fpg"),
    ],
)
def test_postgresql_urls_become_each_drivers_form(url: str, dsn: str) -> None:
    assert asyncpg_dsn(url) == dsn
    assert sqlalchemy_url(url) == "postgresql+asyncpg://" + dsn.removeprefix("postgresql://")


@pytest.mark.parametrize(
    ("url", "said"),
    [
        # Cutting the scheme off by length once turned this into a URL of the local PostgreSQL.
        ("mysql://root@127.0.0.1/oee", "names a mysql database"),
        ("mariadb+pymysql://root@127.0.0.1/oee", "names a mariadb database"),
        ("sqlite:///oee.db", "names a sqlite database"),
        ("postgresql+psycopg2://u@h/oee", "names the psycopg2 driver"),
        ("postgresql://u@h", "names no database"),
        ("u@h/oee", "is not a URL"),
        ("", "is not a URL"),
    ],
)
def test_a_url_of_another_kind_is_refused(url: str, said: str) -> None:
    with pytest.raises(DatabaseUrlError, match=said):
        asyncpg_dsn(url)


def test_a_refusal_and_a_display_never_show_the_password() -> None:
    with pytest.raises(DatabaseUrlError) as refused:
        asyncpg_dsn("mysql://root:hunter2@127.0.0.1/oee")
    assert "hunter2" not in str(refused.value)
    assert "hunter2" not in display_url("postgresql://root:hunter2@127.0.0.1/oee")
