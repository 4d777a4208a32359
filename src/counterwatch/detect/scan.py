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
import pickle
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from counterwatch.config import Settings, load_settings
from counterwatch.contract import ensure_validated, read_table
from counterwatch.detect.batch import signals_frame
from counterwatch.detect.context import DetectContext
from counterwatch.detect.features import FLAGGED
from counterwatch.detect.normalize import view_tables
from counterwatch.detect.reasons import with_reasons
from counterwatch.detect.scorer import Scorer, band_expr
from counterwatch.errors import InputError
from counterwatch.parquetcat import Concatenation, SchemaMismatch
from counterwatch.workspace import Workspace, atomic_path

SCORES = "scores.parquet"
#: The store and product context of the last scan, kept for scoring single listings the same way.
CONTEXT = "scan-context"
BATCH_ROWS = 50_000
#: Listings per pass-1 task (whole row groups). Text work is done once per distinct value in a batch,
#: and titles repeat across row groups: at 98k listings a batch holds 31 % distinct titles, at 32k 40 %.
#: Bigger batches (131k: 29 %) were no faster and took 5 M listings to 2,042 MB of the 2,048 MB budget.
TASK_ROWS = 98_304


@dataclass
class ScanResult:
    listings: int
    bands: dict[str, int] = field(default_factory=dict)
    path: Path | None = None
    model: str = ""


_STATE: dict[str, object] = {}  # the worker's context, scorer and bands, loaded once by ``_state``


def _warm(_: int) -> int:
    """One per worker, submitted as soon as the context is built: the workers start (import Polars
    and the signals; the fork server has loaded the compiled kernels) while this process pickles the
    state and builds the photo index."""
    from counterwatch.detect.index import warm_kernels

    warm_kernels()
    return os.getpid()


def _build_text_index(state: str) -> int:
    """In a worker: the text index of the confirmed counterfeits, pickled beside the state for every
    worker (``_indexed``); the main process builds the photo index meanwhile."""
    try:
        ctx: DetectContext = _state(state)["ctx"]  # type: ignore[assignment]
        ctx.build_text_index(pl.read_ipc(state + ".confirmed.arrow"))
        _dump(state + ".text", ctx.text_index)
    except BaseException:
        Path(state + ".failed").touch()  # the workers waiting for the indexes stop
        raise
    return os.getpid()


def _dump(path: str, value: object) -> None:
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
        pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)


def _state(path: str) -> dict[str, object]:
    """The context, scorer and bands the scan pickles to ``path`` (while the workers start: waited
    for), read once per process."""
    if _STATE.get("path") != path:
        _wait_for(Path(path), path)
        with open(path, "rb") as f:
            ctx, scorer, block, review = pickle.load(f)
        _STATE.clear()
        _STATE.update(path=path, ctx=ctx, scorer=scorer, block=block, review=review, indexed=False)
    return _STATE


INDEX_WAIT_SECONDS = 900.0


def _wait_for(ready: Path, state: str) -> None:
    """Until the main process has written ``ready`` (atomically), or has failed to (``state.failed``)."""
    deadline = time.monotonic() + INDEX_WAIT_SECONDS
    while not ready.exists():
        if Path(state + ".failed").exists():
            raise RuntimeError("preparing the scan failed; see the scan's own error")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{ready} did not appear within {INDEX_WAIT_SECONDS:.0f} s")
        time.sleep(0.005)


def _indexed(path: str) -> DetectContext:
    """The context with its photo and text indexes, which the scan pickles to ``path + ".photo"`` (the
    main process) and ``path + ".text"`` (a worker) once built (the workers start on the other signals
    meanwhile): waited for, then read once."""
    st = _state(path)
    ctx: DetectContext = st["ctx"]  # type: ignore[assignment]
    if not st["indexed"]:
        found = []
        for ready in (Path(path + ".photo"), Path(path + ".text")):
            _wait_for(ready, path)
            with open(ready, "rb") as f:
                found.append(pickle.load(f))
        ctx.photo_index, ctx.text_index = found
        st["indexed"] = True
    return ctx


