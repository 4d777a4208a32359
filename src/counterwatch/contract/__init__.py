"""The data contract: read a workspace's input tables, validate them, hand later stages only valid rows.

Later stages call ``read_table`` / ``read_brands``; they never open input files themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from counterwatch.config import Settings, load_settings
from counterwatch.contract.brands import Brand
from counterwatch.contract.schema import ALL_TABLES, TABLES, TableSpec
from counterwatch.contract.validate import ValidationReport, is_current, validate_workspace
from counterwatch.workspace import Workspace

if TYPE_CHECKING:  # pyarrow.dataset imports pandas when it is installed: a third of a second, for one function
    import pyarrow.dataset as ds

__all__ = [
    "ALL_TABLES",
    "TABLES",
    "Brand",
    "ValidationReport",
    "canonical_schema",
    "ensure_validated",
    "open_dataset",
    "read_brands",
    "read_table",
    "validate_workspace",
]


def ensure_validated(
    ws: Workspace, settings: Settings | None = None, progress: Callable[[str], None] | None = None
) -> ValidationReport | None:
    """Validate ``ws`` unless ``out/tables`` already reflects its current inputs; the report when it ran."""
    settings = settings or load_settings(ws.root)
    if is_current(ws, settings):
        return None
    return validate_workspace(ws, settings, progress)


def canonical_schema(spec: TableSpec, schema: pa.Schema) -> pa.Schema:
    """The contract's types for ``spec``'s columns, followed by any extra columns as stored."""
    extras = [f for f in schema if f.name not in spec._by_name]
    return pa.schema(list(spec.arrow_schema) + extras)


def read_table(ws: Workspace, name: str, columns: list[str] | None = None) -> pa.Table:
    """The valid rows of input table ``name`` in the contract's types (validating first if needed)."""
    spec = TABLES[name]
    ensure_validated(ws)
    # One file: ParquetFile reads it without pyarrow.dataset, whose import pulls in pandas (0.3 s).
    table = pq.ParquetFile(ws.tables_dir / f"{name}.parquet").read(columns=columns)
    target = canonical_schema(spec, table.schema)
    if columns is not None:
        target = pa.schema([target.field(c) for c in columns])
    return table.cast(target)


def open_dataset(ws: Workspace, name: str) -> ds.Dataset:
    """The valid rows of ``name`` as a dataset, for stages that stream record batches with bounded memory."""
    ensure_validated(ws)
    import pyarrow.dataset as ds

    return ds.dataset(ws.tables_dir / f"{name}.parquet", format="parquet")


def read_brands(ws: Workspace) -> list[Brand]:
    """The valid brands of ``brands.json``."""
    import orjson

    ensure_validated(ws)
    return [Brand.model_validate(b) for b in orjson.loads((ws.tables_dir / "brands.json").read_bytes())]
