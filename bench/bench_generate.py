"""Benchmark: how fast ``counterwatch.synth.generate`` writes a marketplace, against a named peer.

Ours: ``generate(out, listings=N)`` writes every contract table (stores, identifiers,
listings, orders, notices, labels, fx_rates, brands.json) plus truth/, as Parquet by
default. It runs in a child process so the peak resident memory (``ru_maxrss`` of that
child) is the generator's alone.

The peer, "per-row stdlib": the obvious way to write such a generator. Python's
``random`` module, one ``dict`` per listing (id, store, a title joined from the same
phrase lists, description, category, brand, price, currency, stock, ISO timestamp,
1-5 random 64-bit pHashes as hex), appended to a list, then written with the ``csv``
module (no pandas). It produces the *listings table only*, for a sample of rows
(default 50,000), also in a child process; its time is extrapolated per listing. So
the ratio flatters the peer: it does a fraction of our work per listing (no stores,
identifiers, orders, obfuscation, photo reuse, truth or Parquet encoding).

    python bench/bench_generate.py                # 1,000,000 listings
    python bench/bench_generate.py --listings 200000

Prints seconds, listings/s, peak MB, the peer's seconds per listing and
``ratio = peer_seconds_per_listing / ours``; exits 1 if the target (1M listings in
under 120 s, peak under 4 GB) is missed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

TARGET_SECONDS_PER_MILLION = 120.0
TARGET_PEAK_MB = 4096.0


def _child_ours(out: Path, listings: int, seed: int, fmt: str) -> dict[str, float]:
    from counterwatch.synth import generate

    start = time.perf_counter()
    result = generate(out, listings=listings, seed=seed, fmt=fmt)
    seconds = time.perf_counter() - start
    rows = sum(v for k, v in result.counts.items() if not k.startswith("truth/"))
    return {"seconds": seconds, "rows": rows, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _child_peer(out: Path, listings: int, seed: int) -> dict[str, float]:
    import csv
    import random
    from datetime import datetime, timedelta

    from counterwatch.synth import phrases as ph
    from counterwatch.synth.catalogue import CATALOGUE

    rnd = random.Random(seed)
    ref = datetime(2026, 10, 1, tzinfo=UTC)
    start = time.perf_counter()
    rows = []
    for i in range(1, listings + 1):
        brand = rnd.choice(CATALOGUE)
        product = rnd.choice(brand.products)
        counterfeit = rnd.random() < 0.12
        parts = [rnd.choice(ph.VOCAB_EN + ph.VOCAB_ZH) if counterfeit else None, rnd.choice([brand.name, *brand.aliases]),
                 product.name, rnd.choice(product.keywords) if rnd.random() < 0.5 else None,
                 rnd.choice(ph.FILLER) if rnd.random() < 0.5 else None]  # fmt: skip
        rows.append({
            "listing_id": f"L{i:07d}",
            "store_id": f"S{rnd.randint(1, max(listings // 25, 1)):06d}",
            "title": " ".join(p for p in parts if p),
            "description": " ".join(rnd.sample(ph.DESCRIPTION, 2)),
            "category": brand.category,
            "brand": brand.name if rnd.random() < 0.6 else "",
            "price": round(product.price * (rnd.uniform(0.05, 0.4) if counterfeit else rnd.uniform(0.8, 1.05)), 2),
            "currency": brand.currency,
            "stock": rnd.randint(0, 500),
            "created_at": (ref - timedelta(seconds=rnd.randint(5 * 86400, 380 * 86400))).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "image_hashes": "|".join(f"{rnd.getrandbits(64):016x}" for _ in range(rnd.randint(1, 5))),
        })  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    with (out / "listings.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": listings, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _in_child(role: str, out: Path, listings: int, seed: int, fmt: str) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", role, "--out", str(out), "--listings", str(listings),
           "--seed", str(seed), "--fmt", fmt]  # fmt: skip
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=1_000_000)
    parser.add_argument("--peer-sample", type=int, default=50_000, help="listings the peer generates")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fmt", default="parquet", choices=["parquet", "csv", "jsonl"])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--child", choices=["ours", "peer"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "ours":
        print(json.dumps(_child_ours(args.out, args.listings, args.seed, args.fmt)))
        return 0
    if args.child == "peer":
        print(json.dumps(_child_peer(args.out, args.listings, args.seed)))
        return 0

    ours = _in_child("ours", args.out / "ours", args.listings, args.seed, args.fmt)
    peer = _in_child("peer", args.out / "peer", args.peer_sample, args.seed, args.fmt)
    ours_per = ours["seconds"] / args.listings
    peer_per = peer["seconds"] / args.peer_sample
    budget = TARGET_SECONDS_PER_MILLION * args.listings / 1_000_000
    ok = ours["seconds"] <= budget and ours["peak_mb"] <= TARGET_PEAK_MB
    print(f"ours: generate({args.listings:,} listings, {args.fmt}) wrote {int(ours['rows']):,} rows in all tables")
    print(f"  seconds      {ours['seconds']:.1f}")
    print(f"  listings/s   {args.listings / ours['seconds']:,.0f}")
    print(f"  peak MB      {ours['peak_mb']:,.0f}")
    print(f"peer: per-row stdlib (random + dict per row + csv), listings table only, {args.peer_sample:,} rows")
    print(
        f"  seconds      {peer['seconds']:.2f}  ({peer_per * 1e6:.1f} µs per listing; {peer_per * args.listings:.1f} s extrapolated)"
    )
    print(f"  peak MB      {peer['peak_mb']:,.0f} (for the sample)")
    print(f"ratio = peer_seconds_per_listing / ours = {peer_per / ours_per:.2f}")
    print(f"target: {budget:.0f} s and {TARGET_PEAK_MB:.0f} MB -> {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
