"""How much two stores sharing something says about their being run by one operator.

Every usable identifier key (``normalize``) and every photo is a *value*. A value shared by
``n`` stores gives each pair of them ``bits = weight[kind] - log2(n - 1)`` bits of evidence:
its kind's full weight when exactly two stores share it, one bit less at three, and nothing
once hundreds do (a fulfilment warehouse, a courier's hotline, 王伟). This is the Fellegi–Sunter
match weight ``log2(m / u)`` with Splink-style term-frequency adjustment: ``u``, the chance that a
store of another operator shares this very value, grows with the value's sharers, ``u ≈ (n-1)/N``,
while ``m``, the chance that two stores of one operator share a value of that kind, does not.
The kind's weight absorbs ``log2(m)``, ``log2(N)`` and the prior, so it is configuration
(``[link.weights]``), tuned on the generator and documented in ``docs/linking.md``.

A pair's weight is the sum over the distinct values it shares (families are taken as
independent, as Fellegi–Sunter does; values within one family are not, so a family gives a pair
its strongest value's bits); pairs at or above ``[link] threshold`` are links. Values
still worth at least ``min_value_bits`` are the blocking keys: a value shared by so many stores
that it says nothing generates no pairs at all, which also bounds the work.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from counterwatch.config import LinkSettings
from counterwatch.link.normalize import FAMILY
from counterwatch.link.operators import components

PHOTO = "photo"


def bits_expr(weight: pl.Expr, shared_by: pl.Expr) -> pl.Expr:
    """Evidence bits of a value shared by ``shared_by`` stores (null for a value only one store has)."""
    return pl.when(shared_by >= 2).then(weight - (shared_by - 1).cast(pl.Float64).log(2)).otherwise(None)


def bits(weight: float, shared_by: int) -> float | None:
    """``bits_expr`` for one value (the recidivism check at sign-up)."""
    return None if shared_by < 2 else weight - math.log2(shared_by - 1)


def values_frame(identifiers: pl.DataFrame, photos: pl.DataFrame | None, settings: LinkSettings) -> pl.DataFrame:
    """One row per (store, value): ``store_id``, ``key``, ``family``, ``weight``, ``shared_by``, ``bits``.

    ``identifiers`` are the normalised rows (``store_id``, ``kind``, ``key``, ``usable``); ``photos``
    the stores' photo clusters (``store_id``, ``key``, one row per pair). A value's ``weight`` is that
    of the weakest kind it is written as anywhere (an address some store gives as its warehouse is a
    warehouse).
    """
    # Ten million (store, value) rows at marketplace scale: window functions and per-kind lookups,
    # no string splitting, and duplicates removed only where they can occur (identifiers).
    weight = pl.col("kind").replace_strict(settings.weights, default=0.0, return_dtype=pl.Float64)
    family = pl.col("kind").replace_strict(FAMILY, default=None, return_dtype=pl.String)
    keyed = (
        identifiers.filter(pl.col("usable"))
        .select("store_id", "key", family.alias("family"), weight.alias("weight"))
        .with_columns(pl.col("weight").min().over("key"))
        .unique(["store_id", "key"], keep="first", maintain_order=True)
    )
    if photos is not None and photos.height:
        keyed = pl.concat([keyed, photos.select("store_id", "key", pl.lit(PHOTO).alias("family"),
                                                pl.lit(settings.weights.get(PHOTO, 0.0)).alias("weight"))])  # fmt: skip
    return keyed.with_columns(pl.len().over("key").cast(pl.Int64).alias("shared_by")).with_columns(
        bits_expr(pl.col("weight"), pl.col("shared_by")).alias("bits")
    )


def pair_weights(values: pl.DataFrame, settings: LinkSettings) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every pair of stores sharing at least one value still worth ``min_value_bits``, and each value's
    cohesion: ``(pairs, cohesion)``. Pairs: ``store_a < store_b``, ``weight`` (bits) and ``evidence``
    (the values, strongest first); cohesion: ``key``, ``cohesion``, ``bits`` (after the discount).

    *Cohesion* is how a popular value's bits are earned: among the pairs of stores sharing a value
    shared by ``cohesion_min_stores`` or more, the share that also share a value of another family. An operator's
    phone used by 20 of its stores comes with their shared accounts and addresses (cohesion near
    1); a courier's hotline used by 60 strangers comes with nothing else (near 0). A value's bits
    are scaled by ``min(1, cohesion / cohesion_full)``, so decoys fade without a list of them.
    """
    blocking = values.filter(pl.col("bits") >= settings.min_value_bits).select(
        "store_id", "key", "family", "weight", "shared_by", "bits"
    )
    pairs = (
        blocking.join(blocking.select("key", pl.col("store_id").alias("store_b")), on="key")
        .filter(pl.col("store_id") < pl.col("store_b"))
        .rename({"store_id": "store_a"})
    )
    pairs = pairs.with_columns((pl.col("family").n_unique().over("store_a", "store_b") > 1).alias("_other"))
    cohesion = (
        pairs.group_by("key")
        .agg(pl.col("_other").mean().alias("cohesion"), pl.col("shared_by").first(), pl.col("bits").first())
        .with_columns(
            pl.when(pl.col("shared_by") >= settings.cohesion_min_stores)
            .then(pl.col("bits") * (pl.col("cohesion") / settings.cohesion_full).clip(upper_bound=1.0))
            .otherwise(pl.col("bits"))
            .alias("bits")
        )
        .select("key", "cohesion", "bits")
    )
    pairs = pairs.drop("bits", "_other").join(cohesion, on="key")
    # Values of one family are not independent (a reseller using one official photo of a product
    # uses the others; an office's IPv4 and IPv6 exits): a family gives a pair its strongest value's
    # bits, so two weak values of one family never add up to a link.
    per_family = (
        pairs.sort(["bits", "key"], descending=[True, False])  # a fixed order: the same evidence lists every run
        .group_by("store_a", "store_b", "family")
        .agg(
            pl.col("bits").max().alias("bits"),
            pl.struct("key", "shared_by", "cohesion", "bits").alias("evidence"),
        )
    )
    out = (
        per_family.sort(["bits", "family"], descending=[True, False])
        .group_by("store_a", "store_b")
        .agg(
            pl.col("bits").sum().alias("weight"),
            pl.col("evidence").list.explode(keep_nulls=False, empty_as_null=False),
        )
        .sort("store_a", "store_b")
    )
    return out, cohesion


