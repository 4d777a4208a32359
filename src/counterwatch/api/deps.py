"""The unit of work a request runs in: one transaction, the caller's scope, the workflow object."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from fastapi import Request

from counterwatch.enforce.service import Actor, Enforcement


@contextlib.contextmanager
def unit(request: Request, actor: Actor) -> Iterator[Enforcement]:
    """The workflow as ``actor`` in one transaction: committed when the block ends, rolled back on
    any error (so a failed request leaves nothing half-written)."""
    state = request.app.state
    with state.db.session() as s:
        yield Enforcement(s, state.settings, actor)
