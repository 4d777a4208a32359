"""The load-test timing of ``counterwatch.api.trace``: off unless ``COUNTERWATCH_SERVE_TRACE`` is set;
when on, each request is recorded with its time in the application and awaiting the database, and
the worker's file is written when the application shuts down (uvicorn ends a worker with the signal
re-raised, so an exit handler alone would never run)."""

from __future__ import annotations

import json

import pytest

from counterwatch.api import trace
from counterwatch.api.app import create_app
from counterwatch.store.db import open_database

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_off_without_the_variable(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(trace.ENV, raising=False)
    app = create_app(open_database(f"sqlite:///{tmp_path / 'cw.db'}"))
    assert trace.install(app) is app


def test_records_requests_and_writes_at_shutdown(monkeypatch, tmp_path) -> None:
    out = tmp_path / "trace"
    monkeypatch.setenv(trace.ENV, str(out))
    db = open_database(f"sqlite:///{tmp_path / 'cw.db'}")
    wrapped = trace.install(create_app(db))
    assert isinstance(wrapped, trace.TraceMiddleware)
    import asyncio

    import httpx

    async def scenario() -> None:
        inbox: asyncio.Queue = asyncio.Queue()
        outbox: asyncio.Queue = asyncio.Queue()
        life = asyncio.create_task(wrapped({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put))
        await inbox.put({"type": "lifespan.startup"})
        assert (await outbox.get())["type"] == "lifespan.startup.complete"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://api") as client:
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/notices/N-1")).status_code == 401  # no token: recorded all the same
        assert not list(out.glob("worker-*.json"))
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
        await life

    try:
        asyncio.run(scenario())
        files = list(out.glob("worker-*.json"))
        assert len(files) == 1
        data = json.loads(files[0].read_text())
        paths = [(r[3], r[4]) for r in data["requests"]]
        assert paths == [("/health", 200), ("/notices/N-1", 401)]
        assert all(r[1] >= r[2] >= 0 for r in data["requests"])  # time in the app covers the database's
    finally:
        import atexit
        import gc

        if wrapped.trace._gc in gc.callbacks:
            gc.callbacks.remove(wrapped.trace._gc)
        atexit.unregister(wrapped.trace.dump)
        db.dispose()
