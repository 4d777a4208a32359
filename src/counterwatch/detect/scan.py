"""``counterwatch scan``: score every valid listing, in two passes with bounded memory.

Pass 1 (map): the listings' row groups are streamed through a process pool over every core; each
worker runs the signals on its batch (``batch.signals_frame``) and writes a part file.
Pass 2 (relational, DuckDB): store context and product-line statistics are aggregated over the
parts, joined back batch by batch, and the scorer turns features into risk, band and reasons,
written to ``out/scores.parquet``. Only one batch per worker is in memory at a time.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from counterwatch.config import Settings, load_settings
from counterwatch.contract import ensure_validated, read_table
from counterwatch.detect.batch import signals_frame
from counterwatch.detect.context import DetectContext
from counterwatch.detect.features import FLAGGED
from counterwatch.detect.reasons import with_reasons
from counterwatch.detect.scorer import Scorer, bands
from counterwatch.workspace import Workspace, atomic_path

SCORES = "scores.parquet"
BATCH_ROWS = 50_000
_CTX: DetectContext | None = None  # the worker's copy of the context, set by ``_init_worker``


def _init_worker(ctx: DetectContext) -> None:
    global _CTX
    _CTX = ctx


@dataclass
class ScanResult:
    listings: int
    bands: dict[str, int] = field(default_factory=dict)
    path: Path | None = None
    model: str = ""


def _pass1(task: tuple[str, int, str]) -> int:
    path, row_group, out = task
    assert _CTX is not None
    table = pq.ParquetFile(path).read_row_group(row_group)
    df = signals_frame(pl.from_arrow(table), _CTX)  # type: ignore[arg-type]
    df = df.with_columns(FLAGGED.alias("flagged"))
    df.write_parquet(out, compression="lz4")
    return df.height


def run_pass1(listings: Path, parts: Path, ctx: DetectContext, workers: int, progress: Callable[[str], None]) -> None:
    global _CTX
    meta = pq.ParquetFile(listings).metadata
    tasks = [(str(listings), i, str(parts / f"part-{i:05d}.parquet")) for i in range(meta.num_row_groups)]
    _CTX = ctx
    done = 0
    try:
        if workers <= 1 or len(tasks) <= 1:
            for t in tasks:
                done += _pass1(t)
                progress(f"signals: {done:,} / {meta.num_rows:,} listings")
            return
        # spawn, not fork: Polars and DuckDB hold thread pools whose locks a forked child would inherit locked.
        with ProcessPoolExecutor(
            workers, mp_context=mp.get_context("spawn"), initializer=_init_worker, initargs=(ctx,)
        ) as pool:
            for n in pool.map(_pass1, tasks):
                done += n
                progress(f"signals: {done:,} / {meta.num_rows:,} listings")
    finally:
        _CTX = None


def _context_sql(con: duckdb.DuckDBPyConnection, parts: Path, ws: Workspace, ctx: DetectContext) -> str:
    """Register store and product aggregates; the query joining them to every listing's signals."""
    con.register("stores_t", read_table(ws, "stores", ["store_id", "created_at"]))
    labels = pl.from_arrow(read_table(ws, "labels"))
    confirmed = (
        labels.sort("decided_at").group_by("listing_id").last().filter(pl.col("label") == "counterfeit")
        .select("listing_id")
    )  # fmt: skip
    con.register("confirmed_t", confirmed.to_arrow())
    glob = (parts / "*.parquet").as_posix()
    con.execute(f"CREATE VIEW sig AS SELECT * FROM read_parquet('{glob}')")
    con.execute(
        """CREATE TEMP TABLE store_ctx AS
        SELECT s.store_id, count(*) AS n, sum(CAST(s.flagged AS INTEGER)) AS n_flagged,
               sum(CAST(c.listing_id IS NOT NULL AS INTEGER)) AS n_confirmed,
               avg(CAST(s.brand_id IS NOT NULL OR s.implied_brand_id IS NOT NULL AS DOUBLE)) AS brand_share
        FROM sig s LEFT JOIN confirmed_t c USING (listing_id) GROUP BY s.store_id"""
    )
    con.execute(
        "CREATE TEMP TABLE product_ctx AS SELECT product_id, median(price_ratio) AS product_median_ratio "
        "FROM sig WHERE product_id IS NOT NULL AND price_ratio IS NOT NULL GROUP BY product_id"
    )
    ref = ctx.reference_time.isoformat()
    return f"""
        SELECT s.*,
            sc.n AS store_listings,
            CASE WHEN sc.n > 1 THEN (sc.n_flagged - CAST(s.flagged AS INTEGER)) / (sc.n - 1.0) ELSE 0.0 END
                AS store_flagged_share,
            sc.n_confirmed - CAST(c.listing_id IS NOT NULL AS INTEGER) AS store_confirmed,
            sc.brand_share AS store_brand_share,
            date_diff('day', st.created_at, TIMESTAMPTZ '{ref}') AS store_age_days,
            p.product_median_ratio
        FROM sig s
        LEFT JOIN store_ctx sc USING (store_id)
        LEFT JOIN stores_t st USING (store_id)
        LEFT JOIN product_ctx p USING (product_id)
        LEFT JOIN confirmed_t c USING (listing_id)
    """


