"""The scorer's features: numbers derived from the signals and from the listing's store.

One list, used by the built-in weights, by training and by scoring, so a model always sees the
features it was trained on. Each is a Polars expression over the signals frame joined with the
store context (``store_*`` columns) and the product-line statistics (``product_median_ratio``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

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
    "operator_flagged_share": pl.col("operator_flagged_share").fill_null(0.0),
    "operator_confirmed": pl.col("operator_confirmed").fill_null(0).cast(pl.Float64),
    "operator_log_stores": pl.col("operator_stores").fill_null(1).cast(pl.Float64).log1p(),
}


def _log_clipped(x: float) -> float:
    return math.log(min(max(x, 1e-4), 100.0))


def _ratio_vs_product(r: dict[str, Any]) -> float:
    ratio, median = r.get("price_ratio"), r.get("product_median_ratio")
    return 0.0 if ratio is None or median is None else _log_clipped(ratio) - _log_clipped(median)


def _or(value: Any, default: float) -> float:
    return default if value is None else float(value)


def _named_one(r: dict[str, Any]) -> bool:
    return r.get("brand_id") is not None


def _branded_one(r: dict[str, Any]) -> bool:
    return r.get("brand_id") is not None or r.get("implied_brand_id") is not None


#: ``FEATURES`` for one listing as a dict of its signals and context (the single-listing path).
FEATURES_ONE: dict[str, Callable[[dict[str, Any]], float]] = {
    "counterfeit_in_title": lambda r: float(r["counterfeit_in_title"]),
    "counterfeit_terms": lambda r: float(len(r["counterfeit_terms"])),
    "dupe_terms": lambda r: float(len(r["dupe_terms"])),
    "brand_named": lambda r: float(_named_one(r)),
    "brand_implied": lambda r: float(not _named_one(r) and _branded_one(r)),
    "brand_disguised": lambda r: float(r.get("brand_how") == "disguised"),
    "brand_misspelled": lambda r: float(r.get("brand_how") == "misspelled"),
    "brand_in_title": lambda r: float(r.get("brand_field") == "title"),
    "homoglyphs": lambda r: float(r["homoglyphs"]),
    "invisible_chars": lambda r: float(r["invisible_chars"]),
    "authorized_store": lambda r: float(r["authorized"]),
    "says_guide": lambda r: float(r["says_guide"]),
    "says_accessory": lambda r: float(r["says_accessory"]),
    "says_pre_owned": lambda r: float(r["says_pre_owned"]),
    "says_clearance": lambda r: float(r["says_clearance"]),
    "says_official": lambda r: float(r["says_authorized"]),
    "says_authentic": lambda r: float(r["says_authentic_claim"]),
    "product_hits": lambda r: _or(r.get("product_hits"), 0.0),
    "has_price_ratio": lambda r: float(r.get("price_ratio") is not None),
    "log_price_ratio": lambda r: 0.0 if r.get("price_ratio") is None else _log_clipped(r["price_ratio"]),
    "log_ratio_vs_product": _ratio_vs_product,
    "photo_confirmed": lambda r: _or(r.get("photo_confirmed"), 0.0),
    "relist_similarity": lambda r: _or(r.get("relist_similarity"), 0.0),
    "store_flagged_share": lambda r: _or(r.get("store_flagged_share"), 0.0),
    "store_confirmed": lambda r: _or(r.get("store_confirmed"), 0.0),
    "store_log_listings": lambda r: math.log1p(_or(r.get("store_listings"), 1.0)),
    "store_age_days": lambda r: min(max(_or(r.get("store_age_days"), 365.0), 0.0), 3650.0),
    "store_brand_share": lambda r: _or(r.get("store_brand_share"), 0.0),
    "operator_flagged_share": lambda r: _or(r.get("operator_flagged_share"), 0.0),
    "operator_confirmed": lambda r: _or(r.get("operator_confirmed"), 0.0),
    "operator_log_stores": lambda r: math.log1p(_or(r.get("operator_stores"), 1.0)),
}


def flagged_one(r: dict[str, Any]) -> bool:
    """``FLAGGED`` for one listing."""
    ratio = r.get("price_ratio")
    harmless = r["says_guide"] or r["says_accessory"]
    cheap = _branded_one(r) and ratio is not None and ratio < 0.35 and not harmless and not r["authorized"]
    strong = (bool(r["counterfeit_terms"]) or bool(r["dupe_terms"]) or r.get("brand_how") in ("disguised", "misspelled")
              or r["homoglyphs"] or cheap)  # fmt: skip
    return bool(strong and not r["says_guide"])


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
    "operator_flagged_share": 3.0,
    "operator_confirmed": 0.3,
}
BUILTIN_BIAS = -6.0

#: Direction each feature may move the risk in a trained model (+1 up, -1 down, 0 free).
MONOTONE: dict[str, int] = {
    "counterfeit_in_title": 1, "counterfeit_terms": 1, "dupe_terms": 1, "brand_disguised": 1,
    "brand_misspelled": 1, "homoglyphs": 1, "invisible_chars": 1, "authorized_store": -1, "says_guide": -1,
    "says_accessory": -1, "log_price_ratio": -1, "log_ratio_vs_product": -1, "photo_confirmed": 1,
    "relist_similarity": 1, "store_flagged_share": 1, "store_confirmed": 1, "operator_flagged_share": 1,
    "operator_confirmed": 1,
}  # fmt: skip
