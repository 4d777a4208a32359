"""Multi-index hashing returns exactly the brute-force matches, deterministically, after pickling too."""

from __future__ import annotations

import pickle

import numpy as np
import polars as pl
import pyarrow as pa
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
