"""The case database: SQLite in the workspace by default, PostgreSQL (or any SQLAlchemy URL) by choice.

``open_database(url)`` brings the schema to the newest migration and returns a ``Database`` whose
``session()`` is one transaction: committed when the block ends, rolled back on any error, so a
failure never leaves anything half-written. ``await Database.run(work)`` is the same unit of work for
asyncio code (the API): on PostgreSQL it runs the synchronous ``work(session)`` through psycopg's
async mode, so waiting on the database yields the event loop instead of holding it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from counterwatch.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")

DB_FILE = "counterwatch.db"
#: the environment variable that points every command at another database
DB_ENV = "COUNTERWATCH_DB"


def database_url(workspace: Path, override: str | None = None) -> str:
    """``--db`` if given, else ``$COUNTERWATCH_DB``, else SQLite at ``WORKSPACE/counterwatch.db``."""
    url = override or os.environ.get(DB_ENV)
    if url:
        return url
    return f"sqlite:///{(workspace / DB_FILE).resolve()}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling begins lazily at the first write and commits on SAVEPOINT
    # release; SQLAlchemy's documented recipe hands transactions to us instead (see _sqlite_begin)
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")  # SQLite checks references only when asked
    cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the one writer
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock at the start: a second writer waits (busy_timeout) and then sees
    # the first one's commit, instead of failing on a stale snapshot when it upgrades a read lock.
    # So "exactly one reviewer's decision wins, the other is told" holds under real concurrency.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _engine_kwargs(url: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(f"--db {url!r} is not a database URL ({exc})") from exc
    if parsed.get_backend_name() == "sqlite":
        return kwargs
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20, **kwargs}


def _listen(engine: Engine) -> Engine:
    """The connection and transaction listeners, on a synchronous engine or an async engine's
    ``sync_engine`` alike (an async engine's events are registered there)."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def make_engine(url: str, **kwargs: Any) -> Engine:
    return _listen(create_engine(url, **_engine_kwargs(url, kwargs)))


def make_async_engine(url: str, **kwargs: Any) -> AsyncEngine | None:
    """An asyncio engine for ``url`` when its driver has an async mode this project uses (psycopg 3
    on PostgreSQL: ``postgresql+psycopg://`` selects psycopg's ``AsyncConnection``), else None.
    SQLite has none on purpose: it is in-process file I/O with one writer at a time, so an async
    bridge (aiosqlite: a thread per connection) would add hand-offs and gain no concurrency."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or parsed.get_driver_name() != "psycopg":
        return None
    from sqlalchemy.ext.asyncio import create_async_engine  # needs greenlet: sqlalchemy[asyncio]

    # A fixed pool (no overflow): the pool closes an overflow connection as soon as it is returned,
    # and with the event loop free, a stall of a few hundred milliseconds piles up tens of requests
    # per worker, each opening a connection (a PostgreSQL backend) that is closed again a moment
    # later: about 50 connections opened per worker in a 45 s run, and p99s of 0.25 to 0.5 s in
    # bench/bench_api.py. Ten per worker keep the database busy on any machine this runs on; more
    # requests than that wait in the pool's queue, not in PostgreSQL.
    engine = create_async_engine(url, **_engine_kwargs(url, {"max_overflow": 0, **kwargs}))
    _listen(engine.sync_engine)
    return engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (idempotent)."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def _unit(s: Session, work: Callable[[Session], T]) -> T:
    # the whole unit inside one greenlet: begin, the work, commit (or rollback), give the connection back
    try:
        with s.begin():
            return work(s)
    finally:
        s.close()


class Database:
    """An engine and its sessions. ``session()`` is a unit of work: commit on success, rollback on error;
    ``await run(work)`` is the same for asyncio code."""

    def __init__(self, engine: Engine, engine_kwargs: dict[str, Any] | None = None) -> None:
        self.engine = engine
        self._factory = sessionmaker(engine, expire_on_commit=False)
        self._engine_kwargs = engine_kwargs or {}
        # the async engine, made on first use, and the event loop its pooled connections belong to
        self._async: tuple[asyncio.AbstractEventLoop, AsyncEngine, Any] | None = None
        self._async_none = False

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        with self._factory() as s, s.begin():
            yield s

    async def run(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` as one unit of work, awaited: one transaction, committed when ``work``
        returns, rolled back if it raises, so a failure leaves nothing half-written.

        ``work`` is ordinary synchronous code (the workflow in ``enforce/service.py`` is shared with
        the command line and the batch stage). On PostgreSQL it runs through the async engine in a
        greenlet (``AsyncSession.run_sync``): each statement and the commit's WAL flush *await*
        psycopg's async connection, so the event loop serves other requests meanwhile. Elsewhere
        (SQLite) it runs inline, as ``session()`` does. Either way ``work`` must not block on anything
        but the session: it runs on the event loop's thread."""
        sessions = await self._async_sessions()
        if sessions is None:
            with self.session() as s:
                return work(s)
        return await sessions().run_sync(_unit, work)

    @contextlib.asynccontextmanager
    async def pipelined(self) -> AsyncIterator[Any]:
        """A pooled psycopg ``AsyncConnection`` of the async engine in autocommit mode, for a request
        that sends its statements in pipeline mode (``BEGIN`` and the reads in one round trip, the
        writes and ``COMMIT`` in another: ``api/hot.py``); None where there is no async engine (SQLite).

        The caller writes ``BEGIN``/``COMMIT`` itself: psycopg's implicit ``BEGIN`` would cost a round
        trip of its own in pipeline mode. Whatever the caller leaves open is rolled back, and the
        connection goes back to the same pool ``run`` uses (autocommit off again); a connection left
        in an unknown state (a cancelled request, a broken socket) is closed instead of reused."""
        if await self._async_sessions() is None:
            yield None
            return
        assert self._async is not None
        from sqlalchemy.util import greenlet_spawn

        fairy = await self._async[1].raw_connection()
        pg = fairy.driver_connection
        reusable = cancelled = False
        try:
            await pg.set_autocommit(True)
            try:
                yield pg
            except asyncio.CancelledError:
                cancelled = True  # perhaps in the middle of a pipeline: not reused
                raise
            finally:
                # back to a clean, idle transaction state (a no-op without a round trip when idle)
                if not cancelled and not pg.closed:
                    await pg.rollback()
                    await pg.set_autocommit(False)
                    reusable = True
        finally:
            if reusable:
                await greenlet_spawn(fairy.close)
            else:
                await greenlet_spawn(fairy.invalidate)

    async def _async_sessions(self) -> Any:
        """The async session factory for the running loop, or None where the driver has no async mode."""
        if self._async_none:
            return None
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            # Pooled connections are kept per event loop (SQLAlchemy's asyncio pool binds to the loop
            # that first waits on it). A server has one loop per process; another loop (a test client
            # opened again, asyncio.run called twice) gets an engine of its own, and the previous
            # one's idle connections are closed.
            engine = make_async_engine(self.engine.url.render_as_string(hide_password=False), **self._engine_kwargs)
            if engine is None:
                self._async_none = True
                return None
            from sqlalchemy.ext.asyncio import async_sessionmaker

            await self.dispose_async()
            self._async = (loop, engine, async_sessionmaker(engine, expire_on_commit=False))
        return self._async[2]

    async def dispose_async(self) -> None:
        """Close the async engine's idle connections (awaited: psycopg closes them on any loop)."""
        if self._async is not None:
            engine = self._async[1]
            self._async = None
            await engine.dispose()

    def dispose(self) -> None:
        if self._async is not None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # no loop running here: close the async engine's connections on a new one
                asyncio.run(self.dispose_async())
            else:  # called from inside a loop: forget the pool, its connections close when collected
                self._async[1].sync_engine.dispose(close=False)
                self._async = None
        self.engine.dispose()


def open_database(url: str, migrate: bool = True, **engine_kwargs: Any) -> Database:
    """The database at ``url``, migrated to the newest schema unless ``migrate`` is false."""
    engine = make_engine(url, **engine_kwargs)
    if migrate:
        if engine.dialect.name == "sqlite":
            path = engine.url.database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        if current_revision(engine) != head_revision(engine):
            upgrade(engine)
    return Database(engine, engine_kwargs)
