"""Multi-index hashing returns exactly the brute-force matches, deterministically, after pickling too."""

from __future__ import annotations

import pickle

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from counterwatch.detect.index.hamming import (
    HammingIndex,
    count_distinct_per_query,
    degenerate_mask,
    flatten_hash_lists,
    parse_hex64,
)

u64 = st.integers(0, 2**64 - 1)


def brute_force(index_hashes, payload, queries, r):
    d = np.bitwise_count(queries[:, None] ^ index_hashes[None, :])
    qi, ii = np.nonzero(d <= r)
    return sorted(zip(qi.tolist(), payload[ii].tolist(), d[qi, ii].tolist(), strict=True))


def near(rng, hashes, n, max_bits):
    out = hashes[rng.integers(0, len(hashes), n)].copy()
    for _ in range(max_bits):
        out ^= np.left_shift(np.uint64(1), rng.integers(0, 64, n).astype(np.uint64)) * rng.integers(0, 2, n).astype(
            np.uint64
        )
    return out


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 300),
    r=st.integers(0, 10),
    substrings=st.sampled_from([None, 3, 4, 5, 7]),
    extra=st.lists(u64, max_size=5),
)
def test_query_equals_brute_force(seed, n, r, substrings, extra):
    rng = np.random.default_rng(seed)
    hashes = np.r_[rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True), np.array(extra, np.uint64)]
    hashes = np.r_[hashes, hashes[: len(hashes) // 4]]  # shared hashes
    payload = rng.permutation(len(hashes)).astype(np.int64)
    queries = np.r_[
        near(rng, hashes, 200, r + 2) if len(hashes) else np.zeros(0, np.uint64),
        rng.integers(0, 2**63, 50, dtype=np.uint64),
    ]
    index = HammingIndex.build(hashes, payload, max_distance=10, substrings=substrings)
    m = index.query(queries, r)
    got = list(zip(m.query_pos.tolist(), m.payload.tolist(), m.distance.tolist(), strict=True))
    assert sorted(got) == brute_force(hashes, payload, queries, r)
    assert len(set(got)) == len(got)
    # The single-listing twin: the same matches in the same order, capped the same way.
    for cap in (None, 3):
        capped = index.query(queries[:40], r, max_matches_per_query=cap)
        want = list(zip(capped.query_pos.tolist(), capped.payload.tolist(), capped.distance.tolist(), strict=True))
        assert index.query_one([int(q) for q in queries[:40]], r, max_matches_per_query=cap) == want


def test_sorted_and_capped_to_nearest():
    base = np.uint64(0x0123456789ABCDEF)
    hashes = np.array([base] * 50 + [base ^ np.uint64(1)] * 3 + [base ^ np.uint64(0b111)], np.uint64)
    index = HammingIndex.build(hashes, np.arange(len(hashes))[::-1].copy())
    m = index.query(np.array([base ^ np.uint64(1)]), 6, max_matches_per_query=5)
    assert m.distance.tolist() == [0, 0, 0, 1, 1]
    assert m.payload.tolist() == sorted(m.payload[:3].tolist()) + m.payload[3:].tolist()
    assert len(index.query(np.array([base]), 6).payload) == 54


def test_deterministic_and_picklable():
    rng = np.random.default_rng(7)
    hashes = rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64, endpoint=True)
    index = HammingIndex.build(hashes, np.arange(5000))
    queries = near(rng, hashes, 2000, 5)
    a = index.query(queries)
    b = pickle.loads(pickle.dumps(index)).query(queries)
    c = HammingIndex.build(hashes[::-1].copy(), np.arange(5000)[::-1].copy()).query(queries)
    for x, y, z in zip(a, b, c, strict=True):
        assert np.array_equal(x, y) and np.array_equal(x, z)


def test_rejects_larger_distance_than_built():
    index = HammingIndex.build(np.zeros(3, np.uint64), np.arange(3), max_distance=4)
    try:
        index.query(np.zeros(1, np.uint64), 5)
    except ValueError as e:
        assert "max_distance=5" in str(e)
    else:
        raise AssertionError("expected ValueError")


def test_count_distinct_per_query():
    qp = np.array([0, 0, 0, 2, 2, 3])
    groups = np.array([7, 7, 9, 1, 1, 100])
    assert count_distinct_per_query(qp, groups, 5).tolist() == [2, 0, 1, 1, 0]


def test_degenerate_and_hex_parsing():
    hexes = ["0000000000000000", "ffffffffffffffff", "0123456789abcdef", "xyz", None, "0123456789ABCDEF0"]
    h, ok = parse_hex64(hexes)
    assert ok.tolist() == [True, True, True, False, False, False]
    assert h[2] == 0x0123456789ABCDEF
    assert degenerate_mask(h[:3]).tolist() == [True, True, False]
    col = pa.array([["0000000000000001", "00000000000000ff"], [], None, ["0123456789abcdef"]], pa.list_(pa.string()))
    row, hashes, valid = flatten_hash_lists(pl.Series(col))
    assert row.tolist() == [0, 0, 3] and hashes.tolist() == [1, 255, 0x0123456789ABCDEF] and valid.all()


# --- The compiled batch search, the hex parser and the photo signal against plain references ---


def reference(index_hashes, payload, queries, r, cap):
    """Brute force in ``HammingIndex.query`` order (query, distance, hash, payload), ``cap`` nearest per query."""
    out = []
    for pos, q in enumerate(queries.tolist()):
        near_ = sorted(
            ((int(q ^ h).bit_count(), h, p) for h, p in zip(index_hashes.tolist(), payload.tolist(), strict=True)
             if int(q ^ h).bit_count() <= r)
        )  # fmt: skip
        out += [(pos, p, d) for d, _, p in (near_ if cap is None else near_[:cap])]
    return out


def as_list(m):
    return list(zip(m.query_pos.tolist(), m.payload.tolist(), m.distance.tolist(), strict=True))


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 120),
    r=st.integers(0, 8),
    substrings=st.sampled_from([None, 3, 4, 6]),
    cap=st.sampled_from([None, 0, 1, 2, 5, 200]),
    stored=st.booleans(),
    clustered=st.booleans(),
)
def test_compiled_query_equals_brute_force_and_query_one(seed, n, r, substrings, cap, stored, clustered):
    """Near neighbours, hashes shared by several payloads, small caps; tables stored expanded or probed."""
    import counterwatch.detect.index.hamming as hamming

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**64 - 1, max(n // 8, 1) if clustered else n, dtype=np.uint64, endpoint=True)
    hashes = near(rng, base, n, 4) if clustered and n else base[:n]  # clustered: many hashes within a few bits
    hashes = np.r_[hashes, hashes[: len(hashes) // 3], hashes[:2], hashes[:1]]  # shared by 2 to 4 payloads
    payload = rng.permutation(len(hashes)).astype(np.int64) * 3
    queries = np.r_[
        near(rng, hashes, 150, r + 1) if len(hashes) else np.zeros(0, np.uint64),
        hashes[:20],
        rng.integers(0, 2**64 - 1, 20, dtype=np.uint64, endpoint=True),
    ]
    with pytest.MonkeyPatch.context() as mp:
        if not stored:  # every substring probed bit pattern by bit pattern instead of stored expanded
            mp.setattr(hamming, "_MAX_STORED_ENTRIES", 0)
        index = HammingIndex.build(hashes, payload, max_distance=8, substrings=substrings)
    assert stored or len(index.hashes) == 0 or all(s == -1 for s in index.stored_radius)
    m = index.query(queries, r, max_matches_per_query=cap)
    assert m.query_pos.dtype == np.int64 and m.payload.dtype == np.int64 and m.distance.dtype == np.uint8
    got = as_list(m)
    assert got == reference(hashes, payload, queries, r, cap)
    assert got == index.query_one([int(q) for q in queries], r, max_matches_per_query=cap)


def test_compiled_query_grows_its_buffers():
    """Buckets and outputs far beyond the first allocation: one hash shared by 3,000 payloads,
    1,000 hashes one substring apart, queried by 500 hashes (several blocks)."""
    rng = np.random.default_rng(3)
    shared = np.full(3000, 0x0123456789ABCDEF, np.uint64)
    low = np.uint64(0x0123456789ABCDEF) & ~np.uint64((1 << 22) - 1)
    family = low | rng.integers(0, 1 << 22, 1000).astype(np.uint64)  # same high 42 bits
    hashes = np.r_[shared, family]
    payload = np.arange(len(hashes), dtype=np.int64)
    index = HammingIndex.build(hashes, payload)
    queries = np.r_[np.full(300, 0x0123456789ABCDEF, np.uint64), near(rng, family, 200, 3)]
    for cap in (None, 7, 2500):
        m = index.query(queries, 6, max_matches_per_query=cap)
        assert as_list(m) == reference(hashes, payload, queries, 6, cap)
    assert len(index.query(queries[:1], 6).payload) >= 3000


def test_query_takes_any_integer_array():
    index = HammingIndex.build(np.array([5, 7, 1 << 40], np.uint64), np.arange(3))
    readonly = np.array([5, 1 << 40], np.uint64)
    readonly.flags.writeable = False
    for q in (readonly, np.array([5, 1 << 40], np.int64), [5, 1 << 40], np.array([[5], [1 << 40]], np.uint64)):
        assert as_list(index.query(q, 1)) == [(0, 0, 0), (0, 1, 1), (1, 2, 0)]
    assert as_list(index.query(np.zeros(0, np.uint64))) == []
    assert as_list(HammingIndex.build(np.zeros(0, np.uint64), np.zeros(0, np.int64)).query(readonly)) == []


HEXISH = st.text(alphabet="0123456789abcdefABCDEF+-xX _g\x00é１", min_size=0, max_size=18)


@settings(max_examples=300, deadline=None)
@given(st.lists(HEXISH | st.integers(0, 2**64 - 1).map(lambda h: f"{h:016x}") | st.none(), max_size=30))
def test_hex_parsing_equals_polars(values):
    """The compiled parser accepts exactly what Polars' ``str.to_integer(base=16)`` does at 16 bytes ('+' too)."""
    s = pl.Series(values, dtype=pl.String)
    parsed = s.str.to_integer(base=16, dtype=pl.UInt64, strict=False)
    want_ok = ((s.str.len_bytes() == 16) & parsed.is_not_null()).fill_null(False).to_list()
    want = [v if ok else 0 for v, ok in zip(parsed.to_list(), want_ok, strict=True)]
    h, ok = parse_hex64(s)
    assert ok.tolist() == want_ok and h.tolist() == want
    # The list path: the same values in lists, with null lists and a sliced, chunked array.
    lists = [None, *(values[i : i + 3] for i in range(0, len(values), 3)), None, []]
    rows = [i for i, x in enumerate(lists) if x for _ in x]
    typ = pa.list_(pa.string())
    chunked = pa.chunked_array([pa.array(lists[:2], typ), pa.array(lists[2:], typ)])
    for col in (
        pa.array(lists, typ),
        chunked,
        pl.Series(chunked),
        pa.array(lists, typ).cast(pa.large_list(pa.string_view())),
        pa.array([["x", None], *lists], typ).slice(1),
        pa.array([[b"x"], *(x and [v and v.encode() for v in x] for x in lists)], pa.list_(pa.binary())).slice(1),
    ):
        for compiled in (True, False):
            row, hashes, valid = flatten_hash_lists(col, compiled=compiled)
            assert row.tolist() == rows and valid.tolist() == want_ok and hashes.tolist() == want


def test_flatten_rows_with_null_and_sliced_lists():
    col = pa.array([["0000000000000001"], None, ["00000000000000ff", None, "xyz"], [], ["+00000000000000a"]],
                   pa.list_(pa.string()))  # fmt: skip
    for arr in (col, pl.Series(col), col.cast(pa.large_list(pa.large_string())), pa.chunked_array([col[:2], col[2:]])):
        row, hashes, valid = flatten_hash_lists(arr)
        assert row.tolist() == [0, 2, 2, 2, 4]
        assert hashes.tolist() == [1, 255, 0, 0, 10] and valid.tolist() == [True, True, False, False, True]
    row, hashes, valid = flatten_hash_lists(col.slice(2))
    assert row.tolist() == [0, 0, 0, 2] and hashes.tolist() == [255, 0, 0, 10]
    row, hashes, valid = flatten_hash_lists(pa.array([], pa.list_(pa.string())))
    assert len(row) == len(hashes) == len(valid) == 0


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_confirmed=st.integers(1, 40), n_listings=st.integers(1, 60))
def test_photo_signal_batch_equals_one_listing_twin(seed, n_confirmed, n_listings):
    """``PhotoReuse.compute`` (compiled search, ids compared as codes) equals ``one`` (plain Python), with
    confirmed listings in the batch (their own photos match), repeated and missing ids, stock photos
    past the 200-match cap, and malformed hashes."""
    from types import SimpleNamespace

    from counterwatch.detect.signals.photo import PhotoReuse

    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 2**64 - 1, 12, dtype=np.uint64, endpoint=True)
    stock = int(pool[0])

    def photos(k):
        hs = near(rng, pool, k, 3).tolist()
        return [f"{h:016x}" for h in hs]

    ids = [f"C{rng.integers(0, n_confirmed)}" if rng.random() < 0.9 else None for _ in range(n_confirmed)]
    confirmed = [photos(int(rng.integers(0, 4))) + ([f"{stock:016x}"] if rng.random() < 0.3 else []) for _ in ids]
    confirmed += [[f"{stock:016x}"]] * 230  # a stock photo shared past the cap
    ids += [f"S{i}" for i in range(230)]
    row, hashes, valid = flatten_hash_lists(pa.array(confirmed, pa.list_(pa.string())))
    keep = valid & ~degenerate_mask(hashes)
    ctx = SimpleNamespace(confirmed_ids=ids, photo_index=HammingIndex.build(hashes[keep], row[keep]),
                          confirmed_series=lambda: pl.Series([*ids, None], dtype=pl.String))  # as DetectContext's
    listing_ids = [ids[int(rng.integers(0, len(ids)))] if rng.random() < 0.5 else f"L{i}" for i in range(n_listings)]
    listing_ids = [i if rng.random() < 0.95 else None for i in listing_ids]
    lists = [photos(int(rng.integers(0, 4))) + rng.choice(["xyz", "+123456789abcdef", f"{stock:016x}"], 1).tolist()
             if rng.random() < 0.8 else None for _ in listing_ids]  # fmt: skip
    df = pl.DataFrame({"listing_id": listing_ids, "image_hashes": lists},
                      schema={"listing_id": pl.String, "image_hashes": pl.List(pl.String)})  # fmt: skip
    got = PhotoReuse().compute(df, ctx)["photo_confirmed"].to_list()
    want = []
    for listing in df.iter_rows(named=True):
        PhotoReuse().one(listing, ctx, None)
        want.append(listing["photo_confirmed"])
    assert got == want
    assert PhotoReuse().compute(df.head(0), ctx)["photo_confirmed"].to_list() == []


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 300), st.sampled_from([(8, 0), (8, 2), (12, 1), (16, 2), (21, 1)]))
def test_substring_tables_group_as_the_bucket_table_does(seed, n, shape):
    """The photo index's tables (one sort of packed words) equal ``BucketTable.build`` of the same
    keys and ids: same bucket offsets, same entries in the same order within a bucket."""
    from counterwatch.detect.index import BucketTable
    from counterwatch.detect.index.hamming import _fill_table, _flip_masks

    width, radius = shape
    rng = np.random.default_rng(seed)
    sub = rng.integers(0, 1 << width, n, dtype=np.uint64)
    sub[: n // 3] = sub[0] if n else sub[: n // 3]  # repeated substrings share buckets
    flips = _flip_masks(width, radius)
    want = BucketTable.build((sub[:, None] ^ flips[None, :]).ravel(), width, np.repeat(np.arange(n), len(flips)),
                             keep_keys=False)  # fmt: skip
    starts = np.empty((1 << width) + 1, np.int32)
    entries = np.empty(n * len(flips), np.int32)
    _fill_table(sub, flips, width, starts, entries)
    assert np.array_equal(starts, want.starts) and np.array_equal(entries, want.entries)