def _prepare(ws: Workspace, settings: Settings, state: str) -> tuple[DetectContext, Scorer]:
    """In a thread of the main process, while it starts the workers (which takes the fork server's
    second of loading the kernels): the context, pickled to ``state`` for the workers (``_state``
    waits for it), then the photo index (``_indexed`` waits for it; numpy sorts of the stored
    neighbourhoods, about a second). The text index (numba) is a worker's first task."""
    try:
        ctx = DetectContext.build(ws, settings, indexes=False)
        ctx.view_tables = view_tables()
        scorer = Scorer.for_workspace(ws)
        rows = ctx.confirmed_rows
        (rows if rows is not None else pl.DataFrame()).write_ipc(state + ".confirmed.arrow")
        _dump(state, (ctx, scorer, settings.detect.block_at, settings.detect.review_at))  # after the rows
        ctx.build_photo_index(rows)
        _dump(state + ".photo", ctx.photo_index)
        ctx.photo_index = None  # the workers hold it; the main process has no use for it
        return ctx, scorer
    except BaseException:
        Path(state + ".failed").touch()  # the workers waiting for the state or the indexes stop
        raise


def _scan_context(context_dir: str) -> ScanContext:
    """Pass 2's store and product context, read once per process."""
    if _STATE.get("context_dir") != context_dir:
        _STATE.update(context_dir=context_dir, context=ScanContext.read(Path(context_dir)))
    return _STATE["context"]  # type: ignore[return-value]


def _pass1(task: tuple[str, str, list[int], str]) -> int:
    """Signals of a few row groups of the listings, written to a part file (Arrow IPC: read back once,
    by pass 2, so Parquet's encoding would be wasted), with the part's store and product aggregates."""
    state, path, row_groups, out = task
    ctx = _state(state)["ctx"]
    table = pq.ParquetFile(path).read_row_groups(row_groups)
    df = signals_frame(pl.from_arrow(table), ctx, lambda: _indexed(state))  # type: ignore[arg-type]
    df = df.with_columns(FLAGGED.alias("flagged"))
    # Local scratch, read once: compressing costs more than it saves. Only what pass 2 reads: the
    # title and photo hashes (40 % of the bytes) are not in the scores.
    df.drop(*UNSCORED).write_ipc(out, compression="uncompressed")
    # Parquet, which DuckDB reads natively (for Arrow files it would need pyarrow.dataset, and with it pandas).
    partial_context(df, ctx).write_parquet(out.replace(".arrow", ".stores.parquet"), compression="uncompressed")
    df.select("product_id", "price_ratio").filter(
        pl.col("product_id").is_not_null() & pl.col("price_ratio").is_not_null()
    ).write_parquet(out.replace(".arrow", ".products.parquet"), compression="uncompressed")
    return df.height


def partial_context(df: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    """One part's store aggregates; sums, so the parts add up to the whole scan's."""
    confirmed = ctx.confirmed_series().head(-1).implode()  # built once per worker, not per part
    return (
        df.select(
            "store_id",
            pl.col("flagged").cast(pl.Int64).alias("n_flagged"),
            pl.col("listing_id").is_in(confirmed).cast(pl.Int64).alias("n_confirmed"),  # once, not per group
            (pl.col("brand_id").is_not_null() | pl.col("implied_brand_id").is_not_null()).cast(pl.Int64)
            .alias("n_branded"),
        )
        .group_by("store_id")
        .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("n_flagged", "n_confirmed", "n_branded").sum())
    )


