"""The ASGI application ``counterwatch serve`` runs (each worker process builds its own from the
environment ``serve`` set: the workspace and the database URL)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from counterwatch.api.app import create_app
from counterwatch.errors import InputError
from counterwatch.store.db import open_database

# No pre-ping: it is a round trip before every request. A connection that died with the database is
# invalidated on its first error instead (that one request fails), and connections are recycled hourly.
_url = os.environ["COUNTERWATCH_SERVE_DB"]
_opts = {} if _url.startswith("sqlite") else {"pool_pre_ping": False, "pool_recycle": 3600}
app = create_app(open_database(_url, migrate=False, **_opts), Path(os.environ["COUNTERWATCH_SERVE_WORKSPACE"]))

# Build the single-listing scorer and the recidivism index now, not on the first request (4-7 s).
try:
    from counterwatch.detect.single import ListingScorer

    app.state.scorer = ListingScorer.for_workspace(app.state.workspace, app.state.settings)
except InputError as exc:  # the endpoint retries on each request and answers 503 with this reason
    print(f"counterwatch serve: POST /listings/score unavailable until a scan: {exc}", file=sys.stderr)
try:
    from counterwatch.link.recidivism import RecidivismIndex

    app.state.recidivism = RecidivismIndex.for_workspace(app.state.workspace, app.state.settings)
except InputError as exc:
    print(f"counterwatch serve: POST /stores/check unavailable until a link: {exc}", file=sys.stderr)
