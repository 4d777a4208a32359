"""The ASGI application ``counterwatch serve`` runs (each worker process builds its own from the
environment ``serve`` set: the workspace and the database URL)."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

from counterwatch.api.app import create_app
from counterwatch.errors import InputError
from counterwatch.store.db import open_database

# No pre-ping: it is a round trip before every request. A connection that died with the database is
# invalidated on its first error instead (that one request fails), and connections are recycled hourly.
# The options hold for both pools of a worker on PostgreSQL: the async engine the async endpoints use
# (``Database.run``) and the synchronous one of the endpoints that run in threads.
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

# What is built by now (modules, the app, the scorer's and the index's tables: some 170,000 objects
# or more for the benchmark's 20,000-listing workspace, more for a larger one) lives as long as the worker.
# Frozen out of the cycle collector's reach, a full collection scans only what requests made since:
# over everything, one took 90 ms on an idle core and 200-420 ms under load, which held the event
# loop and every request queued on it (p99s of 0.25-0.5 s in bench/bench_api.py).
gc.collect()
gc.freeze()

# Per-request and per-collection timing for load tests, when COUNTERWATCH_SERVE_TRACE names a directory
# (counterwatch.api.trace); otherwise ``app`` is the application itself.
from counterwatch.api.trace import install  # noqa: E402

app = install(app)  # type: ignore[assignment]
