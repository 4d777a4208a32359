"""Compiled kernels of :mod:`counterwatch.detect.index.hamming`: hex parsing and multi-index search.

Plain loops compiled by numba (``cache=True``: compiled on first call, then loaded from
``__pycache__``; importing this module compiles nothing). Integer types are explicit throughout:
numba promotes ``uint64`` mixed with ``int64`` to ``float64``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

_HID_BITS = 56  # found matches are packed as ``distance << 56 | hash id``, so one integer sort orders them
_HID_MASK = (1 << _HID_BITS) - 1


@intrinsic
def _popcount(typingctx, x):  # type: ignore[no-untyped-def]
    """Set bits of a uint64, as int64 (LLVM's ``ctpop``: one instruction)."""
    if x != types.uint64:
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.ctpop(args[0])

    return types.int64(types.uint64), codegen


def _hex_digits(first: bool) -> np.ndarray:
    """Each byte's value as a hex digit, 16 for any other byte; ``first``: '+' counts as a leading 0."""
    table = np.full(256, 16, np.uint8)
    for value, digits in enumerate(zip("0123456789abcdef", "0123456789ABCDEF", strict=True)):
        for c in digits:
            table[ord(c)] = value
    if first:
        table[ord("+")] = 0
    return table


_HEX_DIGIT, _HEX_FIRST = _hex_digits(False), _hex_digits(True)


@njit(cache=True, nogil=True)
def parse_hex64_strings(str_off, str_valid, data):  # type: ignore[no-untyped-def]
    """Arrow string buffers (offsets, validity as bool or empty when none is null, data) to ``(hashes, valid)``.

    Valid: exactly 16 bytes, an optional leading ``+``, then only hex digits: what Polars'
    ``str.to_integer(base=16)`` (Rust's ``u64::from_str_radix``) accepts at that length. ``+``
    then 15 digits is the number of those digits, as is ``0`` then the 15 digits. One table
    lookup per byte: no branch per byte (digits and letters come at random).
    """
    n = len(str_off) - 1
    out = np.zeros(n, np.uint64)
    ok = np.zeros(n, np.bool_)
    check = len(str_valid) > 0
    for k in range(n):
        start = np.int64(str_off[k])
        if np.int64(str_off[k + 1]) - start != 16 or (check and not str_valid[k]):
            continue
        d = _HEX_FIRST[data[start]]
        bad = d
        v = np.uint64(d)
        for i in range(1, 16):
            d = _HEX_DIGIT[data[start + i]]
            bad |= d
            v = (v << np.uint64(4)) | np.uint64(d)
        if bad < 16:
            out[k] = v
            ok[k] = True
    return out, ok


_BLOCK = 64  # query hashes whose bucket lookups are issued together
_GAPS = np.array([701, 301, 132, 57, 23, 10, 4, 1], np.int64)  # Ciura's; the last pass is an insertion sort


@njit(cache=True, nogil=True)
def _shell_sort(a, n):  # type: ignore[no-untyped-def]
    """Sort ``a[:n]`` in place (a query hash's matches: a handful, a few thousand at worst).

    Gaps beyond 701 grow by 2.25; numba's own ``sort`` would take seconds more to compile.
    """
    gap = 701
    while gap * 9 // 4 < n:
        gap = gap * 9 // 4
    while gap > 701:
        _gapped_insertion(a, n, gap)
        gap = gap * 4 // 9
    for gap in _GAPS:
        if gap < n:
            _gapped_insertion(a, n, gap)


@njit(cache=True, nogil=True, inline="always")
def _gapped_insertion(a, n, gap):  # type: ignore[no-untyped-def]
    for i in range(gap, n):
        v = a[i]
        j = i
        while j >= gap and a[j - gap] > v:
            a[j] = a[j - gap]
            j -= gap
        a[j] = v


@njit(cache=True, nogil=True)
def query(  # type: ignore[no-untyped-def]
    q, max_distance, radius, full, p_sub, p_shift, p_mask, p_flip, p_start, p_entry,
    starts, entries, hashes, item_start, payload, cap,
):  # fmt: skip
    """Every (query position, payload, distance) within ``max_distance``, in the order of
    ``HammingIndex.query``: query position, then distance, then hash id, then payload; at most
    ``cap`` items per query hash (``cap < 0``: no limit), the nearest in that order. The arrays
    are ``n_out`` long at least; only their first ``n_out`` are the matches: ``(q, p, d, n_out)``.

    Substring ``j`` covers the bits ``full[j]`` and is searched within ``radius[j]`` (< 0: not
    searched). Each query hash makes the probes ``k``: its substring ``p_sub[k]``,
    ``(h >> p_shift[k]) & p_mask[k]``, XOR ``p_flip[k]`` (one probe with flip 0 when the table
    stores the substring's neighbourhood, else one per bit pattern within the radius), is a bucket
    of ``starts[p_start[k]:]``, whose offsets point into ``entries[p_entry[k]:]`` (hash ids). A
    candidate is kept only from the first searched substring that must reach it: none comes twice.
    """
    n_probe = len(p_sub)
    bucket = np.empty(_BLOCK * n_probe, np.int64)
    lo = np.empty(_BLOCK * n_probe, np.int64)
    hi = np.empty(_BLOCK * n_probe, np.int64)
    found = np.empty(256, np.int64)
    size = max(64, len(q) // 2)
    out_q = np.empty(size, np.int64)
    out_p = np.empty(size, np.int64)
    out_d = np.empty(size, np.uint8)
    n_out = np.int64(0)  # not a literal 0: that would compile _search_block twice
    b0 = np.int64(0)
    # Arrays grow here, between blocks: reassigning arrays inside the search loops slows them.
    while b0 < len(q):
        b1 = min(len(q), b0 + _BLOCK)
        n, need = _search_block(
            q, b0, b1, max_distance, radius, full, p_sub, p_shift, p_mask, p_flip, p_start, p_entry,
            starts, entries, hashes, item_start, payload, cap, bucket, lo, hi, found, out_q, out_p, out_d, n_out,
        )  # fmt: skip
        if n >= 0:
            n_out, b0 = n, b1
        elif n == -1:
            found = np.empty(2 * need, np.int64)
        else:
            size = 2 * max(size, need)
            out_q = _grow(out_q, n_out, size)
            out_p = _grow(out_p, n_out, size)
            out_d = _grow(out_d, n_out, size)
    return out_q, out_p, out_d, n_out


@njit(cache=True, nogil=True)
def _grow(a, n, size):  # type: ignore[no-untyped-def]
    """``a[:n]`` at the start of a new array of ``size``."""
    out = np.empty(size, a.dtype)
    for i in range(n):
        out[i] = a[i]
    return out


@njit(cache=True, nogil=True)
def _search_block(  # type: ignore[no-untyped-def]
    q, b0, b1, max_distance, radius, full, p_sub, p_shift, p_mask, p_flip, p_start, p_entry,
    starts, entries, hashes, item_start, payload, cap, bucket, lo, hi, found, out_q, out_p, out_d, n_out,
):  # fmt: skip
    """Query hashes ``b0:b1`` of :func:`query`, written from ``n_out`` on: ``(new n_out, 0)``; or
    ``(-1, n)`` when ``found`` must hold ``n``, ``(-2, n)`` when the outputs must, to finish.

    The tables are large and each probe lands on a random bucket, so the block's bucket bounds
    are loaded first, then each non-empty bucket's first entry touched (independent loads, whose
    cache misses overlap), and only then are the candidates verified.
    """
    n_probe = len(p_sub)
    nk = (b1 - b0) * n_probe
    t = 0
    for i in range(b0, b1):
        h = q[i]
        for k in range(n_probe):
            bucket[t] = p_start[k] + np.int64(((h >> p_shift[k]) & p_mask[k]) ^ p_flip[k])
            t += 1
    candidates = 0
    for t in range(nk):
        c = bucket[t]
        lo[t] = np.int64(starts[c])
        hi[t] = np.int64(starts[c + 1])
        candidates += hi[t] - lo[t]
    if candidates > len(found):
        return -1, candidates
    if candidates == 0:
        return n_out, 0
    touched = np.int64(0)
    t = 0
    for _ in range(b1 - b0):
        for k in range(n_probe):
            touched += entries[(p_entry[k] + lo[t]) * (hi[t] > lo[t])]  # empty buckets touch entries[0]
            t += 1
    t = 0
    for i in range(b0, b1):
        h = q[i]
        n_found = np.int64(0)
        for k in range(n_probe):
            e0 = p_entry[k]
            j = p_sub[k]
            for g in range(e0 + lo[t], e0 + hi[t]):
                hid = np.int64(entries[g])
                x = h ^ hashes[hid]
                d = _popcount(x)
                if d > max_distance:
                    continue
                first = True
                for jj in range(j):
                    if radius[jj] >= 0 and _popcount(x & full[jj]) <= radius[jj]:
                        first = False
                        break
                if first:
                    found[n_found] = (d << _HID_BITS) | hid
                    n_found += 1
            t += 1
        if n_found == 0:
            continue
        _shell_sort(found, n_found)
        need = 0
        for f in range(n_found):
            hid = found[f] & _HID_MASK
            need += item_start[hid + 1] - item_start[hid]
        if cap >= 0:
            need = min(need, cap)
        if n_out + need > len(out_q):
            return -2, n_out + need
        end = n_out + need
        for f in range(n_found):
            d = found[f] >> _HID_BITS
            hid = found[f] & _HID_MASK
            for item in range(item_start[hid], min(item_start[hid + 1], item_start[hid] + end - n_out)):
                out_q[n_out] = i
                out_p[n_out] = payload[item]
                out_d[n_out] = d
                n_out += 1
    if touched < 0:  # never (ids are >= 0): keeps the touching loads
        return -2, n_out
    return n_out, 0


@njit(cache=True, nogil=True)
def count_distinct_other(rows, payloads, payload_code, own_code, n_rows):  # type: ignore[no-untyped-def]
    """Per row, distinct ``payloads`` whose ``payload_code`` differs from the row's ``own_code``
    (int32 of ``n_rows``). Each row's pairs must be contiguous (e.g. sorted by row)."""
    counts = np.zeros(n_rows, np.int32)
    last_row = np.full(len(payload_code), -1, np.int64)  # the row that last counted each payload
    for t in range(len(rows)):
        r = rows[t]
        p = payloads[t]
        if payload_code[p] == own_code[r] or last_row[p] == r:
            continue
        last_row[p] = r
        counts[r] += 1
    return counts