OPTIONAL_SIGNALS: dict[str, type[pl.DataType]] = {}


def score_frame(df: pl.DataFrame, scorer: Scorer, ctx: DetectContext, block: float, review: float) -> pl.DataFrame:
    """Risk, band and reasons for a frame of signals joined with its context."""
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in OPTIONAL_SIGNALS.items() if c not in df.columns]
    if missing:
        df = df.with_columns(missing)
    names = pl.Series(ctx.catalog.names)
    ids = ctx.catalog.brand_ids
    df = df.with_columns(
        pl.col("implied_brand_id")
        .replace_strict(ids, names, default=None, return_dtype=pl.String)
        .alias("implied_brand_name")
    )
    risk = scorer.risk(df)
    df = df.with_columns(pl.Series("risk", risk, dtype=pl.Float64), pl.Series("band", bands(risk, block, review)))
    return with_reasons(df, ctx.base_currency)


def scan(
    ws: Workspace,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
) -> ScanResult:
    """Score every valid listing of ``ws`` into ``out/scores.parquet``."""
    settings = settings or load_settings(ws.root)
    say = progress or (lambda _m: None)
    ensure_validated(ws, settings, say)
    say("building the detection context")
    ctx = DetectContext.build(ws, settings)
    scorer = Scorer.for_workspace(ws)
    parts = ws.out / ".scan-parts"
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir(parents=True)
    workers = workers or os.cpu_count() or 1
    listings = ws.tables_dir / "listings.parquet"
    run_pass1(listings, parts, ctx, workers, say)
    say("store context and scoring")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    reader = con.sql(_context_sql(con, parts, ws, ctx)).to_arrow_reader(BATCH_ROWS)
    block, review = settings.detect.block_at, settings.detect.review_at
    counts = {"block": 0, "review": 0, "allow": 0}
    target = ws.out / SCORES
    writer = None
    n = 0
    with atomic_path(target) as tmp:
        for batch in reader:
            df = score_frame(pl.from_arrow(batch), scorer, ctx, block, review)  # type: ignore[arg-type]
            out = df.select(output_columns(df)).sort("listing_id").to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(tmp, out.schema, compression="zstd")
            writer.write_table(out.cast(writer.schema))
            for b, c in zip(*np.unique(df["band"].to_numpy(), return_counts=True), strict=True):
                counts[str(b)] += int(c)
            n += df.height
            say(f"scored {n:,} listings")
        if writer is None:
            raise RuntimeError("no listings to score")
        writer.close()
    shutil.rmtree(parts, ignore_errors=True)
    return ScanResult(n, counts, target, scorer.version)


def rescore(
    ws: Workspace, settings: Settings | None = None, progress: Callable[[str], None] | None = None
) -> ScanResult:
    """Risk, bands and reasons again from the signals already in ``out/scores.parquet`` (after training
    a model or changing the bands): no signal is recomputed."""
    settings = settings or load_settings(ws.root)
    say = progress or (lambda _m: None)
    ctx = DetectContext.build(ws, settings)
    scorer = Scorer.for_workspace(ws)
    source = pq.ParquetFile(ws.out / SCORES)
    target = ws.out / SCORES
    counts = {"block": 0, "review": 0, "allow": 0}
    n = 0
    with atomic_path(target) as tmp:
        writer = None
        for batch in source.iter_batches(BATCH_ROWS):
            df = score_frame(pl.from_arrow(batch).drop("risk", "band", "reasons", "implied_brand_name"), scorer, ctx,
                             settings.detect.block_at, settings.detect.review_at)  # fmt: skip
            out = df.select(output_columns(df)).to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(tmp, out.schema, compression="zstd")
            writer.write_table(out.cast(writer.schema))
            for b, c in zip(*np.unique(df["band"].to_numpy(), return_counts=True), strict=True):
                counts[str(b)] += int(c)
            n += df.height
            say(f"rescored {n:,} listings")
        if writer is not None:
            writer.close()
    return ScanResult(n, counts, target, scorer.version)


LEADING = ["listing_id", "store_id", "risk", "band", "reasons"]
DROPPED = {"title", "image_hashes", "flagged", "created_at"}


def output_columns(df: pl.DataFrame) -> list[str]:
    return LEADING + [c for c in df.columns if c not in LEADING and c not in DROPPED]


def read_scores(ws: Workspace) -> pa.Table:
    return pq.read_table(ws.out / SCORES)
