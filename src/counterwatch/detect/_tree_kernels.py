"""Compiled kernel of the trained scorer: a fitted ``HistGradientBoostingClassifier``'s trees over a
feature matrix (numba, compiled on first call, cached on disk), so that scoring needs no scikit-learn
(importing it costs every scan process 2.3 s)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def raw_scores(x, feature, threshold, left, right, is_leaf, value, missing_left, tree_start, baseline):  # type: ignore[no-untyped-def]
    """Each row's raw score (log-odds): ``baseline`` plus the value of the leaf it reaches in each tree,
    summed tree by tree in order, as scikit-learn's ``_raw_predict`` sums them. Tree ``t``'s nodes
    are ``tree_start[t]:tree_start[t + 1]`` of the flat node arrays, children indexed within the tree.
    A missing value (NaN) goes where the split sent missing values in training; any other goes left
    when ``<= threshold``."""
    n = x.shape[0]
    out = np.empty(n, dtype=np.float64)
    trees = len(tree_start) - 1
    for r in range(n):
        raw = 0.0 + baseline
        for t in range(trees):
            base = tree_start[t]
            i = 0
            while not is_leaf[base + i]:
                v = x[r, feature[base + i]]
                if v != v:
                    go_left = missing_left[base + i]
                else:
                    go_left = v <= threshold[base + i]
                i = left[base + i] if go_left else right[base + i]
            raw += value[base + i]
        out[r] = raw
    return out
