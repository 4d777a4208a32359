"""``counterwatch link``: the operators behind the stores, with the evidence that ties them.

Reads the validated ``store_identifiers`` (and the listings' photos), normalises every
identifier (``normalize``), weighs what each pair of stores shares (``evidence``), clusters the
links into operators (``operators``) and writes, atomically:

- ``out/operators.parquet``: ``store_id``, ``operator_id``, ``confidence``, ``operator_stores``;
- ``out/operator_links.parquet``: ``store_a``, ``store_b``, ``operator_id``, ``weight`` (bits) and
  ``evidence`` (the values that tie them, readable);
- ``out/identifiers.parquet``: every identifier row as entered, with its ``key``, whether it is
  ``usable``, the ``reason`` when not (empty, placeholder, unparseable: kept, never evidence), how
  many stores share it and the bits it gives;
- ``out/link-index.parquet``: usable keys with their stores and operators, for the recidivism
  check at sign-up (``recidivism``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from counterwatch.config import Settings, load_settings
from counterwatch.contract import ensure_validated, read_table
from counterwatch.contract.writer import write_json
from counterwatch.link.evidence import PHOTO, evidence_expr, pair_weights, photo_values, values_frame
from counterwatch.link.normalize import normalize_identifiers, with_country
from counterwatch.link.operators import cluster
from counterwatch.workspace import Workspace, atomic_path

OPERATORS = "operators.parquet"
LINKS = "operator_links.parquet"
IDENTIFIERS = "identifiers.parquet"
INDEX = "link-index.parquet"


@dataclass
class LinkResult:
    stores: int
    operators: int
    multi_store_operators: int
    links: int
    unusable: int
    unusable_reasons: dict[str, int] = field(default_factory=dict)
    largest: int = 0
    paths: list[Path] = field(default_factory=list)


def _write(df: pl.DataFrame, target: Path) -> None:
    with atomic_path(target) as tmp:
        df.write_parquet(tmp, compression="zstd")


def link(ws: Workspace, settings: Settings | None = None, progress: Callable[[str], None] | None = None) -> LinkResult:
    """Link the stores of ``ws`` into operators and write the outputs above."""
    settings = settings or load_settings(ws.root)
    cfg = settings.link
    say = progress or (lambda _m: None)
    ensure_validated(ws, settings, say)
    stores = pl.from_arrow(read_table(ws, "stores", ["store_id", "country"]))
    if (ws.tables_dir / "store_identifiers.parquet").is_file():
        raw = pl.from_arrow(read_table(ws, "store_identifiers", ["store_id", "kind", "value"]))
    else:  # optional table: without it, every store is its own operator (photos may still link them)
        raw = pl.DataFrame(schema={"store_id": pl.String, "kind": pl.String, "value": pl.String})
    say(f"normalising {raw.height:,} identifiers")
    ids = normalize_identifiers(with_country(raw.select("store_id", "kind", "value"), stores))
    listings = pl.from_arrow(read_table(ws, "listings", ["store_id", "image_hashes"]))
    say(f"clustering the photos of {listings.height:,} listings")
    photos = photo_values(listings, cfg.photo_distance)
    values = values_frame(ids, photos, cfg)
    say(f"weighing what {stores.height:,} stores share")
    pairs, cohesion = pair_weights(values, cfg)
    values = values.drop("bits").join(cohesion, on="key", how="left")
    links = pairs.filter(pl.col("weight") >= cfg.threshold)
    say(f"clustering {links.height:,} links")
    operators, kept = cluster(stores["store_id"], links, cfg.threshold, cfg.max_operator_stores)
    kept = kept.with_columns(evidence_expr(cfg.cohesion_min_stores).alias("evidence")).select(
        "store_a", "store_b", "operator_id", "weight", "evidence"
    )
    # Photos are evidence between stores, but a store signing up has no listings yet: the identifier
    # output and the recidivism index hold identifier values only.
    id_values = values.filter(pl.col("family") != PHOTO)
    shared = id_values.select("store_id", "key", "shared_by", "cohesion", "bits")
    identifiers = ids.join(shared, on=["store_id", "key"], how="left", maintain_order="left").select(
        "store_id", "kind", "value", "key", "usable", "reason", "shared_by", "cohesion", "bits"
    )
    index = id_values.join(operators.select("store_id", "operator_id"), on="store_id", how="left").select(
        "key", "family", "weight", "store_id", "operator_id", "shared_by", "cohesion"
    )
    say("writing operators, links, identifiers and the recidivism index")
    paths = [ws.out / OPERATORS, ws.out / LINKS, ws.out / IDENTIFIERS, ws.out / INDEX]
    for df, path in zip((operators, kept, identifiers, index), paths, strict=True):
        _write(df, path)
    reasons = (
        identifiers.filter(~pl.col("usable"))
        .group_by(pl.col("reason").str.replace(r" '.*'$", ""))
        .len()
        .sort("len", descending=True)
    )
    sizes = operators.group_by("operator_id").len()
    result = LinkResult(
        stores=operators.height,
        operators=sizes.height,
        multi_store_operators=int((sizes["len"] > 1).sum()),
        links=kept.height,
        unusable=int((~identifiers["usable"]).sum()),
        unusable_reasons=dict(reasons.iter_rows()),
        largest=int(sizes["len"].max() or 0),
        paths=paths,
    )
    write_json({k: v for k, v in result.__dict__.items() if k != "paths"}, ws.out / "link.json")
    return result
