"""Signals and store context to a risk in [0, 1], a band, and reasons a reviewer can read.

Until ``counterwatch train`` has fitted a model on the workspace's labels, the built-in logistic
weights of ``features.BUILTIN_WEIGHTS`` apply. A trained model is saved in
``WORKSPACE/models/`` with its version, features and metrics, and used when present.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from counterwatch.detect.features import BUILTIN_BIAS, BUILTIN_WEIGHTS, FEATURES, FEATURES_ONE, MONOTONE
from counterwatch.workspace import Workspace, atomic_path, write_text_atomic

MODEL_FILE = "detect-model.joblib"
MODEL_CARD = "detect-model.json"
#: The trained trees as flat arrays (``TreeArrays``), scored without scikit-learn.
MODEL_TREES = "detect-model.trees.npz"


def feature_matrix(df: pl.DataFrame, names: list[str]) -> np.ndarray:
    """The named features of ``df`` as a float matrix, in ``names`` order."""
    return df.select([FEATURES[n].alias(n) for n in names]).to_numpy().astype(np.float64, copy=False)


@dataclass
class Scorer:
    """The built-in weights (``model`` and ``trees`` None), a fitted classifier over ``features``,
    or its trees as arrays (``trees``: what a scan uses, without importing scikit-learn)."""

    features: list[str]
    model: Any = None
    card: dict[str, Any] = field(default_factory=dict)
    trees: TreeArrays | None = None

    @classmethod
    def builtin(cls) -> Scorer:
        return cls(list(BUILTIN_WEIGHTS), None, {"model": "builtin-logistic", "version": "builtin-1"})

    @classmethod
    def for_workspace(cls, ws: Workspace) -> Scorer:
        """The workspace's trained model when there is one, else the built-in weights."""
        path = ws.root / "models" / MODEL_FILE
        if not path.is_file():
            return cls.builtin()
        card = json.loads((ws.root / "models" / MODEL_CARD).read_text(encoding="utf-8"))
        trees = ws.root / "models" / MODEL_TREES
        if trees.is_file() and card.get("trees") == MODEL_TREES:
            # the trees saved beside the model at training: no scikit-learn (2.3 s to import) to score
            return cls(card["features"], None, card, TreeArrays.load(trees))
        import joblib

        return cls(card["features"], joblib.load(path), card)

    @property
    def version(self) -> str:
        return str(self.card.get("version", "builtin-1"))

    def risk(self, df: pl.DataFrame) -> np.ndarray:
        x = feature_matrix(df, self.features)
        if self.trees is not None:
            p = self.trees.probability(x)
        elif self.model is None:
            w = np.array([BUILTIN_WEIGHTS[n] for n in self.features])
            return 1.0 / (1.0 + np.exp(-(x @ w + BUILTIN_BIAS)))
        else:
            p = self.model.predict_proba(x)[:, 1]
        prior = self.card.get("prior")
        return p if prior is None else shift_prior(p, prior["labels"], prior["population"])

    def risk_one(self, row: dict[str, Any]) -> float:
        """``risk`` of one listing given as a dict of its signals and context (the single-listing path)."""
        x = [FEATURES_ONE[n](row) for n in self.features]
        if self.model is None and self.trees is None:
            w = np.array([BUILTIN_WEIGHTS[n] for n in self.features])
            return float(1.0 / (1.0 + np.exp(-(np.array([x]) @ w + BUILTIN_BIAS)))[0])
        trees = self._trees()
        p = float(self.model.predict_proba(np.array([x]))[0, 1]) if trees is None else trees.probability(x)
        prior = self.card.get("prior")
        return p if prior is None else float(shift_prior(np.array([p]), prior["labels"], prior["population"])[0])

    def _trees(self) -> _Trees | None:
        if "_compiled_trees" not in self.__dict__:
            self.__dict__["_compiled_trees"] = (self.trees.as_lists() if self.trees is not None
                                                else _Trees.of(self.model))  # fmt: skip
        return self.__dict__["_compiled_trees"]

    def save(self, ws: Workspace) -> Path:
        """The model (joblib), its trees as arrays when it has plain numerical trees (what ``scan``
        loads), and the card naming them."""
        import joblib

        target = ws.root / "models" / MODEL_FILE
        with atomic_path(target) as tmp:
            joblib.dump(self.model, tmp)
        card = dict(self.card)
        card.pop("trees", None)
        trees = _Trees.of(self.model)
        if trees is not None:
            with atomic_path(ws.root / "models" / MODEL_TREES) as tmp, open(tmp, "wb") as f:
                TreeArrays.of(trees).save(f)
            card["trees"] = MODEL_TREES
        write_text_atomic(ws.root / "models" / MODEL_CARD, json.dumps(card, indent=2, default=str))
        return target


