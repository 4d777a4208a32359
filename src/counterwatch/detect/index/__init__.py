"""Sub-linear similarity indexes for the detection stage, and the array primitives they share.

- :mod:`counterwatch.detect.index.hamming`: multi-index hashing over 64-bit photo hashes (exact).
- :mod:`counterwatch.detect.index.minhash`: MinHash + LSH over character shingles (probabilistic).

Both are built once, pickled to worker processes, and queried with whole batches; nothing on a
query path loops over items in Python. The primitives below are the two both need: a bucket
table (keys grouped by their low bits, addressed directly instead of by binary search, which is
an order of magnitude slower on large random query sets) and the expansion of ranges into rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_FMIX = (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: spreads every input bit over the whole word (uint64 wraps)."""
    x = np.asarray(x, dtype=np.uint64)
    for mult in _FMIX:
        x = (x ^ (x >> np.uint64(33))) * mult
    return x ^ (x >> np.uint64(33))


def expand_ranges(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each range ``[starts[i], starts[i] + counts[i])`` as rows: ``(range index, position)`` arrays."""
    counts = np.asarray(counts, dtype=np.int64)
    nz = np.flatnonzero(counts)
    counts = counts[nz]
    owner = np.repeat(nz, counts)
    out_start = np.cumsum(counts) - counts
    pos = np.arange(len(owner), dtype=np.int64) - np.repeat(out_start - np.asarray(starts)[nz], counts)
    return owner, pos


@dataclass(frozen=True, slots=True)
class BucketTable:
    """Entries grouped by ``key & (2**bits - 1)``; ``starts`` is the CSR offset of every bucket.

    Looking a key up is two gathers (``starts[b]``, ``starts[b + 1]``) instead of a binary
    search. Keys that are exact ``bits``-wide values (the substrings of multi-index hashing)
    need no further check; wider keys (LSH band keys) are compared in full by the caller.
    """

    bits: int
    starts: np.ndarray  # int32 or int64, 2**bits + 1 offsets into `entries`
    entries: np.ndarray  # int32 (int64 when large) entry ids, grouped by bucket, in input order within one
    keys: np.ndarray | None  # uint64 key of each grouped entry, when the caller must compare keys in full

    @classmethod
    def build(
        cls, keys: np.ndarray, bits: int, ids: np.ndarray | None = None, *, keep_keys: bool = True
    ) -> BucketTable:
        """Group ``keys`` by their low ``bits``; ``ids`` (default: positions) is what a lookup returns."""
        keys = np.asarray(keys, dtype=np.uint64)
        bucket = (keys & np.uint64((1 << bits) - 1)).astype(np.int64)
        order = _stable_order(bucket)
        sizes = np.bincount(bucket, minlength=1 << bits)
        dtype = np.int32 if len(keys) < 2**31 else np.int64
        starts = np.zeros((1 << bits) + 1, dtype=dtype)
        np.cumsum(sizes, out=starts[1:])
        entries = order if ids is None else np.asarray(ids)[order]
        small = not len(entries) or int(entries.max()) < 2**31
        entries = entries.astype(np.int32 if small else np.int64)
        return cls(bits=bits, starts=starts, entries=entries, keys=keys[order] if keep_keys else None)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (query position, grouped entry index) whose bucket equals the query key's bucket.

        The pairs come in no particular order (callers sort or reduce them anyway).
        """
        bucket = (np.asarray(keys) & ((1 << self.bits) - 1)).astype(np.intp, copy=False)
        lo = self.starts[bucket]
        return expand_ranges_unordered(lo, self.starts[bucket + 1] - lo)


def expand_ranges_unordered(starts: np.ndarray, counts: np.ndarray, passes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`expand_ranges`, in no particular order; faster when most ranges hold 0-2 rows.

    The first ``passes`` rows of every range come from shrinking boolean selections (no
    ``np.repeat`` over millions of mostly empty ranges); only longer ranges pay for a repeat.
    """
    sel = np.flatnonzero(counts)
    owners, positions = [], []
    for k in range(passes):
        if not len(sel):
            break
        owners.append(sel)
        positions.append(starts[sel].astype(np.int64) + k)
        sel = sel[counts[sel] > k + 1]
    if len(sel):
        owner, pos = expand_ranges(starts[sel] + passes, counts[sel] - passes)
        owners.append(sel[owner])
        positions.append(pos)
    if not owners:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(owners), np.concatenate(positions)


def _stable_order(bucket: np.ndarray) -> np.ndarray:
    """``np.argsort(bucket, kind="stable")`` for small non-negative keys, as one sort of packed
    ``bucket << 32 | position`` words: 9x faster on the 10M keys of a stored photo neighbourhood."""
    n = len(bucket)
    if n >= 2**32 or (n and int(bucket.max()) >= 2**31):
        return np.argsort(bucket, kind="stable")
    packed = np.sort((bucket.astype(np.uint64) << np.uint64(32)) | np.arange(n, dtype=np.uint64))
    return (packed & np.uint64(0xFFFFFFFF)).astype(np.int64)


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array: ``np.unique`` by a sort. numpy 2.4's
    ``np.unique`` hashes, which takes ~2 s on 2M random int64 where a sort takes 35 ms."""
    v = np.sort(np.asarray(values).ravel())
    return v[np.r_[True, v[1:] != v[:-1]]] if len(v) else v


def bits_for(n: int, *, lo: int = 8, hi: int = 24) -> int:
    """Bucket-table width for ``n`` keys: about two buckets per key, within ``[lo, hi]`` bits."""
    return int(np.clip(int(np.ceil(np.log2(max(n, 1)))) + 1, lo, hi))


def warm_kernels() -> None:
    """Load every compiled kernel of the indexes now (from numba's disk cache, or compiling it):
    the first call in a process costs about a second, which a scan worker pays while idle."""
    import polars as pl

    from counterwatch.detect.index.hamming import HammingIndex, flatten_hash_lists
    from counterwatch.detect.index.minhash import TextIndex

    _, hashes, _ = flatten_hash_lists(pl.Series([["0f0f0f0f0f0f0f0f", "00ff00ff00ff00ff"]]))
    # Eight 8-bit substrings: tables of 256 buckets. The default layout for two hashes allocates and
    # fills tables of 2**22 buckets (0.12 s of every worker's start) for nothing; the kernels' types
    # are the same either way.
    small = HammingIndex.build(hashes, np.arange(len(hashes), dtype=np.int64), substrings=8)
    small.query(hashes, 6, max_matches_per_query=2)
    TextIndex.build(["warm up", "warm"], np.arange(2, dtype=np.int64)).query(["warm up"], min_jaccard=0.3)
