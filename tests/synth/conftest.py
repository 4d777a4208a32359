"""Workspaces shared by the synth tests, and an independent checker of the contract's row rules.

The checker re-implements the quarantine rules from ``DATA_CONTRACT.md`` and the brief
directly over the written files (it does not use the project's reader or validator), so
``truth/bad_rows.csv`` is tested against the rules, not against itself.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pycountry
import pytest

from counterwatch.contract.schema import TABLES
from counterwatch.synth import generate

SMALL = 3_000
HEX16 = re.compile(r"[0-9a-f]{16}")


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean 5,000-listing Parquet workspace."""
    out = tmp_path_factory.mktemp("ws") / "parquet"
    generate(out, listings=5_000, seed=7)
    return out


@pytest.fixture(scope="session")
def make_workspace(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    cache: dict[tuple, Path] = {}

    def make(fmt: str = "parquet", seed: int = 3, bad_rows: float = 0.0, listings: int = SMALL) -> Path:
        key = (fmt, seed, bad_rows, listings)
        if key not in cache:
            out = tmp_path_factory.mktemp("ws") / f"{fmt}-{seed}-{bad_rows}"
            generate(out, listings=listings, seed=seed, fmt=fmt, bad_rows=bad_rows)
            cache[key] = out
        return cache[key]

    return make


def read_rows(path: Path) -> list[dict]:
    """Rows as an export holds them: Parquet natively typed, CSV all text (lists split on |), JSONL as parsed."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    if path.suffix == ".jsonl":
        return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        if "image_hashes" in r:
            r["image_hashes"] = [h for h in r["image_hashes"].split("|") if h]
    return rows


def _text(v: object) -> str:
    return "" if v is None else str(v).strip()


def _finite(v: object) -> float | None:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _problem(col, v: object, fx: set[str]) -> str | None:  # type: ignore[no-untyped-def]
    t = _text(v)
    if col.kind == "id" and not t:
        return "empty id"
    if col.kind == "code" and t.lower() not in col.domain:
        return "code"
    if col.kind == "country" and (len(t) != 2 or pycountry.countries.get(alpha_2=t.upper()) is None):
        return "country"
    if col.kind == "region" and t and pycountry.subdivisions.get(code=t.upper()) is None:
        return "region"
    if col.kind == "region" and not t and not col.empty_ok:
        return "region"
    if col.kind == "currency" and t.upper() != "CNY" and t.upper() not in fx:
        return "currency"
    if col.kind == "timestamp" and not isinstance(v, datetime):
        try:
            datetime.fromisoformat(t.replace("Z", "+00:00"))
        except ValueError:
            return "timestamp"
    if col.kind in ("amount", "integer"):
        x = _finite(v)
        if x is None or (col.kind == "integer" and not float(x).is_integer()):
            return "number"
        if col.minimum is not None and (x < col.minimum or (col.exclusive_minimum and x <= col.minimum)):
            return "minimum"
    if col.kind == "hashes" and any(not HEX16.fullmatch(str(h)) for h in (v or [])):
        return "hash"
    return None


def check_workspace(root: Path) -> set[tuple[str, int]]:
    """Every (table, row_number) the contract's rules quarantine, cascades included."""
    files = {p.stem: p for p in root.iterdir() if p.is_file() and p.suffix in (".parquet", ".csv", ".jsonl")}
    fx = {_text(r["currency"]).upper() for r in read_rows(files["fx_rates"])}
    valid: dict[str, set[str]] = {"brands": {b["brand_id"] for b in orjson.loads((root / "brands.json").read_bytes())}}
    bad: set[tuple[str, int]] = set()
    for name, spec in TABLES.items():
        if name == "fx_rates" or name not in files:
            continue
        rows = read_rows(files[name])
        seen: set[str] = set()
        ok_ids: set[str] = set()
        for i, row in enumerate(rows, start=1):
            wrong = any(_problem(c, row.get(c.name), fx) for c in spec.columns)
            for c in spec.columns:
                if c.kind == "ref" and _text(row.get(c.name)) not in valid[c.references.split(".")[0]]:
                    wrong = True
            if spec.id_column:
                key = _text(row.get(spec.id_column))
                if key in seen:
                    wrong = True
                seen.add(key)
                if not wrong:
                    ok_ids.add(key)
            if wrong:
                bad.add((name, i))
        valid[name] = ok_ids
    return bad


@pytest.fixture(scope="session")
def checker() -> Callable[[Path], set[tuple[str, int]]]:
    return check_workspace
