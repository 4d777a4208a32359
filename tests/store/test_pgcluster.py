"""The test infrastructure for case state: ``db_url`` gives a real, empty database on SQLite and on
PostgreSQL (a throwaway cluster, tests/pgcluster.py), and PostgreSQL being unavailable skips locally
but fails on CI."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.pgcluster import PgUnavailable, find_pg_bin, normalize_url, pg_unavailable_action

metadata = sa.MetaData()
cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
)


@pytest.fixture
def engine(db_url: str):
    eng = sa.create_engine(db_url)
    yield eng
    eng.dispose()


def test_db_url_round_trip(engine: sa.Engine, db_url: str) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(cases.insert(), [{"title": "耐克 Air Max 假货"}, {"title": "second"}])
    with engine.connect() as conn:
        rows = conn.execute(sa.select(cases.c.title).order_by(cases.c.id)).scalars().all()
    assert rows == ["耐克 Air Max 假货", "second"]
    assert engine.dialect.name == db_url.split(":")[0].split("+")[0]
    if engine.dialect.name == "postgresql":
        assert engine.dialect.driver == "psycopg"


# Two tests that each write to their database and then require it to have been empty: whichever
# runs second (on the same worker or not) would see the other's table if databases were shared.
@pytest.mark.parametrize("marker", ["first", "second"])
def test_each_test_sees_an_empty_database(engine: sa.Engine, marker: str) -> None:
    inspector = sa.inspect(engine)
    assert inspector.get_table_names() == []
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            user_objects = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
                )
            ).scalar_one()
        assert user_objects == 0
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(cases.insert(), [{"title": marker}])


def test_postgresql_databases_are_distinct(pg_databases) -> None:
    a, b = pg_databases.create(), pg_databases.create()
    try:
        assert sa.make_url(a).database != sa.make_url(b).database
    finally:
        pg_databases.drop(a)
        pg_databases.drop(b)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "skip"),
        ({"CI": "false"}, "skip"),
        ({"CI": ""}, "skip"),
        ({"CI": "true"}, "fail"),
        ({"CI": "TRUE"}, "fail"),
        ({"CI": "1"}, "fail"),
        ({"COUNTERWATCH_TEST_PG_URL": "postgresql://u@db.example/x"}, "fail"),
    ],
)
def test_unavailable_action(env: dict[str, str], expected: str) -> None:
    reason = "PostgreSQL server binaries not found"
    assert pg_unavailable_action(reason, env) == expected


def test_missing_binaries_name_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("tests.pgcluster.glob.glob", lambda pattern: [])
    with pytest.raises(PgUnavailable, match="binaries not found"):
        find_pg_bin()


def test_normalize_url() -> None:
    assert normalize_url("postgresql://u:p@h:5433/d") == "postgresql+psycopg://u:p@h:5433/d"
    assert normalize_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    with pytest.raises(ValueError):
        normalize_url("sqlite:///x.db")
