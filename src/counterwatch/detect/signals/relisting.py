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
        of = np.full(n, None, dtype=object)
        index = ctx.text_index
        if index is not None and n:
            branded = (df["brand_id"].is_not_null() | df["implied_brand_id"].is_not_null()).to_numpy()
            rows = np.flatnonzero(branded)
            if len(rows):
                payload, jac = index.query(df["_title_plain"].gather(rows), min_jaccard=0.3)
                confirmed = np.asarray(ctx.confirmed_ids, dtype=object)
                hit = payload >= 0
                other = np.full(len(rows), None, dtype=object)
                other[hit] = confirmed[payload[hit]]
                own = df["listing_id"].to_numpy()[rows]
                ok = hit & (other != own)  # a confirmed listing is not a re-listing of itself
                sim[rows[ok]] = jac[ok]
                of[rows[ok]] = other[ok]
        return df.with_columns(
            pl.Series("relist_similarity", sim, dtype=pl.Float32), pl.Series("relist_of", of.tolist(), dtype=pl.String)
        )

    def one(self, row: dict[str, Any], ctx, _prepared: None) -> None:  # type: ignore[no-untyped-def]
        row["relist_similarity"], row["relist_of"] = 0.0, None
        index = ctx.text_index
        if index is None or (row.get("brand_id") is None and row.get("implied_brand_id") is None):
            return
        payload, jaccard = index.query_one(row["_title_plain"], min_jaccard=0.3)
        if payload >= 0 and ctx.confirmed_ids[payload] != row.get("listing_id"):
            row["relist_similarity"], row["relist_of"] = jaccard, ctx.confirmed_ids[payload]
