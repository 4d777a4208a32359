"""The generator's output: every contract table in every format, deterministic, consistent truth."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import polars as pl
import pyarrow.parquet as pq
import pycountry
import pytest
from conftest import read_rows

from counterwatch.contract.schema import TABLES
from counterwatch.synth import SynthConfig, generate
from counterwatch.synth.config import HARD_NEGATIVES, OBFUSCATIONS, TACTICS


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = (generate(tmp_path / n, listings=1_500, seed=s, bad_rows=0.01) for n, s in (("a", 5), ("b", 5), ("c", 6)))
    da, db, dc = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert da == db
    assert a.counts == b.counts
    assert da["listings.parquet"] != dc["listings.parquet"]
    assert c.counts["listings"] == 1_500


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_every_table_written_with_the_contract_columns(make_workspace, fmt: str) -> None:
    root = make_workspace(fmt=fmt)
    for name, spec in TABLES.items():
        files = [p for p in root.iterdir() if p.stem == name and p.suffix in (".parquet", ".csv", ".jsonl")]
        assert [p.suffix for p in files] == [f".{fmt}"], name
        rows = read_rows(files[0])
        assert rows, name
        assert set(rows[0]) == {c.name for c in spec.columns}, name
    brands = orjson.loads((root / "brands.json").read_bytes())
    assert 40 <= len(brands) <= 80
    for name in ("listings", "stores", "bad_rows"):
        assert (root / "truth" / f"{name}.csv").is_file()


def test_a_clean_workspace_breaks_no_rule(make_workspace, checker) -> None:
    for fmt in ("parquet", "csv", "jsonl"):
        assert checker(make_workspace(fmt=fmt)) == set()


def test_parquet_columns_have_the_contract_types(workspace: Path) -> None:
    for name, spec in TABLES.items():
        schema = pq.read_schema(workspace / f"{name}.parquet")
        for col in spec.columns:
            assert schema.field(col.name).type == col.arrow_type, (name, col.name)


def test_brand_registry(workspace: Path) -> None:
    brands = orjson.loads((workspace / "brands.json").read_bytes())
    currencies = {p["currency"] for b in brands for p in b["products"]}
    assert {"CNY", "USD", "EUR", "JPY", "HKD"} <= currencies
    fx = set(pl.read_parquet(workspace / "fx_rates.parquet")["currency"])
    assert currencies | set(pl.read_parquet(workspace / "listings.parquet")["currency"]) <= fx
    assert any(any("\u4e00" <= ch <= "\u9fff" for a in b["aliases"] for ch in a) for b in brands)
    expires = [t["expires"] for b in brands for t in b["trademarks"]]
    assert min(expires) < "2026-10-01" < max(expires)  # some marks have lapsed
    stores = set(pl.read_parquet(workspace / "stores.parquet")["store_id"])
    authorized = [s for b in brands for s in b["authorized_stores"]]
    assert authorized and set(authorized) <= stores


def test_truth_covers_every_listing_and_store(workspace: Path) -> None:
    truth = pl.read_csv(workspace / "truth" / "listings.csv")
    listings = pl.read_parquet(workspace / "listings.parquet")
    assert truth.columns[:4] == ["listing_id", "is_counterfeit", "tactic", "hard_negative"]
    assert truth["listing_id"].to_list() == listings["listing_id"].to_list()
    assert 0.08 < truth["is_counterfeit"].mean() < 0.16
    assert set(truth["tactic"].fill_null("")) == {"", *TACTICS}
    assert set(truth["hard_negative"].fill_null("")) == {"", *HARD_NEGATIVES}
    assert set(truth["obfuscation"].fill_null("")) == {"", *OBFUSCATIONS}
    cf = truth.filter(pl.col("is_counterfeit")).fill_null("")
    assert (cf["tactic"] != "").all() and (cf["hard_negative"] == "").all()
    genuine = truth.filter(~pl.col("is_counterfeit")).fill_null("")
    assert (genuine["tactic"] == "").all()

    stores = pl.read_csv(workspace / "truth" / "stores.csv")
    assert stores.columns[:3] == ["store_id", "operator_id", "operator_kind"]
    assert set(stores["store_id"]) == set(pl.read_parquet(workspace / "stores.parquet")["store_id"])
    assert set(stores["operator_kind"]) == {"counterfeit", "legit"}


def test_regions_and_countries_are_real_codes(workspace: Path) -> None:
    stores = pl.read_parquet(workspace / "stores.parquet")
    orders = pl.read_parquet(workspace / "orders.parquet")
    regions = set(stores["region"]) | set(orders["ship_from"]) | set(orders["buyer_region"])
    assert all(pycountry.subdivisions.get(code=r) for r in regions - {""})
    assert all(pycountry.countries.get(alpha_2=c) for c in set(stores["country"]))
    assert (stores["country"] == "CN").mean() > 0.7
    assert {"CN-ZJ", "CN-GD", "CN-FJ"} <= regions


def test_orders_fall_in_the_year_before_the_reference_date(workspace: Path) -> None:
    orders = pl.read_parquet(workspace / "orders.parquet")
    ref = SynthConfig().reference_date
    assert orders["ordered_at"].max() <= ref
    assert (ref - orders["ordered_at"].min()).days <= 366
    assert 1.0 <= orders.height / 5_000 <= 3.0
    assert orders["quantity"].min() >= 1


def test_titles_mix_scripts_and_tactics_show(workspace: Path) -> None:
    df = pl.read_parquet(workspace / "listings.parquet").join(
        pl.read_csv(workspace / "truth" / "listings.csv"), on="listing_id"
    )
    has_han = df["title"].str.contains(r"[\u4e00-\u9fff]")
    has_latin = df["title"].str.contains(r"[A-Za-z]")
    assert has_han.mean() > 0.2 and has_latin.mean() > 0.5 and (has_han & has_latin).mean() > 0.05
    vocab = df.filter(pl.col("tactic") == "vocab_zh")
    text = vocab["title"] + " " + vocab["description"]
    assert (
        text.str.contains("高仿|复刻|原单|A货|莆田|纯原|精仿|超A|1比1|公司级|尾单|原厂|高版本|开模|工厂货|顶级").mean()
        > 0.6
    )
    guides = df.filter(pl.col("hard_negative") == "guide")["title"]
    assert guides.str.contains("(?i)fake|replica|authentic|真假|鉴定|legit").all()
    # Counterfeits are cheaper on the whole, but hard negatives overlap them.
    ratio = df.group_by("is_counterfeit").agg(pl.col("price_ratio").median()).sort("is_counterfeit")["price_ratio"]
    assert ratio[1] < 0.3 < ratio[0]


def test_photos_recur_across_an_operators_stores(workspace: Path) -> None:
    listings = pl.read_parquet(workspace / "listings.parquet").join(
        pl.read_csv(workspace / "truth" / "stores.csv"), on="store_id"
    )
    hashes = listings.explode("image_hashes").select("store_id", "operator_id", "operator_kind", h="image_hashes")
    assert hashes["h"].str.contains("^[0-9a-f]{16}$").all()
    # Exact repeats are rare (bits get flipped); near repeats are the point, checked on 48-bit prefixes.
    near = hashes.with_columns(pl.col("h").str.slice(0, 12).alias("p")).group_by("p").agg(
        pl.col("store_id").n_unique().alias("stores"), pl.col("operator_id").n_unique().alias("ops"),
        pl.col("operator_kind").first(),
    )  # fmt: skip
    shared_by_operator = near.filter(
        (pl.col("stores") > 1) & (pl.col("ops") == 1) & (pl.col("operator_kind") == "counterfeit")
    )
    assert shared_by_operator.height > 10


@pytest.mark.parametrize("listings", [1, 10, 200])
def test_tiny_workspaces_are_valid(tmp_path: Path, checker, listings: int) -> None:
    result = generate(tmp_path / "ws", listings=listings, seed=1, fmt="csv")
    assert result.counts["listings"] == listings and result.counts["stores"] >= 1
    assert checker(tmp_path / "ws") == set()


def test_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        generate(tmp_path, listings=10, fmt="xlsx")
