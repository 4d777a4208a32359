"""A real, throwaway PostgreSQL cluster for the test suite (no mocks, no external service).

``throwaway_cluster()`` finds ``initdb``/``pg_ctl``, creates a cluster in a temporary directory
(trust auth, UTF8, locale C, fsync off, small buffers), starts it listening on a unix socket in
that directory only (no TCP port, so no port races between pytest-xdist workers; a free loopback
port is used only when the socket path would be too long), creates a database and yields its
SQLAlchemy URL ``postgresql+psycopg://...``. On exit the server is stopped and the directory removed.

Each pytest-xdist worker starts its own cluster (about one second, in parallel); tests get a fresh
empty database each through :class:`DatabaseFactory` (``CREATE DATABASE ... TEMPLATE template0``,
some tens of milliseconds).

When running as root the server runs as the ``postgres`` system user (``initdb`` and ``pg_ctl``
refuse root); the temporary directory is then owned by that user.

:func:`pg_unavailable_action` decides what a test does when PostgreSQL cannot be had: skip, or fail
when ``CI=true`` (CI must never pass by silently skipping the PostgreSQL half of the suite).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

ENV_URL = "COUNTERWATCH_TEST_PG_URL"
SUPERUSER = "postgres"
SERVER_OPTIONS = {
    # throwaway data: durability off, start-up and per-test database creation as cheap as possible
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "shared_buffers": "16MB",
    "max_connections": "40",
    "autovacuum": "off",
    "logging_collector": "off",
}
_MAX_SOCKET_DIR = 90  # sockaddr_un.sun_path is 108 bytes; the file is "<dir>/.s.PGSQL.<port>"


class PgUnavailable(RuntimeError):
    """PostgreSQL cannot be had here; the message says exactly why."""


def pg_unavailable_action(reason: str, env: Mapping[str, str] | None = None) -> Literal["skip", "fail"]:
    """What a PostgreSQL test does when the server is unavailable for ``reason``.

    ``"fail"`` on CI (``CI=true``; also ``1``/``yes``, any case), where skipping would hide that half of
    the suite, and when ``COUNTERWATCH_TEST_PG_URL`` names a server explicitly (asking for a server
    and not getting it is an error, not a reason to skip). ``"skip"`` otherwise.
    """
    env = os.environ if env is None else env
    if env.get("CI", "").strip().lower() in {"true", "1", "yes"}:
        return "fail"
    if env.get(ENV_URL, "").strip():
        return "fail"
    return "skip"


# --------------------------------------------------------------------------- binaries


def find_pg_bin() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``: PATH first, then the newest
    ``/usr/lib/postgresql/*/bin``. Raises :class:`PgUnavailable` naming where it looked."""
    initdb = shutil.which("initdb")
    candidates: list[Path] = []
    if initdb:
        candidates.append(Path(initdb).resolve().parent)  # a symlink (e.g. /usr/local/bin/initdb): its real directory
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted((Path(p) for p in versions), key=lambda p: _version_key(p.parent.name), reverse=True)
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    on_path = f"initdb at {initdb} has no pg_ctl/postgres beside it" if initdb else "no initdb on PATH"
    raise PgUnavailable(
        f"PostgreSQL server binaries not found: {on_path}, and no /usr/lib/postgresql/*/bin holds "
        "initdb, pg_ctl and postgres (install e.g. the Debian package 'postgresql')"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


# --------------------------------------------------------------------------- the cluster


class PgCluster:
    """One PostgreSQL cluster in a temporary directory. Use :func:`throwaway_cluster`."""

    def __init__(self, bindir: Path | None = None, base_dir: str | None = None) -> None:
        self.bindir = bindir or find_pg_bin()
        self.run_as = _server_user()
        self.root = Path(tempfile.mkdtemp(prefix="cwpg-", dir=base_dir or _base_dir(self.run_as)))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.host: str = str(self.root)
        self.port: int = 5432  # only names the socket file when listening on the socket alone
        self.started = False
        self.timings: dict[str, float] = {}
        if self.run_as is not None:
            os.chown(self.root, self.run_as[0], self.run_as[1])

    # ---- running the server's tools (as ``postgres`` when we are root)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ="UTC")
        kwargs: dict = {}
        if self.run_as is not None:
            uid, gid, home = self.run_as
            kwargs = {"user": uid, "group": gid, "extra_groups": []}
            env.update(HOME=home, USER=SUPERUSER, LOGNAME=SUPERUSER)
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )

    def _check(self, what: str, proc: subprocess.CompletedProcess[str]) -> None:
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip()
            if self.log.exists():
                detail += "\nserver log:\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
            raise PgUnavailable(f"{what} failed (exit {proc.returncode}): {detail}")

    # ---- life cycle

    def start(self) -> None:
        t0 = time.perf_counter()
        proc = self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-E", "UTF8", "--locale=C",
            "-U", SUPERUSER, "--no-sync", "--no-instructions",
        )  # fmt: skip
        self._check(f"initdb ({self.bindir / 'initdb'})", proc)
        t1 = time.perf_counter()
        options = dict(SERVER_OPTIONS)
        if len(self.host) <= _MAX_SOCKET_DIR:
            options.update(listen_addresses="''", unix_socket_directories=f"'{self.host}'")
        else:  # the socket path would not fit in sockaddr_un: a free loopback port instead
            self.port = _free_port()
            self.host = "127.0.0.1"
            options.update(listen_addresses="'127.0.0.1'", unix_socket_directories="''")
        options["port"] = str(self.port)
        opts = " ".join(f"-c {k}={v}" for k, v in options.items())
        proc = self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", opts)
        self._check(f"pg_ctl start ({self.bindir / 'pg_ctl'})", proc)
        self.started = True
        self.timings.update(initdb=t1 - t0, start=time.perf_counter() - t1)

    def stop(self) -> None:
        try:
            if self.started:
                self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", timeout=60)
                self.started = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        from sqlalchemy import URL

        if self.host.startswith("/"):
            query = {"host": self.host, "port": str(self.port)}
            return URL.create(
                "postgresql+psycopg", username=SUPERUSER, database=database, query=query
            ).render_as_string()
        return URL.create(
            "postgresql+psycopg", username=SUPERUSER, host=self.host, port=self.port, database=database
        ).render_as_string()


