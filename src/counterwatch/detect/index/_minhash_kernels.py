"""Compiled kernels of :mod:`counterwatch.detect.index.minhash` (numba, compiled on first call, cached on disk).

Every integer is cast explicitly: numba, like numpy, turns uint64 mixed with int64 into float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_EMPTY = np.uint32(0xFFFFFFFF)  # an empty bin; real values are clipped below it
_PRIME = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier for combining characters and band rows
_PAD = np.uint64(0x2545F4914F6CDD1D)  # stands for "past the end" in a text shorter than a shingle
# Constants are defined here, not imported: numba's disk cache is keyed on this file alone.
_FMIX_1 = np.uint64(0xFF51AFD7ED558CCD)  # as ``index.fmix64``
_FMIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_LOW32 = np.uint64(0xFFFFFFFF)
_CLIP = np.uint64(0xFFFFFFFE)  # the largest value a bin keeps (below _EMPTY)
_MISSING = np.uint32(0xFFFFFFFF)  # in ``first_seen``: a bin not on the probe sequence
_BIN = np.uint32(0xFFFF)  # in ``first_seen``: the bin, below the round
_S32 = np.uint64(32)
_S33 = np.uint64(33)


@njit(cache=True, nogil=True, inline="always")
def fmix64(x: np.uint64) -> np.uint64:
    """MurmurHash3's 64-bit finaliser of one word, as ``index.fmix64``."""
    x = (x ^ (x >> _S33)) * _FMIX_1
    x = (x ^ (x >> _S33)) * _FMIX_2
    return x ^ (x >> _S33)


