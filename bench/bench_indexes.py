"""Benchmark: the detection indexes (multi-index hashing, MinHash LSH) against brute-force peers.

Ours: ``HammingIndex`` over 50,000 photo hashes, queried with the hashes of 1,000,000
listings (1-5 each, 3 on average; 10 % are near copies of an indexed hash, 0-5 bits
flipped) at distance 6; and ``TextIndex`` over 50,000 titles, queried with 1,000,000 titles
(the synthetic marketplace's, from ``bench/out/ours/listings.parquet`` or generated), once as
they are and once made all distinct (a number appended), which defeats the de-duplication of
repeated titles and is the worst case.

Peers, on a sample and extrapolated per query: for photos, a numpy scan (XOR + popcount of
each query hash against all 50,000, in chunks); for titles, exact Jaccard of 3-gram Python
sets of each query against all 50,000 indexed titles.

    python bench/bench_indexes.py
    python bench/bench_indexes.py --listings 200000 --index 50000
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import numpy as np
import polars as pl

from counterwatch.detect.index.hamming import HammingIndex
from counterwatch.detect.index.minhash import TextIndex, normalise, signatures


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def bench_hamming(listings: int, n_index: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    indexed = rng.integers(0, 2**64 - 1, n_index, dtype=np.uint64, endpoint=True)
    counts = rng.integers(1, 6, listings)
    q = rng.integers(0, 2**64 - 1, int(counts.sum()), dtype=np.uint64, endpoint=True)
    near = rng.random(len(q)) < 0.1
    q[near] = indexed[rng.integers(0, n_index, near.sum())]
    for _ in range(5):
        q[near] ^= np.left_shift(np.uint64(1), rng.integers(0, 64, near.sum()).astype(np.uint64)) * rng.integers(
            0, 2, near.sum()
        ).astype(np.uint64)
    index, build_s = timed(HammingIndex.build, indexed, np.arange(n_index))
    matches, query_s = timed(index.query, q, 6)
    sample = q[:20_000]
    start = time.perf_counter()
    found = 0
    for i in range(0, len(sample), 500):
        found += int((np.bitwise_count(sample[i : i + 500, None] ^ indexed[None, :]) <= 6).sum())
    peer_per_hash = (time.perf_counter() - start) / len(sample)
    assert found == int((matches.query_pos < len(sample)).sum()), "MIH disagrees with the scan"
    print(
        f"hamming: index {n_index:,} hashes, m={len(index.widths)} {index.widths}, stored radii {index.stored_radius}, "
        f"pickle {len(pickle.dumps(index)) / 1e6:.1f} MB, build {build_s:.2f} s"
    )
    print(
        f"  query {listings:,} listings = {len(q):,} hashes at d<=6: {query_s:.2f} s "
        f"({listings / query_s:,.0f} listings/s), {len(matches.payload):,} matches"
    )
    print(
        f"  peer numpy scan: {peer_per_hash * len(q):.1f} s extrapolated; ratio {peer_per_hash * len(q) / query_s:.0f}x"
    )


def load_titles(listings: int, seed: int) -> pl.Series:
    path = Path(__file__).parent / "out" / "ours" / "listings.parquet"
    if not path.exists():
        from counterwatch.synth import generate

        generate(path.parent, listings=listings, seed=seed)
    titles = pl.read_parquet(path, columns=["title"])["title"]
    reps = -(-listings // len(titles))
    return pl.concat([titles] * reps)[:listings]


def bench_minhash(listings: int, n_index: int, seed: int) -> None:
    titles = load_titles(listings, seed)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(titles), n_index, replace=False))
    indexed = titles.gather(rows)
    distinct = titles + pl.Series(np.char.add(" ", np.arange(len(titles)).astype(str)))
    index, build_s = timed(TextIndex.build, indexed, rows)
    print(
        f"minhash: index {n_index:,} titles ({len(index):,} distinct signatures), pickle "
        f"{len(pickle.dumps(index)) / 1e6:.1f} MB, build {build_s:.2f} s"
    )
    for name, queries in (("as generated", titles), ("all distinct", distinct)):
        (best, jac), query_s = timed(index.query, queries)
        print(
            f"  query {len(queries):,} titles ({queries.n_unique():,} distinct) {name}: {query_s:.2f} s "
            f"({len(queries) / query_s:,.0f} titles/s); matched {np.mean(best >= 0):.3f}, J>=0.7 {np.mean(jac >= 0.7):.3f}"
        )
    sample = distinct[:100_000]
    _, sig_s = timed(signatures, sample)
    print(f"  signatures alone, 100,000 distinct titles: {sig_s:.2f} s ({len(sample) / sig_s:,.0f} titles/s)")

    def grams(t: str) -> frozenset[str]:
        return frozenset(t[i : i + 3] for i in range(max(len(t) - 2, 1)))

    index_sets = [grams(t) for t in normalise(indexed).to_list()]
    peer_sample = normalise(distinct[:200]).to_list()
    start = time.perf_counter()
    for t in peer_sample:
        g = grams(t)
        max(len(g & s) / len(g | s) for s in index_sets)
    peer_per_title = (time.perf_counter() - start) / len(peer_sample)
    print(
        f"  peer exact Jaccard (Python sets, all {n_index:,}): {peer_per_title * 1e3:.1f} ms/title, "
        f"{peer_per_title * listings / 3600:.1f} h extrapolated to {listings:,}; ratio vs all-distinct query "
        f"{peer_per_title * listings / query_s:,.0f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=1_000_000)
    parser.add_argument("--index", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=20261101)
    args = parser.parse_args()
    bench_hamming(args.listings, args.index, args.seed)
    bench_minhash(args.listings, args.index, args.seed)


if __name__ == "__main__":
    main()
