"""Reasons: short sentences naming the evidence behind a score, in the order a reviewer reads them.

Each reason is an expression over the scored frame; a listing gets those whose condition holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from counterwatch.detect.frames import lists_from_counts


def _q(col: str) -> pl.Expr:
    return pl.lit("'") + pl.col(col).cast(pl.String) + pl.lit("'")


def _money(col: str, currency: str) -> pl.Expr:
    return pl.lit(f"{currency} ") + pl.col(col).round(0).cast(pl.Int64).cast(pl.String)


def _pct(expr: pl.Expr) -> pl.Expr:
    return (expr * 100).round(0).cast(pl.Int64).cast(pl.String) + pl.lit(" %")


def reason_exprs(base_currency: str) -> list[pl.Expr]:
    terms = pl.col("counterfeit_terms").list.eval(pl.lit("'") + pl.element() + pl.lit("'")).list.join(", ")
    dupes = pl.col("dupe_terms").list.eval(pl.lit("'") + pl.element() + pl.lit("'")).list.join(", ")
    ratio = pl.col("price_ratio")
    brand = pl.coalesce(pl.col("brand_name"), pl.col("implied_brand_name"))
    return [
        pl.when(pl.col("counterfeit_terms").list.len() > 0).then(pl.lit("says ") + terms + pl.lit(" (counterfeit vocabulary)")),
        pl.when(pl.col("dupe_terms").list.len() > 0).then(pl.lit("offers itself as a copy: ") + dupes),
        pl.when(pl.col("brand_how") == "disguised").then(
            pl.lit("brand ") + _q("brand_name") + pl.lit(" written in disguise as ") + _q("brand_written")
        ),
        pl.when(pl.col("brand_how") == "misspelled").then(
            pl.lit("brand ") + _q("brand_name") + pl.lit(" misspelt as ") + _q("brand_written")
        ),
        pl.when(pl.col("homoglyphs")).then(pl.lit("Cyrillic or Greek look-alike letters inside Latin text")),
        pl.when(pl.col("invisible_chars")).then(pl.lit("invisible characters inside the text")),
        pl.when(pl.col("brand_id").is_null() & pl.col("implied_brand_id").is_not_null()).then(
            pl.lit("names ") + _q("product_name") + pl.lit(", a ") + brand + pl.lit(" product, without the brand")
        ),
        pl.when((ratio < 0.6) & ~pl.col("says_accessory") & ~pl.col("says_guide")).then(
            pl.lit("price ") + _money("price_base", base_currency) + pl.lit(" is ") + _pct(ratio)
            + pl.lit(" of the ") + _q("product_name") + pl.lit(" reference ") + _money("reference_base", base_currency)
        ),
        pl.when(pl.col("photo_confirmed") > 0).then(
            pl.lit("photo matches ") + pl.col("photo_confirmed").cast(pl.String) + pl.lit(" listing(s) confirmed counterfeit")
        ),
        pl.when(pl.col("relist_similarity") >= 0.5).then(
            pl.lit("text ") + _pct(pl.col("relist_similarity")) + pl.lit(" similar to a listing confirmed counterfeit")
        ),
        pl.when(pl.col("store_flagged_share") >= 0.2).then(
            _pct(pl.col("store_flagged_share")) + pl.lit(" of the store's other listings show counterfeit signs")
        ),
        pl.when(pl.col("store_confirmed") > 0).then(
            pl.lit("the store has ") + pl.col("store_confirmed").cast(pl.String) + pl.lit(" listing(s) confirmed counterfeit")
        ),
        pl.when(pl.col("operator_confirmed") > 0).then(
            pl.lit("the operator's other stores have ") + pl.col("operator_confirmed").cast(pl.String)
            + pl.lit(" listing(s) confirmed counterfeit")
        ),
        pl.when(pl.col("operator_flagged_share") >= 0.2).then(
            _pct(pl.col("operator_flagged_share")) + pl.lit(" of the listings in the operator's other stores show counterfeit signs")
        ),
        pl.when(pl.col("authorized")).then(pl.lit("store is authorized by ") + brand),
        pl.when(pl.col("says_guide")).then(pl.lit("reads as a guide about counterfeits, not an offer of one")),
        pl.when(pl.col("says_accessory") & brand.is_not_null()).then(pl.lit("an accessory for ") + brand + pl.lit(", not the branded product")),
        pl.when(pl.col("says_pre_owned")).then(pl.lit("offered as pre-owned")),
    ]  # fmt: skip


def _any_reason() -> pl.Expr:
    """True where at least one reason applies; most listings have none, and sentences cost."""
    return (
        (pl.col("counterfeit_terms").list.len() > 0)
        | (pl.col("dupe_terms").list.len() > 0)
        | pl.col("brand_how").is_in(["disguised", "misspelled"]).fill_null(False)
        | pl.col("homoglyphs")
        | pl.col("invisible_chars")
        | pl.col("implied_brand_id").is_not_null()
        | (pl.col("price_ratio") < 0.6).fill_null(False)
        | (pl.col("photo_confirmed") > 0)
        | (pl.col("relist_similarity") >= 0.5)
        | (pl.col("store_flagged_share") >= 0.2).fill_null(False)
        | (pl.col("store_confirmed") > 0).fill_null(False)
        | (pl.col("operator_confirmed") > 0).fill_null(False)
        | (pl.col("operator_flagged_share") >= 0.2).fill_null(False)
        | pl.col("authorized")
        | pl.col("says_guide")
        | pl.col("says_accessory")
        | pl.col("says_pre_owned")
    )


def with_reasons(df: pl.DataFrame, base_currency: str) -> pl.DataFrame:
    """``df`` with a ``reasons`` list per row (empty when nothing stands out).

    Sentences are built only for the rows with some evidence (about a quarter of them), one
    column per kind of reason; the non-null ones are gathered in reading order (listing by
    listing, kind by kind) and cut into lists by their counts per listing. Polars'
    ``concat_list(...).list.drop_nulls()`` over those columns costs five times more, and grouping
    the sentences then gathering the lists into place twelve times more than the cut.
    """
    mask = df.select(_any_reason().fill_null(False)).to_series().to_numpy()
    exprs = reason_exprs(base_currency)
    some = df.filter(pl.Series(mask)).select(e.alias(f"_reason{i}") for i, e in enumerate(exprs))
    m, k = some.height, len(exprs)
    present = np.column_stack([some[c].is_not_null().to_numpy() for c in some.columns]) if m else np.zeros((0, k), bool)
    flat = (np.arange(k, dtype=np.int64)[None, :] * m + np.arange(m, dtype=np.int64)[:, None])[present]
    sentences = pl.concat([some[c] for c in some.columns], rechunk=True).gather(pl.Series(flat, dtype=pl.Int64))
    counts = np.zeros(df.height, dtype=np.int64)
    counts[mask] = present.sum(axis=1)
    return df.with_columns(lists_from_counts(sentences, counts).alias("reasons"))


def reasons_one(r: dict[str, Any], base_currency: str) -> list[str]:
    """``reason_exprs`` for one scored listing (a dict), the same sentences in the same order."""

    def money(x: float) -> str:
        return f"{base_currency} {round(x)}"

    def pct(x: float) -> str:
        return f"{round(x * 100)} %"

    out: list[str] = []
    brand = r.get("brand_name") if r.get("brand_name") is not None else r.get("implied_brand_name")
    ratio, how = r.get("price_ratio"), r.get("brand_how")
    if r["counterfeit_terms"]:
        out.append("says " + ", ".join(f"'{t}'" for t in r["counterfeit_terms"]) + " (counterfeit vocabulary)")
    if r["dupe_terms"]:
        out.append("offers itself as a copy: " + ", ".join(f"'{t}'" for t in r["dupe_terms"]))
    if how == "disguised":
        out.append(f"brand '{r['brand_name']}' written in disguise as '{r['brand_written']}'")
    if how == "misspelled":
        out.append(f"brand '{r['brand_name']}' misspelt as '{r['brand_written']}'")
    if r["homoglyphs"]:
        out.append("Cyrillic or Greek look-alike letters inside Latin text")
    if r["invisible_chars"]:
        out.append("invisible characters inside the text")
    if r.get("brand_id") is None and r.get("implied_brand_id") is not None and brand is not None:
        out.append(f"names '{r['product_name']}', a {brand} product, without the brand")
    if (
        ratio is not None
        and ratio < 0.6
        and not r["says_accessory"]
        and not r["says_guide"]
        and (
            r.get("price_base") is not None
            and r.get("reference_base") is not None
            and r.get("product_name") is not None
        )
    ):
        out.append(f"price {money(r['price_base'])} is {pct(ratio)} of the '{r['product_name']}' reference "
                   f"{money(r['reference_base'])}")  # fmt: skip
    if r["photo_confirmed"] and r["photo_confirmed"] > 0:
        out.append(f"photo matches {r['photo_confirmed']} listing(s) confirmed counterfeit")
    if r["relist_similarity"] >= 0.5:
        # Float32 in the batch, as the index estimates it; the percentage is taken in that precision.
        similar = round(float(np.float32(r["relist_similarity"]) * np.float32(100)))
        out.append(f"text {similar} % similar to a listing confirmed counterfeit")
    share, confirmed = r.get("store_flagged_share"), r.get("store_confirmed")
    if share is not None and share >= 0.2:
        out.append(f"{pct(share)} of the store's other listings show counterfeit signs")
    if confirmed is not None and confirmed > 0:
        out.append(f"the store has {confirmed} listing(s) confirmed counterfeit")
    op_confirmed, op_share = r.get("operator_confirmed"), r.get("operator_flagged_share")
    if op_confirmed is not None and op_confirmed > 0:
        out.append(f"the operator's other stores have {op_confirmed} listing(s) confirmed counterfeit")
    if op_share is not None and op_share >= 0.2:
        out.append(f"{pct(op_share)} of the listings in the operator's other stores show counterfeit signs")
    if r["authorized"] and brand is not None:
        out.append(f"store is authorized by {brand}")
    if r["says_guide"]:
        out.append("reads as a guide about counterfeits, not an offer of one")
    if r["says_accessory"] and brand is not None:
        out.append(f"an accessory for {brand}, not the branded product")
    if r["says_pre_owned"]:
        out.append("offered as pre-owned")
    return out
