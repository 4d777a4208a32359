"""Counterfeit vocabulary in any language, and the context that makes a listing harmless.

Phrase classes come from ``detect/data/vocabulary.toml`` (replica, 1:1, AAA, 高仿, 复刻, 原单, A货,
莆田 …; dupes; and the contexts of guides, accessories, pre-owned goods, clearance and official
stores). Latin phrases match as whole words in the plain view; Chinese phrases anywhere.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from counterwatch.detect.frames import per_distinct, union_lists
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
        # Each field on its distinct values; no phrase can run from the title into the description.
        for f in ("title", "description"):
            plain = pl.col(f"_{f}_plain")
            df = per_distinct(df, f"_{f}_plain", [{
                **{f"_{f}_{name}": plain.str.extract_all(voc[name].regex).list.unique(maintain_order=True)
                   for name in LISTED},
                **{f"_{f}_says_{flag}": plain.str.contains(voc[flag].regex) for flag in FLAGS},
            }], by=f)  # fmt: skip
        cols = [union_lists(df[f"_title_{name}"], df[f"_description_{name}"]).alias(f"{name}_terms") for name in LISTED]
        cols.append((pl.col("_title_counterfeit").list.len() > 0).alias("counterfeit_in_title"))
        cols += [
            (pl.col(f"_title_says_{flag}") | pl.col(f"_description_says_{flag}")).alias(f"says_{flag}")
            for flag in FLAGS
        ]
        temp = [f"_{f}_{name}" for f in ("title", "description") for name in LISTED] + [
            f"_{f}_says_{flag}" for f in ("title", "description") for flag in FLAGS
        ]
        return df.with_columns(cols).drop(temp)

    def prepare(self, ctx) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        return {name: ctx.vocabulary[name].compiled() for name in (*LISTED, *FLAGS)}

    def one(self, row: dict[str, Any], ctx, regex: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
        title, description = row["_title_plain"], row["_description_plain"]
        for name in LISTED:
            in_title = regex[name].findall(title)
            row[f"{name}_terms"] = list(dict.fromkeys(in_title + regex[name].findall(description)))
            if name == "counterfeit":
                row["counterfeit_in_title"] = bool(in_title)
        for flag in FLAGS:
            row[f"says_{flag}"] = bool(regex[flag].search(title) or regex[flag].search(description))