@dataclass(frozen=True)
class _Trees:
    """A fitted ``HistGradientBoostingClassifier``'s trees as Python lists: one listing through 120
    shallow trees in tens of microseconds, where ``predict_proba`` costs milliseconds of set-up.
    The same splits, the same order of summation, the same link: the same probability."""

    baseline: float
    #: per tree: (feature, threshold, left, right, is_leaf, value, missing_go_to_left) per node
    trees: list[tuple[list[int], list[float], list[int], list[int], list[bool], list[float], list[bool]]]

    @classmethod
    def of(cls, model: Any) -> _Trees | None:
        """The trees of a binary HistGradientBoostingClassifier without categorical splits; None otherwise."""
        predictors = getattr(model, "_predictors", None)
        if predictors is None or any(len(it) != 1 for it in predictors):
            return None
        trees = []
        for (tree,) in predictors:
            nodes = tree.nodes
            if nodes["is_categorical"].any():
                return None
            trees.append((nodes["feature_idx"].tolist(), nodes["num_threshold"].tolist(), nodes["left"].tolist(),
                          nodes["right"].tolist(), nodes["is_leaf"].astype(bool).tolist(), nodes["value"].tolist(),
                          nodes["missing_go_to_left"].astype(bool).tolist()))  # fmt: skip
        return cls(float(np.asarray(model._baseline_prediction).ravel()[0]), trees)

    def probability(self, x: list[float]) -> float:
        from scipy.special import expit

        raw = 0.0 + self.baseline
        for feature, threshold, left, right, leaf, value, missing_left in self.trees:
            i = 0
            while not leaf[i]:
                v = x[feature[i]]
                go_left = missing_left[i] if v != v else v <= threshold[i]  # v != v: NaN
                i = left[i] if go_left else right[i]
            raw += value[i]
        return float(expit(raw))


