"""Score one listing in-process, the same way the batch scan does, for the API at listing creation.

``ListingScorer.for_workspace(ws)`` builds the detection context, loads the model and rebuilds the
store and product context of the last scan once; ``score(listing)`` then runs the same signals,
the same context join (``scan.with_context``), scorer and reasons on a one-row batch. For a listing
the last scan saw, the result equals its row in ``out/scores.parquet``; a new listing joins its
store as one more listing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from counterwatch.config import Settings, load_settings
from counterwatch.contract import read_table
from counterwatch.detect.batch import signals_frame
from counterwatch.detect.context import DetectContext
from counterwatch.detect.features import FLAGGED
from counterwatch.detect.scan import SCORES, ScanContext, score_frame, with_context
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
    context: ScanContext  # as pass 2 of the last scan had it
    seen: frozenset[str]  # listings the last scan counted in their stores

    @classmethod
    def for_workspace(cls, ws: Workspace, settings: Settings | None = None) -> ListingScorer:
        settings = settings or load_settings(ws.root)
        if not (ws.out / SCORES).is_file():
            raise InputError(f"no scan yet: run `counterwatch scan {ws.root}` before scoring single listings")
        ctx = DetectContext.build(ws, settings)
        scores = pl.read_parquet(ws.out / SCORES).with_columns(FLAGGED.alias("flagged"))
        confirmed = pl.DataFrame({"listing_id": ctx.confirmed_ids}, schema={"listing_id": pl.String})
        scores = scores.with_columns(pl.col("listing_id").is_in(confirmed["listing_id"].implode()).alias("_conf"))
        created = pl.from_arrow(read_table(ws, "stores", ["store_id", "created_at"])).rename(
            {"created_at": "store_created_at"}
        )
        stores = created.join(
            scores.group_by("store_id").agg(
                pl.len().cast(pl.Int64).alias("n"),
                pl.col("flagged").cast(pl.Int64).sum().alias("n_flagged"),
                pl.col("_conf").cast(pl.Int64).sum().alias("n_confirmed"),
                (pl.col("brand_id").is_not_null() | pl.col("implied_brand_id").is_not_null())
                .mean()
                .alias("brand_share"),
            ),
            on="store_id",
            how="left",
        ).with_columns(pl.col("n", "n_flagged", "n_confirmed").fill_null(0))
        products = (
            scores.filter(pl.col("product_id").is_not_null() & pl.col("price_ratio").is_not_null())
            .group_by("product_id")
            .agg(pl.col("price_ratio").median().alias("product_median_ratio"))
        )
        context = ScanContext(stores, products, confirmed, ctx.reference_time)
        return cls(ctx, Scorer.for_workspace(ws), settings, context, frozenset(scores["listing_id"].to_list()))

    def score(self, listing: dict[str, Any]) -> dict[str, Any]:
        """Risk, band, reasons and signals of one listing given in the contract's shape."""
        row = {k: listing.get(k) for k in _SCHEMA}
        row["image_hashes"] = list(row["image_hashes"] or [])
        if isinstance(row["created_at"], str):
            row["created_at"] = dt.datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
        df = signals_frame(pl.DataFrame([row], schema=_SCHEMA), self.ctx).with_columns(FLAGGED.alias("flagged"))
        context = self.context
        if row["listing_id"] not in self.seen:  # a new listing: its store has one more listing, this one
            own = pl.DataFrame({"store_id": [row["store_id"]], "_add": [int(df["flagged"][0])]})
            stores = (
                context.stores.join(own, on="store_id", how="left")
                .with_columns(
                    pl.when(pl.col("_add").is_not_null()).then(pl.col("n") + 1).otherwise(pl.col("n")).alias("n"),
                    (pl.col("n_flagged") + pl.col("_add").fill_null(0)).alias("n_flagged"),
                )
                .drop("_add")
            )
            context = replace(context, stores=stores)
        df = with_context(df, context)
        d = self.settings.detect
        out = score_frame(df, self.scorer, self.ctx, d.block_at, d.review_at)
        return out.drop("title", "image_hashes", "flagged", "created_at").row(0, named=True)
