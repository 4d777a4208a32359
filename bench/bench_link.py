"""Benchmark: ``counterwatch link`` end to end, against a plain peer, and the recidivism check at sign-up.

Workspace: generated once with ``counterwatch.synth.generate`` at two listings per store (legitimate
and counterfeit alike), so ``--stores`` stores need about twice as many listings, into
``bench/out/link/ws-<stores>`` (git-ignored), and validated once (``ensure_validated``). The
generator gives each store 9 to 10 identifier rows; the target (issue 4) names 5,000,000 rows for
1,000,000 stores, so by default the benchmark measures a deterministic random subset of
``--identifier-rows`` rows (default five per store; ``0`` keeps them all): a sibling workspace
``ws-<stores>-rows-<rows>`` whose input files are hard links to the generated ones except
``store_identifiers.parquet``, rewritten with the subset (rows kept in their order) and validated
again. Both are reused by later runs.

1. Ours: ``link(ws, settings, progress)`` end to end (reads the validated stores, identifiers and
   listings' photos; normalises, clusters photos, weighs pairs, clusters operators, writes
   ``out/operators.parquet``, ``operator_links.parquet``, ``identifiers.parquet`` and
   ``link-index.parquet``), in a child process. The time between the stage's progress messages is
   printed as its phases. Peak memory: the largest of the child's ``ru_maxrss`` and the resident
   memory of the child and any processes it starts, sampled every 50 ms from ``/proc``.
   ``--with-all-rows`` also links the workspace with every generated identifier row.
2. The peer, ``bench/peer_link.py`` (pandas: strip/lower, drop empty values and hub values beyond
   the blocking cap ours uses, self-join on ``(kind, value)``; networkx ``Graph`` and
   ``connected_components``; ``to_parquet``), in a child process, on the same validated
   identifiers; with ``--peer-sample-stores K`` on the identifier rows of the first ``K`` stores
   only, its time extrapolated per identifier row (which flatters it).
3. The recidivism check in-process: ``RecidivismIndex.for_workspace(ws)`` built once from the index
   step 1 wrote (not timed), then ``--check-calls`` (10,000) calls of ``check(store)``, each timed
   alone: stores of the workspace with their own identifiers as entered, the same with their formats
   changed (phones with spaces, dashes or +86/0086, e-mails in upper case, accounts in groups of
   four), and fresh random stores (new phone, e-mail, account, device, IP; one in five also with
   one identifier value drawn from the workspace, so popular values are looked up too). p50, p99
   and max; the share of workspace stores that came back linked to their own operator is printed
   as a sanity check (not a target).

Every measurement runs ``--repeats`` times (default 2: the 2-core machine is shared); the best is
reported (by time; by p99 for the check), with the largest peak memory over the repeats.

    python bench/bench_link.py                         # 1,000,000 stores, 5,000,000 identifier rows
    python bench/bench_link.py --stores 50000          # quick check (250,000 identifier rows)
    python bench/bench_link.py --identifier-rows 0     # every generated identifier row
    python bench/bench_link.py --profile               # also cProfile one link run (top functions)

Prints seconds, stores/s and peak MB for ours, the peer's seconds (per identifier row when sampled),
``ratio = peer_seconds_per_row / ours_seconds_per_row``, the check's p50/p99, each target
(1,000,000 stores with 5,000,000 identifier rows in under 60 s, i.e. >= 16,667 stores/s; >= 10x the
peer; check p99 < 5 ms) with PASS/FAIL, peak memory as INFO, and exits 1 on any FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from _harness import run_child  # bench/ is the script's directory

if TYPE_CHECKING:
    import numpy as np

TARGET_STORES = 1_000_000
TARGET_SECONDS = 60.0
TARGET_STORES_PER_SECOND = TARGET_STORES / TARGET_SECONDS
TARGET_RATIO = 10.0
TARGET_CHECK_P99_MS = 5.0
LISTINGS_PER_STORE = 2.0
READY = ".bench-ready"
IDENTIFIERS = "store_identifiers.parquet"


def workspace_for(out: Path, stores: int) -> Path:
    return out / f"ws-{stores}"


def subset_for(out: Path, stores: int, rows: int) -> Path:
    return out / f"ws-{stores}-rows-{rows}"


# --- children --------------------------------------------------------------------------------


def _child_prepare(ws: Path, stores: int, seed: int) -> dict[str, object]:
    import pyarrow.parquet as pq

    from counterwatch.contract import ensure_validated
    from counterwatch.synth import generate
    from counterwatch.synth.config import SynthConfig
    from counterwatch.workspace import Workspace

    config = SynthConfig(listings_per_store=LISTINGS_PER_STORE, counterfeit_listings_per_store=LISTINGS_PER_STORE)
    start = time.perf_counter()
    made = generate(ws, listings=round(stores * LISTINGS_PER_STORE), seed=seed, config=config)
    generated = time.perf_counter() - start
    ensure_validated(Workspace.at(ws))
    info = {
        "stores": made.counts["stores"],
        "listings": made.counts["listings"],
        "identifier_rows": made.counts["store_identifiers"],
        "valid_identifier_rows": pq.ParquetFile(ws / "out" / "tables" / IDENTIFIERS).metadata.num_rows,
        "generate_seconds": generated,
        "validate_seconds": time.perf_counter() - start - generated,
    }
    (ws / READY).write_text(json.dumps(info) + "\n", encoding="utf-8")
    return info


def _child_subset(source: Path, ws: Path, rows: int, seed: int) -> dict[str, object]:
    """``ws``: ``source``'s inputs (hard links) with a deterministic random ``rows`` of its identifiers."""
    import shutil

    import numpy as np
    import pyarrow.parquet as pq

    from counterwatch.contract import ensure_validated
    from counterwatch.workspace import Workspace

    start = time.perf_counter()
    ws.mkdir(parents=True, exist_ok=True)
    for path in source.rglob("*"):
        rel = path.relative_to(source)
        if rel.parts[0] == "out" or path.name in (READY, IDENTIFIERS) or path.is_dir():
            continue
        target = ws / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)
    table = pq.read_table(source / IDENTIFIERS)
    if rows > table.num_rows:
        raise SystemExit(f"--identifier-rows {rows:,} is more than the {table.num_rows:,} rows generated")
    keep = np.sort(np.random.default_rng(seed).choice(table.num_rows, size=rows, replace=False))
    pq.write_table(table.take(keep), ws / IDENTIFIERS, compression="zstd")
    made = time.perf_counter() - start
    ensure_validated(Workspace.at(ws))
    source_info = json.loads((source / READY).read_text(encoding="utf-8"))
    info = {
        **source_info,
        "identifier_rows": rows,
        "valid_identifier_rows": pq.ParquetFile(ws / "out" / "tables" / IDENTIFIERS).metadata.num_rows,
        "generated_identifier_rows": source_info["identifier_rows"],
        "subset_seconds": made,
        "validate_seconds": time.perf_counter() - start - made,
    }
    (ws / READY).write_text(json.dumps(info) + "\n", encoding="utf-8")
    return info


