"""The unit of work a request runs in: one transaction, the caller's scope, the workflow object."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from fastapi import Request

from counterwatch.api.auth import Credential, resolve
from counterwatch.enforce.service import Enforcement


@contextlib.contextmanager
def unit(request: Request, credential: Credential) -> Iterator[Enforcement]:
    """The workflow as the token's holder in one transaction: committed when the block ends, rolled
    back on any error, so a failed request leaves nothing half-written (savepoints inside it are safe
    on every database, see ``store.db``). The token is resolved in the same transaction: one
    connection and one commit per request."""
    state = request.app.state
    with state.db.session() as s:
        actor = resolve(s, credential)
        request.state.actor = actor
        yield Enforcement(s, state.settings, actor)
