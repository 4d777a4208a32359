"""The kernels the scan's fork server loads before it forks the workers."""

from __future__ import annotations

import json
import subprocess
import sys

from counterwatch.workspace import Workspace

_CALLED = """
import json, sys
from pathlib import Path
import polars as pl
from numba.core.registry import CPUDispatcher
from counterwatch.detect.batch import signals_frame
from counterwatch.detect.context import DetectContext
from counterwatch.detect import _views_kernels
from counterwatch.detect.index import _hamming_kernels, _minhash_kernels
from counterwatch.workspace import Workspace

ws = Workspace.at(Path(sys.argv[1]))
ctx = DetectContext.build(ws)  # builds the photo and text indexes
signals_frame(pl.read_parquet(ws.tables_dir / "listings.parquet"), ctx)
called = {}
for module in (_hamming_kernels, _minhash_kernels, _views_kernels):
    for name, kernel in vars(module).items():
        if isinstance(kernel, CPUDispatcher) and kernel.signatures:
            called[name] = sorted(str(s) for s in kernel.signatures)
print(json.dumps(called))
"""


def test_the_preload_covers_every_kernel_signature_a_scan_calls(detect_ws: Workspace) -> None:
    """A signature missing from ``KERNELS`` would still work, but every worker would load it again
    (about a second): the list must keep up with the code that calls the kernels."""
    from counterwatch.detect.index.preload import KERNELS

    out = subprocess.run([sys.executable, "-c", _CALLED, str(detect_ws.root)], capture_output=True, text=True,
                         check=True, timeout=600)  # fmt: skip
    called = json.loads(out.stdout.strip().splitlines()[-1])
    preloaded = {k.__name__: {str(tuple(s)) for s in sigs} for k, sigs in KERNELS.items()}
    assert {"parse_hex64_strings", "query", "signatures", "band_keys", "best_matches", "views"} <= set(called)
    for name, signatures in called.items():
        assert name in preloaded, f"kernel {name} is called by the scan but not preloaded"
        missing = set(signatures) - preloaded[name]
        assert not missing, f"{name} is called with {missing}, which the preload does not load"


def test_the_fork_server_preload_starts_no_polars_arrow_or_duckdb() -> None:
    """Those start threads at import, and a fork copies no thread: a worker forked after them
    could wait forever on a lock a missing thread held."""
    code = (
        "import sys, counterwatch.detect.index.preload as p; "
        "print(sorted(m for m in ('polars', 'pyarrow', 'duckdb', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600)
    assert out.stdout.strip() == "[]"


def test_the_preload_leaves_scipy_linalg_out_and_importable() -> None:
    """numba would import SciPy's linear algebra (a quarter of the fork server's start-up) though no
    kernel uses it; it must stay importable for whatever needs it later (training)."""
    code = (
        "import sys, counterwatch.detect.index.preload; print('scipy.linalg' in sys.modules); "
        "import scipy.linalg; print(scipy.linalg.norm([3.0, 4.0]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600)
    assert out.stdout.split() == ["False", "5.0"]