def _child_ours(ws: Path, profile: Path | None) -> dict[str, object]:
    from counterwatch.config import load_settings
    from counterwatch.contract import ensure_validated
    from counterwatch.link.stage import link
    from counterwatch.workspace import Workspace

    w = Workspace.at(ws)
    settings = load_settings(ws)
    # Untimed: link() validates first when the inputs, the settings or the contract changed since the
    # last validation (an edit to config.py is enough), and that is not linking.
    revalidated = ensure_validated(w, settings) is not None
    marks: list[tuple[float, str]] = []
    start = time.perf_counter()

    def progress(message: str) -> None:
        marks.append((time.perf_counter() - start, message))

    if profile is not None:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        start = time.perf_counter()
        result = profiler.runcall(link, w, settings, progress)
        seconds = time.perf_counter() - start
        profiler.dump_stats(profile.with_suffix(".prof"))
        with profile.open("w", encoding="utf-8") as f:
            stats = pstats.Stats(profiler, stream=f).sort_stats("cumulative")
            stats.print_stats(70)
            stats.sort_stats("tottime").print_stats(40)
    else:
        start = time.perf_counter()
        result = link(w, settings, progress)
        seconds = time.perf_counter() - start
    ends = [t for t, _ in marks[1:]] + [seconds]
    phases = [(message, end - t) for (t, message), end in zip(marks, ends, strict=True)]
    if marks:
        phases.insert(0, ("reading the validated tables", marks[0][0]))
    return {
        "seconds": seconds,
        "stores": result.stores,
        "operators": result.operators,
        "multi_store_operators": result.multi_store_operators,
        "largest": result.largest,
        "links": result.links,
        "unusable": result.unusable,
        "phases": phases,
        "revalidated": revalidated,
        "self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def _child_peer(ws: Path, sample_stores: int | None) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).parent))
    from peer_link import peer_link

    return peer_link(ws, ws / "out" / "peer-operators.parquet", sample_stores)


def _reformat(kind: str, value: str, rng: np.random.Generator) -> str:
    """``value`` as the seller might type it another time: the same identifier, another format."""
    digits = re.sub(r"\D", "", value)
    if kind == "phone" and len(digits) in (11, 13) and digits[-11] == "1":
        d = digits[-11:]
        return [f"+86 {d[:3]} {d[3:7]} {d[7:]}", f"0086-{d[:3]}-{d[3:7]}-{d[7:]}", f"{d[:3]} {d[3:7]} {d[7:]}",
                f"+86{d}"][int(rng.integers(4))]  # fmt: skip
    if kind == "email":
        return value.upper() if rng.random() < 0.5 else f"  {value}  "
    if kind in ("bank_account", "payment_account") and len(digits) >= 12 and digits == value.replace(" ", ""):
        return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))
    return value


