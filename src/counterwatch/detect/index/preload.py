"""The compiled index kernels, loaded before the scan's workers exist.

The scan's process pool forks its workers from a server process that imports this module first
(``multiprocessing``'s fork server with a preload): numba's compiler targets are set up and every
kernel's machine code is loaded from numba's disk cache (or compiled, the first time) once, in the
server, and every worker starts with them. Loading them in each worker instead costs about a second
of CPU per worker, most of it numba's own start-up.

Only numpy, numba and modules that start no thread are imported here (the fork server must not
start threads: Polars and Arrow start some at import, and a fork copies none of them). The workers
would import the settings' models (pydantic, 0.15–0.2 s) first thing; they are imported here, once.

SciPy is kept out of the fork server. numba's CPU target imports its linear-algebra support when it
starts, which imports SciPy's BLAS bindings (``scipy.linalg``) to check they exist (0.2–0.3 s, a quarter of the
server's start-up, every worker waiting on it); no kernel uses linear algebra. SciPy stays
importable afterwards (only numba's own flag that BLAS is there stays false).

``KERNELS`` lists the type signatures the detection paths call the kernels with; a signature not
listed still works (numba loads it at its first call in the worker), only later. A test holds the
list to what a scan really calls.
"""

from __future__ import annotations

import sys

from numba import types

import counterwatch.config  # noqa: F401  (pydantic: no threads; every worker needs it)
from counterwatch.detect import _tree_kernels as _tk
from counterwatch.detect import _views_kernels as _vk
from counterwatch.detect.index import _hamming_kernels as _hk
from counterwatch.detect.index import _minhash_kernels as _mk


def _a(dtype: types.Type, ndim: int = 1, readonly: bool = False) -> types.Array:
    return types.Array(dtype, ndim, "C", readonly=readonly)


_i64, _u64, _i32, _u32, _u8, _b = types.int64, types.uint64, types.int32, types.uint32, types.uint8, types.boolean
_f64 = types.float64

#: kernel -> the signatures it is called with (Arrow buffers arrive read-only; the offsets of
#: strings are int32, or int64 for large strings, which is what Polars hands over).
KERNELS = {
    _hk.parse_hex64_strings: [
        (_a(_i64, readonly=True), _a(_b), _a(_u8, readonly=True)),
        (_a(_i32), _a(_b), _a(_u8)),
    ],
    # q, max_distance, radius, full, p_sub, p_shift, p_mask, p_flip, p_start, p_entry, starts, entries,
    # hashes, item_start, payload, cap
    _hk.query: [
        (
            _a(_u64),
            _i64,
            _a(_i64),
            _a(_u64),
            _a(_i64),
            _a(_u64),
            _a(_u64),
            _a(_u64),
            _a(_i64),
            _a(_i64),
            _a(_i32),
            _a(_i32),
            _a(_u64),
            _a(_i64),
            _a(_i64),
            _i64,
        ),
    ],
    _hk.count_distinct_other: [(_a(_i64), _a(_i64), _a(_i64), _a(_i64), _i64)],
    _mk.signatures: [(_a(_i64, readonly=True), _a(_u8, readonly=True), _i64, _i64, _a(_u32, 2, readonly=True))],
    # offsets, data, flags, p_start, p_cps, s_start, s_cps, want_skeleton, want_token
    _vk.views: [
        (_a(_i64, readonly=True), _a(_u8, readonly=True), _a(_u8), _a(_i32), _a(_i32), _a(_i32), _a(_i32), _b, _b)
    ],
    _mk.band_keys: [(_a(_u32, 2), _i64)],
    # a trained model's trees (pass 2): features, then the flat node arrays of ``scorer.TreeArrays``
    _tk.raw_scores: [(_a(_f64, 2), _a(_i32), _a(_f64), _a(_i32), _a(_i32), _a(_b), _a(_f64), _a(_b), _a(_i64), _f64)],
    _mk.best_matches: [(_a(_u32, 2), _a(_b), _i64, _i64, _a(_i32), _a(_u64), _a(_i32), _a(_u32, 2), _i64)],
}


def load_kernels() -> None:
    """Every listed signature of every kernel, loaded (from the disk cache) or compiled now."""
    hide_scipy = "scipy.linalg" not in sys.modules
    if hide_scipy:
        sys.modules["scipy.linalg"] = None  # type: ignore[assignment]  # importing it raises ImportError
    try:
        for kernel, signatures in KERNELS.items():
            for signature in signatures:
                kernel.compile(signature)
    finally:
        if hide_scipy:
            del sys.modules["scipy.linalg"]


load_kernels()
