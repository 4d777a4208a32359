"""Compute once per distinct value: titles, descriptions and declared brands repeat a lot
(sellers template them, many stores sell the same product), so text work is done on the
distinct values of a column and joined back. A function of a value gives the same result either way.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def per_distinct(df: pl.DataFrame, column: str, steps: list[dict[str, pl.Expr]]) -> pl.DataFrame:
    """``df`` with new columns computed on the distinct values of ``column`` only.

    ``steps`` are applied in order (a later step may use an earlier step's columns); every
    expression may refer to ``column`` and to earlier columns. ``column`` must hold no nulls.
    """
    distinct = df.select(pl.col(column)).unique(maintain_order=True)
    for step in steps:
        distinct = distinct.with_columns(expr.alias(name) for name, expr in step.items())
    return df.join(distinct, on=column, how="left", maintain_order="left")


def union_lists(first: pl.Series, second: pl.Series) -> pl.Series:
    """Per row, ``first`` then the items of ``second`` not already in it (both without repeats).

    Where ``second`` is empty (most rows: few descriptions add terms to their title's), that is
    ``first`` as it is; the union is built only for the other rows and gathered into place.
    """
    rows = (second.list.len() > 0).arg_true()
    if not rows.len():
        return first
    merged = pl.DataFrame({"a": first.gather(rows), "b": second.gather(rows)}).select(
        pl.concat_list("a", "b").list.unique(maintain_order=True)
    )["a"]
    return replace_rows(first.to_frame(), rows, merged.cast(first.dtype).to_frame(first.name))[first.name]


def replace_rows(frame: pl.DataFrame, rows: pl.Series | np.ndarray, replacement: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its rows ``rows`` (positions, in order) replaced by the rows of ``replacement``
    (same columns): both appended, then one gather puts each row in place. Polars' ``scatter`` does
    not take list or string columns."""
    n = frame.height
    at = np.arange(n, dtype=np.int64)
    at[np.asarray(rows, dtype=np.int64)] = n + np.arange(replacement.height, dtype=np.int64)
    return pl.concat([frame, replacement.select(frame.columns)]).select(pl.all().gather(at))
