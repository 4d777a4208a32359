"""Operators found against the generator's ground truth (``truth/stores.csv``): pairwise and B-cubed
precision, recall and F1, and the merges that must never happen.

- *Pairwise*: over all pairs of stores, a pair is positive when both stores have one operator;
  precision is the share of predicted same-operator pairs that truly are, recall the reverse.
  Large operators dominate it (an operator of n stores has n(n-1)/2 pairs).
- *B-cubed* (Bagga and Baldwin 1998): per store, precision is the share of its predicted operator
  that truly shares its operator, recall the share of its true operator found with it; averaged
  over stores, so every store counts once.
- *Decoy merges*: pairs of legitimate single-store operators put into one operator, in total and
  where either store touches a decoy (a warehouse, courier or name many strangers share).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from counterwatch.errors import InputError
from counterwatch.link.stage import OPERATORS
from counterwatch.workspace import Workspace


def _pairs(counts: pl.Series) -> int:
    return int((counts * (counts - 1) // 2).sum())


def _prf(p: float, r: float) -> dict[str, float]:
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def compare(predicted: pl.DataFrame, truth: pl.DataFrame) -> dict[str, Any]:
    """Metrics of ``predicted`` (``store_id``, ``operator_id``) against ``truth`` (``store_id``,
    ``operator_id``, and optionally ``operator_kind``, ``link_pattern``, ``touches_decoy``)."""
    both = truth.rename({"operator_id": "true"}).join(
        predicted.select("store_id", pl.col("operator_id").alias("pred")), on="store_id", how="inner"
    )
    if both.height == 0:
        raise InputError("no store is both in truth/stores.csv and in out/operators.parquet")
    cells = both.group_by("true", "pred").len()
    tp = _pairs(cells["len"])
    pred_pairs = _pairs(both.group_by("pred").len()["len"])
    true_pairs = _pairs(both.group_by("true").len()["len"])
    pairwise = _prf(tp / pred_pairs if pred_pairs else 1.0, tp / true_pairs if true_pairs else 1.0)
    per_store = both.join(cells, on=["true", "pred"]).with_columns(
        (pl.col("len") / pl.len().over("pred")).alias("_p"), (pl.col("len") / pl.len().over("true")).alias("_r")
    )
    bcubed = _prf(float(per_store["_p"].mean()), float(per_store["_r"].mean()))
    out: dict[str, Any] = {"stores": both.height, "pairwise": pairwise, "bcubed": bcubed}
    out["true_operators"] = both["true"].n_unique()
    out["predicted_operators"] = both["pred"].n_unique()
    if {"operator_kind", "link_pattern"} <= set(both.columns):
        singles = both.filter((pl.col("operator_kind") == "legit") & (pl.col("link_pattern") == "single"))
        merged = singles.group_by("pred").agg(pl.len(), pl.col("touches_decoy").cast(pl.Int64).sum().alias("decoy"))
        merged = merged.filter(pl.col("len") > 1)
        out["legit_single_store_operators_merged"] = {
            "pairs": _pairs(merged["len"]),
            "operators": merged.height,
            "with_a_decoy": int((merged["decoy"] > 0).sum()),
        }
        # A store's B-cubed recall depends only on its true operator, so it averages per link pattern.
        by_pattern = per_store.group_by("link_pattern").agg(pl.len().alias("stores"), pl.col("_r").mean())
        out["by_link_pattern"] = {
            str(p): {"stores": int(n), "bcubed_recall": float(r)}
            for p, n, r in by_pattern.sort("link_pattern").iter_rows()
        }
    return out


def evaluate_link(ws: Workspace) -> dict[str, Any] | None:
    """``compare`` for the workspace, or None when it has no operators or no store truth."""
    truth_path, operators = ws.truth / "stores.csv", ws.out / OPERATORS
    if not truth_path.is_file() or not operators.is_file():
        return None
    truth = pl.read_csv(truth_path, infer_schema_length=0)
    decoy = pl.col("touches_decoy").str.to_lowercase() == "true" if "touches_decoy" in truth.columns else pl.lit(False)
    truth = truth.with_columns(decoy.alias("touches_decoy"))
    return compare(pl.read_parquet(operators), truth)
