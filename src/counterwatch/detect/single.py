"""Score one listing in-process, the same way the batch scan does, for the API at listing creation.

``ListingScorer.for_workspace(ws)`` builds the detection context, loads the model and the store and
product context of the last scan once; ``score(listing)`` then runs the same signals, features,
scorer and reasons on a one-row batch. For a listing the last scan already saw, the result equals
its row in ``out/scores.parquet``; for a new one, its store's context is that of the other listings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl

from counterwatch.config import Settings, load_settings
from counterwatch.contract import read_table
from counterwatch.detect.batch import signals_frame
from counterwatch.detect.context import DetectContext
from counterwatch.detect.features import FLAGGED
from counterwatch.detect.scan import SCORES, score_frame
from counterwatch.detect.scorer import Scorer
from counterwatch.errors import InputError
from counterwatch.workspace import Workspace

_SCHEMA = {
    "listing_id": pl.String, "store_id": pl.String, "title": pl.String, "description": pl.String,
    "category": pl.String, "brand": pl.String, "price": pl.Float64, "currency": pl.String,
    "stock": pl.Int64, "created_at": pl.Datetime("us", "UTC"), "image_hashes": pl.List(pl.String),
}  # fmt: skip


@dataclass
class ListingScorer:
    ctx: DetectContext
    scorer: Scorer
    settings: Settings
    stores: dict[str, dict[str, Any]]  # store_id -> n, n_flagged, n_confirmed, brand_share, created_at
    seen: dict[str, tuple[bool, bool]]  # listing_id -> (flagged, confirmed) in the last scan
    product_median: dict[str, float]

    @classmethod
    def for_workspace(cls, ws: Workspace, settings: Settings | None = None) -> ListingScorer:
        settings = settings or load_settings(ws.root)
        if not (ws.out / SCORES).is_file():
            raise InputError(f"no scan yet: run `counterwatch scan {ws.root}` before scoring single listings")
        ctx = DetectContext.build(ws, settings)
        confirmed = set(ctx.confirmed_ids)
        scores = pl.read_parquet(ws.out / SCORES).with_columns(FLAGGED.alias("flagged"))
        scores = scores.with_columns(pl.col("listing_id").is_in(list(confirmed)).alias("confirmed"))
        per_store = scores.group_by("store_id").agg(
            pl.len().alias("n"),
            pl.col("flagged").sum().alias("n_flagged"),
            pl.col("confirmed").sum().alias("n_confirmed"),
            (pl.col("brand_id").is_not_null() | pl.col("implied_brand_id").is_not_null()).mean().alias("brand_share"),
        )
        created = pl.from_arrow(read_table(ws, "stores", ["store_id", "created_at"]))
        stores = {r["store_id"]: r for r in per_store.join(created, on="store_id", how="left").iter_rows(named=True)}
        for sid, when in created.iter_rows():
            stores.setdefault(sid, {"n": 0, "n_flagged": 0, "n_confirmed": 0, "brand_share": 0.0, "created_at": when})
        seen = {lid: (f, c) for lid, f, c in scores.select("listing_id", "flagged", "confirmed").iter_rows()}
        medians = dict(
            scores.filter(pl.col("product_id").is_not_null() & pl.col("price_ratio").is_not_null())
            .group_by("product_id")
            .agg(pl.col("price_ratio").median())
            .iter_rows()
        )
        return cls(ctx, Scorer.for_workspace(ws), settings, stores, seen, medians)

    def score(self, listing: dict[str, Any]) -> dict[str, Any]:
        """Risk, band, reasons and signals of one listing given in the contract's shape."""
        row = {k: listing.get(k) for k in _SCHEMA}
        row["image_hashes"] = list(row["image_hashes"] or [])
        if isinstance(row["created_at"], str):
            row["created_at"] = dt.datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
        df = signals_frame(pl.DataFrame([row], schema=_SCHEMA), self.ctx)
        df = df.with_columns(FLAGGED.alias("flagged"))
        store = self.stores.get(row["store_id"] or "", {})
        own_flagged, own_confirmed = self.seen.get(row["listing_id"] or "", (None, None))
        n, n_flagged, n_confirmed = store.get("n", 0), store.get("n_flagged", 0), store.get("n_confirmed", 0)
        if own_flagged is not None:  # the scan counted this listing in its store: leave it out, as the scan does
            others, others_flagged = n - 1, n_flagged - int(own_flagged)
            others_confirmed = n_confirmed - int(own_confirmed)
            listings = n
        else:
            others, others_flagged, others_confirmed, listings = n, n_flagged, n_confirmed, n + 1
        created = store.get("created_at")
        age = (self.ctx.reference_time - created).days if created is not None else None
        product = df["product_id"][0]
        df = df.with_columns(
            pl.lit(listings, dtype=pl.Int64).alias("store_listings"),
            pl.lit(others_flagged / others if others > 0 else 0.0, dtype=pl.Float64).alias("store_flagged_share"),
            pl.lit(others_confirmed, dtype=pl.Int64).alias("store_confirmed"),
            pl.lit(store.get("brand_share"), dtype=pl.Float64).alias("store_brand_share"),
            pl.lit(age, dtype=pl.Int64).alias("store_age_days"),
            pl.lit(self.product_median.get(product) if product else None, dtype=pl.Float64).alias(
                "product_median_ratio"
            ),
        )
        d = self.settings.detect
        out = score_frame(df, self.scorer, self.ctx, d.block_at, d.review_at)
        return out.drop("title", "image_hashes", "flagged", "created_at").row(0, named=True)
