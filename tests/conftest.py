"""Shared fixtures: small hand-made workspaces written in any of the contract's formats."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from counterwatch.contract.writer import write_table
from tests.pgcluster import (
    ENV_URL,
    DatabaseFactory,
    PgUnavailable,
    check_server,
    normalize_url,
    pg_unavailable_action,
    throwaway_cluster,
)

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


# --------------------------------------------------------------------------- case-state databases
# ``db_url`` runs a test against SQLite and against a real PostgreSQL (see docs/testing.md): each
# pytest-xdist worker starts its own throwaway cluster (tests/pgcluster.py) the first time a
# PostgreSQL test needs it, or uses the server named by COUNTERWATCH_TEST_PG_URL.


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: runs against a real PostgreSQL server (-m 'not postgresql')")


def _pg_unavailable(reason: str) -> None:
    message = f"PostgreSQL unavailable: {reason}"
    if pg_unavailable_action(reason, os.environ) == "fail":
        pytest.fail(
            message + f" (failing, not skipping: CI={os.environ.get('CI', '')!r}, "
            f"{ENV_URL}={'set' if os.environ.get(ENV_URL) else 'unset'})",
            pytrace=False,
        )
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL (postgresql+psycopg://) of a PostgreSQL database for this test session:
    COUNTERWATCH_TEST_PG_URL when set, else a throwaway cluster started for this worker."""
    stack = ExitStack()
    unavailable = ""
    try:
        try:
            import psycopg
        except ImportError as exc:
            raise PgUnavailable(f"the psycopg driver is not importable ({exc})") from exc
        explicit = os.environ.get(ENV_URL, "").strip()
        if explicit:
            url = normalize_url(explicit)
            check_server(url)
        else:
            url = stack.enter_context(throwaway_cluster())
    except PgUnavailable as exc:
        unavailable = str(exc)
    if unavailable:
        _pg_unavailable(unavailable)  # skips or fails; outside the except so no chained traceback
    with stack:
        yield url


@pytest.fixture(scope="session")
def pg_databases(pg_url: str) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(pg_url)
    yield factory
    factory.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)], ids=["sqlite", "postgresql"]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database: a SQLite file in ``tmp_path``, or a fresh PostgreSQL
    database created for this test alone and dropped after it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/counterwatch.db"
        return
    factory: DatabaseFactory = request.getfixturevalue("pg_databases")
    url = factory.create()
    yield url
    factory.drop(url)
