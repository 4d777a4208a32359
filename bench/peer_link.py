"""The plain peer of ``counterwatch link``: equal identifiers joined with pandas, components with networkx.

What most teams would write first to find the stores one operator runs:

- read the validated ``out/tables/store_identifiers.parquet`` (and ``stores.parquet``, so that a
  store sharing nothing is its own operator) with pandas;
- clean each value the plain way: strip, lower case; drop rows whose value is then empty, and
  duplicate rows;
- drop *hub* values, shared by more stores than ``counterwatch`` itself would still take as
  evidence (per kind: ``2 ** (weight - min_value_bits) + 1`` stores, from the workspace's
  ``[link]`` settings (weights by kind, or by family in older settings): 5 for a contact name,
  2,049 for a phone). Without this cap a self-join
  on equal values is quadratic in the hubs (a courier's hotline shared by tens of thousands of
  stores gives hundreds of millions of pairs) and the peer would not finish; any engineer would
  add it;
- a pandas self-join (``merge``) on ``(kind, value)``, keeping each pair of stores once
  (``store_a < store_b``);
- a ``networkx.Graph`` of the stores with an edge per pair, ``connected_components``; each
  component is an operator named after its smallest store id; ``to_parquet``.

Not done by the peer (which flattens it): normalisation beyond strip/lower (phones in different
formats, e-mail dots and tags, bank accounts with spaces do not meet), weighing the evidence, the
threshold, the guard against chains, photos, evidence sentences, the unusable identifiers' report.
It links every pair that shares any value at all.

``--sample-stores K`` keeps only the identifier rows of the first ``K`` stores by store id
(the generator shuffles stores over operators, so that is a random sample); its time is meant to
be extrapolated per identifier row, which flatters the peer again (a value's pairs grow with the
square of the stores sharing it).

    python bench/peer_link.py WORKSPACE [--sample-stores K]    # prints one JSON line
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path


def hub_caps(ws: Path) -> dict[str, int]:
    """Per identifier kind, the most stores a value may be shared by and still be evidence in ``counterwatch``."""
    from counterwatch.config import load_settings
    from counterwatch.link.normalize import FAMILY

    cfg = load_settings(ws).link
    weight = {kind: cfg.weights.get(kind, cfg.weights.get(family, 0.0)) for kind, family in FAMILY.items()}
    return {kind: int(2 ** (w - cfg.min_value_bits)) + 1 for kind, w in weight.items()}


def peer_link(ws: Path, out: Path, sample_stores: int | None = None) -> dict[str, object]:
    """Operators of the stores of workspace ``ws`` the plain way; writes ``out`` and returns the figures."""
    import networkx as nx
    import pandas as pd

    caps = hub_caps(ws)  # settings, not counted
    start = time.perf_counter()
    tables = ws / "out" / "tables"
    stores = pd.read_parquet(tables / "stores.parquet", columns=["store_id"])["store_id"]
    ids = pd.read_parquet(tables / "store_identifiers.parquet", columns=["store_id", "kind", "value"])
    if sample_stores:
        stores = stores.sort_values().iloc[:sample_stores]
        ids = ids[ids["store_id"].isin(stores)]
    rows = len(ids)
    read = time.perf_counter() - start

    ids["value"] = ids["value"].str.strip().str.lower()
    ids = ids[ids["value"].notna() & (ids["value"] != "")].drop_duplicates()
    sharers = ids.groupby(["kind", "value"])["store_id"].transform("size")
    ids = ids[sharers <= ids["kind"].map(caps).fillna(0)]
    pairs = ids.merge(ids, on=["kind", "value"], suffixes=("_a", "_b"))
    pairs = pairs.loc[pairs["store_id_a"] < pairs["store_id_b"], ["store_id_a", "store_id_b"]].drop_duplicates()
    joined = time.perf_counter() - start

    graph = nx.Graph()
    graph.add_nodes_from(stores)
    graph.add_edges_from(pairs.itertuples(index=False, name=None))
    store_col, operator_col = [], []
    for component in nx.connected_components(graph):
        name = "OP-" + min(component)
        store_col.extend(component)
        operator_col.extend([name] * len(component))
    operators = pd.DataFrame({"store_id": store_col, "operator_id": operator_col}).sort_values("store_id")
    operators.to_parquet(out, index=False)
    seconds = time.perf_counter() - start
    sizes = operators["operator_id"].value_counts()
    return {
        "seconds": seconds,
        "read_seconds": read,
        "join_seconds": joined - read,
        "graph_seconds": seconds - joined,
        "rows": rows,
        "stores": len(stores),
        "pairs": len(pairs),
        "operators": len(sizes),
        "multi_store_operators": int((sizes > 1).sum()),
        "largest": int(sizes.max()) if len(sizes) else 0,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--sample-stores", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="default WORKSPACE/out/peer-operators.parquet")
    args = parser.parse_args()
    out = args.out or args.workspace / "out" / "peer-operators.parquet"
    print(json.dumps(peer_link(args.workspace, out, args.sample_stores)))


if __name__ == "__main__":
    main()