def _pass2(task: tuple[str, str, str, str]) -> dict[str, int]:
    """Store and product context joined to one part, then risk, band and reasons, encoded as Parquet
    here (in parallel) so that the main process only copies the parts' row groups (``Concatenation``)."""
    state, part, context_dir, out = task
    st = _state(state)
    ctx, scorer = st["ctx"], st["scorer"]
    df = with_context(pl.read_ipc(part), _scan_context(context_dir))
    df = score_frame(df, scorer, ctx, st["block"], st["review"])  # type: ignore[arg-type]
    df.select(output_columns(df)).write_parquet(out, compression="zstd", compression_level=1, row_group_size=BATCH_ROWS)
    counts = band_counts(df)
    del df
    # Read once: its blocks are freed here, in parallel, rather than by the scan's final clean-up.
    with suppress(OSError):  # a file still held (elsewhere than Linux): the final clean-up removes it
        Path(part).unlink()
    return counts


def band_counts(df: pl.DataFrame) -> dict[str, int]:
    """Listings per band (Polars counts; ``np.unique`` over the strings as objects costs a sort of them)."""
    return dict(df.group_by("band").len().iter_rows())


def context_connection(ws: Workspace):  # type: ignore[no-untyped-def]
    """A DuckDB connection with the stores (``stores_t``) and their operators (``operators_t``) that
    ``write_context`` joins: opened while the workers run pass 1 (the main process is idle then;
    the connection and the stores table took 0.14 s of the pause between the passes)."""
    import duckdb  # here: the workers, which import this module, do not need it (0.07 s each)

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("stores_t", read_table(ws, "stores", ["store_id", "created_at"]))
    # The operator behind each store (from `counterwatch link`), when linking has run: its other stores'
    # listings are the store's history beyond itself. Without it, each store is its own operator.
    operators = ws.out / "operators.parquet"
    if operators.is_file():
        con.execute(f"CREATE VIEW operators_t AS SELECT store_id, operator_id, operator_stores "
                    f"FROM read_parquet('{operators.as_posix()}')")  # fmt: skip
    else:
        con.execute("CREATE VIEW operators_t AS SELECT NULL::VARCHAR AS store_id, NULL::VARCHAR AS operator_id, "
                    "NULL::BIGINT AS operator_stores WHERE false")  # fmt: skip
    return con


def write_context(parts: Path, ws: Workspace, ctx: DetectContext, context_dir: Path, con=None) -> None:  # type: ignore[no-untyped-def]
    """Add up the parts' store aggregates into the store context, and take the product-line medians
    (small tables, for pass 2). ``con``: a ``context_connection`` of ``ws`` opened beforehand."""
    if con is None:
        with closing(context_connection(ws)) as own:
            return write_context(parts, ws, ctx, context_dir, own)
    # DuckDB streams the parts' small tables from their files: nothing is gathered in Python first
    # (at 5 M listings that copy took 400 MB of the scan's memory).
    for view, suffix in (("partial_t", "stores"), ("prices_t", "products")):
        files = ", ".join(f"'{f.as_posix()}'" for f in sorted(parts.glob(f"*.{suffix}.parquet")))
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet([{files}])")
    context_dir.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"""COPY (WITH per_store AS (
            SELECT s.store_id, CAST(sum(s.n) AS BIGINT) AS n, CAST(sum(s.n_flagged) AS BIGINT) AS n_flagged,
                   CAST(sum(s.n_confirmed) AS BIGINT) AS n_confirmed,
                   CAST(sum(s.n_branded) AS DOUBLE) / sum(s.n) AS brand_share,
                   any_value(st.created_at) AS store_created_at
            FROM partial_t s LEFT JOIN stores_t st USING (store_id)
            GROUP BY s.store_id),
          with_operator AS (
            SELECT p.*, coalesce(o.operator_id, p.store_id) AS operator_id,
                   coalesce(o.operator_stores, 1) AS operator_stores
            FROM per_store p LEFT JOIN operators_t o USING (store_id))
        SELECT *, CAST(sum(n) OVER w AS BIGINT) AS op_n, CAST(sum(n_flagged) OVER w AS BIGINT) AS op_flagged,
               CAST(sum(n_confirmed) OVER w AS BIGINT) AS op_confirmed
        FROM with_operator WINDOW w AS (PARTITION BY operator_id))
        TO '{(context_dir / "stores.parquet").as_posix()}' (FORMAT parquet)"""
    )
    con.execute(
        f"""COPY (SELECT product_id, median(price_ratio) AS product_median_ratio
        FROM prices_t GROUP BY product_id)
        TO '{(context_dir / "products.parquet").as_posix()}' (FORMAT parquet)"""
    )
    confirmed = pl.DataFrame({"listing_id": ctx.confirmed_ids}, schema={"listing_id": pl.String})
    confirmed.write_parquet(context_dir / "confirmed.parquet")
    pl.DataFrame({"reference_time": [ctx.reference_time]}).write_parquet(context_dir / "reference.parquet")


