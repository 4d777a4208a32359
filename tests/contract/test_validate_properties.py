"""Property: for any mix of good and bad values, every row is either valid or quarantined with a
reason naming each bad column, and valid rows carry the values that were written."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from counterwatch.contract import read_table
from counterwatch.contract.validate import validate_workspace
from counterwatch.contract.writer import write_table
from counterwatch.workspace import Workspace
from tests.conftest import stores, write_workspace

FX = {"currency": ["USD", "EUR"], "to_base": ["7.1", "7.8"]}
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
timestamps = st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC))


def iso(ts: dt.datetime, style: int) -> str:
    return [ts.strftime("%Y-%m-%dT%H:%M:%SZ"), ts.strftime("%Y-%m-%d %H:%M:%S"), ts.isoformat()][style]


# (value as written, is it valid, expected canonical value)
good_price = st.one_of(
    st.floats(0, 1e9, allow_nan=False).map(lambda f: (repr(f), f)),
    st.integers(0, 10**9).map(lambda i: (f" {i} ", float(i))),
)
bad_price = st.sampled_from(["abc", "-0.01", "nan", "inf", "", "1,5", "¥12"])
good_stock = st.integers(0, 10**12).map(lambda i: (str(i), i)) | st.just(("3.0", 3))
bad_stock = st.sampled_from(["-1", "2.5", "x", "", "1e400"])
good_currency = st.sampled_from([("CNY", "CNY"), ("usd", "USD"), (" EUR ", "EUR")])
bad_currency = st.sampled_from(["XYZ", "JPY", "", "人民币"])
good_store = st.sampled_from([("S1", "S1"), ("S2", "S2"), (" S3", "S3")])
bad_store = st.sampled_from(["S404", "", "s1"])
good_hashes = st.lists(st.from_regex(r"[0-9a-fA-F]{16}", fullmatch=True), max_size=3).map(
    lambda hs: (hs, [h.lower() for h in hs])
)
bad_hashes = st.sampled_from([["zz"], ["0123456789abcdef", "123"], ["0123456789abcdef0"]])
good_time = st.tuples(timestamps, st.integers(0, 2)).map(
    lambda t: (iso(t[0], t[1]), t[0] if t[1] == 2 else t[0].replace(microsecond=0))
)
bad_time = st.sampled_from(["31/02/2025", "yesterday", "", "2025-13-01", "infinity"])

COLUMNS = {
    "price": (good_price, bad_price),
    "stock": (good_stock, bad_stock),
    "currency": (good_currency, bad_currency),
    "store_id": (good_store, bad_store),
    "image_hashes": (good_hashes, bad_hashes),
    "created_at": (good_time, bad_time),
}


@st.composite
def cell(draw, column: str):
    good, bad = COLUMNS[column]
    if draw(st.booleans()) and draw(st.booleans()):  # about a quarter of cells are bad
        return draw(bad), False, None
    written, expected = draw(good)
    return written, True, expected


@st.composite
def listing_rows(draw):
    n = draw(st.integers(1, 12))
    rows = []
    for i in range(n):
        row = {"listing_id": f"L{i}", "title": draw(text), "description": draw(text), "category": "c", "brand": ""}
        bad_cols, expected = [], {}
        for column in COLUMNS:
            written, ok, value = draw(cell(column))
            row[column] = written
            expected[column] = value
            if not ok:
                bad_cols.append(column)
        rows.append((row, bad_cols, expected))
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=listing_rows(), fmt=st.sampled_from(["csv", "jsonl", "parquet"]))
def test_every_row_is_valid_or_quarantined_with_its_reasons(rows, fmt):
    tmp = Path(tempfile.mkdtemp())
    try:
        table = pa.table(
            {k: pa.array([r[0][k] for r in rows], pa.list_(pa.string()) if k == "image_hashes" else pa.string())
             for k in rows[0][0]}
        )  # fmt: skip
        root = write_workspace(tmp / "ws", {"stores": stores(), "fx_rates": FX}, fmt)
        write_table(table, root / f"listings.{fmt}")
        ws = Workspace.at(root)
        report = validate_workspace(ws).tables["listings"]
        assert report.rows_read == len(rows) == report.rows_valid + report.rows_quarantined

        qfile = ws.quarantine / "listings.jsonl"
        quarantined = (
            {q["row_number"]: q for q in map(json.loads, qfile.read_text().split("\n")[:-1])} if qfile.exists() else {}
        )
        valid = {r["listing_id"]: r for r in read_table(ws, "listings").to_pylist()}
        for i, (row, bad_cols, expected) in enumerate(rows, start=1):
            if bad_cols:
                q = quarantined[i]
                assert row["listing_id"] not in valid
                assert q["id"] == row["listing_id"]
                for column in bad_cols:
                    assert any(reason.startswith(f"{column}: ") for reason in q["reasons"]), (column, q)
                assert len(q["reasons"]) >= len(bad_cols)
            else:
                assert i not in quarantined, quarantined.get(i)
                got = valid[row["listing_id"]]
                assert got["title"] == row["title"] and got["description"] == row["description"]
                for column, value in expected.items():
                    assert got[column] == value, column
    finally:
        shutil.rmtree(tmp)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    bad=st.sampled_from([0.005, 0.02, 0.08]),
    fmt=st.sampled_from(["csv", "jsonl", "parquet"]),
    listings=st.integers(200, 1500),
)
def test_generated_bad_input_is_accounted_for_row_by_row(seed, bad, fmt, listings):
    """On any generated marketplace: read = valid + quarantined per table, and quarantine = truth/bad_rows.csv."""
    import csv

    from counterwatch.synth import generate

    tmp = Path(tempfile.mkdtemp())
    try:
        generate(tmp / "ws", listings=listings, seed=seed, fmt=fmt, bad_rows=bad)
        ws = Workspace.at(tmp / "ws")
        report = validate_workspace(ws)
        for rep in report.tables.values():
            assert rep.rows_read == rep.rows_valid + rep.rows_quarantined, rep
        with (ws.truth / "bad_rows.csv").open(newline="", encoding="utf-8") as fh:
            expected = {(r["table"], int(r["row_number"])) for r in csv.DictReader(fh)}
        got = {
            (path.stem, json.loads(line)["row_number"])
            for path in ws.quarantine.glob("*.jsonl")
            for line in path.read_text(encoding="utf-8").split("\n")[:-1]
        }
        assert got == expected
    finally:
        shutil.rmtree(tmp)