def _fresh_store(rng: np.random.Generator, popular: list[tuple[str, str]]) -> dict[str, object]:
    """A new store nobody has seen: random identifiers (one in five also reuses a workspace value)."""
    n = int(rng.integers(10**9, 10**10))
    idents = [
        {"kind": "phone", "value": f"1{int(rng.integers(30, 99))}{int(rng.integers(10**7, 10**8))}"},
        {"kind": "email", "value": f"shop{n}@{['qq.com', '163.com', 'gmail.com'][int(rng.integers(3))]}"},
        {"kind": "bank_account", "value": f"6222{int(rng.integers(10**14, 10**15))}"},
        {"kind": "device_id", "value": f"{int(rng.integers(2**62)):016x}"},
        {"kind": "ip", "value": ".".join(str(int(x)) for x in rng.integers(1, 224, size=4))},
    ]
    if rng.random() < 0.2:
        kind, value = popular[int(rng.integers(len(popular)))]
        idents.append({"kind": kind, "value": value})
    return {"country": "CN", "identifiers": idents}


def _child_check(ws: Path, calls: int, seed: int) -> dict[str, object]:
    """p50/p99 of ``RecidivismIndex.check`` over ``calls`` stores (index built once, not timed)."""
    import numpy as np
    import polars as pl

    from counterwatch.link.recidivism import RecidivismIndex
    from counterwatch.workspace import Workspace

    w = Workspace.at(ws)
    start = time.perf_counter()
    index = RecidivismIndex.for_workspace(w)
    build = time.perf_counter() - start
    rng = np.random.default_rng(seed)
    ids = pl.read_parquet(w.tables_dir / IDENTIFIERS, columns=["store_id", "kind", "value"])
    stores = pl.read_parquet(w.tables_dir / "stores.parquet", columns=["store_id", "country"])
    operators = pl.read_parquet(w.out / "operators.parquet", columns=["store_id", "operator_id", "operator_stores"])
    popular = list(ids.select("kind", "value").sample(n=min(10_000, ids.height), seed=seed).iter_rows())
    own = (
        ids.group_by("store_id", maintain_order=True)
        .agg(pl.struct("kind", "value").alias("identifiers"))
        .join(stores, on="store_id")
        .join(operators, on="store_id")
    )
    picked = own.sample(n=min(calls, own.height), seed=seed).to_dicts()
    queries: list[tuple[str, dict[str, object], str | None, int]] = []
    for i in range(calls):
        mix = i % 10
        if mix < 4:  # a store of the workspace as entered
            s = picked[i % len(picked)]
            queries.append(("own", {"country": s["country"], "identifiers": s["identifiers"]}, s["operator_id"],
                            s["operator_stores"]))  # fmt: skip
        elif mix < 7:  # the same store typing its identifiers in other formats
            s = picked[i % len(picked)]
            idents = [
                {"kind": d["kind"], "value": _reformat(d["kind"], d["value"] or "", rng)} for d in s["identifiers"]
            ]
            queries.append(("reformatted", {"country": s["country"], "identifiers": idents}, s["operator_id"],
                            s["operator_stores"]))  # fmt: skip
        else:
            queries.append(("fresh", _fresh_store(rng, popular), None, 0))
    for _kind, q, _op, _n in queries[:200]:  # warm-up
        index.check(q)
    times = np.empty(len(queries))
    found = {"own": [0, 0], "reformatted": [0, 0], "fresh": [0, 0]}
    for i, (kind, q, op, _n) in enumerate(queries):
        t = time.perf_counter()
        r = index.check(q)
        times[i] = time.perf_counter() - t
        hit = any(m.operator_id == op for m in r.matches) if op else bool(r.matches)
        found[kind][0] += hit
        found[kind][1] += 1
    by_kind = {k: float(np.percentile(times[[q[0] == k for q in queries]], 99) * 1e3) for k in found}
    times.sort()
    return {
        "calls": len(times),
        "p50_ms": float(np.percentile(times, 50) * 1e3),
        "p99_ms": float(np.percentile(times, 99) * 1e3),
        "max_ms": float(times[-1] * 1e3),
        "p99_by_kind_ms": by_kind,
        "found": found,
        "keys": len(index.keys),
        "build_seconds": build,
        "self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# --- the parent ------------------------------------------------------------------------------


def _in_child(role: str, args: argparse.Namespace, ws: Path, extra: list[str] | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", role, "--ws", str(ws), "--check-calls", str(args.check_calls),
           "--seed", str(args.seed), *(extra or [])]  # fmt: skip
    if args.peer_sample_stores:
        cmd += ["--peer-sample-stores", str(args.peer_sample_stores)]
    return run_child(cmd, f"{role} on {ws}")


def _best(role: str, args: argparse.Namespace, ws: Path, key: str = "seconds") -> dict:
    runs = [_in_child(role, args, ws) for _ in range(args.repeats)]
    best = min(runs, key=lambda r: r[key])
    best["all"] = [r[key] for r in runs]
    for k in ("self_mb", "children_mb", "tree_mb", "peak_mb"):
        if k in best:
            best[k] = max(r[k] for r in runs)
    return best


def _ready(ws: Path) -> dict | None:
    return json.loads((ws / READY).read_text(encoding="utf-8")) if (ws / READY).is_file() else None


def prepare(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """The generated workspace, and the one with the identifier subset (None when all rows are measured)."""
    full = workspace_for(args.out, args.stores)
    if _ready(full) is None:
        print(f"generating and validating {args.stores:,} stores into {full} (once) ...", flush=True)
        cmd = [sys.executable, __file__, "--child", "prepare", "--ws", str(full), "--stores", str(args.stores),
               "--seed", str(args.seed)]  # fmt: skip
        done = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"generating {full} failed:\n{done.stderr[-5000:]}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  generated in {r['generate_seconds']:.0f} s, validated in {r['validate_seconds']:.0f} s", flush=True)
    info = _ready(full)
    rows = args.identifier_rows if args.identifier_rows is not None else 5 * args.stores
    if rows == 0 or rows >= info["identifier_rows"]:
        if rows:
            print(f"note: --identifier-rows {rows:,} >= the {info['identifier_rows']:,} generated; measuring all")
        return full, None
    sub = subset_for(args.out, args.stores, rows)
    if _ready(sub) is None:
        print(f"keeping {rows:,} of {info['identifier_rows']:,} identifier rows in {sub} (once) ...", flush=True)
        cmd = [sys.executable, __file__, "--child", "subset", "--ws", str(sub), "--source", str(full),
               "--identifier-rows", str(rows), "--seed", str(args.seed)]  # fmt: skip
        done = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"subsetting {sub} failed:\n{done.stderr[-5000:]}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  written in {r['subset_seconds']:.0f} s, validated in {r['validate_seconds']:.0f} s", flush=True)
    return full, sub


