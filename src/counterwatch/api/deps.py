"""The unit of work a request runs in: one transaction, the caller's scope, the workflow object.

Two ways in, one workflow (``enforce/service.Enforcement``, synchronous ORM code shared with the
command line and the batch stage):

- ``await run(request, credential, work)`` for ``async`` endpoints: ``work(svc)`` runs on the event
  loop, and on PostgreSQL every statement and the commit await psycopg's async connection
  (``Database.run``), so a request waiting on the database no longer holds up the others. For
  requests whose work is a few statements and a millisecond or two of CPU: the hot paths, single
  objects, decisions.
- ``with unit(request, credential) as svc`` for plain ``def`` endpoints, which FastAPI runs in a
  thread: for requests whose CPU can run into tens of milliseconds (bulk files, password hashing,
  lists of up to a thousand rows, the funnel), because nothing preempts work on the event loop,
  while a thread shares the interpreter in slices.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from fastapi import Request
from sqlalchemy.orm import Session

from counterwatch.api.auth import Credential, resolve
from counterwatch.api.trace import db_timer
from counterwatch.enforce.service import Enforcement

T = TypeVar("T")


@contextlib.contextmanager
def unit(request: Request, credential: Credential) -> Iterator[Enforcement]:
    """The workflow as the token's holder in one transaction: committed when the block ends, rolled
    back on any error, so a failed request leaves nothing half-written (savepoints inside it are safe
    on every database, see ``store.db``). The token is resolved in the same transaction: one
    connection and one commit per request."""
    with request.app.state.db.session() as s:
        yield _workflow(request, credential, s)


def _workflow(request: Request, credential: Credential, s: Session) -> Enforcement:
    """The workflow in session ``s`` as the token's holder, resolved in that same transaction."""
    actor = resolve(s, credential)
    request.state.actor = actor
    return Enforcement(s, request.app.state.settings, actor)


async def run(request: Request, credential: Credential, work: Callable[[Enforcement], T]) -> T:
    """``work(svc)`` with the workflow as the token's holder, awaited: the same unit of work as
    ``unit`` (the token resolved in the request's own transaction, one connection, one commit, a
    rollback of everything on any error), for ``async`` endpoints. ``work`` is synchronous and
    should also build what the response needs from the ORM objects: attributes the database fills
    in are loaded inside the unit, not after it."""
    acc = db_timer()
    if acc is None:
        return await request.app.state.db.run(lambda s: work(_workflow(request, credential, s)))
    t0 = time.perf_counter()
    try:
        return await request.app.state.db.run(lambda s: work(_workflow(request, credential, s)))
    finally:
        acc[0] += time.perf_counter() - t0
