"""Parquet files joined by copying their row groups: every reader sees the rows of all parts, in order."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from counterwatch.parquetcat import concat, encode, read_footer

SCHEMA = {"id": pl.String, "risk": pl.Float64, "n": pl.Int32, "ok": pl.Boolean, "terms": pl.List(pl.String),
          "at": pl.Datetime("us", "UTC")}  # fmt: skip

rows = st.fixed_dictionaries({
    "id": st.text(max_size=8) | st.none(),
    "risk": st.floats(allow_nan=False) | st.none(),
    "n": st.integers(-(2**31), 2**31 - 1) | st.none(),
    "ok": st.booleans() | st.none(),
    "terms": st.lists(st.text(max_size=5), max_size=3) | st.none(),
    "at": st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)) | st.none(),
})  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(rows, max_size=30), min_size=1, max_size=5), st.sampled_from(["zstd", "snappy", "uncompressed"])
)
def test_the_joined_file_holds_every_part_in_order_for_every_reader(tmp_path_factory, frames, compression):
    d = tmp_path_factory.mktemp("cat")
    parts = []
    for i, r in enumerate(frames):
        p = d / f"p{i}.parquet"
        pl.DataFrame(r, schema=SCHEMA).write_parquet(p, compression=compression, row_group_size=7)
        parts.append(p)
    target = d / "all.parquet"
    assert concat(parts, target) == sum(len(r) for r in frames)
    want = pl.concat([pl.read_parquet(p) for p in parts])
    assert_frame_equal(pl.read_parquet(target), want)
    assert_frame_equal(pl.from_arrow(pq.read_table(target)), want)  # type: ignore[arg-type]
    assert_frame_equal(duckdb.sql(f"SELECT id, n, ok FROM read_parquet('{target}')").pl(), want.select("id", "n", "ok"))


def test_a_footer_read_and_written_back_is_the_same_bytes(tmp_path):
    p = tmp_path / "x.parquet"
    pl.DataFrame({"id": ["a", None], "terms": [["x"], []], "ok": [True, None]}).write_parquet(p, statistics=True)
    meta, start = read_footer(p)
    assert encode(meta) == p.read_bytes()[start:-8]


def test_parts_with_page_indexes_are_joined_without_them(tmp_path):
    """pyarrow can write page indexes (page offsets outside the footer): they are dropped, the rows stay."""
    parts = []
    for i in range(3):
        p = tmp_path / f"p{i}.parquet"
        pq.write_table(pl.DataFrame({"v": list(range(i * 10, i * 10 + 10))}).to_arrow(), p, write_page_index=True)
        parts.append(p)
    concat(parts, tmp_path / "all.parquet")
    assert pq.read_table(tmp_path / "all.parquet").column("v").to_pylist() == list(range(30))
    summed = duckdb.sql(f"SELECT sum(v) AS s FROM read_parquet('{tmp_path / 'all.parquet'}')").pl()
    assert summed["s"].to_list() == [sum(range(30))]


def test_parts_with_different_schemas_are_refused(tmp_path):
    pl.DataFrame({"a": [1]}).write_parquet(tmp_path / "a.parquet")
    pl.DataFrame({"a": ["x"]}).write_parquet(tmp_path / "b.parquet")
    with pytest.raises(ValueError, match="another schema"):
        concat([tmp_path / "a.parquet", tmp_path / "b.parquet"], tmp_path / "all.parquet")


def test_parts_appended_one_at_a_time_make_the_same_file(tmp_path):
    """``Concatenation`` (parts copied in as they are done) gives ``concat``'s bytes; unfinished, the
    file has no footer, so no reader takes it for whole."""
    from counterwatch.parquetcat import Concatenation

    parts = []
    for i in range(3):
        p = tmp_path / f"p{i}.parquet"
        pl.DataFrame({"v": list(range(i * 5, i * 5 + 5))}).write_parquet(p)
        parts.append(p)
    concat(parts, tmp_path / "all.parquet")
    with Concatenation(tmp_path / "one.parquet") as out:
        for p in parts:
            out.append(p)
        assert out.rows == 15
        with Concatenation(tmp_path / "half.parquet") as half:
            half.append(parts[0])
        assert out.finish() == 15
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "all.parquet").read_bytes()
    with pytest.raises(pa.ArrowInvalid):  # no footer
        pq.read_table(tmp_path / "half.parquet")
    with pytest.raises(ValueError, match="no Parquet file"), Concatenation(tmp_path / "none.parquet") as empty:
        empty.finish()
