"""Every signal's examples hold: they document the signal and are its tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from counterwatch.detect.batch import signals_frame
from counterwatch.detect.signals import SIGNALS

DEFAULTS: dict[str, Any] = {
    "listing_id": "T1",
    "store_id": "S-test",
    "title": "",
    "description": "",
    "category": "",
    "brand": "",
    "price": 100.0,
    "currency": "CNY",
    "stock": 1,
    "created_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    "image_hashes": [],
}


def listing_frame(listing: dict[str, Any]) -> pl.DataFrame:
    row = DEFAULTS | listing
    return pl.DataFrame([row], schema={
        "listing_id": pl.String, "store_id": pl.String, "title": pl.String, "description": pl.String,
        "category": pl.String, "brand": pl.String, "price": pl.Float64, "currency": pl.String,
        "stock": pl.Int64, "created_at": pl.Datetime("us", "UTC"), "image_hashes": pl.List(pl.String),
    })  # fmt: skip


CASES = [(s.name, i, ex) for s in SIGNALS for i, ex in enumerate(s.examples)]


@pytest.mark.parametrize(("signal", "i", "example"), CASES, ids=[f"{s}-{i}" for s, i, _ in CASES])
def test_signal_examples(detect_ctx, signal, i, example):
    out = signals_frame(listing_frame(example.listing), detect_ctx).row(0, named=True)
    for column, expected in example.expect.items():
        assert out[column] == expected, (signal, example.listing, column, out[column])


def test_every_signal_declares_what_it_adds(detect_ctx):
    out = signals_frame(listing_frame({"title": "Nike Air Max 90 replica"}), detect_ctx)
    for s in SIGNALS:
        assert s.examples, f"signal {s.name} has no examples"
        for column, dtype in s.outputs.items():
            assert column in out.columns, (s.name, column)
            assert out.schema[column] == dtype, (s.name, column, out.schema[column])


@pytest.mark.parametrize(
    ("title", "category", "brand", "how"),
    [
        ("N1KE Air Max", "shoes/sneakers", "Nike", "disguised"),
        ("ＧＵＣＣＩ Marmont", "bags/handbags", "Gucci", "disguised"),
        ("Gu\u200bcci Marmont", "bags/handbags", "Gucci", "disguised"),
        ("L.O.U.I.S V.U.I.T.T.O.N Neverfull", "bags/handbags", "Louis Vuitton", "disguised"),
        ("Louis Vu-itton Neverfull", "bags/handbags", "Louis Vuitton", "disguised"),
        ("Rollex Submariner", "watches/wristwatches", "Rolex", "disguised"),
        ("Rolax Submariner", "watches/wristwatches", "Rolex", "misspelled"),
        ("正品劳力土手表", "watches/wristwatches", "Rolex", "misspelled"),
        ("Lancôme Génifique", "beauty/skincare", "Lancôme", "plain"),
    ],
)
def test_disguised_brand_names_are_seen_through(detect_ctx, title, category, brand, how):
    out = signals_frame(listing_frame({"title": title, "category": category}), detect_ctx).row(0, named=True)
    assert (out["brand_name"], out["brand_how"]) == (brand, how)


def test_misspellings_need_the_brands_category(detect_ctx):
    sofa = signals_frame(listing_frame({"title": "Rolax sofa cover", "category": "home/furniture"}), detect_ctx)
    assert sofa["brand_id"][0] is None


def test_generic_keyword_alone_does_not_imply_a_brand(detect_ctx):
    out = signals_frame(listing_frame({"title": "羽绒服 轻薄款"}), detect_ctx).row(0, named=True)
    assert out["implied_brand_id"] is None and out["price_ratio"] is None


def test_price_ratio_against_the_products_reference(detect_ctx):
    out = signals_frame(
        listing_frame({"title": "Rolex Submariner Date 126610LN", "price": 1800, "currency": "CNY"}), detect_ctx
    ).row(0, named=True)
    assert out["product_name"] is not None
    assert out["price_ratio"] == pytest.approx(1800 / out["reference_base"])
    assert out["price_ratio"] < 0.1


def test_the_arrow_batch_function_gives_the_frame_result(detect_ws, detect_ctx):
    """``signals_batch`` is what an engine (the pool, later Spark's mapInArrow) calls on Arrow batches."""
    import pyarrow.parquet as pq

    from counterwatch.detect.batch import signals_batch

    batch = pq.ParquetFile(detect_ws.tables_dir / "listings.parquet").read_row_group(0).to_batches()[0]
    out = signals_batch(batch, detect_ctx)
    assert pl.from_arrow(out).equals(signals_frame(pl.from_arrow(batch), detect_ctx))
