"""Valuation to the cent, against an independent computation; confirmations and their exclusions;
the leads stage on a generated workspace, and its evaluation against truth."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import polars as pl

from counterwatch.config import Settings, load_settings
from counterwatch.contract import read_table
from counterwatch.leads.evaluate import evaluate_leads
from counterwatch.leads.stage import LEADS, build_leads
from counterwatch.leads.valuation import confirmed_listings, value_operators
from counterwatch.workspace import Workspace


def _independent_sales(ws: Workspace, confirmed: list[str]) -> dict[str, Decimal]:
    """Sales per operator in SQLite, in integer micro-cents: no DuckDB, no DECIMAL type, no Polars."""
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE orders (listing_id TEXT, quantity INTEGER, unit_price REAL, currency TEXT)")
    con.execute("CREATE TABLE listings (listing_id TEXT, store_id TEXT)")
    con.execute("CREATE TABLE fx (currency TEXT, to_base REAL)")
    con.execute("CREATE TABLE ops (store_id TEXT, operator_id TEXT)")
    con.execute("CREATE TABLE confirmed (listing_id TEXT)")
    orders = read_table(ws, "orders", ["listing_id", "quantity", "unit_price", "currency"]).to_pylist()
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", [tuple(r.values()) for r in orders])
    con.executemany("INSERT INTO listings VALUES (?, ?)",
                    [tuple(r.values()) for r in read_table(ws, "listings", ["listing_id", "store_id"]).to_pylist()])
    fx = [tuple(r.values()) for r in read_table(ws, "fx_rates", ["currency", "to_base"]).to_pylist()]
    con.executemany("INSERT INTO fx VALUES (?, ?)", fx + ([("CNY", 1.0)] if "CNY" not in dict(fx) else []))
    con.executemany("INSERT INTO ops VALUES (?, ?)", pl.read_parquet(ws.out / "operators.parquet",
                                                                     columns=["store_id", "operator_id"]).rows())  # fmt: skip
    con.executemany("INSERT INTO confirmed VALUES (?)", [(x,) for x in confirmed])
    rows = con.execute("""
        SELECT COALESCE(p.operator_id, l.store_id),
               SUM((CAST(ROUND(o.unit_price * 100) AS INTEGER) * o.quantity * CAST(ROUND(f.to_base * 1000000) AS INTEGER)
                    + 500000) / 1000000)
        FROM orders o JOIN confirmed c ON c.listing_id = o.listing_id
        JOIN listings l ON l.listing_id = o.listing_id
        LEFT JOIN ops p ON p.store_id = l.store_id
        JOIN fx f ON f.currency = o.currency
        GROUP BY 1
    """).fetchall()  # fmt: skip
    return {op: Decimal(cents) / 100 for op, cents in rows}


def test_sales_per_operator_equal_an_independent_computation_to_the_cent(ws: Workspace):
    settings = load_settings(ws.root)
    v = value_operators(ws, settings)
    confirmed = v.listings["listing_id"].to_list()
    ours = {op: Decimal(str(s)) for op, s in v.operators.select("operator_id", "sales_amount").iter_rows()}
    theirs = _independent_sales(ws, confirmed)
    assert ours.keys() >= theirs.keys()
    for op, amount in ours.items():
        assert amount == theirs.get(op, Decimal("0.00")), op
    # each operator's amount is the sum of the orders it lists
    per_op = v.orders.group_by("operator_id").agg(pl.col("amount").sum())
    for op, amount in per_op.iter_rows():
        assert Decimal(str(amount)) == ours[op]
    assert sum(ours.values()) > 0 and len([x for x in ours.values() if x > 0]) >= 3


def test_unsold_goods_at_the_marked_price_in_the_base_currency(ws: Workspace):
    v = value_operators(ws, load_settings(ws.root))
    li = pl.from_arrow(read_table(ws, "listings", ["listing_id", "price", "currency", "stock"]))
    fx = dict(pl.from_arrow(read_table(ws, "fx_rates", ["currency", "to_base"])).iter_rows()) | {"CNY": 1.0}  # type: ignore[union-attr]
    valued = v.listings.join(li, on="listing_id", suffix="_in")  # type: ignore[arg-type]
    for row in valued.head(200).iter_rows(named=True):
        expected = Decimal(row["stock"]) * (Decimal(str(row["price"])).quantize(Decimal("0.01"))
                                            * Decimal(str(fx[row["currency"]]))).quantize(Decimal("0.01"))  # fmt: skip
        if row["stock"] == 0:
            assert row["unsold_basis"] == "no_stock" and row["unsold_value"] == 0
        else:
            assert row["unsold_basis"] == "marked_price" and Decimal(str(row["unsold_value"])) == expected


def test_what_counts_as_confirmed_is_configuration_and_genuine_outcomes_clear_a_listing(ws: Workspace):
    from counterwatch.leads.valuation import _scores

    scores = _scores(ws)
    everything = confirmed_listings(ws, Settings(), scores, None)
    people_only = confirmed_listings(ws, Settings.model_validate({"leads": {"confirmed_by": ["test_buy", "review"]}}),
                                     scores, None)  # fmt: skip
    assert set(people_only["listing_id"]) < set(everything["listing_id"])
    assert not people_only["automated"].any() and set(people_only["basis"]) <= {"test_buy", "review"}
    labels = pl.from_arrow(read_table(ws, "labels", ["listing_id", "label", "decided_at"]))
    latest = labels.sort("decided_at").group_by("listing_id").agg(pl.col("label").last())  # type: ignore[union-attr]
    genuine = set(latest.filter(pl.col("label") == "genuine")["listing_id"])
    assert genuine and not genuine & set(everything["listing_id"])


def test_leads_stage_writes_ranked_evidenced_leads_and_evaluates_against_truth(ws: Workspace):
    settings = load_settings(ws.root)
    r = build_leads(ws, settings)
    leads = pl.read_parquet(ws.out / LEADS)
    assert r.leads == leads.height > 0
    required = {"lead_id", "operator_id", "store_ids", "jurisdiction", "sales_amount", "unsold_value", "currency",
                "rule_met", "margin", "readiness"}  # fmt: skip
    assert required <= set(leads.columns)
    assert leads["rank"].to_list() == list(range(1, leads.height + 1))
    assert (leads["sales_amount"].cast(pl.Float64) >= 50000).all()  # declared stock is not counted by default
    assert (leads["margin"] == leads["sales_amount"] - leads["threshold"]).all()
    assert leads["gaps"].list.len().min() >= 1  # declared stock to verify, at least
    ev = evaluate_leads(ws, settings)
    assert ev is not None and ev["coverage"] == 1.0 and ev["share_truly_below"] <= 0.02, ev
