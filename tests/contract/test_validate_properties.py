"""Property: for any mix of good and bad values, every row is either valid or quarantined with a
reason naming each bad column, and valid rows carry the values that were written."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import tempfile
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from counterwatch.contract import read_table
from counterwatch.contract.validate import validate_workspace
from counterwatch.contract.writer import write_table
from counterwatch.workspace import Workspace
from tests.conftest import listing_row, stores, write_workspace


def records_in(path: Path) -> int:
    """Records in an input file, counted without the reader: CSV rows after the header, non-blank
    JSON Lines lines, Parquet rows."""
    if path.suffix == ".parquet":
        return pq.read_metadata(path).num_rows
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".jsonl":
        return sum(1 for line in text.split("\n") if line.strip())
    rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    return max(len(rows) - 1, 0)


def accounted_for(ws: Workspace, table: str) -> int:
    """Rows in ``out/tables/<table>.parquet`` plus lines in ``quarantine/<table>.jsonl``."""
    valid = pq.read_metadata(ws.tables_dir / f"{table}.parquet").num_rows
    qfile = ws.quarantine / f"{table}.jsonl"
    return valid + (qfile.read_bytes().count(b"\n") if qfile.exists() else 0)


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
        assert accounted_for(ws, "listings") == records_in(root / f"listings.{fmt}") == len(rows)

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
    from counterwatch.synth import generate

    tmp = Path(tempfile.mkdtemp())
    try:
        generate(tmp / "ws", listings=listings, seed=seed, fmt=fmt, bad_rows=bad)
        ws = Workspace.at(tmp / "ws")
        report = validate_workspace(ws)
        for rep in report.tables.values():
            assert rep.rows_read == rep.rows_valid + rep.rows_quarantined, rep
            if rep.file and rep.table != "brands":
                assert accounted_for(ws, rep.table) == records_in(ws.root / rep.file) == rep.rows_read, rep.table
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


# -- structural damage: odd column names, ragged CSV rows, JSON Lines lines that are not objects ----------
odd_names = st.sampled_from(["", " ", "__row", "__reasons", "__key", "__first", "c0", "c1", "Price", "listing_id ",
                             'a"b', "a,b", "列", "__s_price", "select"])  # fmt: skip
DAMAGE = ("ok", "ok", "ok", "short", "long", "garbage")


@st.composite
def damaged_export(draw):
    extras = draw(st.lists(odd_names, max_size=3, unique_by=lambda n: n.strip() or n))
    rows = []
    for i in range(draw(st.integers(0, 8))):
        row = {k: "|".join(v) if isinstance(v, list) else v for k, v in listing_row(i).items()}
        row |= {f"extra{j}": draw(text) for j in range(len(extras))}
        rows.append((row, draw(st.sampled_from(DAMAGE))))
    return extras, rows, draw(st.booleans())


def _csv_text(header: list[str], rows, final_newline: bool) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")  # so that a bare CR in a value is quoted
    w.writerow(header)
    for row, damage in rows:
        values = list(row.values())
        if damage == "short":
            values = values[:-2]
        elif damage == "long":
            values = [*values, "x"]
        elif damage == "garbage":
            values = ["garbage"]
        w.writerow(values)
    text = out.getvalue()
    return text if final_newline else text.removesuffix("\r\n")


def _jsonl_text(header: list[str], rows, final_newline: bool) -> str:
    lines = []
    for row, damage in rows:
        obj = dict(zip(header, row.values(), strict=True))
        if damage == "short":
            lines.append("[1, 2]")
        elif damage == "long":
            lines.append(orjson.dumps(obj).decode()[:-3])
        elif damage == "garbage":
            lines.append("null")
        else:
            lines.append(orjson.dumps(obj).decode())
        if damage == "ok" and final_newline:
            lines.append("")  # blank lines are not records
    return "\n".join(lines) + ("\n" if final_newline else "")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(export=damaged_export(), fmt=st.sampled_from(["csv", "jsonl"]))
def test_structural_damage_crashes_nothing_and_loses_nothing(export, fmt):
    extras, rows, final_newline = export
    header = list(listing_row(0)) + extras
    tmp = Path(tempfile.mkdtemp())
    try:
        root = write_workspace(tmp / "ws", {"stores": stores()}, fmt)
        write = _csv_text if fmt == "csv" else _jsonl_text
        path = root / f"listings.{fmt}"
        path.write_text(write(header, rows, final_newline), encoding="utf-8")
        ws = Workspace.at(root)
        report = validate_workspace(ws).tables["listings"]
        expected = len(rows) if fmt == "jsonl" or rows else 0
        assert report.rows_read == report.rows_valid + report.rows_quarantined == expected
        assert accounted_for(ws, "listings") == records_in(path) == expected
        valid = read_table(ws, "listings")
        for name in extras:
            if name.strip() and name not in ("Price", "listing_id ") and valid.num_rows:
                assert name in valid.column_names
        for row, damage in rows:
            if damage != "ok":
                assert row["listing_id"] not in valid.column("listing_id").to_pylist()
    finally:
        shutil.rmtree(tmp)
