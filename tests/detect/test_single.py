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


def test_single_listing_equals_its_batch_row(scored):
    ws, scorer = scored
    scores = pl.read_parquet(ws.out / "scores.parquet").select("listing_id", "risk", "band", "reasons")
    listings = pl.read_parquet(ws.tables_dir / "listings.parquet")
    sample = listings.join(scores.filter(pl.col("band") != "allow").head(40), on="listing_id").drop(
        "risk", "band", "reasons"
    )
    sample = pl.concat([sample, listings.head(40)])
    expected = {r["listing_id"]: r for r in scores.iter_rows(named=True)}
    for listing in sample.to_dicts():
        got = scorer.score(listing)
        want = expected[listing["listing_id"]]
        assert got["risk"] == pytest.approx(want["risk"], abs=1e-12)
        assert (got["band"], got["reasons"]) == (want["band"], want["reasons"])


def test_a_new_listing_in_a_known_store(scored):
    ws, scorer = scored
    store = pl.read_parquet(ws.tables_dir / "stores.parquet")["store_id"][0]
    got = scorer.score(
        {"listing_id": "NEW-1", "store_id": store, "title": "Rolex Submariner replica 1:1 复刻", "price": 900,
         "currency": "CNY", "stock": 10, "created_at": "2026-09-30T10:00:00Z", "image_hashes": []}
    )  # fmt: skip
    assert got["band"] != "allow"
    assert any("counterfeit vocabulary" in r for r in got["reasons"])
