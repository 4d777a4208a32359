"""``counterwatch train``: fit the scorer on the workspace's labels and rescore.

Features come from the last scan's ``out/scores.parquet`` (every signal and the store context
are there), so training never recomputes a signal. The latest label of each listing counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from counterwatch.config import Settings, load_settings
from counterwatch.contract import read_table
from counterwatch.detect.context import latest_labels
from counterwatch.detect.scan import SCORES, ScanResult, rescore, scan
from counterwatch.detect.scorer import Scorer, estimate_prior, train_model
from counterwatch.errors import InputError
from counterwatch.workspace import Workspace

MIN_LABELS = 30  # of each class: fewer and the built-in weights are the better bet


def train(
    ws: Workspace, settings: Settings | None = None, progress: Callable[[str], None] | None = None
) -> tuple[dict[str, Any], ScanResult]:
    settings = settings or load_settings(ws.root)
    say = progress or (lambda _m: None)
    if not (ws.out / SCORES).is_file():
        scan(ws, settings, say)
    labels = pl.from_arrow(read_table(ws, "labels"))
    latest = latest_labels(labels)
    scores = pl.read_parquet(ws.out / SCORES)
    data = scores.join(latest.select("listing_id", "label"), on="listing_id", how="inner")
    y = (data["label"] == "counterfeit").to_numpy()
    if min(y.sum(), (~y).sum()) < MIN_LABELS:
        raise InputError(
            f"too few labels to train: {int(y.sum())} counterfeit and {int((~y).sum())} genuine "
            f"(need {MIN_LABELS} of each in labels); the built-in weights stay in use"
        )
    say(f"training on {len(y):,} labelled listings")
    model, card = train_model(data, y.astype(int))
    # Restate probabilities at the prior of the whole workspace, not of the (suspect-heavy) labels.
    trained_prior = float(y.mean())
    raw = Scorer(card["features"], model, {}).risk(scores)
    card["prior"] = {"labels": trained_prior, "population": estimate_prior(raw, trained_prior)}
    Scorer(card["features"], model, card).save(ws)
    say("rescoring")
    return card, rescore(ws, settings, say)
