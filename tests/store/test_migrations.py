"""The migrations are the schema: they build what the models describe, on SQLite and PostgreSQL,
and downgrade cleanly; the command line's account commands work on the migrated database."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from counterwatch.store.db import current_revision, head_revision, make_engine, open_database, upgrade
from counterwatch.store.models import Base


def test_migrations_build_exactly_what_the_models_describe(db_url):
    db = open_database(db_url)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # a model changed without a migration (or the other way round) shows up here
    assert diff == []
    assert current_revision(db.engine) == head_revision(db.engine)
    db.dispose()


def test_downgrade_removes_everything_and_upgrade_rebuilds_it(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    from alembic import command

    from counterwatch.store.db import alembic_config

    command.downgrade(alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert {"notices", "audit_log", "penalty_ledger", "statements_of_reasons"} <= set(inspect(engine).get_table_names())
    # the append-only triggers come back with the schema
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_log (at, actor, verb, entity, entity_id, why) "
                          "VALUES (CURRENT_TIMESTAMP, 'x', 'v', 'e', '1', '')"))  # fmt: skip
        conn.execute(text("DELETE FROM audit_log"))
    engine.dispose()


def test_opening_twice_is_idempotent(db_url):
    open_database(db_url).dispose()
    db = open_database(db_url)
    assert current_revision(db.engine) == head_revision(db.engine)
    db.dispose()


def _cw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "counterwatch", *args], capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "NO_COLOR": "1"})  # fmt: skip


def test_users_add_and_token_from_the_command_line(tmp_path, db_url):
    ws = str(tmp_path)
    r = subprocess.run([sys.executable, "-m", "counterwatch", "users", "add", ws, "alice", "--role", "reviewer",
                        "--password-stdin", "--token", "--db", db_url], input="correct horse battery",
                       capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})  # fmt: skip
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("cw_")
    again = _cw("users", "add", ws, "alice", "--role", "reviewer", "--db", db_url)
    assert again.returncode == 1 and "exists already" in again.stderr
    brand = _cw("users", "add", ws, "bob", "--role", "brand", "--db", db_url)
    assert brand.returncode == 1 and "--rights-holder" in brand.stderr
    second = _cw("users", "token", ws, "alice", "--db", db_url)
    assert second.returncode == 0 and second.stdout.strip().startswith("cw_") and second.stdout.strip() != token

    from fastapi.testclient import TestClient

    from counterwatch.api.app import create_app

    db = open_database(db_url)
    client = TestClient(create_app(db))
    for t in (token, second.stdout.strip()):
        me = client.get("/me", headers={"Authorization": f"Bearer {t}"})
        assert me.status_code == 200 and me.json()["role"] == "reviewer"
    login = client.post("/auth/token", json={"username": "alice", "password": "correct horse battery"})
    assert login.status_code == 200
    assert client.post("/auth/token", json={"username": "alice", "password": "wrong"}).status_code == 401
    with db.session() as s:  # only hashes are stored
        stored = s.execute(text("SELECT password_hash FROM users WHERE username = 'alice'")).scalar()
        tokens = s.execute(text("SELECT token_sha256 FROM api_tokens")).scalars().all()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert token not in tokens and all(len(t) == 64 for t in tokens)
    db.dispose()