def code_fingerprint() -> str:
    """A short hash of the sources the link stage runs (``link/``, ``detect/index/``, ``config.py``): figures
    belong to a version of the code, and the link package is being edited while it is measured."""
    import hashlib
    from importlib.util import find_spec

    spec = find_spec("counterwatch")
    root = Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None
    if root is None:
        return "unknown"
    digest = hashlib.sha256()
    for path in sorted([*root.glob("link/*.py"), *root.glob("detect/index/*.py"), root / "config.py"]):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _print_ours(r: dict, info: dict) -> None:
    print(f"ours: link({r['stores']:,} stores, {info['valid_identifier_rows']:,} identifier rows, "
          f"{info['listings']:,} listings' photos) -> out/operators.parquet, operator_links, identifiers, link-index")  # fmt: skip
    print(f"  seconds      {r['seconds']:.1f}  (runs: {', '.join(f'{s:.1f}' for s in r['all'])})")
    print(f"  stores/s     {r['stores'] / r['seconds']:,.0f}")
    print(f"  peak MB      {r['peak']:,.0f}  (process tree sampled {r['tree_mb']:,.0f}; ru_maxrss {r['self_mb']:,.0f})")
    print(f"  result       {r['operators']:,} operators ({r['multi_store_operators']:,} with 2+ stores, largest "
          f"{r['largest']:,}), {r['links']:,} links, {r['unusable']:,} identifiers unusable")  # fmt: skip
    if r.get("revalidated"):
        print("  (the workspace was validated again before this run, untimed: inputs, settings or contract changed)")
    print("  phases (best run, seconds from each progress message to the next):")
    for message, seconds in r["phases"]:
        print(f"    {seconds:7.1f}  {message}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=TARGET_STORES)
    parser.add_argument("--identifier-rows", type=int, default=None,
                        help="random identifier rows kept (default 5 per store, as the target; 0: all generated)")  # fmt: skip
    parser.add_argument("--with-all-rows", action="store_true", help="also link with every generated identifier row")
    parser.add_argument("--peer-sample-stores", type=int, default=None,
                        help="the peer links only the first K stores' identifiers, extrapolated per row")  # fmt: skip
    parser.add_argument("--check-calls", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each measurement; the best is reported")
    parser.add_argument("--profile", action="store_true", help="also run link once under cProfile (not timed)")
    parser.add_argument("--skip-peer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "link")
    parser.add_argument("--child", choices=["prepare", "subset", "ours", "peer", "check"], help=argparse.SUPPRESS)
    parser.add_argument("--ws", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "prepare":
            r = _child_prepare(args.ws, args.stores, args.seed)
        elif args.child == "subset":
            r = _child_subset(args.source, args.ws, args.identifier_rows, args.seed)
        elif args.child == "ours":
            r = _child_ours(args.ws, args.profile_to)
        elif args.child == "peer":
            r = _child_peer(args.ws, args.peer_sample_stores)
        else:
            r = _child_check(args.ws, args.check_calls, args.seed)
        print(json.dumps(r))
        return 0

    code = code_fingerprint()
    full, sub = prepare(args)
    ws = sub or full
    info, full_info = _ready(ws), _ready(full)
    print(f"workspace: {ws}: {info['stores']:,} stores, {info['listings']:,} listings, "
          f"{info['valid_identifier_rows']:,} valid identifier rows"
          + (f" (a seeded random subset of the {full_info['identifier_rows']:,} generated, "
             f"{full_info['identifier_rows'] / full_info['stores']:.2f} per store)" if sub else " (all generated)"))  # fmt: skip
    print(f"machine: {os.cpu_count()} cores; each measurement run {args.repeats}x, best reported, "
          f"largest peak memory over the runs; code {code} (sha256 of link/, detect/index/, config.py)")  # fmt: skip

    ours = _best("ours", args, ws)
    ours["peak"] = max(ours["tree_mb"], ours["self_mb"], ours["children_mb"])
    _print_ours(ours, info)
    every = None
    if args.with_all_rows and sub is not None:
        every = _best("ours", args, full)
        every["peak"] = max(every["tree_mb"], every["self_mb"], every["children_mb"])
        print("with every generated identifier row:")
        _print_ours(every, full_info)
    if args.profile:
        target = args.out / f"profile-{ws.name}.txt"
        _in_child("ours", args, ws, ["--profile-to", str(target)])
        print(f"profile of one link run (cProfile, cumulative then own time): {target} (raw: .prof beside it)")

    checks = []
    rows = info["valid_identifier_rows"]
    rate = ours["stores"] / ours["seconds"]
    scale = "" if ours["stores"] == TARGET_STORES else f" (target is for {TARGET_STORES:,} stores: held as a rate)"
    checks.append((f"{TARGET_STORES:,} stores linked in < {TARGET_SECONDS:.0f} s, >= {TARGET_STORES_PER_SECOND:,.0f} "
                   f"stores/s: {rate:,.0f} stores/s, {ours['seconds']:.1f} s for {ours['stores']:,}{scale}",
                   rate >= TARGET_STORES_PER_SECOND))  # fmt: skip

    if not args.skip_peer:
        peer = _best("peer", args, ws)
        peer_per = peer["seconds"] / peer["rows"]
        ratio = peer_per / (ours["seconds"] / rows)
        sampled = peer["rows"] < rows
        print("peer: bench/peer_link.py (pandas strip/lower, hub values beyond ours' blocking cap dropped, self-join "
              "on (kind, value); networkx connected_components), "
              + (f"identifier rows of the first {peer['stores']:,} stores ({peer['rows']:,} rows), extrapolated per row"
                 if sampled else f"all {peer['rows']:,} identifier rows"))  # fmt: skip
        print(f"  seconds      {peer['seconds']:.1f}  (runs: {', '.join(f'{s:.1f}' for s in peer['all'])}; read "
              f"{peer['read_seconds']:.1f}, clean + join {peer['join_seconds']:.1f}, graph + components + write "
              f"{peer['graph_seconds']:.1f})")  # fmt: skip
        if sampled:
            print(f"  per row      {peer_per * 1e6:,.2f} µs  ({peer_per * rows:,.0f} s extrapolated to {rows:,} rows)")
        print(f"  stores/s     {peer['stores'] / peer['seconds']:,.0f}")
        print(f"  peak MB      {max(peer['peak_mb'], peer['tree_mb']):,.0f}" + (" (for the sample)" if sampled else ""))
        print(f"  result       {peer['pairs']:,} pairs, {peer['operators']:,} operators ({peer['multi_store_operators']:,} "
              f"with 2+ stores, largest {peer['largest']:,})")  # fmt: skip
        print(f"ratio = peer_seconds_per_identifier_row / ours_seconds_per_identifier_row = {ratio:.1f}")
        checks.append((f">= {TARGET_RATIO:.0f}x the peer: {ratio:.1f}x", ratio >= TARGET_RATIO))

    check = _best("check", args, ws, key="p99_ms")
    print(f"recidivism: RecidivismIndex.for_workspace(ws).check(store) x {check['calls']:,} (4 in 10 workspace stores "
          f"as entered, 3 reformatted, 3 fresh); index of {check['keys']:,} keys built in {check['build_seconds']:.1f} s "
          f"(not timed), process peak {max(check['tree_mb'], check['self_mb']):,.0f} MB; best of {args.repeats} by p99")  # fmt: skip
    print(f"  p50 {check['p50_ms']:.3f} ms  p99 {check['p99_ms']:.3f} ms  max {check['max_ms']:.1f} ms  "
          f"(p99 by kind: {', '.join(f'{k} {v:.3f}' for k, v in check['p99_by_kind_ms'].items())})")  # fmt: skip
    f = check["found"]
    print(f"  sanity: own operator found for {f['own'][0]:,}/{f['own'][1]:,} workspace stores as entered, "
          f"{f['reformatted'][0]:,}/{f['reformatted'][1]:,} reformatted; {f['fresh'][0]:,}/{f['fresh'][1]:,} "
          f"fresh stores matched an operator (1 in 5 reuses one workspace value)")  # fmt: skip
    checks.append((f"recidivism check p99 < {TARGET_CHECK_P99_MS:.0f} ms: {check['p99_ms']:.3f} ms",
                   check["p99_ms"] < TARGET_CHECK_P99_MS))  # fmt: skip

    print("targets:")
    for text, ok in checks:
        print(f"  {verdict(ok)}  {text}")
    print(f"  INFO  peak memory of link: {ours['peak']:,.0f} MB at {ours['stores']:,} stores, {rows:,} identifier rows"
          + (f"; {every['peak']:,.0f} MB with all {full_info['valid_identifier_rows']:,} rows ({every['seconds']:.1f} s)"
             if every else ""))  # fmt: skip
    if code_fingerprint() != code:
        print(f"  WARN  the link sources changed during the run ({code} -> {code_fingerprint()}): "
              "the measurements may mix two versions")  # fmt: skip
    return 0 if all(ok for _t, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
