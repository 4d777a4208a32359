"""``counterwatch evaluate``: scores against the generator's ground truth (``truth/``), when present.

Precision, recall and F1 for the ``block`` band and for ``block``+``review``, ROC AUC and average
precision of the risk, recall per counterfeit tactic and false-positive rate per hard-negative
kind. Listings that carry a label are reported apart too: a model trained on labels has seen them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from counterwatch.detect.scan import SCORES
from counterwatch.errors import InputError
from counterwatch.workspace import Workspace


@dataclass
class Evaluation:
    listings: int
    counterfeit: int
    overall: dict[str, float] = field(default_factory=dict)
    unlabelled: dict[str, float] = field(default_factory=dict)
    by_tactic: dict[str, dict[str, float]] = field(default_factory=dict)
    by_hard_negative: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__


def _binary(y: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    tp = int((flagged & y).sum())
    fp = int((flagged & ~y).sum())
    fn = int((~flagged & y).sum())
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "flagged": int(flagged.sum())}


def metrics(y: np.ndarray, risk: np.ndarray, band: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    out: dict[str, float] = {}
    for name, flagged in (("block", band == "block"), ("block+review", band != "allow")):
        out |= {f"{name} {k}": v for k, v in _binary(y, flagged).items()}
    if 0 < y.sum() < len(y):
        out["roc_auc"] = float(roc_auc_score(y, risk))
        out["average_precision"] = float(average_precision_score(y, risk))
    return out


def evaluate(ws: Workspace) -> Evaluation:
    truth_path = ws.truth / "listings.csv"
    if not truth_path.is_file():
        raise InputError(f"no ground truth: {truth_path} is missing (it comes with generated workspaces)")
    if not (ws.out / SCORES).is_file():
        raise InputError(f"no scores: run `counterwatch scan {ws.root}` first")
    truth = pl.read_csv(truth_path, infer_schema_length=0).with_columns(
        (pl.col("is_counterfeit").str.to_lowercase() == "true").alias("y"),
        *(pl.col(c).replace("", None) for c in ("tactic", "hard_negative") if c in _header(truth_path)),
    )
    scores = pl.read_parquet(ws.out / SCORES, columns=["listing_id", "risk", "band"])
    labelled = pl.read_parquet(ws.tables_dir / "labels.parquet", columns=["listing_id"])["listing_id"]
    df = scores.join(truth, on="listing_id", how="inner")
    y = df["y"].to_numpy()
    ev = Evaluation(df.height, int(y.sum()))
    ev.overall = metrics(y, df["risk"].to_numpy(), df["band"].to_numpy())
    un = df.filter(~pl.col("listing_id").is_in(labelled.implode()))
    ev.unlabelled = metrics(un["y"].to_numpy(), un["risk"].to_numpy(), un["band"].to_numpy())
    flagged = pl.col("band") != "allow"
    if "tactic" in df.columns:
        for (tactic,), g in df.filter(pl.col("y")).group_by("tactic"):
            ev.by_tactic[str(tactic)] = {
                "listings": g.height,
                "recall block": float((g["band"] == "block").mean()),
                "recall block+review": float(g.select(flagged.mean()).item()),
            }
    if "hard_negative" in df.columns:
        for (kind,), g in df.filter(~pl.col("y") & pl.col("hard_negative").is_not_null()).group_by("hard_negative"):
            ev.by_hard_negative[str(kind)] = {
                "listings": g.height,
                "fpr block": float((g["band"] == "block").mean()),
                "fpr block+review": float(g.select(flagged.mean()).item()),
            }
        plain = df.filter(~pl.col("y") & pl.col("hard_negative").is_null())
        ev.by_hard_negative["(ordinary genuine)"] = {
            "listings": plain.height,
            "fpr block": float((plain["band"] == "block").mean()) if plain.height else 0.0,
            "fpr block+review": float(plain.select(flagged.mean()).item()) if plain.height else 0.0,
        }
    ev.by_tactic = dict(sorted(ev.by_tactic.items()))
    ev.by_hard_negative = dict(sorted(ev.by_hard_negative.items()))
    return ev


def _header(path) -> list[str]:  # type: ignore[no-untyped-def]
    return path.read_text(encoding="utf-8").split("\n", 1)[0].split(",")
