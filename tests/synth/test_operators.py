"""Operators, identifiers and sales: linking and thresholds have cases to find and cases to resist."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from counterwatch.contract.schema import IDENTIFIER_KINDS
from counterwatch.synth.places import DECOYS, PLACEHOLDERS


def test_counterfeit_operators_are_heavy_tailed(workspace: Path) -> None:
    stores = pl.read_csv(workspace / "truth" / "stores.csv")
    sizes = stores.group_by("operator_id", "operator_kind").len()
    cf = sizes.filter(pl.col("operator_kind") == "counterfeit")["len"]
    legit = sizes.filter(pl.col("operator_kind") == "legit")["len"]
    assert (cf <= 3).mean() > 0.6  # most run one to three stores
    assert cf.max() >= 8  # a few run many
    assert (cf > 1).sum() >= 3
    assert (legit == 1).mean() > 0.85
    assert {"chain", "hub", "single", "group"} <= set(stores["link_pattern"])


def test_identifiers_are_long_and_noisy(workspace: Path) -> None:
    ids = pl.read_parquet(workspace / "store_identifiers.parquet")
    assert set(ids["kind"]) == set(IDENTIFIER_KINDS)
    phones = ids.filter(pl.col("kind") == "phone")["value"]
    assert phones.str.contains(r"^\+86 1\d\d \d{4} \d{4}$").any()
    assert phones.str.contains(r"^1\d{10}$").any()
    assert phones.str.contains(r"^1\d\d-\d{4}-\d{4}$").any()
    assert phones.str.contains(r"^0086").any()
    emails = ids.filter(pl.col("kind") == "email")["value"]
    assert emails.str.contains(r"\+").any() and emails.str.contains(r"[A-Z]").any()
    addresses = ids.filter(pl.col("kind") == "address")["value"]
    assert addresses.str.contains("省|市").any() and addresses.str.contains(r"(?i)\brd\.|road").any()
    assert ids.filter(pl.col("kind") == "bank_account")["value"].str.contains(r"\d{4} \d{4}").any()


def test_an_operators_stores_share_identifiers_even_in_chains(workspace: Path) -> None:
    truth = pl.read_csv(workspace / "truth" / "stores.csv")
    ids = pl.read_parquet(workspace / "store_identifiers.parquet").join(truth, on="store_id")
    digits = ids.with_columns(pl.col("value").str.replace_all(r"[^0-9A-Za-z]", "").str.to_lowercase().alias("v"))
    shared = (
        digits.filter(pl.col("link_pattern") == "chain")
        .group_by("v")
        .agg(pl.col("store_id").n_unique().alias("stores"), pl.col("operator_id").n_unique().alias("ops"))
    )
    assert shared.filter((pl.col("stores") >= 2) & (pl.col("ops") == 1)).height >= 1


def test_decoys_are_shared_by_many_unrelated_legit_stores(workspace: Path) -> None:
    truth = pl.read_csv(workspace / "truth" / "stores.csv")
    ids = pl.read_parquet(workspace / "store_identifiers.parquet").join(truth, on="store_id")
    decoy_values = {v for _, v in DECOYS}
    decoys = ids.filter(pl.col("value").is_in(decoy_values)).group_by("value").agg(
        pl.col("operator_id").n_unique().alias("operators"),
        (pl.col("operator_kind") == "legit").sum().alias("legit"),
    )  # fmt: skip
    assert decoys.height >= 5
    assert decoys["operators"].max() >= 5 and decoys["legit"].max() >= 5
    assert truth["touches_decoy"].sum() >= 10
    placeholders = {v for vs in PLACEHOLDERS.values() for v in vs}
    assert ids.filter(pl.col("value").fill_null("").is_in(placeholders)).height >= 3


def test_some_counterfeit_operators_pass_the_threshold_and_some_fall_just_short(workspace: Path) -> None:
    orders = pl.read_parquet(workspace / "orders.parquet")
    fx = pl.read_parquet(workspace / "fx_rates.parquet")
    listings = pl.read_parquet(workspace / "listings.parquet").select("listing_id", "store_id")
    truth_l = pl.read_csv(workspace / "truth" / "listings.csv").select("listing_id", "is_counterfeit")
    truth_s = pl.read_csv(workspace / "truth" / "stores.csv").select("store_id", "operator_id")
    sales = (
        orders.join(fx, on="currency").join(listings, on="listing_id").join(truth_l, on="listing_id")
        .filter(pl.col("is_counterfeit")).join(truth_s, on="store_id")
        .group_by("operator_id").agg((pl.col("quantity") * pl.col("unit_price") * pl.col("to_base")).sum().alias("cny"))
    )  # fmt: skip
    assert (sales["cny"] >= 50_000).sum() >= 2
    assert ((sales["cny"] >= 35_000) & (sales["cny"] < 50_000)).sum() >= 1
    assert (sales["cny"] >= 100_000).sum() >= 1
    assert (sales["cny"] < 30_000).sum() >= 3
    # truth/operators.csv says the same
    ops = pl.read_csv(workspace / "truth" / "operators.csv").join(sales, on="operator_id")
    assert (ops["counterfeit_sales_cny"] - ops["cny"]).abs().max() < 0.05
