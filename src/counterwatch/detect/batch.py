"""The per-listing work as one pure function over an Arrow record batch.

``signals_batch(batch, ctx)`` runs every registered signal and returns the listing's id, store,
the columns the scorer needs and every signal's outputs. No global state: the local engine runs
it in a process pool, Spark can run it with ``mapInArrow``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pyarrow as pa

from counterwatch.detect.context import DetectContext
from counterwatch.detect.signals import SIGNALS

PASS_THROUGH = ("listing_id", "store_id", "title", "price", "currency", "created_at", "image_hashes")


def signal_columns() -> dict[str, pl.DataType]:
    cols: dict[str, pl.DataType] = {}
    for s in SIGNALS:
        cols.update(s.outputs)  # type: ignore[arg-type]
    return cols


def signals_frame(df: pl.DataFrame, ctx: DetectContext, indexed: Callable[[], DetectContext] | None = None
                  ) -> pl.DataFrame:  # fmt: skip
    """Every signal over a Polars frame of listings (contract columns).

    ``indexed``, when given, returns the context with its photo and text indexes; it is called only
    once the signals that need no index are done (the scan builds the indexes meanwhile).
    """
    for s in SIGNALS:
        if s.uses_indexes and indexed is not None:
            ctx, indexed = indexed(), None
        df = s.compute(df, ctx)
    keep = [c for c in PASS_THROUGH if c in df.columns] + list(signal_columns())
    return df.select(keep)


def signals_one(listing: dict[str, Any], ctx: DetectContext) -> dict[str, Any]:
    """Every signal over one listing (contract fields): the row ``signals_frame`` gives it, in plain Python."""
    row = dict(listing)
    for s in SIGNALS:
        s.one(row, ctx, ctx.prepared(s))
    return {c: row.get(c) for c in (*PASS_THROUGH, *signal_columns())}


def signals_batch(batch: pa.RecordBatch, ctx: DetectContext) -> pa.RecordBatch:
    """Every signal over one record batch of listings."""
    out = signals_frame(pl.from_arrow(batch), ctx)  # type: ignore[arg-type]
    return out.to_arrow().to_batches()[0] if out.height else pa.RecordBatch.from_pylist([], out.to_arrow().schema)
