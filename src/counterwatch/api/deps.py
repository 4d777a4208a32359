"""The unit of work a request runs in: one transaction, the caller's scope, the workflow object."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from fastapi import Request

from counterwatch.enforce.service import Actor, Enforcement


@contextlib.contextmanager
def unit(request: Request, actor: Actor, savepoints: bool = False) -> Iterator[Enforcement]:
    """The workflow as ``actor`` in one transaction: committed when the block ends, rolled back on
    any error (so a failed request leaves nothing half-written).

    ``savepoints``: the request may use ``begin_nested`` (bulk rows, review decisions). The pysqlite
    driver opens its transaction only before the first INSERT/UPDATE/DELETE, so a SAVEPOINT issued
    before that starts the transaction itself and its RELEASE commits everything so far: a later
    failure would leave the earlier rows behind. On SQLite such a request therefore opens its
    transaction explicitly first (IMMEDIATE: it takes the write lock up front, so a concurrent
    writer waits for it instead of failing on a stale snapshot)."""
    state = request.app.state
    with state.db.session() as s:
        if savepoints and state.db.dialect == "sqlite":
            conn = s.connection()
            if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield Enforcement(s, state.settings, actor)
