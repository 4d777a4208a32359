"""What every benchmark shares: run a measurement in a child process and sample its peak memory.

A benchmark script re-runs itself as ``--child ROLE``; the child prints one JSON line last. The
parent samples the resident memory of the child and every process it starts (pool workers) from
``/proc`` every 50 ms, so the peak covers the whole process tree, not just ``ru_maxrss`` of one.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB (0 when it has gone)."""
    total, todo = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * page
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total / 2**20


def run_child(cmd: list[str], what: str) -> dict:
    """Run ``cmd``, sampling its process tree's memory; its last stdout line as JSON plus ``tree_mb``."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss_mb(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"child {what} failed ({proc.returncode}):\n{err[-5000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["tree_mb"] = peak[0]
    return result
