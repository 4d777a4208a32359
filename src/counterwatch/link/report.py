"""``counterwatch operator``: one operator as an investigator reads it (stores, evidence, listings)."""

from __future__ import annotations

import polars as pl
from rich.console import Group
from rich.table import Table
from rich.text import Text

from counterwatch.contract import read_table
from counterwatch.errors import InputError
from counterwatch.link.stage import LINKS, OPERATORS
from counterwatch.workspace import Workspace

TOP_LISTINGS = 15


def operator_report(ws: Workspace, operator_id: str) -> Group:
    """The operator's stores, the links between them with their evidence, and its riskiest listings."""
    path = ws.out / OPERATORS
    if not path.is_file():
        raise InputError(f"no operators yet: run `counterwatch link {ws.root}` first")
    operators = pl.read_parquet(path)
    mine = operators.filter(pl.col("operator_id") == operator_id)
    if mine.height == 0:
        near = operators.filter(pl.col("operator_id").str.contains(operator_id, literal=True))["operator_id"]
        hint = f"; did you mean {', '.join(near.unique().sort().head(3))}?" if near.len() else ""
        raise InputError(f"operator '{operator_id}' is not in {path}{hint}")
    stores = pl.from_arrow(read_table(ws, "stores")).join(mine, on="store_id")
    scores_path = ws.out / "scores.parquet"
    per_store = None
    listings = None
    if scores_path.is_file():
        scores = pl.read_parquet(scores_path, columns=["listing_id", "store_id", "risk", "band", "reasons"])
        scores = scores.filter(pl.col("store_id").is_in(mine["store_id"].implode()))
        per_store = scores.group_by("store_id").agg(
            pl.len().alias("listings"),
            (pl.col("band") == "block").sum().alias("block"),
            (pl.col("band") == "review").sum().alias("review"),
        )
        listings = scores.sort("risk", descending=True).head(TOP_LISTINGS)
    if per_store is not None:
        stores = stores.join(per_store, on="store_id", how="left")
    t = Table(title=f"Operator {operator_id}: {mine.height} store(s)", title_justify="left")
    for col in ("store", "name", "country", "opened", "status", "confidence", "listings", "block", "review"):
        t.add_column(col, justify="right" if col in ("confidence", "listings", "block", "review") else "left")
    for r in stores.sort("store_id").iter_rows(named=True):
        counts = (f"{r.get(c) or 0:,}" for c in ("listings", "block", "review"))
        t.add_row(r["store_id"], r["name"], r["country"], str(r["created_at"])[:10], r["status"],
                  f"{r['confidence']:.3f}", *counts)  # fmt: skip
    parts: list[object] = [t]
    links = pl.read_parquet(ws.out / LINKS).filter(pl.col("operator_id") == operator_id)
    graph = Text(f"Evidence graph: {links.height} link(s), strongest first\n", style="bold")
    for r in links.sort("weight", descending=True).iter_rows(named=True):
        graph.append(f"  {r['store_a']} — {r['store_b']}  {r['weight']:.1f} bits\n")
        for e in r["evidence"]:
            graph.append(f"      {e}\n")
    if links.height == 0:
        graph.append("  (a single store: nothing links it to another)\n")
    parts.append(graph)
    if listings is not None and listings.height:
        lt = Table(title=f"Riskiest listings (top {listings.height})", title_justify="left")
        for col in ("listing", "store", "risk", "band", "reasons"):
            lt.add_column(col, justify="right" if col == "risk" else "left")
        for r in listings.iter_rows(named=True):
            lt.add_row(r["listing_id"], r["store_id"], f"{r['risk']:.3f}", r["band"], "; ".join(r["reasons"]))
        parts.append(lt)
    return Group(*parts)
