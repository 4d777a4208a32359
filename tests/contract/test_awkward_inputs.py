"""Exports as they arrive in practice: odd headers, broken records, empty files, loose timestamps,
numbers at the edges, stale outputs. What the user sees in each case."""

from __future__ import annotations

import json
import os
import stat

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from counterwatch.contract import read_brands, read_table
from counterwatch.contract.validate import is_current, validate_workspace
from counterwatch.contract.writer import write_json
from counterwatch.errors import InputError
from counterwatch.workspace import Workspace
from tests.conftest import BRANDS, columns, listing_row, stores


def quarantine(ws: Workspace, table: str) -> list[dict]:
    path = ws.quarantine / f"{table}.jsonl"
    return [json.loads(line) for line in path.read_text().split("\n")[:-1]] if path.exists() else []


def listings_csv(rows: list[dict]) -> str:
    """Listings as CSV text, written by hand so a test can damage it."""
    header = list(rows[0])
    lines = [",".join(header)]
    for r in rows:
        lines.append(",".join("|".join(v) if isinstance(v, list) else str(v) for v in r.values()))
    return "\n".join(lines) + "\n"


def test_currency_case_does_not_hide_a_duplicate_rate(make_workspace):
    fx = {"currency": ["USD", "usd", "EUR"], "to_base": ["7.1", "1.0", "7.8"]}
    ws = Workspace.at(make_workspace({"stores": stores(), "listings": columns([listing_row(1)]), "fx_rates": fx}))
    validate_workspace(ws)
    (bad,) = quarantine(ws, "fx_rates")
    assert bad["row_number"] == 2 and bad["reasons"] == ["currency: duplicate 'USD' (first at row 1)"]
    assert read_table(ws, "fx_rates").to_pylist() == [
        {"currency": "USD", "to_base": 7.1},
        {"currency": "EUR", "to_base": 7.8},
    ]


def test_numeric_brand_ids_are_read_as_text_like_the_tables(make_workspace):
    brands = [BRANDS[0] | {"brand_id": 12345}, BRANDS[0] | {"brand_id": ["B9"]}]
    notices = {
        "notice_id": ["N1"], "brand_id": ["12345"], "listing_id": ["L1"], "basis": ["trademark"],
        "registration_no": ["G123"], "evidence": ["x"], "submitted_at": ["2025-03-01T00:00:00Z"],
    }  # fmt: skip
    tables = {"stores": stores(), "listings": columns([listing_row(1)]), "notices": notices}
    root = make_workspace(tables, brands=brands)
    ws = Workspace.at(root)
    report = validate_workspace(ws)
    assert [b.brand_id for b in read_brands(ws)] == ["12345"]
    assert report.tables["notices"].rows_valid == 1
    (bad,) = quarantine(ws, "brands")
    assert bad["row_number"] == 2 and bad["id"] is None and bad["reasons"][0].startswith("brand_id: ")


def test_odd_column_names_are_kept_and_cannot_clash_with_internal_names(make_workspace):
    rows = [listing_row(1), listing_row(2, price="-1")]
    extra = {"__row": ["x1", "x2"], "__reasons": ["r1", "r2"], "c0": ["c", "d"], "__s_price": ["5", "6"]}
    cols = columns(rows) | extra
    root = make_workspace({"stores": stores(), "listings": cols})
    text = (root / "listings.csv").read_text().split("\n")
    (root / "listings.csv").write_text("\n".join(line + "," if line else line for line in text))  # trailing comma
    ws = Workspace.at(root)
    report = validate_workspace(ws)
    rep = report.tables["listings"]
    assert (rep.rows_valid, rep.rows_quarantined) == (1, 1)
    assert rep.warnings == ["listings.csv: column 16 has no name in line 1; kept as 'column_16'"]
    (bad,) = quarantine(ws, "listings")
    assert bad["row_number"] == 2 and bad["reasons"] == ["price: '-1' must be at least 0"]
    assert bad["row"]["__row"] == "x2" and bad["row"]["__reasons"] == "r2" and bad["row"]["column_16"] == ""
    (good,) = read_table(ws, "listings").to_pylist()
    assert (good["listing_id"], good["price"]) == ("L1", 899.0)
    assert {k: good[k] for k in [*extra, "column_16"]} == {
        "__row": "x1", "__reasons": "r1", "c0": "c", "__s_price": "5", "column_16": ""
    }  # fmt: skip


def test_parquet_column_named_like_an_internal_one(make_workspace):
    rows = columns([listing_row(1), listing_row(2, price="-1")])
    root = make_workspace({"stores": stores(), "listings": rows}, fmt="parquet")
    table = pq.read_table(root / "listings.parquet").append_column("__row", pa.array([100, 200]))
    pq.write_table(table, root / "listings.parquet")
    ws = Workspace.at(root)
    validate_workspace(ws)
    assert [(q["row_number"], q["id"]) for q in quarantine(ws, "listings")] == [(2, "L2")]
    assert read_table(ws, "listings").column("__row").to_pylist() == [100]


