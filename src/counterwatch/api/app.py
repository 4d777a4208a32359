"""The FastAPI application: routers, and errors mapped to HTTP in one place.

- ``NotFoundError`` → 404. When it hides something outside the caller's scope it reads the same as a
  missing object (existence does not leak), and the attempt is written to the audit log.
- ``ConflictError`` and ``RefusedError`` → 409 with the reason.
- ``InputError`` (the workspace lacks a scan or a link index) → 503.
- Malformed bodies and parameters → FastAPI's 422, naming the field.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from counterwatch import __version__
from counterwatch.api.routes import ROUTERS
from counterwatch.config import Settings, load_settings
from counterwatch.errors import ConflictError, InputError, NotFoundError, RefusedError
from counterwatch.store.db import Database
from counterwatch.store.models import AuditEntry, utcnow
from counterwatch.workspace import Workspace

DESCRIPTION = """\
Case state for a marketplace's fight against counterfeits: rights holders file notices, reviewers
decide, listings come down and stores collect penalty points under the configured policy, sellers
appeal, and every restriction carries a statement of reasons (DSA Art. 17).

Authenticate with `POST /auth/token` and send `Authorization: Bearer <token>`. Roles: `admin`,
`reviewer`, `investigator`, `liaison`, `brand` (its own rights holder's brands and notices) and
`seller` (its own stores). Anything outside a caller's scope answers 404, exactly as if it did not
exist, and the attempt is audited.
"""


def create_app(db: Database, workspace: Path | None = None, settings: Settings | None = None) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await db.dispose_async()  # the async driver's pooled connections, closed on their own loop

    app = FastAPI(title="counterwatch", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.db = db
    app.state.workspace = Workspace.at(workspace) if workspace else None
    app.state.settings = settings or (load_settings(app.state.workspace.root) if workspace else Settings())
    app.state.scorer = app.state.recidivism = None
    for router in ROUTERS:
        app.include_router(router)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        actor = getattr(request.state, "actor", None)
        if exc.denied and actor is not None:
            # its own unit of work: the request's was rolled back with the error
            entry = AuditEntry(at=utcnow(), actor_id=actor.user_id, actor=actor.username, verb="denied",
                               entity=exc.entity or "unknown", entity_id=exc.entity_id[:100],
                               why=f"{request.method} {request.url.path} outside the {actor.role}'s scope")  # fmt: skip
            await db.run(lambda s: s.add(entry))
        # the same body whether it is missing or hidden: nothing tells the two apart
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(ConflictError)
    def _conflict(_request: Request, exc: ConflictError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "error": "conflict"}, status_code=409)

    @app.exception_handler(RefusedError)
    def _refused(_request: Request, exc: RefusedError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "error": "refused"}, status_code=409)

    @app.exception_handler(InputError)
    def _unavailable(_request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.get("/health", tags=["meta"])
    async def health() -> dict[str, str]:
        return {"status": "ok", "database": db.dialect}

    return app
