"""``Database.run``: the unit of work for asyncio code, on SQLite and PostgreSQL alike: committed when
the work returns, rolled back whole when it raises, usable from one event loop after another."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from counterwatch.store.db import Database, open_database
from counterwatch.store.models import AuditEntry, RightsHolder, utcnow


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.dispose()


def _count(db: Database, model: type) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _holder(name: str) -> RightsHolder:
    return RightsHolder(name=name, tier="standard", status="active", created_at=utcnow())


def test_run_commits_and_returns(db: Database) -> None:
    def work(s):  # type: ignore[no-untyped-def]
        rh = _holder("Kept Ltd")
        s.add(rh)
        s.flush()
        s.add(AuditEntry(at=utcnow(), actor_id=None, actor="system", verb="create", entity="rights_holder",
                         entity_id=str(rh.id), why=""))  # fmt: skip
        return rh.id

    rh_id = asyncio.run(db.run(work))
    with db.session() as s:
        assert s.get(RightsHolder, rh_id).name == "Kept Ltd"  # type: ignore[union-attr]
    assert _count(db, AuditEntry) == 1


def test_run_rolls_back_everything_on_error(db: Database) -> None:
    def work(s):  # type: ignore[no-untyped-def]
        s.add(_holder("Lost Ltd"))
        s.flush()  # written in the transaction, then the work fails
        s.add(AuditEntry(at=utcnow(), actor_id=None, actor="system", verb="create", entity="rights_holder",
                         entity_id="x", why=""))  # fmt: skip
        s.flush()
        raise RuntimeError("midway")

    with pytest.raises(RuntimeError, match="midway"):
        asyncio.run(db.run(work))
    assert _count(db, RightsHolder) == 0 and _count(db, AuditEntry) == 0


def test_run_from_one_event_loop_after_another(db: Database) -> None:
    """Pooled async connections belong to their loop: a later loop (a server restarted in-process, a
    test client opened again) gets working connections of its own."""

    async def add_and_count(name: str) -> int:
        await db.run(lambda s: s.add(_holder(name)))
        counted = await db.run(lambda s: s.scalar(select(func.count()).select_from(RightsHolder)))
        await db.dispose_async()
        return counted  # type: ignore[no-any-return]

    assert asyncio.run(add_and_count("First Ltd")) == 1
    assert asyncio.run(add_and_count("Second Ltd")) == 2

    async def without_dispose(name: str) -> int:
        return await db.run(lambda s: (s.add(_holder(name)), s.flush(),
                                       s.scalar(select(func.count()).select_from(RightsHolder)))[2])  # fmt: skip

    assert asyncio.run(without_dispose("Third Ltd")) == 3
    assert asyncio.run(without_dispose("Fourth Ltd")) == 4  # the previous loop's pool is left behind, not reused


def test_pipelined_rolls_back_what_is_left_open_and_returns_a_clean_connection(db: Database) -> None:
    """``Database.pipelined``: a pooled psycopg connection in autocommit mode on PostgreSQL (None on
    SQLite); a transaction the caller leaves open (or that fails) is rolled back, and ``run`` then
    gets the connection back as it expects it (autocommit off)."""

    async def scenario() -> tuple[bool, list[str]]:
        seen: list[str] = []
        async with db.pipelined() as pg:
            if pg is None:
                return False, seen
            assert pg.autocommit
            async with pg.pipeline() as pipe:
                await pg.execute("BEGIN")
                await pg.execute("INSERT INTO rights_holders (name, tier, status, created_at) "
                                 "VALUES ('Open Ltd', 'standard', 'active', now())")  # fmt: skip
                await pipe.sync()
            seen.append(str(pg.info.transaction_status.name))  # left open: INTRANS
        with pytest.raises(RuntimeError, match="midway"):
            async with db.pipelined() as pg:
                await pg.execute("BEGIN")
                await pg.execute("INSERT INTO rights_holders (name, tier, status, created_at) "
                                 "VALUES ('Failed Ltd', 'standard', 'active', now())")  # fmt: skip
                raise RuntimeError("midway")
        # the pool's connections, back in the session's hands: autocommit off, the unit of work intact
        await db.run(lambda s: s.add(_holder("Kept Ltd")))
        await db.dispose_async()
        return True, seen

    pipelined, seen = asyncio.run(scenario())
    if not pipelined:  # SQLite: no pipelined path, the API uses ``run``
        assert db.dialect == "sqlite"
        return
    assert seen == ["INTRANS"]
    with db.session() as s:
        assert set(s.scalars(select(RightsHolder.name))) == {"Kept Ltd"}
