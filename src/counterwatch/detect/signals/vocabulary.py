"""Counterfeit vocabulary in any language, and the context that makes a listing harmless.

Phrase classes come from ``detect/data/vocabulary.toml`` (replica, 1:1, AAA, 高仿, 复刻, 原单, A货,
莆田 …; dupes; and the contexts of guides, accessories, pre-owned goods, clearance and official
stores). Latin phrases match as whole words in the plain view; Chinese phrases anywhere.
"""

from __future__ import annotations

import polars as pl

from counterwatch.detect.signals.base import Example, Signal

#: Classes whose hits are kept as lists (they go into reasons); the others become flags.
LISTED = ("counterfeit", "dupe")
FLAGS = ("authentic_claim", "guide", "accessory", "pre_owned", "clearance", "authorized")


class Vocabulary(Signal):
    name = "vocabulary"
    reads = ("title", "description")
    outputs = {
        "counterfeit_terms": pl.List(pl.String),
        "counterfeit_in_title": pl.Boolean,
        "dupe_terms": pl.List(pl.String),
        **{f"says_{f}": pl.Boolean for f in FLAGS},
    }
    examples = (
        Example({"title": "Rolex Submariner replica 1:1 mirror quality"}, {"counterfeit_in_title": True}),
        Example({"title": "劳力士 高仿 复刻"}, {"counterfeit_terms": ["高仿", "复刻"]}),
        Example({"title": "AAA batteries 4 pack"}, {"counterfeit_terms": ["aaa"]}, note="context decides"),
        Example({"title": "How to spot a fake Rolex"}, {"says_guide": True}),
        Example({"title": "case for Apple iPhone 17 Pro"}, {"says_accessory": True}),
        Example({"title": "Dyson Airwrap dupe"}, {"dupe_terms": ["dupe"]}),
    )

    def compute(self, df: pl.DataFrame, ctx) -> pl.DataFrame:  # type: ignore[no-untyped-def]
        voc = ctx.vocabulary
        title, desc = pl.col("_title_plain"), pl.col("_description_plain")
        both = pl.concat_str(title, desc, separator=" | ")
        cols = []
        for name in LISTED:
            rx = voc[name].regex
            cols.append(both.str.extract_all(rx).list.unique(maintain_order=True).alias(f"{name}_terms"))
        cols.append(title.str.contains(voc["counterfeit"].regex).alias("counterfeit_in_title"))
        cols += [both.str.contains(voc[f].regex).alias(f"says_{f}") for f in FLAGS]
        return df.with_columns(cols)
