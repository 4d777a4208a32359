"""The ASGI application ``counterwatch serve`` runs (each worker process builds its own from the
environment ``serve`` set: the workspace and the database URL)."""

from __future__ import annotations

import os
from pathlib import Path

from counterwatch.api.app import create_app
from counterwatch.store.db import open_database

app = create_app(open_database(os.environ["COUNTERWATCH_SERVE_DB"], migrate=False),
                 Path(os.environ["COUNTERWATCH_SERVE_WORKSPACE"]))  # fmt: skip
