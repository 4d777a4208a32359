"""Photo reuse: the listing's photos against photos of listings already confirmed counterfeit.

Perceptual hashes (64-bit pHash) within a small Hamming distance are the same photo re-saved,
cropped or re-compressed. Multi-index hashing (``detect.index.hamming``) finds them without a
scan of all pairs. A listing's own photos never count against it: a confirmed listing matches
itself, and only *other* confirmed listings are evidence.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import polars as pl

from counterwatch.detect.index.hamming import count_distinct_per_query, degenerate_mask, flatten_hash_lists
from counterwatch.detect.signals.base import Example, Signal

MAX_DISTANCE = 6  # bits of 64: re-encoding and small crops change a pHash by a few bits
_HEX = re.compile(r"\+?[0-9a-fA-F]+")  # what ``parse_hex64`` accepts, at 16 bytes
_MIN_BITS = 8  # as ``degenerate_mask``


class PhotoReuse(Signal):
    name = "photo"
    reads = ("image_hashes",)
    outputs = {"photo_confirmed": pl.Int32}  # other confirmed-counterfeit listings sharing a near-identical photo
    examples = (Example({"image_hashes": []}, {"photo_confirmed": 0}),)

    def compute(self, df: pl.DataFrame, ctx) -> pl.DataFrame:  # type: ignore[no-untyped-def]
        n = df.height
        counts = np.zeros(n, dtype=np.int32)
        index = ctx.photo_index
        if index is not None and n:
            row, hashes, valid = flatten_hash_lists(df["image_hashes"])
            keep = valid & ~degenerate_mask(hashes)
            row, hashes = row[keep], hashes[keep]
            m = index.query(hashes, MAX_DISTANCE, max_matches_per_query=200)
            listing_row = row[m.query_pos]
            confirmed = np.asarray(ctx.confirmed_ids, dtype=object)
            own = df["listing_id"].to_numpy()
            not_self = confirmed[m.payload] != own[listing_row]
            counts = count_distinct_per_query(listing_row[not_self], m.payload[not_self], n).astype(np.int32)
        return df.with_columns(pl.Series("photo_confirmed", counts, dtype=pl.Int32))

    def one(self, row: dict[str, Any], ctx, _prepared: None) -> None:  # type: ignore[no-untyped-def]
        row["photo_confirmed"] = 0
        index = ctx.photo_index
        if index is None:
            return
        hashes = [int(h, 16) for h in row.get("image_hashes") or () if h is not None and len(h.encode()) == 16
                  and _HEX.fullmatch(h)]  # fmt: skip
        hashes = [h for h in hashes if _MIN_BITS <= h.bit_count() <= 64 - _MIN_BITS]
        if not hashes:
            return
        own = row.get("listing_id")
        matches = index.query_one(hashes, MAX_DISTANCE, max_matches_per_query=200)
        row["photo_confirmed"] = len({p for _, p, _ in matches if ctx.confirmed_ids[p] != own})