def evidence_expr(cohesion_min_stores: int) -> pl.Expr:
    """The ``evidence`` structs as sentences an investigator reads."""
    e = pl.element().struct
    parts = e.field("key").str.splitn(":", 2)  # an IPv6 key has colons of its own
    family, value = parts.struct.field("field_0"), parts.struct.field("field_1")
    tied = (
        pl.when(e.field("cohesion").is_not_null() & (e.field("shared_by") >= cohesion_min_stores))
        .then(
            pl.concat_str(
                pl.lit(", "),
                (e.field("cohesion") * 100).round(0).cast(pl.Int64).cast(pl.String),
                pl.lit("% of them tied otherwise"),
            )
        )
        .otherwise(pl.lit(""))
    )
    text = pl.concat_str(
        family, pl.lit(" "), value, pl.lit(" shared by "), e.field("shared_by").cast(pl.String), pl.lit(" stores"),
        tied, pl.lit(" (+"), e.field("bits").round(1).cast(pl.String), pl.lit(" bits)"),
    )  # fmt: skip
    return pl.col("evidence").list.eval(text)


def photo_values(listings: pl.DataFrame, distance: int) -> pl.DataFrame:
    """Each store's photos as cluster keys: hashes within ``distance`` bits are one photo (re-saved,
    cropped). ``store_id``, ``key`` (``photo:<smallest hash of the cluster, hex>``), one row per pair.

    Integer arrays throughout (store codes, hash ids, cluster labels): at marketplace scale there
    are millions of photos, and strings are made once per cluster at the end.
    """
    from counterwatch.detect.index import distinct
    from counterwatch.detect.index.hamming import HammingIndex, degenerate_mask, flatten_hash_lists

    empty = pl.DataFrame(schema={"store_id": pl.String, "key": pl.String})
    if listings.height == 0:
        return empty
    row, hashes, valid = flatten_hash_lists(listings["image_hashes"])
    keep = valid & ~degenerate_mask(hashes)
    row, hashes = row[keep], hashes[keep]
    if len(hashes) == 0:
        return empty
    names = listings["store_id"].unique().sort()
    store = (listings["store_id"].rank("dense").cast(pl.Int64) - 1).to_numpy()[row]
    uniq, inverse = np.unique(hashes, return_inverse=True)
    index = HammingIndex.build(uniq, np.arange(len(uniq), dtype=np.int64), max_distance=distance)
    m = index.query(uniq, distance)
    label = components(len(uniq), m.query_pos, m.payload)
    # The cluster's name: its smallest hash (stable for the same photos), as 16 hex digits.
    smallest = np.full(int(label.max()) + 1, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(smallest, label, uniq)
    hexes = np.frombuffer(smallest.astype(">u8").tobytes().hex().encode(), dtype="S16")
    n_clusters = np.int64(len(smallest))
    pairs = distinct(store.astype(np.int64) * n_clusters + label[inverse.ravel()].astype(np.int64))
    stores, clusters = pairs // n_clusters, pairs % n_clusters
    return pl.DataFrame(
        {
            "store_id": names.gather(stores),
            "key": pl.Series(hexes[clusters]).cast(pl.String).str.replace(r"^", f"{PHOTO}:"),
        }
    )
