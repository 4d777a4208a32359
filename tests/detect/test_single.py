"""One listing scored in-process gets exactly its row of the batch scan."""

from __future__ import annotations

import polars as pl
import pytest

from counterwatch.detect.scan import scan
from counterwatch.detect.single import ListingScorer
from tests.detect.conftest import fresh_copy


@pytest.fixture(scope="module")
def scored(detect_ws, tmp_path_factory):
    ws = fresh_copy(detect_ws, tmp_path_factory.mktemp("single") / "ws")
    scan(ws, workers=1)
    return ws, ListingScorer.for_workspace(ws)


def assert_rows_equal(ws, scorer) -> None:  # type: ignore[no-untyped-def]
    """Every listing of the workspace scored alone gets its batch row: every column, risk to 1e-12."""
    scores = pl.read_parquet(ws.out / "scores.parquet")
    listings = pl.read_parquet(ws.tables_dir / "listings.parquet")
    assert {"block", "allow"} <= set(scores["band"])  # both ends are exercised
    for want, listing in zip(scores.iter_rows(named=True), listings.iter_rows(named=True), strict=True):
        got = scorer.score(listing)
        assert list(got) == scores.columns
        assert got["risk"] == pytest.approx(want["risk"], abs=1e-12), want["listing_id"]
        assert {k: v for k, v in got.items() if k != "risk"} == {k: v for k, v in want.items() if k != "risk"}


def test_single_listing_equals_its_batch_row(scored):
    assert_rows_equal(*scored)


def test_single_listing_equals_its_batch_row_with_a_trained_model(detect_ws, tmp_path):
    from counterwatch.detect.train import train

    ws = fresh_copy(detect_ws, tmp_path / "ws")
    scan(ws, workers=1)
    train(ws)
    assert (ws.root / "models" / "detect-model.joblib").is_file()
    assert_rows_equal(ws, ListingScorer.for_workspace(ws))


def test_a_new_listing_in_a_known_store(scored):
    ws, scorer = scored
    store = pl.read_parquet(ws.tables_dir / "stores.parquet")["store_id"][0]
    got = scorer.score(
        {"listing_id": "NEW-1", "store_id": store, "title": "Rolex Submariner replica 1:1 复刻", "price": 900,
         "currency": "CNY", "stock": 10, "created_at": "2026-09-30T10:00:00Z", "image_hashes": []}
    )  # fmt: skip
    assert got["band"] != "allow"
    assert any("counterfeit vocabulary" in r for r in got["reasons"])


def test_single_listing_equals_its_batch_row_with_operators_linked(detect_ws, tmp_path):
    """After `link`, the store context carries the operator's other stores; single scoring reads it too."""
    from counterwatch.link.stage import link

    ws = fresh_copy(detect_ws, tmp_path / "ws")
    link(ws)
    scan(ws, workers=1)
    scores = pl.read_parquet(ws.out / "scores.parquet")
    assert (scores["operator_stores"] > 1).any() and (scores["operator_flagged_share"] > 0).any()
    assert_rows_equal(ws, ListingScorer.for_workspace(ws))


def test_the_first_listing_of_a_new_store_of_a_known_operator_carries_its_history(detect_ws, tmp_path):
    """A store whose listings are gone (a fresh store, as far as listings go) of an operator with
    confirmed counterfeits in its other stores: its first listing starts with that history."""
    from counterwatch.link.stage import link

    ws = fresh_copy(detect_ws, tmp_path / "ws")
    link(ws)
    scan(ws, workers=1)
    scores = pl.read_parquet(ws.out / "scores.parquet")
    operators = pl.read_parquet(ws.out / "operators.parquet")
    per_store = scores.group_by("store_id").agg(
        pl.col("operator_confirmed").max().alias("others"), (pl.col("store_confirmed").max() == 0).alias("clean")
    )
    store = (
        per_store.join(operators, on="store_id")
        .filter((pl.col("operator_stores") > 2) & (pl.col("others") > 0) & pl.col("clean"))
        .sort("store_id")["store_id"][0]
    )
    listings = pl.read_parquet(ws.root / "listings.parquet")
    listings.filter(pl.col("store_id") != store).write_parquet(ws.root / "listings.parquet")
    link(ws)
    scan(ws, workers=1)
    assert store not in set(pl.read_parquet(ws.out / "scores.parquet")["store_id"])
    got = ListingScorer.for_workspace(ws).score(
        {"listing_id": "NEW-OP-1", "store_id": store, "title": "plain cotton t-shirt", "price": 50, "currency": "CNY",
         "stock": 3, "created_at": "2026-09-30T10:00:00Z", "image_hashes": []}
    )  # fmt: skip
    assert got["operator_stores"] > 1
    assert got["operator_confirmed"] > 0
    assert any("operator's other stores" in r for r in got["reasons"])
