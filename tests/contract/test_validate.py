"""The validator: what a data team sees when their export has problems."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from counterwatch.contract import read_brands, read_table
from counterwatch.contract.validate import validate_workspace
from counterwatch.errors import InputError
from counterwatch.workspace import Workspace
from tests.conftest import columns, listing_row, stores


def quarantine(ws: Workspace, table: str) -> list[dict]:
    path = ws.quarantine / f"{table}.jsonl"
    return [json.loads(line) for line in path.read_text().split("\n")[:-1]] if path.exists() else []


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_clean_workspace_is_all_valid(make_workspace, fmt):
    root = make_workspace({"stores": stores(), "listings": columns([listing_row(i) for i in range(5)])}, fmt)
    report = validate_workspace(Workspace.at(root))
    assert report.exit_code == 0
    assert report.tables["listings"].rows_valid == 5
    assert not (root / "quarantine" / "listings.jsonl").exists()
    listings = read_table(Workspace.at(root), "listings")
    assert listings.column("price").to_pylist() == [899.0] * 5
    assert listings.column("image_hashes").to_pylist()[0] == ["a1b2c3d4e5f60718"]
    assert str(listings.schema.field("created_at").type) == "timestamp[us, tz=UTC]"


def test_every_reason_of_a_bad_row_is_reported(make_workspace):
    rows = [
        listing_row(1),
        listing_row(2, price="abc", currency="XYZ", stock="2.5", created_at="31/02/2025", store_id="S404"),
        listing_row(3, price="-1", image_hashes=["nothex"]),
        listing_row(4, listing_id=" "),
        listing_row(1, title="again"),  # duplicate of row 1
    ]
    ws = Workspace.at(make_workspace({"stores": stores(), "listings": columns(rows)}))
    report = validate_workspace(ws)
    assert report.exit_code == 1
    rep = report.tables["listings"]
    assert (rep.rows_read, rep.rows_valid, rep.rows_quarantined) == (5, 1, 4)
    bad = {q["row_number"]: q for q in quarantine(ws, "listings")}
    assert sorted(bad) == [2, 3, 4, 5]
    reasons2 = " | ".join(bad[2]["reasons"])
    for expected in (
        "price: 'abc' is not a finite number",
        "currency: 'XYZ'",
        "stock: '2.5' is not a whole number",
        "created_at: '31/02/2025' is not an ISO 8601 timestamp",
        "store_id: 'S404' is not in stores",
    ):
        assert expected in reasons2
    assert bad[2]["id"] == "L2" and bad[2]["row"]["price"] == "abc"
    assert bad[3]["reasons"] == [
        "price: '-1' must be at least 0",
        "image_hashes: 'nothex' is not a 64-bit hash written as 16 hex digits",
    ]
    assert bad[4]["reasons"] == ["listing_id: is empty"] and bad[4]["id"] is None
    assert bad[5]["reasons"] == ["listing_id: duplicate 'L1' (first at row 1)"]
    assert rep.reasons["price: not a number"] == 1
    # later stages see only the valid row
    assert read_table(ws, "listings").column("listing_id").to_pylist() == ["L1"]


def test_rows_referencing_quarantined_rows_are_quarantined_too(make_workspace):
    st = stores(2)
    st["country"][1] = "Narnia"
    rows = [listing_row(1), listing_row(2, store_id="S2")]
    orders = {
        "order_id": ["O1", "O2"],
        "listing_id": ["L1", "L2"],
        "quantity": ["1", "2"],
        "unit_price": ["899", "899"],
        "currency": ["CNY", "CNY"],
        "ordered_at": ["2025-04-01T00:00:00+08:00", "2025-04-01"],
        "ship_from": ["CN-FJ", ""],
        "buyer_region": ["CN-BJ", "CN-SH"],
    }
    ws = Workspace.at(make_workspace({"stores": st, "listings": columns(rows), "orders": orders}))
    report = validate_workspace(ws)
    assert [q["id"] for q in quarantine(ws, "stores")] == ["S2"]
    assert quarantine(ws, "listings")[0]["reasons"] == ["store_id: stores 'S2' was quarantined"]
    assert quarantine(ws, "orders")[0]["reasons"] == ["listing_id: listings 'L2' was quarantined"]
    assert report.tables["orders"].rows_valid == 1
    order = read_table(ws, "orders").to_pylist()[0]
    assert order["ordered_at"].isoformat() == "2025-03-31T16:00:00+00:00"  # +08:00 converted to UTC


def test_currencies_need_a_rate_unless_base(make_workspace):
    rows = [listing_row(1, currency="usd"), listing_row(2, currency="EUR"), listing_row(3, currency="CNY")]
    fx = {"currency": ["USD", "ABC"], "to_base": ["7.1", "1"]}
    ws = Workspace.at(make_workspace({"stores": stores(), "listings": columns(rows), "fx_rates": fx}))
    validate_workspace(ws)
    assert [q["id"] for q in quarantine(ws, "fx_rates")] == ["ABC"]
    assert [q["id"] for q in quarantine(ws, "listings")] == ["L2"]
    assert read_table(ws, "listings").column("currency").to_pylist() == ["USD", "CNY"]


def test_base_currency_comes_from_settings(make_workspace):
    rows = [listing_row(1, currency="USD"), listing_row(2, currency="CNY")]
    root = make_workspace({"stores": stores(), "listings": columns(rows)})
    (root / "counterwatch.toml").write_text('[workspace]\nbase_currency = "usd"\n')
    ws = Workspace.at(root)
    report = validate_workspace(ws)
    assert report.base_currency == "USD"
    assert [q["id"] for q in quarantine(ws, "listings")] == ["L2"]


def test_missing_required_table_or_column_is_an_input_error(make_workspace, tmp_path):
    root = make_workspace({"stores": stores()})
    with pytest.raises(InputError, match="required table 'listings' is missing"):
        validate_workspace(Workspace.at(root))
    rows = columns([listing_row(1)])
    del rows["price"]
    root = make_workspace({"stores": stores(), "listings": rows}, name="ws2")
    with pytest.raises(InputError, match=r"listings.csv: required column\(s\) price missing"):
        validate_workspace(Workspace.at(root))


def test_optional_columns_may_be_absent(make_workspace):
    rows = columns([listing_row(1)])
    del rows["brand"], rows["image_hashes"]
    st = stores()
    del st["region"]
    ws = Workspace.at(make_workspace({"stores": st, "listings": rows}))
    assert validate_workspace(ws).exit_code == 0
    listing = read_table(ws, "listings").to_pylist()[0]
    assert listing["brand"] == "" and listing["image_hashes"] == []
    assert read_table(ws, "stores").column("region").null_count == 3


def test_unparseable_files_name_the_line(make_workspace):
    root = make_workspace({"stores": stores(), "listings": columns([listing_row(1)])}, name="ws2")
    (root / "brands.json").write_text('[{"brand_id": "B1",\n "name": }]')
    with pytest.raises(InputError, match=r"brands.json: line 2"):
        validate_workspace(Workspace.at(root))


def test_a_malformed_record_is_quarantined_and_the_rest_is_read(make_workspace):
    root = make_workspace({"stores": stores(), "listings": columns([listing_row(1)])}, fmt="jsonl")
    with (root / "listings.jsonl").open("a") as fh:
        fh.write('{"listing_id": "L9", "title": \n\n[1, 2]\n')
        fh.write(json.dumps(listing_row(4)) + "\n")
    ws = Workspace.at(root)
    rep = validate_workspace(ws).tables["listings"]
    assert (rep.rows_read, rep.rows_valid, rep.rows_quarantined) == (4, 2, 2)
    bad = quarantine(ws, "listings")
    assert [q["row_number"] for q in bad] == [2, 3]  # the blank line is not a record
    assert bad[0]["row"] == {"_raw": '{"listing_id": "L9", "title": '} and bad[0]["id"] is None
    assert bad[0]["reasons"][0].startswith("row: not valid JSON")
    assert bad[1]["reasons"] == ["row: should be a JSON object, found list"]
    assert read_table(ws, "listings").column("listing_id").to_pylist() == ["L1", "L4"]

    root = make_workspace({"stores": stores(), "listings": columns([listing_row(1)])}, name="ws3")
    with (root / "listings.csv").open("a") as fh:
        fh.write("L9,S1,too,many,fields,here,1,CNY,1,2025-01-01,,extra\n")
        fh.write("L3,S1,t,,c,,1,CNY,1,2025-01-01,\n")
    ws = Workspace.at(root)
    assert validate_workspace(ws).exit_code == 1
    (bad,) = quarantine(ws, "listings")
    assert bad["row_number"] == 2 and bad["row"]["_raw"].startswith("L9,S1,too")
    assert bad["reasons"][0].startswith("row: has 12 fields, the header has 11")
    assert read_table(ws, "listings").column("listing_id").to_pylist() == ["L1", "L3"]


def test_two_files_for_one_table_is_an_error(make_workspace):
    root = make_workspace({"stores": stores(), "listings": columns([listing_row(1)])})
    (root / "listings.jsonl").write_text("")
    with pytest.raises(InputError, match="table 'listings' has 2 files"):
        validate_workspace(Workspace.at(root))


def test_bad_brands_are_quarantined_and_unknown_authorized_stores_warned(make_workspace):
    from tests.conftest import BRANDS

    brands = [
        BRANDS[0] | {"authorized_stores": ["S1", "S999"]},
        {"brand_id": "B2", "name": "Rolex", "owner": "Rolex SA", "products": [
            {"product_id": "P9", "name": "Submariner", "reference_price": -5, "currency": "CHF"}]},
        {"brand_id": "B1", "name": "Nike again", "owner": "x"},
        "not an object",
    ]  # fmt: skip
    ws = Workspace.at(make_workspace({"stores": stores(), "listings": columns([listing_row(1)])}, brands=brands))
    report = validate_workspace(ws)
    rep = report.tables["brands"]
    assert (rep.rows_read, rep.rows_valid, rep.rows_quarantined) == (4, 1, 3)
    bad = {q["row_number"]: q["reasons"] for q in quarantine(ws, "brands")}
    assert any("reference_price" in r for r in bad[2])
    assert bad[3] == ["brand_id: duplicate 'B1' (first at row 1)"]
    assert bad[4] == ["brand: should be a JSON object, found str"]
    assert "S999" in rep.warnings[0]
    assert read_brands(ws)[0].authorized_stores == ["S1"]


def test_revalidates_when_inputs_change(make_workspace):
    root = make_workspace({"stores": stores(), "listings": columns([listing_row(1)])})
    ws = Workspace.at(root)
    assert read_table(ws, "listings").num_rows == 1
    import pyarrow as pa

    from counterwatch.contract.writer import write_table

    write_table(pa.table(columns([listing_row(1), listing_row(2)])), root / "listings.csv")
    assert read_table(ws, "listings").num_rows == 2
    assert pq.read_table(ws.tables_dir / "listings.parquet").num_rows == 2


def test_quarantine_of_a_fixed_table_is_removed(make_workspace):
    root = make_workspace({"stores": stores(), "listings": columns([listing_row(1, price="x")])})
    ws = Workspace.at(root)
    validate_workspace(ws)
    assert (ws.quarantine / "listings.jsonl").exists()
    import pyarrow as pa

    from counterwatch.contract.writer import write_table

    write_table(pa.table(columns([listing_row(1)])), root / "listings.csv")
    assert validate_workspace(ws).exit_code == 0
    assert not (ws.quarantine / "listings.jsonl").exists()


def test_jsonl_empty_optional_table_and_missing_key(make_workspace):
    root = make_workspace({"stores": stores(), "listings": columns([listing_row(1)])}, fmt="jsonl")
    (root / "notices.jsonl").write_text("")
    ws = Workspace.at(root)
    report = validate_workspace(ws)
    assert report.exit_code == 0 and report.tables["notices"].rows_read == 0
    rows = columns([listing_row(1)])
    del rows["price"]
    import pyarrow as pa

    from counterwatch.contract.writer import write_table

    write_table(pa.table(rows), root / "listings.jsonl")
    with pytest.raises(InputError, match=r"listings.jsonl: required column\(s\) price missing"):
        validate_workspace(ws)


def test_non_utf8_csv_names_the_line_and_how_to_convert(make_workspace):
    rows = [listing_row(i) for i in range(1, 4)] + [listing_row(4, title="耐克 运动鞋")]
    root = make_workspace({"stores": stores(), "listings": columns(rows)})
    path = root / "listings.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))
    with pytest.raises(InputError, match=r"listings.csv: line 5 is not UTF-8 .*iconv"):
        validate_workspace(Workspace.at(root))


def test_missing_workspace_is_named(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        validate_workspace(Workspace.at(tmp_path / "nowhere"))
