"""Benchmark: the API under load: filing notices and scoring listings, against PostgreSQL on loopback.

Target (enforcement, load): ``POST /notices`` and ``POST /listings/score`` through the API sustain
200 requests per second with p99 under 50 ms, against PostgreSQL on loopback, driven by a separate
load process.

Setup (not timed):

1. A workspace generated once, ``counterwatch generate --out bench/out/api/ws-<listings>-seed<seed>
   --listings 20000 --seed 7`` and ``counterwatch run`` on it (scan and link: the scorer needs both),
   cached (git-ignored) with a ``.bench-ready`` marker.
2. A throwaway PostgreSQL cluster (``tests/pgcluster.py``'s ``PgCluster``) listening on 127.0.0.1
   TCP only, ``max_connections=100``, ``shared_buffers=128MB``. By default it is *durable*
   (``fsync``, ``synchronous_commit`` and ``full_page_writes`` on: every commit waits for its WAL
   flush, as in production); ``--fast-pg`` keeps the test suite's non-durable settings instead.
3. ``counterwatch enforce WS --db URL`` fills it; a brand user (``counterwatch users add ... --role
   brand --rights-holder NAME --token``) for the rights holder with the most registered, unexpired
   trademarks, and a reviewer user with a token; then ``VACUUM ANALYZE``, as after any bulk load (without
   it autovacuum's first pass over every freshly written table lands inside the measurement;
   ``--no-setup-vacuum`` leaves it out). PostgreSQL logs autovacuum runs, checkpoints, lock waits and
   statements over 100 ms with millisecond timestamps (copied to ``bench/out/api/pg-postgresql.log``).
4. ``counterwatch serve WS --db URL --port P --workers 2`` as a subprocess (its own process group),
   waited on until ``/health`` answers, then warmed up: score requests until each worker has built
   its scorer (the first score request in each worker process builds it, seconds), then
   ``--warmup`` seconds at the target rate, discarded.

The measurement: a separate load process (this script re-run as ``--child load``: a minimal HTTP/1.1
keep-alive client on asyncio streams, requests pre-encoded, up to ``--connections`` connections;
httpx cost about 12 ms of CPU per request on this machine and became the bottleneck) drives a constant arrival rate, open loop: request ``i`` is due at
``start + i / rate`` whatever happened to the earlier ones, alternating ``POST /notices`` (a new
``notice_id``, an existing active listing, a brand of the user's rights holder and one of its
registered, unexpired trademarks: a valid notice that becomes a review item) and ``POST
/listings/score`` (a listing of the workspace under a new ``listing_id``, as the reviewer).
Latency is measured from the moment the request was *due* (so a load generator or a server that
falls behind shows up as latency, not as fewer samples: no coordinated omission); the time from the
actual send is printed beside it. Achieved throughput is successful responses over the time from
the first due request to the last response. CPU seconds of the server (all its processes), of
PostgreSQL (all backends), of the load process and of the whole machine (``/proc/stat``, so other
users' work shows up) are read from ``/proc`` around the run.

The peer, measured in the same run: the same server, workspace, users, load and rates with the
default case database, SQLite in WAL mode (``counterwatch enforce`` into a fresh SQLite file). It is
what ``counterwatch serve`` uses without ``--db``; SQLite writes go through one lock for the whole
file, PostgreSQL's through row locks and a WAL of its own, and SQLite is in-process (no round trip),
so it is the obvious thing PostgreSQL has to beat or match. ``ratio = peer p99 / ours p99`` at the
target rate (above 1: PostgreSQL is faster); when both saturate, compare the achieved rates too.

    python bench/bench_api.py                         # 200 req/s for 30 s, then 400 req/s for 20 s; peer the same
    python bench/bench_api.py --duration 60 --headroom-rate 600
    python bench/bench_api.py --skip-peer --fast-pg

Per second of the measurement (``bench/out/api/seconds-<db>-<phase>.jsonl``; on screen the seconds with
requests over 50 ms and their neighbours): requests due, p50/p99/max, the CPU of the server, PostgreSQL,
the load process, steal and iowait (``/proc``, sampled twice a second), the busiest other processes,
and PostgreSQL's log events in that second. ``--trace`` adds the server's own timing
(``COUNTERWATCH_SERVE_TRACE``, ``counterwatch/api/trace.py``: per request the time in the application
and awaiting the database, garbage collections, event-loop lags, requests per worker) and samples
``pg_stat_activity``/``pg_locks`` twice a second; it costs the server a little CPU, so figures are
taken without it.

Prints per phase: offered and achieved rate, p50/p95/p99/max per endpoint and overall, errors by
status, CPU seconds by component; PASS/FAIL for >= 200 req/s achieved and p99 < 50 ms at the target
rate (the headroom rate is INFO); the peer's figures and the ratio. Exits 1 on a FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out" / "api"
CLI = [sys.executable, "-m", "counterwatch"]
READY = ".bench-ready"
TARGET_RPS = 200.0
TARGET_P99_MS = 50.0
SLOW_MS = TARGET_P99_MS  # a request slower than this is "slow" in the per-second breakdown


# --------------------------------------------------------------------------- the load process


def _child_load(spec_path: Path) -> dict:
    """Open-loop constant-rate load; returns the per-request records.

    A minimal HTTP/1.1 keep-alive client on asyncio streams (requests pre-encoded to bytes): httpx
    spent about 12 ms of CPU per request here, which on two shared cores made the load generator
    the bottleneck; this one spends a small fraction of a millisecond.
    """
    import asyncio
    from urllib.parse import urlsplit

    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    rate, n = spec["rate"], spec["requests"]
    host, port = urlsplit(spec["base"]).hostname, urlsplit(spec["base"]).port

    def encode(path: str, token: str, body: dict) -> bytes:
        data = json.dumps(body).encode()
        return (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data  # fmt: skip

    plan: list[tuple[str, bytes]] = []
    ni = li = 0
    for i in range(n):
        if i % 2 == 0:
            plan.append(("notice", encode("/notices", spec["brand_token"], spec["notices"][ni])))
            ni += 1
        else:
            body = spec["listings"][li % len(spec["listings"])]
            plan.append(
                (
                    "score",
                    encode(
                        "/listings/score", spec["reviewer_token"], dict(body, listing_id=f"{body['listing_id']}-{li}")
                    ),
                )
            )
            li += 1

    cpu0 = os.times()
    clock = [0.0]

    async def main() -> list:
        loop = asyncio.get_running_loop()
        clock[0] = time.time() - loop.time()  # loop time to wall clock, to line slow seconds up with logs
        idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        waiters: list[asyncio.Future] = []
        opened = [0]
        results: list = [None] * n

        async def acquire():
            if idle:
                return idle.pop()
            if opened[0] < spec["connections"]:
                opened[0] += 1
                try:
                    return await asyncio.open_connection(host, port)
                except Exception:
                    opened[0] -= 1
                    raise
            fut = loop.create_future()
            waiters.append(fut)
            return await fut

        def release(conn) -> None:
            while waiters:
                fut = waiters.pop(0)
                if not fut.done():
                    fut.set_result(conn)
                    return
            idle.append(conn)

        async def exchange(conn, data: bytes) -> tuple[int, bytes, bool]:
            reader, writer = conn
            writer.write(data)
            line = await reader.readline()
            if not line:
                raise ConnectionError("connection closed")
            status = int(line.split(b" ", 2)[1])
            length, close = 0, False
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b""):
                    break
                name, _, value = h.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            body = await reader.readexactly(length) if length else b""
            return status, body, close

        async def one(i: int, due: float) -> None:
            kind, data = plan[i]
            sent = loop.time()
            status: int | str
            try:
                conn = await acquire()
                sent = loop.time()
                try:
                    status, body, close = await asyncio.wait_for(exchange(conn, data), spec["timeout"])
                except (ConnectionError, asyncio.IncompleteReadError):
                    # the server closes idle keep-alive connections (uvicorn: after 5 s): a new
                    # connection and the request once more, as any HTTP client does
                    conn[1].close()
                    conn = await asyncio.open_connection(host, port)
                    try:
                        status, body, close = await asyncio.wait_for(exchange(conn, data), spec["timeout"])
                    except BaseException:
                        conn[1].close()
                        opened[0] -= 1
                        raise
                except BaseException:
                    conn[1].close()
                    opened[0] -= 1
                    raise
                if close:
                    conn[1].close()
                    opened[0] -= 1
                else:
                    release(conn)
                if status >= 300 and spec.get("keep_errors", 0) > 0:
                    spec["keep_errors"] -= 1
                    print(f"error {status} on {kind}: {body[:300]!r}", file=sys.stderr)
            except Exception as exc:
                status = type(exc).__name__
            results[i] = (kind, status, due, sent, loop.time())

        start = loop.time() + 0.1
        tasks = []
        for i in range(n):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
        for _, writer in idle:
            writer.close()
        return results

    results = asyncio.run(main())
    cpu1 = os.times()
    return {"results": results, "load_cpu_s": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
            "wall_minus_loop": clock[0]}  # fmt: skip


# --------------------------------------------------------------------------- figures


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * len(s) + 0.5) - 1))]


def summarize(raw: dict) -> dict:
    res = raw["results"]
    ok = [r for r in res if isinstance(r[1], int) and 200 <= r[1] < 300]
    first_due = min(r[2] for r in res)
    last_end = max(r[4] for r in res)
    span = last_end - first_due
    offered_span = max(r[2] for r in res) - first_due
    errors: dict[str, int] = {}
    for r in res:
        if not (isinstance(r[1], int) and 200 <= r[1] < 300):
            key = f"{r[0]}:{r[1]}"
            errors[key] = errors.get(key, 0) + 1
    out = {
        "requests": len(res),
        "ok": len(ok),
        "offered_rps": (len(res) - 1) / offered_span if offered_span > 0 else float("nan"),
        "achieved_rps": len(ok) / span if span > 0 else float("nan"),
        "errors": errors,
        "load_cpu_s": raw["load_cpu_s"],
        "span_s": span,
    }
    for kind in ("all", "notice", "score"):
        rows = [r for r in ok if kind == "all" or r[0] == kind]
        due = [1000 * (r[4] - r[2]) for r in rows]
        sent = [1000 * (r[4] - r[3]) for r in rows]
        lag = [1000 * (r[3] - r[2]) for r in rows]
        out[kind] = {
            "n": len(rows),
            "p50": _pct(due, 0.50), "p95": _pct(due, 0.95), "p99": _pct(due, 0.99), "max": max(due, default=float("nan")),
            "sent_p50": _pct(sent, 0.50), "sent_p99": _pct(sent, 0.99),
            "send_lag_p99": _pct(lag, 0.99),
        }  # fmt: skip
    # where the slow requests fall: a stall (GC pause, a commit waiting on the disk, a neighbour taking
    # the cores) puts them in a few seconds, a server short of CPU spreads them out
    slow: dict[int, list[float]] = {}
    for r in ok:
        ms = 1000 * (r[4] - r[2])
        if ms > SLOW_MS:
            slow.setdefault(int(r[2] - first_due), []).append(ms)
    out["slow_seconds"] = sorted(((sec, len(v), max(v)) for sec, v in slow.items()), key=lambda x: -x[1])
    out["first_due_wall"] = first_due + raw.get("wall_minus_loop", 0.0)
    return out


# --------------------------------------------------------------------------- /proc


def _children(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


def tree_cpu_s(pid: int | None) -> float:
    """utime + stime of ``pid`` and its live descendants (plus their reaped children), seconds."""
    if pid is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _children(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / tick


def machine_cpu_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return (sum(parts[:8]) - idle) / tick, sum(parts[:8]) / tick


class Sampler:
    """Samples, every ``interval`` seconds during a phase, from ``/proc``: the machine's CPU by kind
    (user+system, iowait, steal), the CPU of the server, of PostgreSQL and of the load process, and
    of every other process (to name who took the cores in a slow second); with ``pg_url``, also
    PostgreSQL's non-idle backends (``pg_stat_activity``: what they wait on) and ungranted locks.
    ``per_second`` lines these up with the latency of the requests due in each second."""

    def __init__(self, server_pid: int, pg_pid: int | None, pg_url: str | None, interval: float = 0.5) -> None:
        import threading

        self.server_pid, self.pg_pid, self.pg_url, self.interval = server_pid, pg_pid, pg_url, interval
        self.load_pid: int | None = None
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _stat() -> list[int]:
        with open("/proc/stat") as f:
            return [int(x) for x in f.readline().split()[1:9]]

    @staticmethod
    def _procs() -> dict[int, tuple[str, int]]:
        out = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat") as f:
                    raw = f.read()
                comm = raw[raw.index("(") + 1 : raw.rindex(")")]
                fields = raw.rsplit(")", 1)[1].split()
                out[int(name)] = (comm, int(fields[11]) + int(fields[12]))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                continue
        return out

    def _loop(self) -> None:
        conn = None
        if self.pg_url:
            import psycopg

            from sqlalchemy import make_url

            u = make_url(self.pg_url)
            conn = psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database, autocommit=True)
        tick = os.sysconf("SC_CLK_TCK")
        while not self._stop.is_set():
            t = time.time()
            ours = set(_children(self.server_pid))
            pg = set(_children(self.pg_pid)) if self.pg_pid else set()
            load = set(_children(self.load_pid)) if self.load_pid else set()
            sample = {"t": t, "stat": self._stat(), "procs": {}, "tick": tick}
            for pid, (comm, ticks) in self._procs().items():
                who = "server" if pid in ours else "pg" if pid in pg else "load" if pid in load else "self" if pid == os.getpid() else comm
                sample["procs"][pid] = (who, ticks)
            if conn is not None:
                try:
                    rows = conn.execute(
                        "SELECT backend_type, state, coalesce(wait_event_type, ''), coalesce(wait_event, ''), "
                        "left(regexp_replace(query, '\\s+', ' ', 'g'), 50) FROM pg_stat_activity "
                        "WHERE pid <> pg_backend_pid() AND (state IS DISTINCT FROM 'idle' OR backend_type <> 'client backend')"
                    ).fetchall()  # fmt: skip
                    locks = conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]
                    sample["pg"] = {"active": [list(r) for r in rows], "lock_waits": locks}
                except Exception as exc:  # a sample lost is not a reason to stop the run
                    sample["pg"] = {"error": str(exc)}
            self.samples.append(sample)
            self._stop.wait(max(0.0, self.interval - (time.time() - t)))
        if conn is not None:
            conn.close()

    def per_second(self, first_due_wall: float, results: list, wall_minus_loop: float, pg_log: str = "",
                   server_trace: dict | None = None) -> list[dict]:  # fmt: skip
        """One row per second of the run (second 0 = the first due request): requests due, their
        p50/p99/max from the due time, how many over the target, the send lag; the CPU each part took
        in that second (cores), the machine's iowait and steal, the top other processes; PostgreSQL
        backends busy and what they waited on; PostgreSQL log events (autovacuum, checkpoints, lock
        waits, slow statements) and, with the server trace, garbage collections and event-loop lags."""
        import re

        rows: dict[int, dict] = {}
        for r in results:
            if r is None:
                continue
            sec = int(r[2] + wall_minus_loop - first_due_wall)
            row = rows.setdefault(sec, {"lat": [], "lag": []})
            ok = isinstance(r[1], int) and 200 <= r[1] < 300
            row["lat"].append(1000 * (r[4] - r[2]) if ok else float("inf"))
            row["lag"].append(1000 * (r[3] - r[2]))
        out = []
        smp = self.samples
        for sec in sorted(rows):
            lat = rows[sec]["lat"]
            t0, t1 = first_due_wall + sec, first_due_wall + sec + 1
            line = {"s": sec, "n": len(lat), "p50": _pct(lat, 0.5), "p99": _pct(lat, 0.99), "max": max(lat),
                    "slow": sum(1 for x in lat if x > SLOW_MS), "lag_max": max(rows[sec]["lag"])}  # fmt: skip
            a = next((x for x in reversed(smp) if x["t"] <= t0), None)
            b = next((x for x in smp if x["t"] >= t1), None)
            if a and b and b["t"] > a["t"]:
                dt, tick = b["t"] - a["t"], a["tick"]
                sa, sb = a["stat"], b["stat"]
                d = [(y - x) / tick / dt for x, y in zip(sa, sb, strict=True)]
                line.update(busy=sum(d) - d[3] - d[4], iowait=d[4], steal=d[7])
                by: dict[str, float] = {}
                for pid, (who, ticks) in b["procs"].items():
                    prev = a["procs"].get(pid)
                    delta = max(0, ticks - prev[1]) if prev else 0  # a new process: its first interval is not counted
                    by[who] = by.get(who, 0.0) + delta / tick / dt
                line.update(server=by.pop("server", 0.0), pg=by.pop("pg", 0.0), load=by.pop("load", 0.0),
                            me=by.pop("self", 0.0))  # fmt: skip
                line["others"] = sorted(((k, v) for k, v in by.items() if v >= 0.05), key=lambda kv: -kv[1])[:3]
            pgs = [x["pg"] for x in smp if t0 <= x["t"] < t1 and "pg" in x and "active" in x["pg"]]
            if pgs:
                waits: dict[str, int] = {}
                for p in pgs:
                    for bt, state, wt, we, q in p["active"]:
                        if bt == "client backend" and state == "active":
                            key = f"{wt}:{we}" if wt else "cpu"
                            waits[key] = waits.get(key, 0) + 1
                        elif bt != "client backend" and wt != "Activity":  # Activity: a background process idling
                            key = f"{bt}[{wt}:{we}]" if bt.startswith("autovacuum worker") or bt == "checkpointer" and we else ""
                            if bt.startswith("autovacuum worker"):
                                key = f"autovacuum({q.strip()[:40]})"
                            if key:
                                waits[key] = waits.get(key, 0) + 1
                line["pg_active"] = sum(sum(1 for r in p["active"] if r[0] == "client backend" and r[1] == "active") for p in pgs) / len(pgs)
                line["pg_waits"] = sorted(waits.items(), key=lambda kv: -kv[1])[:4]
                line["lock_waits"] = max(p["lock_waits"] for p in pgs)
            out.append(line)
        # PostgreSQL's log: lines with a timestamp (log_line_prefix '%m [%p] ')
        stamp = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) (\S+) \[(\d+)\] (.*)$")
        events: dict[int, list[str]] = {}
        for ln in pg_log.splitlines():
            m = stamp.match(ln)
            if not m:
                continue
            import datetime as dt_

            when = dt_.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt_.timezone.utc).timestamp()
            msg = m.group(4)
            if any(k in msg for k in ("automatic", "checkpoint", "still waiting", "duration:", "acquired")):
                events.setdefault(int(when - first_due_wall) if when >= first_due_wall else -1, []).append(msg[:140])
        if server_trace:
            for w in server_trace.get("workers", []):
                for start, gen, ms, _ in w["gcs"]:
                    if ms >= 5:
                        events.setdefault(int(start - first_due_wall), []).append(f"gc gen{gen} {ms:.0f} ms (pid {w['pid']})")
                for at, ms in w["lags"]:
                    if ms >= 20:
                        events.setdefault(int(at - first_due_wall), []).append(f"loop lag {ms:.0f} ms (pid {w['pid']})")
        if server_trace:  # each worker's share of each second, and its time in the application
            per: dict[int, dict[int, list[float]]] = {}
            for w in server_trace.get("workers", []):
                for r in w["requests"]:
                    if r[3] != "/health" and r[0] >= first_due_wall:
                        per.setdefault(int(r[0] - first_due_wall), {}).setdefault(w["pid"], []).append(r[1])
            for line in out:
                line["workers"] = [(pid, len(v), _pct(v, 0.99)) for pid, v in sorted(per.get(line["s"], {}).items())]
        for line in out:
            line["events"] = events.get(line["s"], [])
        if -1 in events and out:
            out[0]["events_before"] = events[-1][-6:]
        return out


def print_seconds(rows: list[dict], path: Path) -> None:
    """Every second to ``path`` (JSON lines); on screen the seconds with requests over the target and
    the second before and after each."""
    path.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows), encoding="utf-8")
    show = set()
    for i, r in enumerate(rows):
        if r["slow"]:
            show.update((i - 1, i, i + 1))
    if rows and rows[0].get("events_before"):
        print("    PostgreSQL before the measurement: " + " | ".join(rows[0]["events_before"]))
    for i, r in enumerate(rows):
        if i not in show and not r.get("events"):
            continue
        cpu = (f"cores: server {r.get('server', 0):.2f} pg {r.get('pg', 0):.2f} load {r.get('load', 0):.2f} "
               f"steal {r.get('steal', 0):.2f} iowait {r.get('iowait', 0):.2f} busy {r.get('busy', 0):.2f}") if "busy" in r else ""  # fmt: skip
        others = ", ".join(f"{k} {v:.2f}" for k, v in r.get("others", []))
        wk = " workers " + ", ".join(f"{n} p99 {p:.0f}" for _, n, p in r["workers"]) if r.get("workers") else ""
        pgw = f"; pg active {r['pg_active']:.1f} {r.get('pg_waits')} locks {r.get('lock_waits')}" if "pg_active" in r else ""
        print(f"    s{r['s']:>3}: n {r['n']:>3} p50 {r['p50']:6.1f} p99 {r['p99']:6.1f} max {r['max']:6.1f} slow {r['slow']:>3} "
              f"lag {r['lag_max']:5.1f} |{wk} | {cpu}{' others ' + others if others else ''}{pgw}")  # fmt: skip
        for e in r.get("events", [])[:6]:
            print(f"           {e}")


# --------------------------------------------------------------------------- setup


def run_cli(*args: str, stdin: str | None = None, env: dict | None = None) -> str:
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, input=stdin, env=env, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise SystemExit(
            f"counterwatch {' '.join(args[:2])} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc.stdout


def prepare_workspace(listings: int, seed: int) -> Path:
    ws = OUT / f"ws-{listings}-seed{seed}"
    if (ws / READY).exists():
        return ws
    if ws.exists():
        shutil.rmtree(ws)
    t0 = time.perf_counter()
    run_cli("generate", "--out", str(ws), "--listings", str(listings), "--seed", str(seed))
    run_cli("run", str(ws))
    (ws / "counterwatch.db").unlink(missing_ok=True)  # the benchmark brings its own case databases
    (ws / READY).write_text(json.dumps({"seconds": time.perf_counter() - t0}) + "\n", encoding="utf-8")
    return ws


def start_pg(durable: bool):
    sys.path.insert(0, str(ROOT))
    from tests import pgcluster as pc

    class LoopbackCluster(pc.PgCluster):
        """``PgCluster`` listening on 127.0.0.1 TCP only, sized for a load test."""

        def start(self) -> None:
            proc = self._run("initdb", "-D", str(self.data), "-A", "trust", "-E", "UTF8", "--locale=C",
                             "-U", pc.SUPERUSER, "--no-sync", "--no-instructions")  # fmt: skip
            self._check("initdb", proc)
            options = dict(pc.SERVER_OPTIONS)
            options.update(max_connections="100", shared_buffers="128MB", autovacuum="on")
            # what a stall could come from, in the log with millisecond timestamps (read beside the
            # per-second latency): autovacuum and autoanalyze runs, checkpoints, lock waits over
            # deadlock_timeout, statements over 100 ms
            options.update(log_autovacuum_min_duration="0", log_checkpoints="on", log_lock_waits="on",
                           log_min_duration_statement="100", log_line_prefix="'%m [%p] '")  # fmt: skip
            if durable:
                options.update(fsync="on", synchronous_commit="on", full_page_writes="on")
            self.host, self.port = "127.0.0.1", pc._free_port()
            options.update(listen_addresses="'127.0.0.1'", unix_socket_directories="''", port=str(self.port))
            opts = " ".join(f"-c {k}={v}" for k, v in options.items())
            proc = self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", opts)
            self._check("pg_ctl start", proc)
            self.started = True

    cluster = LoopbackCluster()
    cluster.start()
    pc.create_database(cluster.url("postgres"), "counterwatch")
    return cluster, cluster.url("counterwatch")


def pg_postmaster_pid(cluster) -> int | None:
    try:
        return int((cluster.data / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def fill(ws: Path, url: str, tag: str, vacuum: bool = True) -> dict:
    """Enforce into the database at ``url``; a brand and a reviewer user with tokens; the notices'
    (brand, trademark) pairs and active listings."""
    from sqlalchemy import create_engine, text

    t0 = time.perf_counter()
    run_cli("enforce", str(ws), "--db", url)
    enforce_s = time.perf_counter() - t0
    engine = create_engine(url)
    with engine.connect() as c:
        rows = c.execute(text(
            "SELECT rh.name, b.brand_id, t.registration_no FROM trademarks t "
            "JOIN brands b ON b.brand_id = t.brand_id JOIN rights_holders rh ON rh.id = b.rights_holder_id "
            "WHERE (t.expires IS NULL OR t.expires > :today) AND rh.status = 'active' ORDER BY rh.name, b.brand_id, t.registration_no"
        ), {"today": time.strftime("%Y-%m-%d")}).all()  # fmt: skip
        by_holder: dict[str, list[tuple[str, str]]] = {}
        for name, brand, reg in rows:
            by_holder.setdefault(name, []).append((brand, reg))
        if not by_holder:
            raise SystemExit("no rights holder has a registered, unexpired trademark in the workspace")
        holder = max(sorted(by_holder), key=lambda k: len(by_holder[k]))
        tier = c.execute(text("SELECT tier FROM rights_holders WHERE name = :n"), {"n": holder}).scalar()
        active = [
            r[0]
            for r in c.execute(
                text("SELECT listing_id FROM listings WHERE status = 'active' ORDER BY listing_id")
            ).all()
        ]
    engine.dispose()
    brand_token = run_cli("users", "add", str(ws), f"bench-brand-{tag}", "--role", "brand", "--rights-holder", holder,
                          "--token", "--db", url).strip().splitlines()[-1]  # fmt: skip
    reviewer_token = run_cli("users", "add", str(ws), f"bench-reviewer-{tag}", "--role", "reviewer", "--token",
                             "--db", url).strip().splitlines()[-1]  # fmt: skip
    vacuum_s = None
    if vacuum and url.startswith("postgresql"):
        # What one does after a bulk load, so the measurement sees a database in its steady state: the
        # enforce stage has just written every table of a fresh database, and autovacuum's first pass
        # over them (VACUUM and ANALYZE of every table, one after the other, about half a second) otherwise
        # lands about a minute later, inside the measurement, where it stalled every request for 0.2 to
        # 0.3 s (requests awaiting the database; see docs/benchmarks.md).
        t1 = time.perf_counter()
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as c:
            c.execute(text("VACUUM ANALYZE"))
        engine.dispose()
        vacuum_s = time.perf_counter() - t1
    return {"enforce_s": enforce_s, "holder": holder, "tier": tier, "rights": by_holder[holder], "active": active,
            "brand_token": brand_token, "reviewer_token": reviewer_token, "vacuum_s": vacuum_s}  # fmt: skip


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(ws: Path, url: str, workers: int, log: Path, trace_dir: Path | None = None) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    f = log.open("w")
    env = dict(os.environ)
    if trace_dir is not None:
        shutil.rmtree(trace_dir, ignore_errors=True)
        env["COUNTERWATCH_SERVE_TRACE"] = str(trace_dir)
    proc = subprocess.Popen([*CLI, "serve", str(ws), "--db", url, "--port", str(port), "--workers", str(workers)],
                            stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True, env=env)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise SystemExit("the server did not answer /health within 120 s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the group of the server we started, by its id
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def warm_scorers(base: str, token: str, listings: list[dict], workers: int) -> float:
    """Score requests, several at once, until a round finishes fast (every worker has its scorer)."""
    import concurrent.futures as cf

    import httpx

    t0 = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client, cf.ThreadPoolExecutor(4 * workers) as ex:
        fast_rounds = 0
        i = 0
        while fast_rounds < 3 and time.perf_counter() - t0 < 300:
            started = time.perf_counter()
            bodies = [
                dict(listings[(i + k) % len(listings)], listing_id=f"LWARM{i + k:07d}") for k in range(4 * workers)
            ]
            i += len(bodies)
            codes = list(ex.map(lambda b: client.post("/listings/score", json=b).status_code, bodies))
            if any(c != 200 for c in codes):
                raise SystemExit(f"warm-up score requests failed: {codes}")
            fast_rounds = fast_rounds + 1 if time.perf_counter() - started < 0.5 else 0
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- one phase


def run_phase(label: str, base: str, ctx: dict, listings: list[dict], rate: float, duration: float, tag: str,
              server: subprocess.Popen, pg_pid: int | None, connections: int) -> dict:  # fmt: skip
    n = int(rate * duration)
    n_notices = (n + 1) // 2
    rights, active = ctx["rights"], ctx["active"]
    if n_notices > len(active):
        print(f"  note: {n_notices} notices over {len(active)} active listings: some listings get several notices")
    rng = random.Random(hash(tag) & 0xFFFF)
    order = active[:]
    rng.shuffle(order)
    offset = ctx.setdefault("listing_cursor", 0)
    notices = []
    for i in range(n_notices):
        brand, reg = rights[i % len(rights)]
        notices.append({"notice_id": f"BN-{tag}-{i:06d}", "brand_id": brand,
                        "listing_id": order[(offset + i) % len(order)], "basis": "trademark",
                        "registration_no": reg, "evidence": "load test: listing offers the brand at a fraction of its price"})  # fmt: skip
    ctx["listing_cursor"] = offset + n_notices
    scored = [dict(row, listing_id=f"LB{tag}{i:07d}") for i, row in enumerate(listings)]
    spec = {"base": base, "rate": rate, "requests": n, "notices": notices, "listings": scored,
            "brand_token": ctx["brand_token"], "reviewer_token": ctx["reviewer_token"], "connections": connections,
            "timeout": 30.0, "keep_errors": 5}  # fmt: skip
    spec_path = OUT / f"spec-{tag}.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    sampler = Sampler(server.pid, pg_pid, ctx.get("pg_url") if ctx.get("trace") else None)
    sampler.start()
    cpu_server0, cpu_pg0, (busy0, tot0) = tree_cpu_s(server.pid), tree_cpu_s(pg_pid), machine_cpu_s()
    t0 = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, "--child", "load", "--spec", str(spec_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    sampler.load_pid = child.pid
    out, err = child.communicate()
    proc = subprocess.CompletedProcess(child.args, child.returncode, out, err)
    wall = time.perf_counter() - t0
    cpu_server1, cpu_pg1, (busy1, tot1) = tree_cpu_s(server.pid), tree_cpu_s(pg_pid), machine_cpu_s()
    sampler.stop()
    spec_path.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise SystemExit(f"the load process failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    if proc.stderr.strip():
        print("  load process stderr (first errors):\n    " + "\n    ".join(proc.stderr.strip().splitlines()[:10]))
    raw = json.loads(proc.stdout.strip().splitlines()[-1])
    s = summarize(raw)
    s["_seconds"] = (sampler, raw)  # lined up with the server's trace and PostgreSQL's log after the server stops
    s.update(label=label, rate=rate, duration=duration, wall_s=wall,
             server_cpu_s=cpu_server1 - cpu_server0, pg_cpu_s=cpu_pg1 - cpu_pg0,
             machine_busy_s=busy1 - busy0, machine_total_s=tot1 - tot0)  # fmt: skip
    return s


def print_phase(s: dict) -> None:
    print(f"  {s['label']}: offered {s['offered_rps']:.1f} req/s for {s['duration']:.0f} s, achieved {s['achieved_rps']:.1f} req/s "
          f"({s['ok']:,} ok of {s['requests']:,}); errors: {s['errors'] or 'none'}")  # fmt: skip
    for kind in ("all", "notice", "score"):
        k = s[kind]
        print(f"    {kind:<7} n={k['n']:>6,}  p50 {k['p50']:7.2f}  p95 {k['p95']:7.2f}  p99 {k['p99']:7.2f}  max {k['max']:8.2f} ms"
              f"   (from actual send: p50 {k['sent_p50']:.2f}, p99 {k['sent_p99']:.2f}; send lag p99 {k['send_lag_p99']:.2f} ms)")  # fmt: skip
    slow = s.get("slow_seconds", [])
    if slow:
        worst = ", ".join(f"s{sec}: {n} (max {mx:.0f} ms)" for sec, n, mx in slow[:4])
        print(f"    over {SLOW_MS:.0f} ms: {sum(n for _, n, _ in slow):,} requests in {len(slow)} of "
              f"{s['duration']:.0f} seconds; most in {worst} (s0 = {time.strftime('%H:%M:%S', time.localtime(s['first_due_wall']))})")  # fmt: skip
    wall = s["wall_s"]
    cores = s["machine_total_s"] / wall if wall else float("nan")
    other = s["machine_busy_s"] - s["server_cpu_s"] - s["pg_cpu_s"] - s["load_cpu_s"]
    print(f"    CPU over {wall:.1f} s wall ({cores:.1f} cores): server {s['server_cpu_s']:.1f} s, PostgreSQL {s['pg_cpu_s']:.1f} s, "
          f"load process {s['load_cpu_s']:.1f} s, everything else {other:.1f} s; machine busy "
          f"{s['machine_busy_s'] / s['machine_total_s']:.0%}; server CPU per request "
          f"{1000 * s['server_cpu_s'] / max(1, s['requests']):.2f} ms")  # fmt: skip


# --------------------------------------------------------------------------- one database


def measure(name: str, ws: Path, url: str, pg_pid: int | None, args, listings: list[dict]) -> dict:
    tag = f"{name}{int(time.time()) % 100000}"
    t0 = time.perf_counter()
    ctx = fill(ws, url, tag, vacuum=not args.no_setup_vacuum)
    print(f"[{name}] enforce {ctx['enforce_s']:.1f} s; brand user of {ctx['holder']!r} (tier {ctx['tier']}) with "
          f"{len(ctx['rights'])} registered unexpired trademarks; {len(ctx['active']):,} active listings"
          + (f"; VACUUM ANALYZE {ctx['vacuum_s']:.1f} s" if ctx.get("vacuum_s") is not None else ""))  # fmt: skip
    ctx.update(trace=args.trace, pg_url=url if pg_pid else None, pg_log=getattr(args, "pg_log", None) if pg_pid else None)
    server, base = start_server(ws, url, args.workers, OUT / f"server-{name}.log",
                                OUT / f"trace-{tag}" if args.trace else None)  # fmt: skip
    try:
        warm = warm_scorers(base, ctx["reviewer_token"], listings, args.workers)
        print(
            f"[{name}] server up {time.perf_counter() - t0 - ctx['enforce_s']:.1f} s after enforce; scorers warm after {warm:.1f} s"
        )
        if args.warmup > 0:
            run_phase(
                "warm-up", base, ctx, listings, args.rate, args.warmup, f"{tag}w", server, pg_pid, args.connections
            )
        phases = {}
        for label, rate, duration in (
            ("target", args.rate, args.duration),
            ("headroom", args.headroom_rate, args.headroom_duration),
        ):
            if rate <= 0:
                continue
            s = run_phase(f"{label} {rate:.0f} req/s", base, ctx, listings, rate, duration, f"{tag}{label[0]}", server,
                          pg_pid, args.connections)  # fmt: skip
            print(f"[{name}]")
            print_phase(s)
            phases[label] = s
    finally:
        stop_server(server)
    trace = None
    if args.trace:
        trace = {"workers": [json.loads(f.read_text()) for f in sorted((OUT / f"trace-{tag}").glob("worker-*.json"))]}
        print_trace(trace, phases)
    pg_log = Path(ctx["pg_log"]).read_text(errors="replace") if ctx.get("pg_log") else ""
    if pg_log:
        (OUT / f"pg-{name}.log").write_text(pg_log, encoding="utf-8")
    for label, s in phases.items():
        sampler, raw = s.pop("_seconds")
        rows = sampler.per_second(s["first_due_wall"], raw["results"], raw.get("wall_minus_loop", 0.0), pg_log, trace)
        print(f"[{name}] {label}: per second (all seconds in {OUT.relative_to(ROOT)}/seconds-{name}-{label}.jsonl)")
        print_seconds(rows, OUT / f"seconds-{name}-{label}.jsonl")
    return phases


def print_trace(trace: dict, phases: dict) -> None:
    """The server's own view of the target phase: requests and connections per worker, time in the
    application and awaiting the database, collections and event-loop lags."""
    s = phases.get("target")
    if not s or not trace["workers"]:
        return
    t0, t1 = s["first_due_wall"], s["first_due_wall"] + s["span_s"]
    for w in trace["workers"]:
        reqs = [r for r in w["requests"] if t0 <= r[0] <= t1 and r[3] != "/health"]
        app = [r[1] for r in reqs]
        db = [r[2] for r in reqs]
        gcs = [g for g in w["gcs"] if t0 <= g[0] <= t1]
        lags = [lg[1] for lg in w["lags"] if t0 <= lg[0] <= t1]
        print(f"    worker {w['pid']}: {len(reqs):,} requests on {len({r[5] for r in reqs})} connections; in the app p50 "
              f"{_pct(app, .5):.1f} p99 {_pct(app, .99):.1f} max {max(app, default=0):.1f} ms, awaiting the database p50 "
              f"{_pct(db, .5):.1f} p99 {_pct(db, .99):.1f} max {max(db, default=0):.1f} ms; collections: "
              f"{sum(1 for g in gcs if g[1] == 0)}/{sum(1 for g in gcs if g[1] == 1)}/{sum(1 for g in gcs if g[1] == 2)} "
              f"(gen 0/1/2), longest {max((g[2] for g in gcs), default=0):.1f} ms; loop lags over 20 ms: "
              f"{sum(1 for x in lags if x > 20)}, longest {max(lags, default=0):.0f} ms")  # fmt: skip


def load_listings(ws: Path, k: int, seed: int) -> list[dict]:
    import pyarrow.parquet as pq

    rows = pq.read_table(ws / "listings.parquet").to_pylist()
    rng = random.Random(seed)
    sample = rng.sample(rows, min(k, len(rows)))
    for r in sample:
        r["created_at"] = r["created_at"].isoformat() if r.get("created_at") else None
        r["brand"] = r.get("brand") or None
        r["image_hashes"] = list(r.get("image_hashes") or [])
    return sample


def verdict(s: dict) -> tuple[bool, str]:
    ok_rate = s["achieved_rps"] >= TARGET_RPS * 0.99  # the arrival schedule itself ends with one interval's slack
    ok_p99 = s["all"]["p99"] < TARGET_P99_MS
    no_err = not s["errors"]
    text = (f"throughput {s['achieved_rps']:.1f} req/s {'PASS' if ok_rate else 'FAIL'} (>= {TARGET_RPS:.0f}); "
            f"p99 {s['all']['p99']:.1f} ms {'PASS' if ok_p99 else 'FAIL'} (< {TARGET_P99_MS:.0f}); "
            f"errors {sum(s['errors'].values())} {'PASS' if no_err else 'FAIL'}")  # fmt: skip
    return ok_rate and ok_p99 and no_err, text


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--child", choices=["load"])
    p.add_argument("--spec", type=Path)
    p.add_argument("--listings", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--rate", type=float, default=TARGET_RPS)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--headroom-rate", type=float, default=400.0, help="0 skips it")
    p.add_argument("--headroom-duration", type=float, default=20.0)
    p.add_argument("--warmup", type=float, default=5.0, help="seconds at the target rate before measuring (discarded)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--connections", type=int, default=64, help="the load process's connection pool")
    p.add_argument(
        "--fast-pg", action="store_true", help="PostgreSQL without fsync/synchronous_commit (the test suite's settings)"
    )
    p.add_argument("--skip-peer", action="store_true")
    p.add_argument("--no-setup-vacuum", action="store_true",
                   help="leave out the VACUUM ANALYZE after the bulk load (autovacuum's first pass then lands in the run)")
    p.add_argument("--trace", action="store_true",
                   help="the server times each request, collection and event-loop lag (COUNTERWATCH_SERVE_TRACE), and "
                        "PostgreSQL's backends are sampled twice a second; printed per second beside the latency")  # fmt: skip
    args = p.parse_args()
    if args.child == "load":
        print(json.dumps(_child_load(args.spec)))
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ws = prepare_workspace(args.listings, args.seed)
    listings = load_listings(ws, 4000, args.seed)
    load1 = os.getloadavg()[0]
    print(f"workspace {ws.relative_to(ROOT)} ready in {time.perf_counter() - t0:.1f} s; load average before: {load1:.2f} "
          f"on {os.cpu_count()} cores")  # fmt: skip

    cluster, url = start_pg(durable=not args.fast_pg)
    try:
        print(f"PostgreSQL on 127.0.0.1:{cluster.port} ({'non-durable test settings' if args.fast_pg else 'durable: fsync and synchronous_commit on'}, "
              f"max_connections 100)")  # fmt: skip
        args.pg_log = str(cluster.log)
        ours = measure("postgresql", ws, url, pg_postmaster_pid(cluster), args, listings)
    finally:
        cluster.stop()

    peer = None
    if not args.skip_peer:
        db = OUT / "peer-sqlite.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        peer = measure("sqlite", ws, f"sqlite:///{db}", None, args, listings)

    print()
    print(f"== summary (2 cores shared by the server's {args.workers} workers, PostgreSQL and the load process; "
          f"load average now {os.getloadavg()[0]:.2f})")  # fmt: skip
    passed, text = verdict(ours["target"])
    print(f"target {args.rate:.0f} req/s, PostgreSQL: {text}")
    if "headroom" in ours:
        h = ours["headroom"]
        print(f"INFO headroom {args.headroom_rate:.0f} req/s, PostgreSQL: achieved {h['achieved_rps']:.1f} req/s, "
              f"p99 {h['all']['p99']:.1f} ms, errors {sum(h['errors'].values())}")  # fmt: skip
    if peer:
        for label in ("target", "headroom"):
            if label in ours and label in peer:
                o, q = ours[label], peer[label]
                print(f"peer (same API, SQLite case database) at {o['rate']:.0f} req/s: achieved {q['achieved_rps']:.1f} req/s, "
                      f"p99 {q['all']['p99']:.1f} ms, errors {sum(q['errors'].values())}; "
                      f"ratio = peer p99 / ours p99 = {q['all']['p99'] / o['all']['p99']:.2f}x")  # fmt: skip
    (OUT / "last.json").write_text(json.dumps({"ours": ours, "peer": peer}, indent=1, default=str), encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
