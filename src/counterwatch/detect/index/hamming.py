"""Multi-index hashing: every indexed 64-bit photo hash within a Hamming distance of a query hash.

Method (Norouzi, Punjani and Fleet, "Fast search in Hamming space with multi-index hashing",
CVPR 2012). The 64 bits are cut into ``m`` disjoint substrings. If two hashes differ in at most
``r`` bits, then by the pigeonhole principle at least one substring differs in at most
``floor(r / m)`` bits; more tightly, with ``q, s = divmod(r, m)``, searching ``s + 1`` substrings
within radius ``q`` and the other ``m - s - 1`` within ``q - 1`` (a radius of -1 means "not at
all") cannot miss a match, since missing it in every substring would take ``r + 1`` differing
bits. Searching a substring within radius ``rho`` means looking up its value XOR every bit
pattern of weight ``<= rho``; each lookup is an exact match in a bucket table addressed by the
substring value (no binary search). Candidates are verified with the full XOR + popcount, and
a candidate reached through several substrings is kept only from the first that must reach it,
so there are no duplicates and no sort to remove them. The search is one compiled loop over
the query hashes (``_hamming_kernels.query``); :meth:`HammingIndex.query_one` is its plain
Python twin, the reference the tests hold the kernel to (one listing's photos go through the kernel
too: 20–30 µs against 40–250 µs in Python).

Guarantee: **exact**. ``query`` returns precisely the pairs within ``max_distance``, which the
tests check against a brute-force scan. ``max_distance`` is chosen per query call; the index
depends on it only through the largest distance it serves (``build(max_distance=...)``).

Cost per query hash is (bucket probes) + (candidates to verify). When a substring's whole
neighbourhood fits in memory, the index stores every variant of it within its radius (a
substring of 16 bits at radius 1 is stored 17 times), so the query probes it once; otherwise
the query probes every variant. ``substrings`` defaults to the m with the least expected
work: for 50,000 hashes at distance 6, m = 3 (substrings of 22, 21 and 21 bits, radii
1, 1 and 2 stored: 3 probes and ~7 candidates per query hash, about 60 MB of tables).

Degenerate hashes. A blank or single-colour photo hashes to (nearly) all zeros, and a stock
photo may be shared by thousands of listings; such a query matches thousands of items and
says little. Two guards: ``max_matches_per_query`` keeps only that many nearest matches per
query hash (so a count derived from them reads "at least"), and :func:`degenerate_mask` marks
hashes with too few or too many set bits, for the caller to leave out of the index or the
query::

    ok = ~degenerate_mask(q)
    m = index.query(q[ok])
    query_pos = np.flatnonzero(ok)[m.query_pos]  # back to positions in q
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import combinations
from typing import NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa

from counterwatch.detect.index import BucketTable, distinct
from counterwatch.detect.index import _hamming_kernels as kernels

_MAX_SUBSTRING_BITS = 22  # a bucket table of 2**22 int32 offsets is 16 MB
_MAX_STORED_ENTRIES = 1 << 24  # a substring's stored neighbourhood may take up to 64 MB of int32 ids


class Matches(NamedTuple):
    """Flat match arrays, sorted by query position, then distance, then indexed hash, then payload."""

    query_pos: np.ndarray  # int64 position in the queried array
    payload: np.ndarray  # int64 payload of the indexed item
    distance: np.ndarray  # uint8 Hamming distance, 0..64


@dataclass(frozen=True, slots=True)
class HammingIndex:
    """Multi-index hashing over 64-bit hashes, each carrying an int64 payload (several may share a hash)."""

    hashes: np.ndarray  # uint64 distinct indexed hashes, ascending
    item_start: np.ndarray  # int64, len(hashes) + 1: payloads of hashes[i] are payload[item_start[i]:item_start[i+1]]
    payload: np.ndarray  # int64, grouped by hash, ascending within a hash
    max_distance: int  # the largest distance a query may ask for
    shifts: tuple[int, ...]  # low bit of each substring
    widths: tuple[int, ...]  # bits of each substring
    stored_radius: tuple[int, ...]  # neighbourhood stored per substring at build time; -1: probed at query time
    # One bucket table per substring, keyed by the substring value, all in two flat arrays (what the
    # compiled search takes; see ``tables``): substring j's 2**widths[j] + 1 bucket offsets are
    # starts[start_at[j]:start_at[j + 1]], offsets into its hash ids entries[entry_at[j]:entry_at[j + 1]].
    starts: np.ndarray  # int32 (int64 when a table holds 2**31 entries or more)
    start_at: np.ndarray  # int64, len(widths) + 1
    entries: np.ndarray  # int32 (int64 beyond 2**31 distinct hashes) hash ids
    entry_at: np.ndarray  # int64, len(widths) + 1

    @classmethod
    def build(
        cls, hashes: np.ndarray, payload: np.ndarray, *, max_distance: int = 6, substrings: int | None = None
    ) -> HammingIndex:
        """Index uint64 ``hashes`` with their ``payload`` (int64, e.g. a row id), for queries up to ``max_distance``."""
        h = np.asarray(hashes, dtype=np.uint64).ravel()
        p = np.asarray(payload, dtype=np.int64).ravel()
        if len(h) != len(p):
            raise ValueError(f"HammingIndex.build: {len(h)} hashes but {len(p)} payloads; give one payload per hash")
        order = np.lexsort((p, h))
        h, p = h[order], p[order]
        first = np.flatnonzero(np.r_[True, h[1:] != h[:-1]]) if len(h) else np.zeros(0, np.int64)
        distinct = h[first]
        m = default_substrings(len(distinct), max_distance) if substrings is None else substrings
        if not 64 // _MAX_SUBSTRING_BITS + 1 <= m <= 64:
            raise ValueError(f"HammingIndex.build: substrings={m}; use 3 to 64 (wider than 22 bits is not supported)")
        widths = tuple(64 // m + (i < 64 % m) for i in range(m))
        shifts = tuple(int(s) for s in np.cumsum((0, *widths[:-1])))
        radii = _radii(widths, max_distance)
        # Store every variant within `rho` of a substring when it fits: a query then probes once, not len(flips) times.
        stored = tuple(
            rho if rho >= 0 and len(_flip_masks(width, rho)) * len(distinct) <= _MAX_STORED_ENTRIES else -1
            for width, rho in zip(widths, radii, strict=True)
        )
        sizes = [len(distinct) * (len(_flip_masks(w, s)) if s >= 0 else 1) for w, s in zip(widths, stored, strict=True)]
        start_at = np.cumsum([0, *((1 << w) + 1 for w in widths)], dtype=np.int64)
        entry_at = np.cumsum([0, *sizes], dtype=np.int64)
        starts = np.empty(int(start_at[-1]), np.int32 if max(sizes) < 2**31 else np.int64)
        entries = np.empty(int(entry_at[-1]), np.int32 if len(distinct) < 2**31 else np.int64)
        for j, (shift, width, rho) in enumerate(zip(shifts, widths, stored, strict=True)):
            sub = (distinct >> np.uint64(shift)) & np.uint64((1 << width) - 1)
            _fill_table(sub, _flip_masks(width, max(rho, 0)), width, starts[start_at[j] : start_at[j + 1]],
                        entries[entry_at[j] : entry_at[j + 1]])  # fmt: skip
        item_start = np.r_[first, len(h)].astype(np.int64)
        return cls(distinct, item_start, p, max_distance, shifts, widths, stored, starts, start_at, entries, entry_at)

    @property
    def tables(self) -> tuple[BucketTable, ...]:
        """One bucket table per substring, keyed by the substring value (views of the flat arrays)."""
        return tuple(
            BucketTable(
                bits=w,
                starts=self.starts[self.start_at[j] : self.start_at[j + 1]],
                entries=self.entries[self.entry_at[j] : self.entry_at[j + 1]],
                keys=None,
            )
            for j, w in enumerate(self.widths)
        )

    def __len__(self) -> int:
        return len(self.payload)

    def radii(self, max_distance: int) -> tuple[int, ...]:
        """Radius within which each substring is searched for ``max_distance`` (-1: not searched)."""
        if not 0 <= max_distance <= self.max_distance:
            raise ValueError(
                f"max_distance={max_distance}, but this index was built for 0 to {self.max_distance}; "
                f"rebuild it with HammingIndex.build(..., max_distance={max_distance})"
            )
        needed = _radii(self.widths, max_distance)
        return tuple(-1 if r < 0 else (s if s >= 0 else r) for r, s in zip(needed, self.stored_radius, strict=True))

    def work_per_hash(self, max_distance: int) -> tuple[int, float]:
        """Bucket probes and expected candidates per query hash at this distance (the query cost)."""
        probes, candidates = 0, 0.0
        for width, rho, stored, table in zip(
            self.widths, self.radii(max_distance), self.stored_radius, self.tables, strict=True
        ):
            if rho >= 0:
                n = 1 if stored >= 0 else len(_flip_masks(width, rho))
                probes += n
                candidates += n * len(table.entries) / 2**width
        return probes, candidates

    def query(self, hashes: np.ndarray, max_distance: int = 6, *, max_matches_per_query: int | None = None) -> Matches:
        """Every (query position, payload, distance) with Hamming distance ``<= max_distance``.

        With ``max_matches_per_query``, a query keeps only its nearest that many matches
        (ties in hash order, then payload order); a count of them is then a lower bound.
        """
        q = np.ascontiguousarray(hashes, dtype=np.uint64).ravel()
        q = q if q.flags.writeable else q.copy()  # one compiled signature: read-only arrays are another type
        radii = self.radii(max_distance)
        if max_matches_per_query is not None and max_matches_per_query < 0:
            raise ValueError(f"max_matches_per_query={max_matches_per_query}; give a count >= 0 or None")
        # The probes of a query hash, in substring order: substring, its bits, flip mask, tables.
        probes = [
            (j, flip)
            for j, (w, r, s) in enumerate(zip(self.widths, radii, self.stored_radius, strict=True))
            if r >= 0
            for flip in ([0] if s >= 0 else _flip_masks(w, r).tolist())
        ]
        sub = np.array([j for j, _ in probes], np.int64)
        mask = np.array([(1 << w) - 1 for w in self.widths], np.uint64)
        shift = np.array(self.shifts, np.uint64)
        qpos, payload, dist, n = kernels.query(
            q,
            np.int64(max_distance),
            np.array(radii, np.int64),
            mask << shift,
            sub,
            shift[sub],
            mask[sub],
            np.array([f for _, f in probes], np.uint64),
            self.start_at[sub],
            self.entry_at[sub],
            self.starts,
            self.entries,
            self.hashes,
            self.item_start,
            self.payload,
            np.int64(-1 if max_matches_per_query is None else max_matches_per_query),
        )
        qpos, payload, dist = qpos[:n].copy(), payload[:n].copy(), dist[:n].copy()
        return Matches(qpos, payload, dist)

    def query_one(
        self, hashes: list[int], max_distance: int = 6, *, max_matches_per_query: int | None = None
    ) -> list[tuple[int, int, int]]:
        """:meth:`query` for a few hashes (one listing's photos) in plain Python: the same matches in the
        same order, as ``(query position, payload, distance)``, without numpy's per-call costs."""
        # Per substring, once for all the hashes: (shift, width, table, radius, flips to probe; None: stored)
        plan = [(shift, width, table, rho, None if stored >= 0 else _flip_masks(width, rho).tolist())
                for shift, width, table, rho, stored in zip(self.shifts, self.widths, self.tables,
                                                            self.radii(max_distance), self.stored_radius, strict=True)
                if rho >= 0]  # fmt: skip
        out: list[tuple[int, int, int]] = []
        for pos, h in enumerate(hashes):
            found: list[tuple[int, int]] = []  # (distance, hash id)
            searched: list[tuple[int, int]] = []
            for shift, width, table, rho, flips in plan:
                mask = (1 << width) - 1
                sub = (h >> shift) & mask
                probes = [sub] if flips is None else [sub ^ f for f in flips]
                for key in probes:
                    bucket = key & ((1 << table.bits) - 1)
                    for g in range(int(table.starts[bucket]), int(table.starts[bucket + 1])):
                        hid = int(table.entries[g])
                        x = h ^ int(self.hashes[hid])
                        if x.bit_count() <= max_distance and all((x & m).bit_count() > r for m, r in searched):
                            found.append((x.bit_count(), hid))
                searched.append((mask << shift, rho))
            kept = 0
            for d, hid in sorted(found):
                for item in range(int(self.item_start[hid]), int(self.item_start[hid + 1])):
                    if max_matches_per_query is not None and kept >= max_matches_per_query:
                        break
                    out.append((pos, int(self.payload[item]), d))
                    kept += 1
        return out


@cache
def _radii(widths: tuple[int, ...], max_distance: int) -> tuple[int, ...]:
    """Pigeonhole radii: ``s + 1`` substrings within ``q``, the rest within ``q - 1``, for ``q, s = divmod(r, m)``."""
    if not 0 <= max_distance <= 64:
        raise ValueError(f"max_distance={max_distance}; a distance between 64-bit hashes is 0 to 64")
    q, s = divmod(max_distance, len(widths))
    # Narrow substrings have fewer bit patterns within a radius, so they take the larger one.
    by_width = np.argsort(widths, kind="stable")
    out = np.full(len(widths), q - 1)
    out[by_width[: s + 1]] = q
    return tuple(int(r) for r in out)


def default_substrings(n_distinct: int, max_distance: int) -> int:
    """The number of substrings m in 3..8 with the least expected work per query hash.

    Work is bucket probes plus twice the expected candidates (a candidate costs a verification).
    A substring whose neighbourhood fits in the memory budget is stored expanded (one probe);
    otherwise each of its bit patterns is a probe. For 50,000 hashes at distance 6 this picks
    m = 3 (22/21/21 bits; ~3 probes and ~7 candidates); for 5,000 at distance 6, m = 3 or 4.
    """

    def work(m: int) -> float:
        widths = tuple(64 // m + (i < 64 % m) for i in range(m))
        total = 0.0
        for width, rho in zip(widths, _radii(widths, max_distance), strict=True):
            if rho >= 0:
                variants = len(_flip_masks(width, rho))
                probes = 1 if variants * n_distinct <= _MAX_STORED_ENTRIES else variants
                total += probes + 2 * variants * n_distinct / 2**width
        return total

    return min(range(3, 9), key=work)


def _fill_table(sub: np.ndarray, flips: np.ndarray, width: int, starts: np.ndarray, entries: np.ndarray) -> None:
    """One substring's table, written into ``starts`` (``2**width + 1``) and ``entries``: the keys
    ``sub[i] ^ flips[f]`` (``i`` then ``f``), each with entry ``i``, grouped by key, in that order
    within a key (``BucketTable.build`` of those keys and ids, which a test holds it to).

    One sort of ``key << 32 | position`` words, the entry then being ``position // len(flips)``:
    no gather of ids by the sorted order, 2.5x faster on a stored neighbourhood of 10M keys."""
    n = len(sub) * len(flips)
    if n >= 2**32:
        raise ValueError(f"a substring table of {n:,} entries is too large")
    packed = (sub[:, None] ^ flips[None, :]).ravel()  # keys < 2**width <= 2**22
    packed <<= np.uint64(32)
    packed |= np.arange(n, dtype=np.uint64)
    packed.sort()
    starts[0] = 0
    np.cumsum(np.bincount((packed >> np.uint64(32)).astype(np.int64), minlength=1 << width), out=starts[1:])
    entries[:] = (packed & np.uint64(0xFFFFFFFF)) // np.uint64(len(flips))


@cache
def _flip_masks(width: int, radius: int) -> np.ndarray:
    """Every ``width``-bit pattern with at most ``radius`` bits set (radius -1: none)."""
    masks = [sum(1 << b for b in bits) for k in range(radius + 1) for bits in combinations(range(width), k)]
    out = np.array(masks, dtype=np.uint64)
    out.flags.writeable = False
    return out


def count_distinct_per_query(query_pos: np.ndarray, group_ids: np.ndarray, n_queries: int) -> np.ndarray:
    """How many distinct ``group_ids`` each query matched (e.g. stores sharing a photo), int64 of ``n_queries``.

    ``query_pos`` may be remapped first, e.g. to listing rows (``parent[m.query_pos]``), and
    ``group_ids`` taken per match (``store_of_row[m.payload]``).
    """
    qp = np.asarray(query_pos, dtype=np.int64)
    _, g = np.unique(np.asarray(group_ids), return_inverse=True)
    n_groups = int(g.max()) + 1 if len(g) else 1
    if n_queries * n_groups < 2**62:
        pairs = distinct(qp * n_groups + g.ravel())
        return np.bincount(pairs // n_groups, minlength=n_queries).astype(np.int64)
    order = np.lexsort((g, qp))
    qp, g = qp[order], g[order]
    new = np.r_[True, (qp[1:] != qp[:-1]) | (g[1:] != g[:-1])] if len(qp) else np.zeros(0, bool)
    return np.bincount(qp[new], minlength=n_queries).astype(np.int64)


def degenerate_mask(hashes: np.ndarray, min_bits: int = 8) -> np.ndarray:
    """True where a hash has fewer than ``min_bits`` bits set or unset (blank images: ``0000000000000000``).

    A perceptual hash thresholds coefficients at their median, so a real photo sets about
    half of the 64 bits; a hash near all-zero or all-one comes from a flat image.
    """
    ones = np.bitwise_count(np.asarray(hashes, dtype=np.uint64))
    return (ones < min_bits) | (ones > 64 - min_bits)


def parse_hex64(
    values: pl.Series | pa.Array | pa.ChunkedArray | np.ndarray | list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """16-digit hex strings to ``(uint64 hashes, valid)``; nulls and malformed strings give 0 and False.

    Valid: exactly 16 bytes, an optional leading ``+``, then only hex digits (what Polars'
    ``str.to_integer(base=16)`` accepts, at that length; the tests hold the two together).
    """
    return kernels.parse_hex64_strings(*_string_buffers(_string_array(values)))


def parse_hex64_polars(values: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """:func:`parse_hex64` by the rule it is defined by, Polars' ``str.to_integer(base=16)`` at 16
    bytes: slower on many strings, but it calls no compiled kernel, so a process that parses a few
    (the scan's main process, building the photo index) does not pay numba's start-up (about a second)."""
    h = pl.col("h")
    parsed = values.cast(pl.String).to_frame("h").select(
        pl.when(h.str.len_bytes() == 16).then(h.str.to_integer(base=16, dtype=pl.UInt64, strict=False))
    )["h"]
    return parsed.fill_null(0).to_numpy().astype(np.uint64, copy=False), parsed.is_not_null().to_numpy()


def flatten_hash_lists(
    column: pa.Array | pa.ChunkedArray | pl.Series, *, compiled: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A list-of-hex column (e.g. ``image_hashes``) as ``(row, hashes, valid)``, one element per hash
    of a non-null list, parsed as :func:`parse_hex64` (``compiled=False``: :func:`parse_hex64_polars`)."""
    arr = column.to_arrow() if isinstance(column, pl.Series) else column
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)):
        arr = arr.cast(pa.large_list(arr.type.value_type))  # list views, fixed-size lists
    values = arr.values  # all of the child array: the list offsets point into it
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = _string_array(values)
    offsets = _numpy(arr.offsets).astype(np.int64)
    str_off, str_valid, data = _string_buffers(values)
    first, last = int(offsets[0]), int(offsets[-1])
    if compiled:
        hashes, valid = kernels.parse_hex64_strings(str_off[first : last + 1], str_valid[first:last], data)
    else:
        hashes, valid = parse_hex64_polars(pl.Series(values.slice(first, last - first)))
    lengths = np.diff(offsets)
    row = np.repeat(np.arange(len(arr), dtype=np.int64), lengths)
    if arr.null_count:  # a null list's range is normally empty, but need not be
        keep = np.repeat(_numpy(arr.is_valid()), lengths)
        row, hashes, valid = row[keep], hashes[keep], valid[keep]
    return row, hashes, valid


def _numpy(arr: pa.Array) -> np.ndarray:
    """An Arrow array without nulls as numpy, through Polars: pyarrow's ``to_numpy`` imports pandas,
    0.4 s of a scan worker's start."""
    return pl.from_arrow(arr).to_numpy()  # type: ignore[union-attr]


def _string_array(values: pl.Series | pa.Array | pa.ChunkedArray | np.ndarray | list[str]) -> pa.Array:
    """Strings as one Arrow array in the offsets + data layout; binary is decoded (invalid UTF-8 raises)."""
    s = values if isinstance(values, pl.Series) else pl.Series(values)
    if s.dtype in (pl.Binary, pl.Null):
        s = s.cast(pl.String)
    if s.dtype != pl.String:
        raise TypeError(f"expected strings of 16 hex digits, got {s.dtype}")
    arr = s.to_arrow()
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return arr if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) else arr.cast(pa.large_string())


def _string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(offsets, validity as bool or empty when none is null, data bytes)`` of a string array."""
    _, off_buf, data_buf = arr.buffers()
    off_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    if off_buf is None:  # an empty array may come without buffers
        return np.zeros(1, off_type), np.zeros(0, np.bool_), np.zeros(0, np.uint8)
    offsets = np.frombuffer(off_buf, off_type)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    valid = _numpy(arr.is_valid()) if arr.null_count else np.zeros(0, np.bool_)
    return offsets, valid, data
