"""Server-side timing for load tests, off unless ``COUNTERWATCH_SERVE_TRACE`` names a directory.

When on, each worker process records, in memory, and writes to ``<dir>/worker-<pid>.json`` when it
exits:

- every request: wall-clock start, time in the application (from the ASGI call to the last body
  byte sent), time awaiting ``Database.run`` (the pool checkout, the statements and the commit),
  the path, the status and the client's port (which connection: how the load spreads over workers);
- every garbage collection: wall-clock start, generation, duration;
- the event loop's lag: a task that sleeps 5 ms and records how late it woke (anything over 5 ms
  late held every request on this worker's loop).

Nothing of this runs, and nothing is imported, when the variable is unset (``counterwatch.api.serve``
checks it). It is a measuring instrument for ``bench/bench_api.py``, not a production log.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import gc
import json
import os
import time
from pathlib import Path
from typing import Any

ENV = "COUNTERWATCH_SERVE_TRACE"
_db_time: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar("cw_trace_db", default=None)


class Trace:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.requests: list[tuple] = []  # (start wall, app ms, db ms, path, status, client port)
        self.gcs: list[tuple] = []  # (start wall, generation, ms, collected)
        self.lags: list[tuple] = []  # (wall, ms late) for lags over 2 ms
        self._gc_t0 = 0.0
        self.pid = os.getpid()
        gc.callbacks.append(self._gc)
        atexit.register(self.dump)

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_t0 = time.perf_counter()
        else:
            self.gcs.append((time.time(), info["generation"], 1000 * (time.perf_counter() - self._gc_t0),
                             info.get("collected", 0)))  # fmt: skip

    async def lag_probe(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(0.005)
            late = 1000 * (loop.time() - t - 0.005)
            if late > 2:
                self.lags.append((time.time(), late))

    def dump(self) -> None:
        if os.getpid() != self.pid:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        data = {"pid": self.pid, "requests": self.requests, "gcs": self.gcs, "lags": self.lags}
        (self.dir / f"worker-{self.pid}.json").write_text(json.dumps(data), encoding="utf-8")


class TraceMiddleware:
    """A pure ASGI wrapper recording each request (see the module's docstring)."""

    def __init__(self, app: Any, trace: Trace) -> None:
        self.app, self.trace = app, trace
        self._probe: asyncio.Task | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                if self._probe is None:
                    self._probe = asyncio.get_running_loop().create_task(self.trace.lag_probe())

                async def receive_() -> dict:
                    message = await receive()
                    if message["type"] == "lifespan.shutdown":
                        # here, not only at exit: uvicorn re-raises SIGTERM after its shutdown, and
                        # the default action ends the process without running atexit handlers
                        if self._probe is not None:
                            self._probe.cancel()
                        self.trace.dump()
                    return message

                await self.app(scope, receive_, send)
                return
            await self.app(scope, receive, send)
            return
        if self._probe is None:
            self._probe = asyncio.get_running_loop().create_task(self.trace.lag_probe())
        wall, t0 = time.time(), time.perf_counter()
        acc = [0.0]
        token = _db_time.set(acc)
        status = [0]

        async def send_(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_)
        finally:
            _db_time.reset(token)
            client = scope.get("client") or ("", 0)
            self.trace.requests.append((wall, 1000 * (time.perf_counter() - t0), 1000 * acc[0], scope["path"],
                                        status[0], client[1]))  # fmt: skip


def db_timer() -> list[float] | None:
    """The current request's accumulator of seconds spent awaiting the database, when tracing."""
    return _db_time.get()


def install(app: Any) -> Any:
    """``app`` wrapped for tracing when ``COUNTERWATCH_SERVE_TRACE`` is set, else ``app`` itself."""
    directory = os.environ.get(ENV)
    if not directory:
        return app
    return TraceMiddleware(app, Trace(Path(directory)))
