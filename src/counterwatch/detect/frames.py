"""Compute once per distinct value: titles, descriptions and declared brands repeat a lot
(sellers template them, many stores sell the same product), so text work is done on the
distinct values of a column and joined back. A function of a value gives the same result either way.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa


def key_column(column: str) -> str:
    """The column ``with_distinct_keys`` keeps ``column``'s distinct-value index in."""
    return f"_{column}_key"


def distinct_rows(values: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(first, inverse)``: the row of each distinct value's first occurrence, and each row's
    distinct index, distinct values numbered in order of first occurrence.

    Rows are grouped by a 64-bit hash of the value (a hash table, not a sort), then checked
    against the values themselves: should two different values share a hash, they are grouped
    exactly instead (by value), so the result never depends on the hash.
    """
    n = values.len()
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    hashes = values.hash(seed=0x5EED)
    is_first = hashes.is_first_distinct()
    numbered = hashes.filter(is_first).to_frame("h").with_row_index("k")
    inverse = hashes.to_frame("h").join(numbered, on="h", how="left", maintain_order="left")["k"].to_numpy()
    first = is_first.arg_true().to_numpy()
    if not values.gather(first).gather(inverse).eq_missing(values).all():
        name = values.name or "v"
        exact = values.unique(maintain_order=True).to_frame(name).with_row_index("k")
        inverse = (
            values.to_frame(name)
            .join(exact, on=name, how="left", maintain_order="left", nulls_equal=True)["k"]
            .to_numpy()
        )
        first = first_rows(inverse)
    return first.astype(np.int64, copy=False), inverse.astype(np.int64, copy=False)


def first_rows(inverse: np.ndarray) -> np.ndarray:
    """The row where each distinct index first appears, for indexes numbered in order of first
    occurrence (each row's index is at most one more than every index before it)."""
    if len(inverse) == 0:
        return np.zeros(0, dtype=np.int64)
    is_first = np.empty(len(inverse), dtype=bool)
    is_first[0] = True
    np.greater(inverse[1:], np.maximum.accumulate(inverse)[:-1], out=is_first[1:])
    return np.flatnonzero(is_first)


def with_distinct_keys(df: pl.DataFrame, columns: tuple[str, ...] | list[str]) -> pl.DataFrame:
    """``df`` with each column's distinct-value index (``key_column``), so that every later step
    working once per distinct value (``per_distinct``, on the column or on a view derived from it)
    groups the rows once."""
    return df.with_columns(
        pl.Series(key_column(c), distinct_rows(df[c])[1], dtype=pl.UInt32) for c in columns
    )


def distinct_of(df: pl.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """``distinct_rows`` of ``column``: from its key column when ``with_distinct_keys`` made one."""
    key = key_column(column)
    if key in df.columns:
        inverse = df[key].to_numpy().astype(np.int64, copy=False)
        first = first_rows(inverse)
        if len(inverse) and len(first) != int(inverse.max()) + 1:  # rows dropped or moved since the keys
            raise ValueError(f"the key column {key} no longer matches the frame's rows; make it again")
        return first, inverse
    return distinct_rows(df[column])


def per_distinct(
    df: pl.DataFrame, column: str, steps: list[dict[str, pl.Expr]], *, by: str | None = None
) -> pl.DataFrame:
    """``df`` with new columns computed on the distinct values of ``column`` only.

    ``steps`` are applied in order (a later step may use an earlier step's columns); every
    expression may refer to ``column`` and to earlier columns (a null is a value like any other).
    ``by``: a column ``column`` is a function of (a field, for one of its views), whose distinct
    values are used instead (the field's key is then reused, not recomputed).
    """
    first, inverse = distinct_of(df, by or column)
    distinct = df.select(pl.col(column).gather(first))
    for step in steps:
        distinct = distinct.with_columns(expr.alias(name) for name, expr in step.items())
    return df.hstack(distinct.drop(column).select(pl.all().gather(inverse)).get_columns())


def lists_from_counts(values: pl.Series, counts: np.ndarray) -> pl.Series:
    """A list column whose row ``i`` holds the next ``counts[i]`` items of ``values`` (the items in
    row order): the lists cut from one flat column by their offsets, nothing copied but the offsets."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    if offsets[-1] != values.len():
        raise ValueError(f"lists_from_counts: counts add up to {offsets[-1]}, but there are {values.len()} items")
    # The offsets from their buffer and the column by ``pl.from_arrow``: ``pa.array(offsets)`` and
    # ``pl.Series(name, arrow_array)`` both import pandas (0.3-0.5 s in each of the scan's workers).
    arrow_offsets = pa.Array.from_buffers(pa.int64(), len(offsets), [None, pa.py_buffer(offsets)])
    lists = pa.LargeListArray.from_arrays(arrow_offsets, values.rechunk().to_arrow())
    return pl.from_arrow(lists).alias(values.name)  # type: ignore[union-attr]


def place_rows(frame: pl.DataFrame, rows: pl.Series | np.ndarray, n: int) -> pl.DataFrame:
    """An ``n``-row frame holding ``frame``'s rows at positions ``rows`` (one each, distinct) and nulls
    elsewhere: the rows after an appended row of nulls, gathered into place (not a left join of
    ``0..n-1`` on a row-number column)."""
    at = np.full(n, frame.height, dtype=np.int64)
    at[np.asarray(rows, dtype=np.int64)] = np.arange(frame.height, dtype=np.int64)
    return pl.concat([frame, frame.clear(1)], rechunk=True)[at]


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
    # One chunk: Polars gathers a list column of two chunks about four times slower.
    return pl.concat([frame, replacement.select(frame.columns)], rechunk=True).select(pl.all().gather(at))
