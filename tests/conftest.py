"""Shared fixtures: small hand-made workspaces written in any of the contract's formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from counterwatch.contract.writer import write_table

BRANDS: list[dict[str, Any]] = [
    {
        "brand_id": "B1",
        "name": "Nike",
        "aliases": ["NIKE", "耐克"],
        "owner": "Nike, Inc.",
        "trademarks": [
            {"registration_no": "G123", "office": "CNIPA", "mark": "NIKE", "classes": [25], "expires": "2031-05-01"}
        ],
        "products": [
            {
                "product_id": "P1",
                "name": "Air Max 90",
                "category": "shoes/sneakers",
                "keywords": ["air max", "90"],
                "reference_price": 899,
                "currency": "CNY",
            }
        ],
        "authorized_stores": ["S1"],
    }
]


def write_workspace(root: Path, tables: dict[str, dict[str, list[Any]]], fmt: str = "csv", brands=None) -> Path:
    """Write ``tables`` (name -> column -> values) into ``root`` in ``fmt``, plus ``brands.json``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "brands.json").write_text(json.dumps(BRANDS if brands is None else brands, ensure_ascii=False))
    for name, columns in tables.items():
        write_table(pa.table(columns), root / f"{name}.{fmt}")
    return root


def stores(n: int = 3) -> dict[str, list[Any]]:
    return {
        "store_id": [f"S{i}" for i in range(1, n + 1)],
        "seller_id": [f"U{i}" for i in range(1, n + 1)],
        "name": [f"Store {i}" for i in range(1, n + 1)],
        "created_at": ["2024-01-01T00:00:00Z"] * n,
        "country": ["CN"] * n,
        "region": ["CN-ZJ"] * n,
        "status": ["active"] * n,
    }


def listing_row(i: int, **over: Any) -> dict[str, Any]:
    row = {
        "listing_id": f"L{i}",
        "store_id": "S1",
        "title": f"Nike Air Max 90 #{i}",
        "description": "",
        "category": "shoes/sneakers",
        "brand": "Nike",
        "price": "899",
        "currency": "CNY",
        "stock": "5",
        "created_at": "2025-03-01T12:00:00Z",
        "image_hashes": ["a1b2c3d4e5f60718"],
    }
    row.update(over)
    return row


def columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {k: [r[k] for r in rows] for k in rows[0]}


@pytest.fixture
def make_workspace(tmp_path: Path):
    def make(tables: dict[str, dict[str, list[Any]]], fmt: str = "csv", brands=None, name: str = "ws") -> Path:
        return write_workspace(tmp_path / name, tables, fmt, brands)

    return make
