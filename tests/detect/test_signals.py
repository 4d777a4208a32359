"""Every signal's examples hold: they document the signal and are its tests."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from counterwatch.detect.batch import signals_frame, signals_one
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
    one = signals_one(DEFAULTS | example.listing, detect_ctx)
    for column, expected in example.expect.items():
        assert out[column] == expected, (signal, example.listing, column, out[column])
        assert one[column] == expected, ("one-listing twin", signal, example.listing, column, one[column])


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


def assert_twins_agree(frame: pl.DataFrame, ctx) -> None:  # type: ignore[no-untyped-def]
    """Every signal column of every row: the batch (Polars) and the one-listing (Python) paths agree exactly."""
    batch = signals_frame(frame, ctx)
    for want, listing in zip(batch.iter_rows(named=True), frame.iter_rows(named=True), strict=True):
        got = signals_one(listing, ctx)
        assert list(got) == batch.columns
        for column, value in want.items():
            same = value == got[column] or (isinstance(value, float) and math.isnan(value) and math.isnan(got[column]))
            assert same, (listing, column, value, got[column])


def test_one_listing_twins_equal_the_batch_on_every_generated_listing(detect_ws, detect_ctx):
    assert_twins_agree(pl.read_parquet(detect_ws.tables_dir / "listings.parquet"), detect_ctx)


PIECES = st.sampled_from([
    "Rolex", "R0lex", "ROLLEX", "Rоlex", "G.U.C.C.I", "g u c c i", "Louis Vu-itton", "LV", "ＮＩＫＥ", "N1ke",
    "Nike Air Max 90", "Air Jordan 1", "Submariner", "劳力士", "劳力土", "耐克", "古驰", "replica", "1:1", "AAA",
    "mirror quality", "高仿", "复刻", "原单", "A货", "莆田", "dupe", "case for", "how to spot a", "not a replica",
    "compatible with", "pre-owned", "二手", "官方旗舰", "authentic", "\u200b", "·", "-", " ", "  ", "!", "é", "ß",
])  # fmt: skip
TEXT = st.lists(PIECES | st.text(max_size=4), max_size=8).map(" ".join) | st.none()
HASHES = st.lists(
    st.sampled_from(["0123456789abcdef", "+123456789abcdef", "ffffffffffffffff", "00000000000000ff", "xyz", ""])
    | st.integers(0, 2**64 - 1).map(lambda h: f"{h:016x}")
    | st.none(),
    max_size=3,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.fixed_dictionaries({
    "title": TEXT, "description": TEXT, "brand": TEXT,
    "category": st.sampled_from(["", "watches/wristwatches", "shoes/sneakers", "bags/handbags", "home/furniture"]),
    "price": st.none() | st.floats(0, 1e7, allow_nan=False), "currency": st.sampled_from(["CNY", "USD", "EUR", "XXX"]),
    "image_hashes": HASHES | st.none(),
}), min_size=1, max_size=12))  # fmt: skip
def test_one_listing_twins_equal_the_batch_on_odd_listings(detect_ctx, listings):
    rows = [DEFAULTS | {"listing_id": f"H{i}"} | listing for i, listing in enumerate(listings)]
    assert_twins_agree(listing_frame_of(rows), detect_ctx)


def test_confirmed_photos_and_relisted_titles_agree(detect_ws, detect_ctx):
    """The labelled listings themselves and light edits of them: photo and text indexes hit here."""
    listings = pl.read_parquet(detect_ws.tables_dir / "listings.parquet")
    confirmed = listings.filter(pl.col("listing_id").is_in(detect_ctx.confirmed_ids)).head(300)
    edited = confirmed.with_columns(
        (pl.col("listing_id") + "-again"), pl.col("title").str.replace(r"\w", "x") + " new"
    )  # fmt: skip
    frame = pl.concat([confirmed, edited])
    assert_twins_agree(frame, detect_ctx)
    out = signals_frame(frame, detect_ctx)
    assert out["photo_confirmed"].sum() > 0 and out["relist_similarity"].sum() > 0  # the indexes were exercised


def listing_frame_of(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.concat([listing_frame(r) for r in rows])


def test_relisting_batch_and_one_agree_on_missing_listing_ids():
    """A listing without an id (``signals_batch`` takes any Arrow batch, not only validated ones) is
    never the confirmed listing itself: the batch and the one-listing path both count the match."""
    from types import SimpleNamespace

    import numpy as np

    from counterwatch.detect.index.minhash import TextIndex
    from counterwatch.detect.signals.relisting import Relisting

    ids = ["C1", "C2"]
    titles = ["rolex submariner date black dial 41mm", "nike air max 90 white red"]
    ctx = SimpleNamespace(confirmed_ids=ids, text_index=TextIndex.build(titles, np.arange(2), plain=True),
                          confirmed_series=lambda: pl.Series([*ids, None], dtype=pl.String))  # fmt: skip
    df = pl.DataFrame(
        {"listing_id": [None, "C1", "L3"], "brand_id": ["b1", "b1", "b2"], "implied_brand_id": [None, None, None],
         "_title_plain": [titles[0], titles[0], "nike air max 90 white red!"]},
        schema={
            "listing_id": pl.String, "brand_id": pl.String, "implied_brand_id": pl.String, "_title_plain": pl.String
        },
    )  # fmt: skip
    got = Relisting().compute(df, ctx).select("relist_of", "relist_similarity").rows()
    want = []
    for row in df.iter_rows(named=True):
        Relisting().one(row, ctx, None)
        want.append((row["relist_of"], row["relist_similarity"]))
    assert [g[0] for g in got] == [w[0] for w in want] == ["C1", None, "C2"]
    assert np.allclose([g[1] for g in got], [w[1] for w in want])
