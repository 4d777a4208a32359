"""Write a table in any of the contract's formats (Parquet, CSV, JSON Lines).

Used by the synthetic generator and by exports. CSV lists are ``|``-separated;
timestamps are ISO 8601 in UTC with a ``Z``; floats keep their shortest exact form,
so a table written in any format reads back to the same Arrow table.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from counterwatch.workspace import FORMATS, atomic_path


def _timestamps_to_iso(df: pl.DataFrame) -> pl.DataFrame:
    exprs = []
    for name, dtype in df.schema.items():
        if isinstance(dtype, pl.Datetime):
            col = pl.col(name)
            if dtype.time_zone is not None:
                col = col.dt.convert_time_zone("UTC")
            whole_seconds = bool((df[name].dt.microsecond() == 0).all())
            fmt = "%Y-%m-%dT%H:%M:%SZ" if whole_seconds else "%Y-%m-%dT%H:%M:%S%.6fZ"
            exprs.append(col.dt.to_string(fmt).alias(name))
    return df.with_columns(exprs) if exprs else df


def write_table(table: pa.Table, path: Path, fmt: str | None = None) -> Path:
    """Write ``table`` to ``path`` atomically; ``fmt`` defaults to the path's extension."""
    fmt = fmt or path.suffix.lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            pq.write_table(table, tmp, compression="zstd")
        else:
            df = _timestamps_to_iso(pl.from_arrow(table))
            if fmt == "csv":
                lists = [n for n, t in df.schema.items() if isinstance(t, pl.List)]
                df = df.with_columns(pl.col(n).list.join("|") for n in lists)
                df.write_csv(tmp)
            else:
                df.write_ndjson(tmp)
    return path


def write_json(obj: object, path: Path) -> Path:
    """Write ``obj`` as indented UTF-8 JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    return path
