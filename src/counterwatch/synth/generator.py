"""Orchestration: build the synthetic marketplace and write it as a workspace.

The order of steps is fixed and every random draw comes from one
``numpy.random.default_rng(seed)``, so the same seed and arguments give byte-identical
files. Each step lives in its own module: ``stores`` (operators, stores, identifiers),
``listings`` (tactics, hard negatives, prices, photos), ``orders`` (sales against the
threshold), ``enforcement`` (notices, labels), ``corrupt`` (bad rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from counterwatch.contract.schema import TABLES, TableSpec
from counterwatch.contract.writer import write_json, write_table
from counterwatch.synth.brands import brand_ids, build_brands, flat_products, rates_to_cny
from counterwatch.synth.catalogue import FX_TO_CNY
from counterwatch.synth.config import SynthConfig
from counterwatch.synth.corrupt import corrupt
from counterwatch.synth.enforcement import build_labels, build_notices
from counterwatch.synth.listings import Listings, build_listings, plan_listings, stores_needed
from counterwatch.synth.orders import TIERS, Orders, build_orders
from counterwatch.synth.stores import Stores, build_stores, store_truth
from counterwatch.synth.text import strs
from counterwatch.workspace import FORMATS, atomic_path

Progress = Callable[[str, float], None]


@dataclass
class SynthResult:
    """What ``generate`` wrote: rows per table and where."""

    counts: dict[str, int] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)


def _arrow(df: pl.DataFrame, spec: TableSpec) -> pa.Table:
    """Columns in the contract's Arrow types; a column damaged into text stays text."""
    table = df.to_arrow()
    fields = []
    for name in table.column_names:
        want = spec.column(name).arrow_type
        have = table.schema.field(name).type
        textual = pa.types.is_large_string(have) or pa.types.is_string(have) or pa.types.is_string_view(have)
        fields.append(pa.field(name, pa.string() if textual and not pa.types.is_list(want) else want))
    return table.cast(pa.schema(fields))


def _write_csv(df: pl.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        df.write_csv(tmp)
    return path


def generate(
    out_dir: Path,
    listings: int = 100_000,
    seed: int = 0,
    fmt: str = "parquet",
    bad_rows: float = 0.0,
    config: SynthConfig | None = None,
    progress: Progress | None = None,
) -> SynthResult:
    """Write a synthetic marketplace workspace with ground truth into ``out_dir``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if listings < 1:
        raise ValueError(f"listings must be at least 1, got {listings}")
    if not 0.0 <= bad_rows <= 0.5:
        raise ValueError(f"bad_rows is a fraction of rows, between 0 and 0.5; got {bad_rows}")
    cfg = config or SynthConfig()
    say = progress or (lambda _step, _done: None)
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)

    say("operators and stores", 0.0)
    counts, cover = plan_listings(listings, cfg)
    stores = build_stores(rng, cfg, stores_needed(counts, cover, cfg))
    say("listings", 0.15)
    products = flat_products()
    made = build_listings(rng, cfg, listings, stores, products)
    say("orders", 0.45)
    orders = build_orders(rng, cfg, stores, made)
    authorized: dict[int, list[str]] = {}
    for b, sid in zip(
        stores.brand[stores.brand >= 0].tolist(), stores.store_id[stores.brand >= 0].tolist(), strict=False
    ):
        authorized.setdefault(b, []).append(sid)
    brands = build_brands(rng, cfg.reference_date.date(), authorized)
    say("notices and labels", 0.6)
    notices = build_notices(rng, cfg, made, brands)
    labels = build_labels(rng, cfg, made, notices)

    tables = {
        "stores": stores.table, "store_identifiers": stores.identifiers, "listings": made.table,
        "orders": orders.table, "notices": notices, "labels": labels,
    }  # fmt: skip
    bad_report = pl.DataFrame(schema={"table": pl.String, "row_number": pl.Int64, "id": pl.String, "reason": pl.String})
    valid_orders = np.ones(orders.table.height, dtype=bool)
    if bad_rows > 0:
        say("bad rows", 0.65)
        damaged = corrupt(rng, tables, bad_rows)
        tables, bad_report = damaged.tables, damaged.report
        valid_orders = ~damaged.bad["orders"]
    tables["fx_rates"] = pl.DataFrame({"currency": list(FX_TO_CNY), "to_base": list(FX_TO_CNY.values())})

    result = SynthResult()
    say("writing tables", 0.7)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        path = out_dir / f"{name}.{fmt}"
        for stale in (out_dir / f"{name}.{f}" for f in FORMATS if f != fmt):
            stale.unlink(missing_ok=True)  # exactly one file per table
        write_table(_arrow(tables[name], TABLES[name]), path, fmt)
        result.paths[name], result.counts[name] = path, tables[name].height
    result.paths["brands"] = write_json(brands, out_dir / "brands.json")
    result.counts["brands"] = len(brands)

    say("truth", 0.95)
    truth = out_dir / "truth"
    result.paths["truth/listings"] = _write_csv(made.truth, truth / "listings.csv")
    result.paths["truth/stores"] = _write_csv(store_truth(stores), truth / "stores.csv")
    result.paths["truth/operators"] = _write_csv(
        _operator_truth(stores, made, orders, valid_orders), truth / "operators.csv"
    )
    result.paths["truth/bad_rows"] = _write_csv(bad_report, truth / "bad_rows.csv")
    result.counts.update({"truth/listings": listings, "truth/stores": len(stores.store_id),
                          "truth/operators": int(stores.operator.max()) + 1, "truth/bad_rows": bad_report.height})  # fmt: skip
    say("done", 1.0)
    return result


def _operator_truth(stores: Stores, made: Listings, orders: Orders, valid_orders: np.ndarray) -> pl.DataFrame:
    """``truth/operators.csv``: each operator's stores, counterfeit listings and counterfeit sales in CNY.

    Sales count only orders a correct validator keeps (damaged rows and their cascades excluded).
    """
    n_ops = int(stores.operator.max()) + 1
    op_of_listing = stores.operator[made.store]
    o = orders.table.filter(pl.Series(valid_orders))  # as generated, before any damage
    row = o["listing_id"].str.slice(1).cast(pl.Int64).to_numpy() - 1  # L0000001 is row 0
    cf = made.counterfeit[row]
    value = o["quantity"].to_numpy() * o["unit_price"].to_numpy()
    value = value * rates_to_cny(o["currency"].to_numpy())
    sales = np.bincount(op_of_listing[row[cf]], weights=value[cf], minlength=n_ops)
    first = np.unique(stores.operator, return_index=True)[1]
    tier = np.array(["", *TIERS], dtype=object)[orders.tier + 1]
    return pl.DataFrame(
        {
            "operator_id": strs(stores.operator_id[first]),
            "operator_kind": strs(np.where(stores.counterfeit[first], "counterfeit", "legit")),
            "stores": np.bincount(stores.operator, minlength=n_ops),
            "counterfeit_listings": np.bincount(op_of_listing[made.counterfeit], minlength=n_ops),
            "counterfeit_sales_cny": np.round(sales, 2),
            "sales_tier": strs(tier),
            "authorized_for": strs(
                np.where(stores.brand[first] >= 0, brand_ids()[np.maximum(stores.brand[first], 0)], "")
            ),
        }
    ).sort("operator_id")
