"""Rows grouped by distinct value (``frames``): exact whatever the hash does, in order of first occurrence."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from counterwatch.detect import frames
from counterwatch.detect.frames import distinct_rows, per_distinct, with_distinct_keys

texts = st.lists(
    st.one_of(st.none(), st.text(max_size=6), st.sampled_from(["Rolex", "rolex", "", "劳力士"])), max_size=60
)


def _expected(values: list[str | None]) -> tuple[list[int], list[int]]:
    seen: dict[object, int] = {}
    first, inverse = [], []
    for i, v in enumerate(values):
        if v not in seen:
            seen[v] = len(seen)
            first.append(i)
        inverse.append(seen[v])
    return first, inverse


@given(texts)
def test_rows_are_grouped_by_value_in_order_of_first_occurrence(values):
    first, inverse = distinct_rows(pl.Series("t", values, dtype=pl.String))
    assert (first.tolist(), inverse.tolist()) == _expected(values)


@given(texts)
def test_a_hash_shared_by_different_values_does_not_merge_them(values):
    """Every value hashed alike (the worst collision): the grouping is still by value."""
    series = pl.Series("t", values, dtype=pl.String)
    original = pl.Series.hash
    try:
        pl.Series.hash = lambda self, seed=0, *a, **k: pl.Series(np.zeros(self.len(), dtype=np.uint64))  # type: ignore[method-assign]
        first, inverse = distinct_rows(series)
    finally:
        pl.Series.hash = original  # type: ignore[method-assign]
    assert (first.tolist(), inverse.tolist()) == _expected(values)


def test_views_computed_per_distinct_field_value_reuse_its_key():
    """``per_distinct(..., by=field)`` groups by the field's key column when there is one, and gives
    what computing on every row would."""
    df = pl.DataFrame({"title": ["A b", "a B", "A b", "c", "a B"]})
    df = df.with_columns(pl.col("title").str.to_lowercase().alias("_title_plain"))
    steps = [{"_n": pl.col("_title_plain").str.len_chars(), "_up": pl.col("_title_plain").str.to_uppercase()}]
    plain = per_distinct(df, "_title_plain", steps)
    keyed = per_distinct(with_distinct_keys(df, ["title"]), "_title_plain", steps, by="title")
    assert plain.select("_n", "_up").equals(keyed.select("_n", "_up"))
    assert plain["_up"].to_list() == ["A B", "A B", "A B", "C", "A B"]
    assert keyed[frames.key_column("title")].to_list() == [0, 1, 0, 2, 1]
