"""The two hot requests on PostgreSQL in two round trips and one: pipelined statements on psycopg.

``POST /notices`` through the general unit of work (``deps.run``: the ORM session in a greenlet) is
seven round trips to PostgreSQL (BEGIN, the token, the read, three INSERTs, COMMIT) and ``POST
/listings/score`` three (BEGIN, the token, COMMIT). Under load each round trip costs CPU on both
sides (a statement through SQLAlchemy and psycopg, a send that wakes a backend, a receive, an
event-loop wake-up): about half of a worker's CPU in ``bench/bench_api.py``. Here the same
statements go through psycopg's pipeline mode on a pooled connection of the same async engine
(``Database.pipelined``):

- filing a notice: ``BEGIN``, the token and the notice's read in one round trip; in the common case
  (``enforce.service.common_notice_rows``: a valid notice that goes to review) the notice, its audit
  entry, its review item and ``COMMIT`` in a second. One transaction, as before: the answer is built
  before ``COMMIT`` is sent, and any error rolls everything back. Every other case (an error to answer,
  a rejected right, a suspended or auto-approving notifier, a listing already down, an actor outside
  the brand and admin roles) rolls back and runs the whole workflow (``deps.run``), which answers it
  as it always has, audited denials included;
- the token alone (``resolve``): one SELECT, no transaction (a single statement is its own).

The token is looked up on every request, as in the general path, so a revoked token or a
deactivated account stops working at once. The statements are the SQLAlchemy Core statements of the
general path (``auth._RESOLVE``, ``service.NOTICE_FACTS``, INSERTs on the tables), compiled once per
worker for the engine's dialect, with the columns' own bind processing (UTC times, JSON); psycopg
prepares them server-side after a few executions on each connection. Nothing here runs on SQLite.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from fastapi import Request
from sqlalchemy import insert

from counterwatch.api.auth import _RESOLVE, Credential, unauthorized
from counterwatch.api.trace import db_timer
from counterwatch.enforce.service import (
    AUDIT_COLUMNS,
    ITEM_COLUMNS,
    NOTICE_COLUMNS,
    NOTICE_FACTS,
    Actor,
    NoticeIn,
    common_notice_rows,
)
from counterwatch.errors import ConflictError
from counterwatch.store.models import AuditEntry, Notice, ReviewItem, utcnow


class _Insert:
    """An INSERT of ``columns`` into ``table``, compiled once, with each column's bind processing."""

    def __init__(self, table: Any, columns: tuple[str, ...], dialect: Any) -> None:
        self.sql = str(insert(table).inline().compile(dialect=dialect, column_keys=list(columns)))
        procs = ((c, table.c[c].type.dialect_impl(dialect).bind_processor(dialect)) for c in columns)
        self.procs = [(c, p) for c, p in procs if p is not None]

    def params(self, row: dict[str, Any]) -> dict[str, Any]:
        row = dict(row)
        for c, p in self.procs:
            row[c] = p(row[c])
        return row


class Statements:
    """The hot paths' SQL for one dialect (one per worker's async engine)."""

    def __init__(self, dialect: Any) -> None:
        self.resolve = str(_RESOLVE.compile(dialect=dialect))
        self.facts = {k: str(v.compile(dialect=dialect)) for k, v in NOTICE_FACTS.items()}
        self.notice = _Insert(Notice.__table__, NOTICE_COLUMNS, dialect)
        self.audit = _Insert(AuditEntry.__table__, AUDIT_COLUMNS, dialect)
        self.item = _Insert(ReviewItem.__table__, ITEM_COLUMNS, dialect)


def _statements(request: Request) -> Statements | None:
    state = request.app.state
    st = getattr(state, "hot_statements", None)
    if st is None:
        db = request.app.state.db
        if db._async is None:
            return None
        st = state.hot_statements = Statements(db._async[1].dialect)
    return st


@contextlib.asynccontextmanager
async def _pipelined(request: Request) -> AsyncIterator[tuple[Any, Statements] | None]:
    """A pooled psycopg connection and the compiled statements, or None where there is no pipelined
    path (SQLite); its time goes to the trace's database time when tracing."""
    timer, start = db_timer(), time.perf_counter()
    try:
        async with request.app.state.db.pipelined() as pg:
            if pg is None:
                yield None
                return
            st = _statements(request)
            assert st is not None
            yield pg, st
    finally:
        if timer is not None:
            timer[0] += time.perf_counter() - start


async def resolve(request: Request, credential: Credential) -> Actor | None:
    """The token's actor in one statement on PostgreSQL (401 if none); None where there is no
    pipelined path (SQLite), for the caller to use ``deps.run``."""
    async with _pipelined(request) as pipelined:
        if pipelined is None:
            return None
        pg, st = pipelined
        cur = await pg.execute(st.resolve, {"digest": credential.digest}, prepare=True)
        row = await cur.fetchone()
    if row is None:
        raise unauthorized()
    actor = Actor(*row)
    request.state.actor = actor
    return actor


async def file_notice(request: Request, credential: Credential, n: NoticeIn, answer: Any) -> Any:
    """File ``n`` in the common case in two round trips and return ``answer(notice_row)`` (built
    before the commit); None when this path does not apply (SQLite, or not the common case: nothing
    was written), for the caller to run the whole workflow."""
    async with _pipelined(request) as pipelined:
        if pipelined is None:
            return None
        pg, st = pipelined
        try:
            async with pg.pipeline() as pipe:
                token, facts = pg.cursor(), pg.cursor()
                await token.execute("BEGIN")
                await token.execute(st.resolve, {"digest": credential.digest})
                await facts.execute(st.facts[n.basis == "trademark"], {
                    "brand_id": n.brand_id, "registration_no": n.registration_no, "notice_id": n.notice_id,
                    "listing_id": n.listing_id})  # fmt: skip
                await pipe.sync()
                who = await token.fetchone()
                if who is None:
                    raise unauthorized()  # rolled back on the way out
                actor = Actor(*who)
                request.state.actor = actor
                rows = common_notice_rows(actor, request.app.state.settings.enforce, n, await facts.fetchone(),
                                          utcnow())  # fmt: skip
                if rows is None:
                    return None  # rolled back on the way out; the whole workflow answers
                notice, audit, item = rows
                out = answer(notice)  # inside the transaction: an answer that cannot be built writes nothing
                await token.execute(st.notice.sql, st.notice.params(notice))
                await token.execute(st.audit.sql, st.audit.params(audit))
                await token.execute(st.item.sql, st.item.params(item))
                await token.execute("COMMIT")
                await pipe.sync()
                return out
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name != "pk_notices":
                raise
            # the same id filed by a concurrent request since the read: it committed first, this
            # one is refused whole (rolled back on the way out), as in the general path
            raise ConflictError(f"notice {n.notice_id!r} exists already") from None