@dataclass(frozen=True)
class ScanContext:
    """What pass 2 joins to each listing: store aggregates, product-line medians, confirmed listings."""

    #: store_id, n, n_flagged, n_confirmed, brand_share, store_created_at, and the same sums over the
    #: store's operator (op_n, op_flagged, op_confirmed), operator_id, operator_stores
    stores: pl.DataFrame
    products: pl.DataFrame  # product_id, product_median_ratio
    confirmed: pl.DataFrame  # listing_id
    reference_time: object

    @classmethod
    def read(cls, context_dir: Path) -> ScanContext:
        return cls(
            pl.read_parquet(context_dir / "stores.parquet"),
            pl.read_parquet(context_dir / "products.parquet"),
            pl.read_parquet(context_dir / "confirmed.parquet"),
            pl.read_parquet(context_dir / "reference.parquet")["reference_time"][0],
        )


#: Context columns only used to derive the listing's features.
_CONTEXT_ONLY = ("n", "n_flagged", "n_confirmed", "brand_share", "store_created_at", "_confirmed", "op_n", "op_flagged",
                 "op_confirmed", "operator_id")  # fmt: skip


def with_context(df: pl.DataFrame, sc: ScanContext) -> pl.DataFrame:
    """Signals with their store's and operator's context (the listing itself, and for the operator the
    listing's own store, left out) and their product line's median.

    The store aggregates count every listing of the last scan, the listing's own included, so its
    own flag and confirmation are subtracted; the single-listing path relies on this too.
    """
    own_flagged = pl.col("flagged").cast(pl.Int64)
    own_confirmed = pl.col("_confirmed").fill_null(False).cast(pl.Int64)
    confirmed = sc.confirmed.select("listing_id").with_columns(pl.lit(True).alias("_confirmed"))
    return (
        df.join(sc.stores, on="store_id", how="left", maintain_order="left")
        .join(sc.products, on="product_id", how="left", maintain_order="left")
        .join(confirmed, on="listing_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("n").alias("store_listings"),
            pl.when(pl.col("n") > 1)
            .then((pl.col("n_flagged") - own_flagged) / (pl.col("n") - 1))
            .otherwise(0.0)
            .alias("store_flagged_share"),
            (pl.col("n_confirmed") - own_confirmed).alias("store_confirmed"),
            pl.col("brand_share").alias("store_brand_share"),
            (pl.lit(sc.reference_time) - pl.col("store_created_at")).dt.total_days().alias("store_age_days"),
            # The operator's other stores (the listing's own store left out, so no double counting).
            pl.col("operator_stores"),
            pl.when(pl.col("op_n") > pl.col("n"))
            .then((pl.col("op_flagged") - pl.col("n_flagged")) / (pl.col("op_n") - pl.col("n")))
            .otherwise(0.0)
            .alias("operator_flagged_share"),
            (pl.col("op_confirmed") - pl.col("n_confirmed")).alias("operator_confirmed"),
        )
        .drop(_CONTEXT_ONLY)
    )