def test_an_internal_error_exits_3_with_one_line(monkeypatch, capsys):
    from counterwatch import cli

    def broken() -> None:
        raise KeyError("boom")

    monkeypatch.setattr(cli, "app", broken)
    monkeypatch.delenv("COUNTERWATCH_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 3
    err = capsys.readouterr().err
    assert "internal error" in err and "KeyError" in err and "Traceback" not in err
    monkeypatch.setenv("COUNTERWATCH_DEBUG", "1")
    with pytest.raises(SystemExit):
        cli.main()
    assert "Traceback" in capsys.readouterr().err


def test_a_rewrite_that_keeps_size_and_mtime_is_noticed(make_workspace):
    root = make_workspace({"stores": stores(), "listings": columns([listing_row(1, title="aaaa")])})
    ws = Workspace.at(root)
    assert read_table(ws, "listings").column("title").to_pylist() == ["aaaa"]
    path = root / "listings.csv"
    st = path.stat()
    path.write_text(path.read_text().replace("aaaa", "bbbb"))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # as `touch -r` would
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    assert read_table(ws, "listings").column("title").to_pylist() == ["bbbb"]


def test_a_failed_validation_leaves_no_stale_report_or_quarantine(make_workspace):
    from counterwatch.config import load_settings

    root = make_workspace({"stores": stores(), "listings": columns([listing_row(1), listing_row(2, price="x")])})
    ws = Workspace.at(root)
    validate_workspace(ws)
    assert (ws.quarantine / "listings.jsonl").exists() and (ws.out / "validation.json").exists()
    (root / "listings.csv").unlink()
    with pytest.raises(InputError):
        validate_workspace(ws)
    assert not (ws.quarantine / "listings.jsonl").exists()
    assert not (ws.out / "validation.json").exists()
    assert not is_current(ws, load_settings(root))


def test_non_utf8_jsonl_names_the_line_and_how_to_convert(make_workspace):
    root = make_workspace({"stores": stores(), "listings": columns([listing_row(1)])}, fmt="jsonl")
    with (root / "listings.jsonl").open("ab") as fh:
        fh.write(json.dumps(listing_row(2, title="耐克"), ensure_ascii=False).encode("gbk") + b"\n")
    with pytest.raises(InputError, match=r"listings.jsonl: line 2 is not UTF-8 .*iconv"):
        validate_workspace(Workspace.at(root))


def test_a_quote_left_open_is_quarantined_with_the_lines_it_spans(make_workspace):
    rows = [listing_row(i) for i in range(1, 5)]
    root = make_workspace({"stores": stores(), "listings": columns(rows)})
    (root / "listings.csv").write_text(listings_csv(rows).replace("#2,", '#2,"oops', 1))
    ws = Workspace.at(root)
    report = validate_workspace(ws).tables["listings"]
    assert report.rows_quarantined >= 1 and report.rows_valid >= 1
    reasons = [r for q in quarantine(ws, "listings") for r in q["reasons"]]
    assert any("quote" in r for r in reasons), reasons


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_an_empty_file_is_an_empty_table(make_workspace, fmt):
    root = make_workspace({"stores": stores(), "listings": columns([listing_row(1)])}, fmt=fmt)
    (root / f"listings.{fmt}").write_bytes(b"")
    (root / f"orders.{fmt}").write_bytes(b"")
    ws = Workspace.at(root)
    report = validate_workspace(ws)
    assert report.exit_code == 0
    assert report.tables["listings"].rows_read == 0 and report.tables["orders"].rows_read == 0
    assert read_table(ws, "listings").num_rows == 0


@pytest.mark.parametrize("ending", ["\n", "", "\r\n"])
def test_a_header_only_csv_is_an_empty_table(make_workspace, ending):
    root = make_workspace({"stores": stores(), "listings": columns([listing_row(1)])})
    header = (root / "listings.csv").read_text().split("\n")[0]
    (root / "listings.csv").write_text(header + ending)
    report = validate_workspace(Workspace.at(root))
    assert report.exit_code == 0 and report.tables["listings"].rows_read == 0


def test_a_byte_order_mark_is_accepted_in_jsonl_and_brands_json(make_workspace):
    root = make_workspace({"stores": stores(), "listings": columns([listing_row(1)])}, fmt="jsonl")
    for name in ("listings.jsonl", "brands.json"):
        path = root / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    ws = Workspace.at(root)
    assert validate_workspace(ws).exit_code == 0
    assert read_table(ws, "listings").num_rows == 1 and len(read_brands(ws)) == 1


@pytest.mark.parametrize(
    "written", ["2025/03/01", "2025-03-01 12:00 PST", "2025-03-01T12:00:00 CST", "2025-03-01T24:00:00", "20250301"]
)
def test_timestamps_that_are_not_iso_8601_are_quarantined(make_workspace, written):
    ws = Workspace.at(make_workspace({"stores": stores(), "listings": columns([listing_row(1, created_at=written)])}))
    validate_workspace(ws)
    (bad,) = quarantine(ws, "listings")
    assert bad["reasons"] == [f"created_at: '{written}' is not an ISO 8601 timestamp (e.g. 2025-03-01T12:00:00Z)"]


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("20250301T120000Z", "2025-03-01T12:00:00+00:00"),
        ("20250301T120000", "2025-03-01T12:00:00+00:00"),
        ("2025-03-01T12:00+0800", "2025-03-01T04:00:00+00:00"),
        ("2025-03-01 12:00:00.5-05:30", "2025-03-01T17:30:00.500000+00:00"),
        ("2025-03-01", "2025-03-01T00:00:00+00:00"),
    ],
)
def test_iso_8601_timestamps_are_read(make_workspace, written, utc):
    ws = Workspace.at(make_workspace({"stores": stores(), "listings": columns([listing_row(1, created_at=written)])}))
    assert validate_workspace(ws).exit_code == 0
    assert read_table(ws, "listings").column("created_at")[0].as_py().isoformat() == utc


