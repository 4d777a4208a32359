"""truth/bad_rows.csv lists exactly the rows the contract's rules quarantine, in every format."""

from __future__ import annotations

import polars as pl
import pytest


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_bad_rows_are_exactly_the_rows_the_rules_reject(make_workspace, checker, fmt: str) -> None:
    root = make_workspace(fmt=fmt, bad_rows=0.02)
    listed = pl.read_csv(root / "truth" / "bad_rows.csv", schema_overrides={"id": pl.String})
    assert listed.columns == ["table", "row_number", "id", "reason"]
    assert listed.select("table", "row_number").is_unique().all()
    assert {(t, r) for t, r in zip(listed["table"], listed["row_number"], strict=False)} == checker(root)


def test_bad_rows_hit_every_table_with_plausible_reasons(make_workspace) -> None:
    listed = pl.read_csv(make_workspace(bad_rows=0.02) / "truth" / "bad_rows.csv", schema_overrides={"id": pl.String})
    assert set(listed["table"]) == {"stores", "store_identifiers", "listings", "orders", "notices", "labels"}
    reasons = listed["reason"]
    assert reasons.str.len_chars().min() > 5
    for fragment in ("references quarantined store", "references quarantined listing", "is empty", "is not"):
        assert reasons.str.contains(fragment, literal=True).any(), fragment
    no_id = listed.filter(pl.col("table").is_in(["store_identifiers", "labels"]))
    assert no_id["id"].fill_null("").eq("").all()


def test_clean_workspace_lists_no_bad_rows(workspace) -> None:
    assert pl.read_csv(workspace / "truth" / "bad_rows.csv").height == 0