@contextmanager
def throwaway_cluster(database: str = "counterwatch") -> Iterator[str]:
    """Start a throwaway cluster, create ``database`` in it and yield its SQLAlchemy URL; stop and
    remove the cluster at the end. Raises :class:`PgUnavailable` (with the reason) when it cannot."""
    cluster = PgCluster()
    try:
        cluster.start()
        url = cluster.url("postgres")
        create_database(url, database)
        yield cluster.url(database)
    finally:
        cluster.stop()


# --------------------------------------------------------------------------- databases


def normalize_url(url: str) -> str:
    """``postgresql://...`` or ``postgres://...`` as ``postgresql+psycopg://...``."""
    from sqlalchemy import make_url

    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"{ENV_URL} is not a PostgreSQL URL: {url}")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _admin(url: str):
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def check_server(url: str) -> None:
    """Raise :class:`PgUnavailable` when ``url`` cannot be connected to."""
    from sqlalchemy import text

    engine = _admin(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect means "unavailable"
        raise PgUnavailable(f"cannot connect to PostgreSQL at {_safe(url)}: {exc}") from exc
    finally:
        engine.dispose()


def create_database(url: str, name: str) -> None:
    from sqlalchemy import text

    engine = _admin(url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    finally:
        engine.dispose()


def _safe(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


class DatabaseFactory:
    """Fresh, empty databases on the server of ``url`` (created from ``template0``, so empty even on a
    shared server), each dropped again by :meth:`drop`. Names are unique across workers and runs."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import make_url

        self.url = make_url(url)
        self.engine = _admin(url)
        self._prefix = f"cwt_{uuid.uuid4().hex[:8]}_"
        self._counter = itertools.count(1)

    def create(self) -> str:
        from sqlalchemy import text

        name = f"{self._prefix}{next(self._counter)}"
        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        from sqlalchemy import make_url, text

        name = make_url(url).database
        with self.engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))  # PostgreSQL 13+

    def dispose(self) -> None:
        self.engine.dispose()


# --------------------------------------------------------------------------- root and paths


def _server_user() -> tuple[int, int, str] | None:
    """``(uid, gid, home)`` of the ``postgres`` user when we are root, else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise PgUnavailable(
            f"running as root and there is no '{SUPERUSER}' system user to run the server as "
            "(initdb and pg_ctl refuse to run as root)"
        ) from None
    return entry.pw_uid, entry.pw_gid, entry.pw_dir


def _base_dir(run_as: tuple[int, int, str] | None) -> str:
    """The temp base directory; when the server runs as another user every ancestor must let it
    through, else fall back to /tmp (e.g. TMPDIR under /root)."""
    base = tempfile.gettempdir()
    if run_as is None:
        return base
    path = Path(base).resolve()
    for part in (path, *path.parents):
        st = part.stat()
        if not (st.st_mode & stat.S_IXOTH or st.st_uid == run_as[0]):
            return "/tmp"
    return base


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
