"""Price anomaly: the listing's price in the base currency against the matched product's reference
price. A genuine Submariner does not sell for 3 % of its list price."""

from __future__ import annotations

from typing import Any

import polars as pl

from counterwatch.detect.signals.base import Example, Signal


class PriceAnomaly(Signal):
    name = "price"
    reads = ("price", "currency")
    outputs = {
        "price_base": pl.Float64,
        "reference_base": pl.Float64,
        "price_ratio": pl.Float64,  # price / reference, both in the base currency; null without a product
    }
    examples = (
        Example({"title": "Rolex Submariner Date 126610LN", "price": 1800, "currency": "CNY"},
                {"price_base": 1800.0}),
    )  # fmt: skip

    def compute(self, df: pl.DataFrame, ctx) -> pl.DataFrame:  # type: ignore[no-untyped-def]
        rates = pl.DataFrame(
            {"currency": list(ctx.fx), "_rate": list(ctx.fx.values())},
            schema={"currency": pl.String, "_rate": pl.Float64},
        )
        ref = ctx.catalog.products["reference_base"]
        df = df.join(rates, on="currency", how="left", maintain_order="left")
        reference = (
            pl.when(pl.col("_product_row").is_not_null())
            .then(pl.lit(ref).gather(pl.col("_product_row").fill_null(0)))
            .otherwise(None)
        )
        return (
            df.with_columns((pl.col("price") * pl.col("_rate")).alias("price_base"), reference.alias("reference_base"))
            .with_columns(
                pl.when(pl.col("reference_base") > 0)
                .then(pl.col("price_base") / pl.col("reference_base"))
                .otherwise(None)
                .alias("price_ratio")
            )
            .drop("_rate")
        )

    def one(self, row: dict[str, Any], ctx, _prepared: None) -> None:  # type: ignore[no-untyped-def]
        currency, price, product_row = row.get("currency"), row.get("price"), row.get("_product_row")
        rate = ctx.fx.get(currency) if currency is not None else None
        base = None if price is None or rate is None else float(price) * rate
        reference = None if product_row is None else ctx.catalog.reference_base[product_row]
        row["price_base"], row["reference_base"] = base, reference
        positive = reference is not None and reference > 0
        row["price_ratio"] = base / reference if positive and base is not None else None