@dataclass(frozen=True)
class TreeArrays:
    """``_Trees`` as flat arrays for the compiled kernel (``_tree_kernels.raw_scores``): every tree's
    nodes one after the other, ``tree_start`` the offsets. The same splits and order of summation as
    scikit-learn's ``predict_proba``, and SciPy's ``expit`` as its link: the same probabilities."""

    feature: np.ndarray  # int32
    threshold: np.ndarray  # float64
    left: np.ndarray  # int32, within the tree
    right: np.ndarray  # int32, within the tree
    is_leaf: np.ndarray  # bool
    value: np.ndarray  # float64
    missing_left: np.ndarray  # bool
    tree_start: np.ndarray  # int64, trees + 1
    baseline: float

    @classmethod
    def of(cls, trees: _Trees) -> TreeArrays:
        cols = list(zip(*trees.trees, strict=True))  # per field, the trees' lists
        flat = [np.concatenate([np.asarray(t) for t in c]) if c else np.zeros(0) for c in cols]
        sizes = [len(t[0]) for t in trees.trees]
        return cls(flat[0].astype(np.int32), flat[1].astype(np.float64), flat[2].astype(np.int32),
                   flat[3].astype(np.int32), flat[4].astype(bool), flat[5].astype(np.float64), flat[6].astype(bool),
                   np.cumsum([0, *sizes], dtype=np.int64), trees.baseline)  # fmt: skip

    def save(self, f: Any) -> None:
        np.savez(f, **{k: getattr(self, k) for k in self.__dataclass_fields__ if k != "baseline"},
                 baseline=np.array([self.baseline]))  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> TreeArrays:
        import zipfile

        from counterwatch.errors import InputError

        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(**{k: z[k] for k in cls.__dataclass_fields__ if k != "baseline"},
                           baseline=float(z["baseline"][0]))  # fmt: skip
        except (OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile) as exc:
            raise InputError(f"the trained model's trees {path} cannot be read ({exc}); "
                             f"run `counterwatch train` again to write them") from None  # fmt: skip

    def as_lists(self) -> _Trees:
        """The per-listing form (Python lists, one tree per tuple)."""
        trees = []
        for a, b in zip(self.tree_start[:-1].tolist(), self.tree_start[1:].tolist(), strict=True):
            trees.append((self.feature[a:b].tolist(), self.threshold[a:b].tolist(), self.left[a:b].tolist(),
                          self.right[a:b].tolist(), self.is_leaf[a:b].tolist(), self.value[a:b].tolist(),
                          self.missing_left[a:b].tolist()))  # fmt: skip
        return _Trees(self.baseline, trees)

    def probability(self, x: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        from counterwatch.detect._tree_kernels import raw_scores

        raw = raw_scores(np.require(x, np.float64, ["C", "W"]), self.feature, self.threshold, self.left, self.right,
                         self.is_leaf, self.value, self.missing_left, self.tree_start, self.baseline)  # fmt: skip
        return expit(raw)


def train_model(df: pl.DataFrame, labels: np.ndarray, seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """Fit gradient-boosted trees on the features; metrics from 5-fold cross-validation."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    names = list(FEATURES)
    x = feature_matrix(df, names)

    def make() -> HistGradientBoostingClassifier:
        # Monotonic constraints: more evidence never lowers risk, more mitigation never raises it.
        # They keep the model sensible where labels are thin and its behaviour explainable.
        # Shallow and few trees: scoring runs over every listing, so prediction cost matters.
        return HistGradientBoostingClassifier(max_iter=120, learning_rate=0.15, max_depth=4,
                                              l2_regularization=1.0, random_state=seed,
                                              monotonic_cst=[MONOTONE.get(n, 0) for n in names])  # fmt: skip

    folds = min(5, int(labels.sum()), int((1 - labels).sum()))
    metrics: dict[str, Any] = {"labels": len(labels), "counterfeit": int(labels.sum())}
    if folds >= 2:
        cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
        p = cross_val_predict(make(), x, labels, cv=cv, method="predict_proba")[:, 1]
        metrics["cv_roc_auc"] = float(roc_auc_score(labels, p))
        metrics["cv_average_precision"] = float(average_precision_score(labels, p))
    model = make().fit(x, labels)
    card = {
        "model": "sklearn.HistGradientBoostingClassifier",
        "version": dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ"),
        "features": names,
        "metrics": metrics,
    }
    return model, card


def band_expr(risk: pl.Expr, block: float, review: float) -> pl.Expr:
    """``block`` at or above ``block``, ``review`` at or above ``review``, else ``allow``."""
    block_or_review = pl.when(risk >= block).then(pl.lit("block")).when(risk >= review).then(pl.lit("review"))
    return block_or_review.otherwise(pl.lit("allow"))


def shift_prior(p: np.ndarray, trained: float, target: float) -> np.ndarray:
    """Probabilities from a model trained at class prior ``trained`` restated at prior ``target``.

    Labels are not a random sample (reviewers and test buys go after suspects), so a model trained
    on them overstates how common counterfeits are; Bayes' rule moves its odds by the ratio of priors.
    """
    p = np.clip(p, 1e-9, 1 - 1e-9)
    odds = p / (1 - p) * (target / (1 - target)) / (trained / (1 - trained))
    return odds / (1 + odds)


def estimate_prior(p: np.ndarray, trained: float, iterations: int = 100) -> float:
    """The class prior of an unlabelled population, by EM on a model's probabilities
    (Saerens, Latinne and Decaestecker, Neural Computation 2002)."""
    target = trained
    for _ in range(iterations):
        new = float(shift_prior(p, trained, target).mean())
        if abs(new - target) < 1e-6:
            break
        target = min(max(new, 1e-6), 1 - 1e-6)
    return target