def score_frame(df: pl.DataFrame, scorer: Scorer, ctx: DetectContext, block: float, review: float) -> pl.DataFrame:
    """Risk, band and reasons for a frame of signals joined with its context."""
    names = pl.Series(ctx.catalog.names)
    ids = ctx.catalog.brand_ids
    df = df.with_columns(
        pl.col("implied_brand_id")
        .replace_strict(ids, names, default=None, return_dtype=pl.String)
        .alias("implied_brand_name")
    )
    df = df.with_columns(pl.Series("risk", scorer.risk(df), dtype=pl.Float64))
    df = df.with_columns(band_expr(pl.col("risk"), block, review).alias("band"))
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
    work = ws.out / ".scan-parts"
    shutil.rmtree(work, ignore_errors=True)
    parts, scored, context_dir = work / "signals", work / "scored", work / "context"
    for d in (parts, scored):
        d.mkdir(parents=True)
    listings = ws.tables_dir / "listings.parquet"
    meta = pq.ParquetFile(listings).metadata
    if not meta.num_rows:
        raise InputError(f"no valid listings to score: table 'listings' has no valid row (see {ws.quarantine})")
    groups = task_groups([meta.row_group(i).num_rows for i in range(meta.num_row_groups)], TASK_ROWS)
    workers = min(workers or os.cpu_count() or 1, max(len(groups), 1))
    state = str(work / "state.pickle")
    pass1 = [(state, str(listings), g, str(parts / f"part-{i:05d}.arrow")) for i, g in enumerate(groups)]
    pass2 = [(state, p, str(context_dir), str(scored / f"{Path(p).stem}.parquet")) for _, _, _, p in pass1]
    counts = {"block": 0, "review": 0, "allow": 0}
    with _pool(workers) as run:  # the fork server starts and loads the compiled kernels meanwhile
        say("building the detection context")
        if workers > 1:
            with ThreadPoolExecutor(1) as thread:
                preparing = thread.submit(_prepare, ws, settings, state)
                # Starting the workers waits for the fork server to be ready (about a second): the
                # context and the photo index are built meanwhile, and the tasks queued. One worker
                # builds the text index (first in the queue), the other starts on the signals that
                # need no index.
                warming = run(_warm, range(workers))
                indexing = run(_build_text_index, [state])
                signals = run(_pass1, pass1)
                ctx, scorer = preparing.result()
        else:
            ctx = DetectContext.build(ws, settings)
            ctx.view_tables = view_tables()
            scorer = Scorer.for_workspace(ws)
            _STATE.clear()
            _STATE.update(path=state, ctx=ctx, scorer=scorer, block=settings.detect.block_at,
                          review=settings.detect.review_at, indexed=True)  # fmt: skip
            warming, indexing, signals = run(_warm, range(1)), iter(()), run(_pass1, pass1)
        list(warming)
        with closing(context_connection(ws)) as con:  # opened while the workers run pass 1
            done = 0
            for n in signals:
                done += n
                say(f"signals: {done:,} / {meta.num_rows:,} listings")
            list(indexing)
            say("store and product context")
            write_context(parts, ws, ctx, context_dir, con)
        done = 0
        target = ws.out / SCORES
        scored_parts = [p for _, _, _, p in pass2]
        with atomic_path(target) as tmp:
            # The parts' row groups are copied into the scores as each part is done (in order),
            # while the workers score the next ones.
            with Concatenation(tmp) as scores:
                copying = True
                for i, bands_of_part in enumerate(run(_pass2, pass2)):
                    for band, c in bands_of_part.items():
                        counts[str(band)] += int(c)
                        done += int(c)
                    say(f"scored {done:,} / {meta.num_rows:,} listings")
                    if copying:
                        try:
                            scores.append(Path(scored_parts[i]))
                        except SchemaMismatch:
                            copying = False  # a part typed otherwise: re-encoded below
                if copying:
                    scores.finish()
            if not copying:
                say(f"writing {SCORES}")
                reencode_scores(scored_parts, tmp)
    kept = ws.out / CONTEXT
    shutil.rmtree(kept, ignore_errors=True)
    context_dir.rename(kept)
    shutil.rmtree(work, ignore_errors=True)
    return ScanResult(done, counts, target, scorer.version)