@njit(cache=True, nogil=True)
def signatures(
    offsets: np.ndarray, data: np.ndarray, num_perm: int, shingle: int, first_seen: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures ``(texts, num_perm)`` uint32 and ``has`` of UTF-8 texts ``data[offsets[i]:offsets[i+1]]``.

    A character is its UTF-8 lead byte and continuation bytes packed big-endian. ``first_seen``
    is ``(num_perm, num_perm)`` uint32: ``round << 16 | q`` for the first round at which empty
    bin j's probe sequence reads bin q, ``_MISSING`` when it never does.
    """
    n = len(offsets) - 1
    m = np.int64(num_perm)
    sig = np.full((n, m), _EMPTY, dtype=np.uint32)
    has = np.zeros(n, dtype=np.bool_)
    longest = np.int64(0)
    for i in range(n):
        longest = max(longest, np.int64(offsets[i + 1] - offsets[i]))
    chars = np.empty(longest, dtype=np.uint64)
    raw = np.empty(m, dtype=np.uint32)
    masked = np.empty(m, dtype=np.uint32)
    empty_bins = np.empty(m, dtype=np.int64)
    width = np.uint64(shingle)
    nperm = np.uint64(num_perm)
    for i in range(n):
        # characters of text i
        count = np.int64(0)
        for p in range(offsets[i], offsets[i + 1]):
            b = np.uint64(data[p])
            if (b & np.uint64(0xC0)) != np.uint64(0x80) or count == 0:
                chars[count] = b
                count += 1
            else:
                chars[count - 1] = (chars[count - 1] << np.uint64(8)) | b
        if count == 0:
            continue
        has[i] = True
        # per-bin minimum of the shingle hashes (a short text is one padded shingle)
        for j in range(m):
            raw[j] = _EMPTY
        positions = count - shingle + 1 if count >= shingle else 1
        for at in range(positions):
            h = width
            for k in range(shingle):
                c = chars[at + k] if at + k < count else _PAD
                h = (h ^ c) * _PRIME
            h = fmix64(h)
            b = np.int64(((h >> _S32) * nperm) >> _S32)
            v = np.uint32(min(h & _LOW32, _CLIP))
            if v < raw[b]:
                raw[b] = v
        # densification: an empty bin takes the first non-empty bin on its probe sequence, that is
        # the non-empty bin of lowest ``first_seen[j]`` (a min over all bins: no branch per probe)
        pending = np.int64(0)
        for j in range(m):
            v = raw[j]
            sig[i, j] = v
            masked[j] = _MISSING if v == _EMPTY else np.uint32(0)
            empty_bins[pending] = j
            pending += np.int64(v == _EMPTY)
        for e in range(pending):
            j = empty_bins[e]
            best = _MISSING
            for q in range(m):
                best = min(best, np.uint32(first_seen[j, q] | masked[q]))  # uint32: vectorised
            if best == _MISSING:  # vanishingly rare: no non-empty bin on the probe sequence
                for q in range(m):
                    if raw[q] != _EMPTY:
                        best = np.uint32(q)
                        break
            sig[i, j] = raw[best & _BIN]
    return sig, has


@njit(cache=True, nogil=True, inline="always")
def _band_key(sig: np.ndarray, i: int, band: int, rows: int) -> np.uint64:
    h = fmix64(np.uint64(band + 1))
    base = band * rows
    for k in range(rows):
        h = (h ^ np.uint64(sig[i, base + k])) * _PRIME
    return fmix64(h)


@njit(cache=True, nogil=True)
def band_keys(sig: np.ndarray, bands: int) -> np.ndarray:
    """One uint64 key per band per signature, ``(len(sig), bands)``; the band number is part of the key."""
    n = sig.shape[0]
    rows = sig.shape[1] // bands
    out = np.empty((n, bands), dtype=np.uint64)
    for i in range(n):
        for band in range(bands):
            out[i, band] = _band_key(sig, i, band, rows)
    return out


@njit(cache=True, nogil=True)
def best_matches(
    sig: np.ndarray,
    has: np.ndarray,
    bands: int,
    bits: int,
    starts: np.ndarray,
    keys: np.ndarray,
    entries: np.ndarray,
    items: np.ndarray,
    need: int,
) -> tuple[np.ndarray, np.ndarray]:
    """For each query signature, the LSH candidate item with the most agreeing positions (ties to the
    lowest item) among those with at least ``need``: ``(best_item, agreement)``, -1 and 0 where none.

    Candidates are the items under any of the query's band keys in the bucket table
    (``starts``, ``keys``, ``entries``); an item reached through several bands is compared once.
    """
    n, m = sig.shape
    rows = m // bands
    mask = np.uint64((1 << bits) - 1)
    best_item = np.full(n, -1, dtype=np.int64)
    best_agree = np.zeros(n, dtype=np.int64)
    band_key = np.empty(bands, dtype=np.uint64)
    lo = np.empty(bands, dtype=np.int64)
    hi = np.empty(bands, dtype=np.int64)
    seen = np.full(items.shape[0], -1, dtype=np.int64)  # the last query that took the item as a candidate
    candidates = np.empty(items.shape[0] + 1, dtype=np.int64)  # +1: a slot is written before it is kept
    for i in range(n):
        if not has[i]:
            continue
        for band in range(bands):  # all keys and bucket bounds first: the table reads overlap
            key = _band_key(sig, i, band, rows)
            bucket = np.int64(key & mask)
            band_key[band] = key
            lo[band] = starts[bucket]
            hi[band] = starts[bucket + 1]
        found = 0
        for band in range(bands):
            key = band_key[band]
            for g in range(lo[band], hi[band]):
                item = np.int64(entries[g])
                new = (keys[g] == key) & (seen[item] != i)  # no branch: a match is likely, not certain
                seen[item] = i if new else seen[item]
                candidates[found] = item
                found += np.int64(new)
        top, top_agree = np.int64(-1), np.int64(need - 1)
        for c in range(found):
            item = candidates[c]
            agree = np.int64(0)
            for j in range(m):
                agree += np.int64(sig[i, j] == items[item, j])
            if agree > top_agree or (agree == top_agree and item < top):
                top, top_agree = item, agree
        if top >= 0:
            best_item[i] = top
            best_agree[i] = top_agree
    return best_item, best_agree