def test_the_first_valid_row_with_an_id_wins(make_workspace):
    rows = [listing_row(1, price="abc"), listing_row(1, title="second"), listing_row(1, title="third")]
    ws = Workspace.at(make_workspace({"stores": stores(), "listings": columns(rows)}))
    validate_workspace(ws)
    bad = {q["row_number"]: q["reasons"] for q in quarantine(ws, "listings")}
    assert bad == {1: ["price: 'abc' is not a finite number"], 3: ["listing_id: duplicate 'L1' (first at row 2)"]}
    assert read_table(ws, "listings").column("title").to_pylist() == ["second"]


def test_the_first_valid_brand_with_an_id_wins(make_workspace):
    brands = [BRANDS[0] | {"owner": ""}, BRANDS[0], BRANDS[0] | {"name": "again"}]
    ws = Workspace.at(make_workspace({"stores": stores(), "listings": columns([listing_row(1)])}, brands=brands))
    validate_workspace(ws)
    bad = {q["row_number"]: q["reasons"] for q in quarantine(ws, "brands")}
    assert sorted(bad) == [1, 3] and bad[3] == ["brand_id: duplicate 'B1' (first at row 2)"]


def test_written_files_get_the_usual_mode(tmp_path):
    old = os.umask(0o022)
    try:
        write_json({"a": 1}, tmp_path / "x.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.json").stat().st_mode) == 0o644


def test_parquet_integers_above_2_53_are_exact(make_workspace):
    root = make_workspace({"stores": stores(), "listings": columns([listing_row(1)])}, fmt="parquet")
    table = pq.read_table(root / "listings.parquet")
    i = table.schema.get_field_index("stock")
    pq.write_table(table.set_column(i, "stock", pa.array([2**53 + 1], pa.int64())), root / "listings.parquet")
    ws = Workspace.at(root)
    assert validate_workspace(ws).exit_code == 0
    assert read_table(ws, "listings").column("stock").to_pylist() == [2**53 + 1]


def test_implausible_amounts_and_a_base_rate_other_than_1_are_quarantined(make_workspace):
    rows = [listing_row(1, price="1e308"), listing_row(2, price="999999999999")]
    fx = {"currency": ["USD", "CNY", "JPY"], "to_base": ["7.1", "2.0", "1e7"]}
    ws = Workspace.at(make_workspace({"stores": stores(), "listings": columns(rows), "fx_rates": fx}))
    validate_workspace(ws)
    assert [q["reasons"] for q in quarantine(ws, "listings")] == [
        ["price: '1e308' is above the plausible maximum 1e12"]
    ]
    assert {q["id"]: q["reasons"] for q in quarantine(ws, "fx_rates")} == {
        "CNY": ["to_base: the base currency CNY must have rate 1, not '2.0'"],
        "JPY": ["to_base: '1e7' is above the plausible maximum 1e6"],
    }


def test_every_missing_table_and_column_is_reported_at_once(make_workspace):
    rows = columns([listing_row(1)])
    rows["Price"] = rows.pop("price")
    rows["listing_id "] = rows.pop("listing_id")
    st = stores()
    del st["status"]
    root = make_workspace({"stores": st, "listings": rows})
    (root / "brands.json").unlink()
    with pytest.raises(InputError) as exc:
        validate_workspace(Workspace.at(root))
    message = str(exc.value)
    assert "3 problems" in message
    assert "listings.csv: required column(s) listing_id, price missing" in message
    assert "did you mean 'listing_id ' for listing_id, 'Price' for price?" in message
    assert "stores.csv: required column(s) status missing" in message
    assert "required table 'brands' is missing" in message
