"""Product line: which of a brand's genuine products the listing is, from its name and keywords,
with or without the brand named (a counterfeiter who drops the brand still names the model)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import polars as pl

from counterwatch.detect.frames import per_distinct, place_rows, union_lists
from counterwatch.detect.signals.base import Example, Signal

_HAN = r"\p{Han}"
MIN_IMPLIED_HITS = 2  # distinct keywords (the product's name is one) before a product implies its brand


class ProductLine(Signal):
    name = "product"
    reads = ("title", "description")
    outputs = {
        "product_id": pl.String,
        "product_name": pl.String,
        "product_hits": pl.Int32,  # distinct keywords of that product found
        "implied_brand_id": pl.String,  # the product's brand when the listing names no brand
    }
    examples = (
        Example({"title": "Air Jordan 1 Retro High OG 乔丹1代"}, {"product_name": "Air Jordan 1 Retro High OG"}),
        Example({"title": "Nike Air Force 1 '07 low white"}, {"product_name": "Air Force 1 '07"}),
        Example({"title": "plain cotton t-shirt"}, {"product_id": None}),
    )

    def compute(self, df: pl.DataFrame, ctx) -> pl.DataFrame:  # type: ignore[no-untyped-def]
        cat = ctx.catalog
        n = df.height
        kw_forms = cat.keyword_forms
        pats = list(kw_forms)
        # Keywords per field on its distinct word views (padded, so none runs from title into description).
        for f in ("title", "description"):
            found = (
                pl.col(f"_{f}_tok").str.extract_many(pats, overlapping=True)
                if pats
                else pl.lit([], dtype=pl.List(pl.String))  # a registry without products
            )
            df = per_distinct(df, f"_{f}_tok", [{f"_{f}_kw": found.list.unique(maintain_order=True)}], by=f)
        hits = (
            pl.DataFrame({
                "_row": pl.int_range(0, n, dtype=pl.UInt32, eager=True),
                "kw": union_lists(df["_title_kw"], df["_description_kw"]),
            })
            .explode("kw")
            .drop_nulls("kw")
        )  # fmt: skip
        df = df.drop("_title_kw", "_description_kw")
        table = pl.DataFrame(
            [(k, r) for k, rows in kw_forms.items() for r in rows],
            schema={"kw": pl.String, "product_row": pl.UInt32},
            orient="row",
        )
        products = cat.products.with_row_index("product_row")
        ids = pl.Series(cat.brand_ids, dtype=pl.String)
        brand_of_row = df["brand_id"]  # by row position: gathered, not joined on a row number
        best = (
            hits.join(table, on="kw")
            .group_by("_row", "product_row")
            .agg(pl.len().alias("product_hits"), pl.col("kw").str.len_chars().sum().alias("_chars"))
            .join(products.select("product_row", "brand_idx", "product_id", "product_name"), on="product_row")
            .with_columns(pl.lit(ids).gather(pl.col("brand_idx").cast(pl.UInt32)).alias("_pbrand"))
            .with_columns(pl.lit(brand_of_row).gather(pl.col("_row")).alias("brand_id"))
            # the named brand's own products first, then the most and longest keywords
            .with_columns((pl.col("_pbrand") == pl.col("brand_id")).fill_null(False).alias("_same"))
            .sort(
                ["_row", "_same", "product_hits", "_chars", "product_row"], descending=[False, True, True, True, False]
            )
            .group_by("_row", maintain_order=True)
            .first()
        )
        per_row = place_rows(best, best["_row"], n)  # each row's best product, or nulls
        strong = per_row["product_hits"] >= MIN_IMPLIED_HITS
        return df.with_columns(
            per_row["product_id"],
            per_row["product_name"],
            per_row["product_hits"].cast(pl.Int32),
            # One generic keyword ("羽绒服", down jacket) does not make a Moncler: two are needed.
            pl.when(pl.col("brand_id").is_null() & strong)
            .then(per_row["_pbrand"])
            .otherwise(None)
            .alias("implied_brand_id"),
            # The product is the listing's when its brand is the one named, or implied.
            pl.when(
                (per_row["_pbrand"] == pl.col("brand_id"))
                | (pl.col("brand_id").is_null() & (per_row["product_hits"] >= MIN_IMPLIED_HITS))
            )
            .then(per_row["product_row"])
            .otherwise(None)
            .alias("_product_row"),
        )

    def prepare(self, ctx) -> Any:  # type: ignore[no-untyped-def]
        import ahocorasick_rs

        forms = ctx.catalog.keyword_forms
        return ahocorasick_rs.AhoCorasick(list(forms), matchkind=ahocorasick_rs.MatchKind.Standard) if forms else None

    def one(self, row: dict[str, Any], ctx, ac: Any) -> None:  # type: ignore[no-untyped-def]
        """The batch rules for one listing: keywords of both fields, counted per product, best product first."""
        cat = ctx.catalog
        found = set()
        if ac is not None:
            for f in ("title", "description"):
                found.update(ac.find_matches_as_strings(row[f"_{f}_tok"], overlapping=True))
        hits: Counter[int] = Counter()
        chars: Counter[int] = Counter()
        for kw in found:
            for r in cat.keyword_forms[kw]:  # a product may list one keyword twice (in two spellings)
                hits[r] += 1
                chars[r] += len(kw)
        brand_id = row.get("brand_id")
        best = None
        for r in hits:
            pbrand = cat.brand_ids[cat.product_brand[r]]
            key = (-(pbrand == brand_id), -hits[r], -chars[r], r)
            if best is None or key < best[0]:
                best = (key, r, pbrand)
        if best is None:
            row.update(product_id=None, product_name=None, product_hits=None, implied_brand_id=None, _product_row=None)
            return
        _, r, pbrand = best
        strong = hits[r] >= MIN_IMPLIED_HITS
        row.update(
            product_id=cat.product_ids[r],
            product_name=cat.product_names[r],
            product_hits=hits[r],
            implied_brand_id=pbrand if brand_id is None and strong else None,
            _product_row=r if pbrand == brand_id or (brand_id is None and strong) else None,
        )
