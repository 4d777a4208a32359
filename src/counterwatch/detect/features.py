"""The scorer's features: numbers derived from the signals and from the listing's store.

One list, used by the built-in weights, by training and by scoring, so a model always sees the
features it was trained on. Each is a Polars expression over the signals frame joined with the
store context (``store_*`` columns) and the product-line statistics (``product_median_ratio``).
"""

from __future__ import annotations

import polars as pl

_ratio = pl.col("price_ratio")
_named = pl.col("brand_id").is_not_null()
_branded = _named | pl.col("implied_brand_id").is_not_null()
_harmless = pl.col("says_guide") | pl.col("says_accessory")

FEATURES: dict[str, pl.Expr] = {
    "counterfeit_in_title": pl.col("counterfeit_in_title").cast(pl.Float64),
    "counterfeit_terms": pl.col("counterfeit_terms").list.len().cast(pl.Float64),
    "dupe_terms": pl.col("dupe_terms").list.len().cast(pl.Float64),
    "brand_named": _named.cast(pl.Float64),
    "brand_implied": (~_named & _branded).cast(pl.Float64),
    "brand_disguised": (pl.col("brand_how") == "disguised").fill_null(False).cast(pl.Float64),
    "brand_misspelled": (pl.col("brand_how") == "misspelled").fill_null(False).cast(pl.Float64),
    "brand_in_title": (pl.col("brand_field") == "title").fill_null(False).cast(pl.Float64),
    "homoglyphs": pl.col("homoglyphs").cast(pl.Float64),
    "invisible_chars": pl.col("invisible_chars").cast(pl.Float64),
    "authorized_store": pl.col("authorized").cast(pl.Float64),
    "says_guide": pl.col("says_guide").cast(pl.Float64),
    "says_accessory": pl.col("says_accessory").cast(pl.Float64),
    "says_pre_owned": pl.col("says_pre_owned").cast(pl.Float64),
    "says_clearance": pl.col("says_clearance").cast(pl.Float64),
    "says_official": pl.col("says_authorized").cast(pl.Float64),
    "says_authentic": pl.col("says_authentic_claim").cast(pl.Float64),
    "product_hits": pl.col("product_hits").fill_null(0).cast(pl.Float64),
    "has_price_ratio": _ratio.is_not_null().cast(pl.Float64),
    "log_price_ratio": _ratio.clip(1e-4, 100).log().fill_null(0.0),
    "log_ratio_vs_product": (
        _ratio.clip(1e-4, 100).log() - pl.col("product_median_ratio").clip(1e-4, 100).log()
    ).fill_null(0.0),
    "photo_confirmed": pl.col("photo_confirmed").fill_null(0).cast(pl.Float64),
    "relist_similarity": pl.col("relist_similarity").fill_null(0.0).cast(pl.Float64),
    "store_flagged_share": pl.col("store_flagged_share").fill_null(0.0),
    "store_confirmed": pl.col("store_confirmed").fill_null(0).cast(pl.Float64),
    "store_log_listings": pl.col("store_listings").fill_null(1).cast(pl.Float64).log1p(),
    "store_age_days": pl.col("store_age_days").fill_null(365.0).clip(0, 3650),
    "store_brand_share": pl.col("store_brand_share").fill_null(0.0),
}

#: Strong textual evidence of one listing; the share of a store's *other* listings with it is a store feature.
FLAGGED = (
    (pl.col("counterfeit_terms").list.len() > 0)
    | (pl.col("dupe_terms").list.len() > 0)
    | pl.col("brand_how").is_in(["disguised", "misspelled"]).fill_null(False)
    | pl.col("homoglyphs")
    | (_branded & (_ratio < 0.35) & ~_harmless & ~pl.col("authorized")).fill_null(False)
) & ~pl.col("says_guide")

#: Built-in logistic weights (log-odds per unit of feature), used until ``counterwatch train`` fits a model.
BUILTIN_WEIGHTS: dict[str, float] = {
    "counterfeit_in_title": 3.0,
    "counterfeit_terms": 2.2,
    "dupe_terms": 2.5,
    "brand_disguised": 3.5,
    "brand_misspelled": 2.5,
    "homoglyphs": 2.0,
    "invisible_chars": 2.0,
    "brand_named": 0.5,
    "brand_implied": 1.0,
    "authorized_store": -6.0,
    "says_guide": -6.0,
    "says_accessory": -4.0,
    "says_pre_owned": -1.0,
    "says_clearance": -0.5,
    "says_official": -1.0,
    "log_price_ratio": -1.6,
    "photo_confirmed": 1.5,
    "relist_similarity": 3.0,
    "store_flagged_share": 5.0,
    "store_confirmed": 0.8,
}
BUILTIN_BIAS = -6.0

#: Direction each feature may move the risk in a trained model (+1 up, -1 down, 0 free).
MONOTONE: dict[str, int] = {
    "counterfeit_in_title": 1, "counterfeit_terms": 1, "dupe_terms": 1, "brand_disguised": 1,
    "brand_misspelled": 1, "homoglyphs": 1, "invisible_chars": 1, "authorized_store": -1, "says_guide": -1,
    "says_accessory": -1, "log_price_ratio": -1, "log_ratio_vs_product": -1, "photo_confirmed": 1,
    "relist_similarity": 1, "store_flagged_share": 1, "store_confirmed": 1,
}  # fmt: skip
