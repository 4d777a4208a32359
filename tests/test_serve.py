"""`counterwatch serve` starts a real server: migrated database, health, OpenAPI, token auth."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_health_openapi_and_requires_a_token(tmp_path, db_url):
    port = _free_port()
    env = {"PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "counterwatch", "serve", str(tmp_path), "--port", str(port),
                             "--db", db_url], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the server did not come up within 60 s"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        spec = httpx.get(f"{base}/openapi.json", timeout=5).json()
        assert {"/notices", "/notices/bulk", "/review/queue", "/appeals", "/listings/score"} <= set(spec["paths"])
        assert httpx.get(f"{base}/notices", timeout=5).status_code == 401
        bad = httpx.get(f"{base}/notices", headers={"Authorization": "Bearer cw_nope"}, timeout=5)
        assert bad.status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=20)