def task_groups(sizes: list[int], rows: int) -> list[list[int]]:
    """Consecutive row groups (their ``sizes``) gathered into tasks of about ``rows`` listings each."""
    tasks: list[list[int]] = []
    filled = rows
    for i, n in enumerate(sizes):
        if filled + n > rows and filled > 0:
            tasks.append([])
            filled = 0
        tasks[-1].append(i)
        filled += n
    return tasks


def _process_context() -> mp.context.BaseContext:
    """Workers forked from a fork server that has loaded the compiled index kernels
    (``index.preload``: numba's start-up and the kernels' machine code, about a second of CPU, paid
    once instead of in every worker), where the platform has one; else spawned."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(["counterwatch.detect.index.preload"])
    return context


@contextmanager
def _pool(workers: int) -> Iterator[Callable]:  # type: ignore[type-arg]
    """``map`` over a process pool, or in this process when one worker is asked for. The workers
    are not forked from this process, which would inherit Polars' and DuckDB's thread-pool locks
    held: they come from a fork server that imports neither (``_process_context``). The fork server
    is started here and loads the kernels while the caller goes on; the first ``map`` starts the
    workers (and waits for the server to be ready)."""
    if workers <= 1:
        try:
            yield map
        finally:
            _STATE.clear()
        return
    # One thread per worker: the pool already has a process per core, and Polars' or BLAS's own
    # threads would only contend with them. Children read the variables when they start (the fork
    # server, which loads numpy, at once; Polars at the workers' first tasks): they stay set for the
    # pool's life, after this process's Polars has sized its own pool.
    pl.thread_pool_size()
    previous = {k: os.environ.get(k) for k in _WORKER_ENV}
    os.environ.update(_WORKER_ENV)
    try:
        context = _process_context()
        if context.get_start_method() == "forkserver":
            from multiprocessing import forkserver

            forkserver.ensure_running()  # returns at once; the server loads the kernels meanwhile
        with ProcessPoolExecutor(workers, mp_context=context) as pool:

            def run(fn: Callable, items: Iterable) -> Iterator:  # type: ignore[type-arg]
                with _main_script_hidden():  # a submit may start a worker
                    return pool.map(fn, items)

            yield run
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


#: The workers' environment: one thread each for Polars and for numpy's BLAS. OpenBLAS otherwise
#: starts a thread per core in every worker, which spin-waits after each matrix product (the
#: scorer's): a tenth of the scan's CPU at 1 M listings, taken from the other worker.
_WORKER_ENV = {"POLARS_MAX_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextmanager
def _main_script_hidden() -> Iterator[None]:
    """While workers start: the program's main script hidden from ``multiprocessing``, which would
    otherwise have every worker run it again (as ``__mp_main__``, so that functions defined there
    could be unpickled). The scan's tasks all live in this package, and the main script is usually
    the ``counterwatch`` command, whose imports (the case database, the API's models, …) cost each
    worker 0.6–0.7 s of CPU before its first task."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def reencode_scores(parts: list[str], path: Path) -> None:
    """The scored parts as one Parquet file in the widest schema they share (a column of nulls typed
    otherwise in one part), decoded and encoded again."""
    frames = [pl.scan_parquet(p) for p in parts]
    pl.concat(frames, how="vertical_relaxed").sink_parquet(path, compression="zstd", row_group_size=BATCH_ROWS)


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
            for b, c in band_counts(df).items():
                counts[b] += c
            n += df.height
            say(f"rescored {n:,} listings")
        if writer is not None:
            writer.close()
    return ScanResult(n, counts, target, scorer.version)


LEADING = ["listing_id", "store_id", "risk", "band", "reasons"]
#: Columns of the signals frame that neither pass 2 nor the scores need.
UNSCORED = ("title", "image_hashes", "created_at")
DROPPED = {*UNSCORED, "flagged"}


def output_columns(df: pl.DataFrame) -> list[str]:
    return LEADING + [c for c in df.columns if c not in LEADING and c not in DROPPED]
