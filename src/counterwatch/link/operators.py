"""Links to operators: connected components, a guard against weak chains, stable ids, confidence.

Stores joined by links (pairs at or above the threshold) form an operator, transitively: a chain
operator gives each new store one identifier of the store before it, and only the components
find all of it. Transitivity is also the danger: one weak link can glue two large groups of
strangers together. So an operator larger than ``max_operator_stores`` is split by raising the
threshold inside it, a bit at a time, until every piece fits (or no link is left to cut); its
stores keep only the links that survived. Single-store operators are stores nothing links.

Operator ids are ``OP-`` plus the smallest store id of the operator: the same input gives the
same ids on every run, and an operator keeps its id when stores join it (unless a store with a
smaller id joins). A store's ``confidence`` is the posterior probability of its strongest link,
reading the bits above the threshold as log-odds (0.5 exactly at the threshold, 0.97 five bits
above it); a store linked to nothing is its own operator with confidence 1.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Component label of each of ``n`` nodes given undirected edges ``a[i] - b[i]``."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def cluster(
    store_ids: list[str] | pl.Series, links: pl.DataFrame, threshold: float, max_stores: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Operators of ``store_ids`` from ``links`` (``store_a``, ``store_b``, ``weight``, all at or above
    ``threshold``): ``(operators, kept_links)``. Operators: ``store_id``, ``operator_id``, ``confidence``,
    ``operator_stores``; kept links: the links inside the final operators, with their ``operator_id``."""
    stores = pl.Series("store_id", store_ids, dtype=pl.String).unique().sort()
    index = pl.DataFrame({"store_id": stores, "_i": np.arange(len(stores), dtype=np.int64)})
    edges = (
        links.join(index.rename({"store_id": "store_a", "_i": "a"}), on="store_a")
        .join(index.rename({"store_id": "store_b", "_i": "b"}), on="store_b")
        .sort("a", "b")
    )
    a, b, w = edges["a"].to_numpy(), edges["b"].to_numpy(), edges["weight"].to_numpy()
    keep = np.ones(len(a), dtype=bool)
    label = components(len(stores), a, b)
    level = threshold
    while True:
        sizes = np.bincount(label)
        big = sizes[label[a]] > max_stores
        cut = keep & big & (w < level + 1)
        if not (keep & big).any():
            break
        level += 1.0
        if not cut.any():
            continue  # nothing at this level: raise further
        keep &= ~cut
        label = components(len(stores), a[keep], b[keep])
    # Stable ids: the smallest store id of each component (stores are sorted, so the first index).
    first = np.full(label.max() + 1 if len(label) else 0, len(stores), dtype=np.int64)
    np.minimum.at(first, label, np.arange(len(stores)))
    names = ("OP-" + stores).gather(first[label]) if len(stores) else pl.Series([], dtype=pl.String)
    strongest = np.full(len(stores), -np.inf)
    np.maximum.at(strongest, a[keep], w[keep])
    np.maximum.at(strongest, b[keep], w[keep])
    confidence = np.where(np.isfinite(strongest), 1.0 / (1.0 + np.exp2(-(strongest - threshold))), 1.0)
    operators = pl.DataFrame(
        {"store_id": stores, "operator_id": names, "confidence": confidence.astype(np.float64)}
    ).with_columns(pl.len().over("operator_id").cast(pl.Int64).alias("operator_stores"))
    kept = edges.filter(pl.Series(keep)).drop("a", "b")
    kept = kept.join(operators.select("store_id", "operator_id").rename({"store_id": "store_a"}), on="store_a")
    return operators, kept.sort("store_a", "store_b")
