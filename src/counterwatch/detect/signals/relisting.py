"""Re-listing: near-duplicate text of a listing already confirmed counterfeit (taken down and
posted again with a few characters changed). MinHash over character shingles with LSH banding
(``detect.index.minhash``); only listings that name a brand or a product are compared, since a
re-listed counterfeit keeps what it sells."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from counterwatch.detect.signals.base import Example, Signal


class Relisting(Signal):
    name = "relisting"
    uses_indexes = True
    reads = ("title",)
    outputs = {
        "relist_similarity": pl.Float32,  # estimated Jaccard with the closest confirmed counterfeit
        "relist_of": pl.String,  # that listing's id
    }
    examples = (Example({"title": "plain cotton t-shirt"}, {"relist_similarity": 0.0}),)

    def compute(self, df: pl.DataFrame, ctx) -> pl.DataFrame:  # type: ignore[no-untyped-def]
        n = df.height
        sim = np.zeros(n, dtype=np.float32)
        confirmed: pl.Series = ctx.confirmed_series()
        of = np.full(n, len(confirmed) - 1, dtype=np.uint32)  # the null after the ids: no re-listing
        index = ctx.text_index
        if index is not None and n:
            branded = (df["brand_id"].is_not_null() | df["implied_brand_id"].is_not_null()).to_numpy()
            rows = np.flatnonzero(branded)
            if len(rows):
                payload, jac = index.query(df["_title_plain"].gather(rows), min_jaccard=0.3)
                hit = np.flatnonzero(payload >= 0)
                # a confirmed listing is not a re-listing of itself
                other = confirmed.gather(payload[hit])
                ok = hit[other.ne_missing(df["listing_id"].gather(rows[hit])).to_numpy()]  # a missing id: not itself
                sim[rows[ok]] = jac[ok]
                of[rows[ok]] = payload[ok]
        return df.with_columns(
            pl.Series("relist_similarity", sim, dtype=pl.Float32), confirmed.gather(of).alias("relist_of")
        )

    def one(self, row: dict[str, Any], ctx, _prepared: None) -> None:  # type: ignore[no-untyped-def]
        row["relist_similarity"], row["relist_of"] = 0.0, None
        index = ctx.text_index
        if index is None or (row.get("brand_id") is None and row.get("implied_brand_id") is None):
            return
        payload, jaccard = index.query_one(row["_title_plain"], min_jaccard=0.3)
        if payload >= 0 and ctx.confirmed_ids[payload] != row.get("listing_id"):
            row["relist_similarity"], row["relist_of"] = jaccard, ctx.confirmed_ids[payload]
