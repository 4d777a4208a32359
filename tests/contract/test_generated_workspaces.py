"""The validator over generated marketplaces: exact quarantine, and the same tables from every format."""

from __future__ import annotations

import csv
import json

import pytest

from counterwatch.contract import read_brands, read_table
from counterwatch.contract.schema import TABLES
from counterwatch.contract.validate import validate_workspace
from counterwatch.synth import generate
from counterwatch.workspace import Workspace

LISTINGS = 4_000


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The same marketplace (seed 11, 1 % corrupted rows) written as Parquet, CSV and JSON Lines."""
    base = tmp_path_factory.mktemp("gen")
    roots = {}
    for fmt in ("parquet", "csv", "jsonl"):
        roots[fmt] = base / fmt
        generate(roots[fmt], listings=LISTINGS, seed=11, fmt=fmt, bad_rows=0.01)
    return roots


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_quarantine_is_exactly_the_corrupted_rows(generated, fmt):
    ws = Workspace.at(generated[fmt])
    report = validate_workspace(ws)
    assert report.exit_code == 1
    with (ws.truth / "bad_rows.csv").open(newline="", encoding="utf-8") as fh:
        expected = {(r["table"], int(r["row_number"])) for r in csv.DictReader(fh)}
    got = set()
    for path in ws.quarantine.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").split("\n")[:-1]:
            q = json.loads(line)
            assert q["reasons"] and all(": " in r for r in q["reasons"])
            got.add((path.stem, q["row_number"]))
    assert got == expected
    for rep in report.tables.values():
        assert rep.rows_read == rep.rows_valid + rep.rows_quarantined


def test_every_format_reads_to_identical_arrow_tables(generated):
    tables = {fmt: {name: read_table(Workspace.at(root), name) for name in TABLES} for fmt, root in generated.items()}
    for name in TABLES:
        ref = tables["parquet"][name]
        assert ref.num_rows > 0, name
        for fmt in ("csv", "jsonl"):
            other = tables[fmt][name]
            assert other.schema == ref.schema, (name, fmt)
            assert other.equals(ref), (name, fmt)
    brands = {fmt: [b.model_dump() for b in read_brands(Workspace.at(root))] for fmt, root in generated.items()}
    assert brands["csv"] == brands["parquet"] == brands["jsonl"]


def test_clean_generated_workspace_is_valid(tmp_path):
    generate(tmp_path / "ws", listings=2_000, seed=5)
    report = validate_workspace(Workspace.at(tmp_path / "ws"))
    assert report.exit_code == 0, {n: t.reasons for n, t in report.tables.items() if t.reasons}
    assert report.tables["listings"].rows_valid == 2_000
