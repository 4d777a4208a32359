"""Deliberately malformed rows, and every row their damage makes invalid in turn.

Each damaged row breaks exactly one rule of the contract (see ``schema.py``): an empty
or duplicate id, a dangling reference, a code outside its domain, a bad country,
region or currency, a timestamp that is not ISO 8601, a non-finite or negative amount,
a fractional or non-positive integer, a malformed pHash. A quarantined row takes its
dependants with it (a store's identifiers and listings, a listing's orders, notices
and labels), so those are listed too, with the reason ``references quarantined …``.
Tables are processed in validation order so a cascade is known before its dependants
are damaged, and duplicates always copy the id of a row that stays valid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from counterwatch.contract.schema import TABLES, Column, TableSpec
from counterwatch.synth.text import choose, strs

#: The tables the generator damages, in validation order (brands.json and fx_rates stay intact).
CORRUPTIBLE = ("stores", "store_identifiers", "listings", "orders", "notices", "labels")
SINGULAR = {"stores": "store", "listings": "listing", "brands": "brand"}
TEXT_DAMAGE = {
    "country": ("China", "CHN", "C N"),
    "region": ("Zhejiang", "CN-99", "ZJ"),
    "currency": ("RMB", "US$", "BTC"),
    "timestamp": ("31/02/2025", "yesterday", "2025-13-45T25:00:00Z", "not a date"),
    "amount": ("abc", "NaN", "inf", "12..5"),
    "integer": ("2.5", "x", "seven"),
    "hashes": ("not-a-phash", "12345", "ZZZZZZZZZZZZZZZZ", "0x1234567890abcd"),
    "code": ("deleted", "wechat", "other", "unknown"),
}
UNKNOWN_REF = {"stores": "S9999999", "listings": "L9999999", "brands": "B999"}


@dataclass
class Damage:
    """One way to break one column."""

    column: Column
    kind: str  # empty, blank, duplicate, unknown, text, negative, zero, hash


@dataclass
class Corruption:
    tables: dict[str, pl.DataFrame]
    bad: dict[str, np.ndarray] = field(default_factory=dict)  # per table: boolean mask of quarantined rows
    report: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={
        "table": pl.String, "row_number": pl.Int64, "id": pl.String, "reason": pl.String}))  # fmt: skip


def damages(spec: TableSpec) -> list[Damage]:
    """Every way a row of ``spec`` can be made invalid."""
    out: list[Damage] = []
    for c in spec.columns:
        if c.kind == "id":
            out += [Damage(c, "empty"), Damage(c, "blank"), Damage(c, "duplicate")]
        elif c.kind == "ref":
            out += [Damage(c, "empty"), Damage(c, "unknown")]
        elif c.kind == "hashes":
            out.append(Damage(c, "hash"))
        elif c.kind in TEXT_DAMAGE:
            out.append(Damage(c, "text"))
        if c.kind in ("amount", "integer") and c.minimum is not None:
            out.append(Damage(c, "zero" if c.exclusive_minimum else "negative"))
    return out


def _as_text(s: pl.Series) -> pl.Series:
    """A column as an export would hold it once one value is not of its type."""
    if isinstance(s.dtype, pl.Datetime):
        return s.dt.convert_time_zone("UTC").dt.to_string("%Y-%m-%dT%H:%M:%SZ")
    return s.cast(pl.String)


def _reason(d: Damage, value: str) -> str:
    c = d.column
    if d.kind in ("empty", "blank"):
        return f"{c.name} is empty"
    if d.kind == "unknown":
        return f"{c.name} {value} names no {SINGULAR[c.references.split('.')[0]]}"
    if d.kind == "hash":
        return f"{c.name} item {value!r} is not 16 hex digits"
    if d.kind in ("negative", "zero"):
        return f"{c.name} {value} is {'not positive' if d.kind == 'zero' else 'negative'}"
    describe: dict[str, Callable[[], str]] = {
        "code": lambda: f"{c.name} {value!r} is not one of {', '.join(c.domain)}",
        "country": lambda: f"{c.name} {value!r} is not an ISO 3166-1 alpha-2 code",
        "region": lambda: f"{c.name} {value!r} is not an ISO 3166-2 code",
        "currency": lambda: f"{c.name} {value!r} is neither CNY nor in fx_rates",
        "timestamp": lambda: f"{c.name} {value!r} is not an ISO 8601 timestamp",
        "amount": lambda: f"{c.name} {value!r} is not a finite number",
        "integer": lambda: f"{c.name} {value!r} is not a whole number",
    }
    return describe[c.kind]()


class Reasons:
    """Reasons per row, gathered in vectorised batches."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.texts: list[np.ndarray] = []

    def add(self, rows: np.ndarray, texts: np.ndarray | list[str]) -> None:
        self.rows.append(np.asarray(rows, dtype=np.int64))
        self.texts.append(np.asarray(texts, dtype=object))

    def frame(self) -> pl.DataFrame:
        """One row per damaged row: ``row`` (0-based) and its reasons joined with ``; ``."""
        if not self.rows:
            return pl.DataFrame(schema={"row": pl.Int64, "reason": pl.String})
        df = pl.DataFrame({"row": np.concatenate(self.rows), "reason": strs(np.concatenate(self.texts))})
        return df.group_by("row", maintain_order=True).agg(pl.col("reason").str.join("; ")).sort("row")


def corrupt(rng: np.random.Generator, tables: dict[str, pl.DataFrame], fraction: float) -> Corruption:
    """Damage about ``fraction`` of the rows of each table and work out every quarantined row."""
    result = Corruption(tables=dict(tables))
    valid: dict[str, pl.Series] = {}
    reports = []
    for name in CORRUPTIBLE:
        if name not in tables:
            continue
        spec, df = TABLES[name], tables[name]
        n = df.height
        reasons = Reasons()
        cascade = np.zeros(n, dtype=bool)
        for c in spec.columns:
            target = c.references.split(".")[0] if c.references else None
            if c.kind != "ref" or target not in valid:  # brands.json is never damaged: every brand is valid
                continue
            dangling = np.flatnonzero(~df[c.name].is_in(valid[target].implode()).to_numpy())
            reasons.add(
                dangling, (f"references quarantined {SINGULAR[target]} " + df[c.name].gather(dangling)).to_numpy()
            )
            cascade[dangling] = True
        clean = np.flatnonzero(~cascade)
        k = min(len(clean), max(1, round(n * fraction))) if fraction > 0 and n > 0 else 0
        chosen = np.sort(rng.choice(clean, size=k, replace=False)) if k else np.array([], dtype=np.int64)
        options = damages(spec)
        pick = rng.integers(0, len(options), k)
        df = _apply(rng, df, chosen, [options[int(i)] for i in pick], np.setdiff1d(clean, chosen), reasons)
        report = reasons.frame()
        bad = np.zeros(n, dtype=bool)
        bad[report["row"].to_numpy()] = True
        result.tables[name], result.bad[name] = df, bad
        if spec.id_column:
            valid[name] = df[spec.id_column].filter(pl.Series(~bad))
        rows = report["row"].to_numpy()
        ids = df[spec.id_column].gather(rows) if spec.id_column else pl.Series([""] * len(rows), dtype=pl.String)
        reports.append(pl.DataFrame({
            "table": pl.Series([name] * len(rows), dtype=pl.String),
            "row_number": pl.Series(rows + 1, dtype=pl.Int64),
            "id": ids.fill_null(""),
            "reason": report["reason"],
        }))  # fmt: skip
    if reports:
        result.report = pl.concat(reports)
    return result


def _apply(
    rng: np.random.Generator,
    df: pl.DataFrame,
    rows: np.ndarray,
    picks: list[Damage],
    clean: np.ndarray,
    reasons: Reasons,
) -> pl.DataFrame:
    """Write the damage into ``df`` (one vectorised pass per column and kind of damage); record reasons.

    ``clean`` are rows that stay valid: the only ones a duplicate may copy its id from.
    """
    textual = {d.column.name for d in picks if d.kind == "text" and d.column.kind in ("timestamp", "amount", "integer")}
    groups: dict[tuple[str, str], list[int]] = {}
    by_name = {d.column.name: d.column for d in picks}
    for r, d in zip(rows.tolist(), picks, strict=False):
        groups.setdefault((d.column.name, d.kind), []).append(r)
    columns = {name: _as_text(df[name]) if name in textual else df[name] for name in by_name}
    for (name, kind), idx_list in sorted(groups.items()):
        c, idx = by_name[name], np.array(idx_list, dtype=np.int64)
        col = columns[name]
        if kind == "duplicate":
            earlier = np.searchsorted(clean, idx)  # how many valid rows come before each damaged one
            has = earlier > 0
            src = clean[
                np.maximum((rng.random(len(idx)) * earlier).astype(np.int64), 0).clip(0, max(len(clean) - 1, 0))
            ]
            copied = col.gather(src[has]).to_numpy()
            col = col.scatter(idx[has], copied)
            reasons.add(
                idx[has],
                [f"duplicate {name} {v} (first at row {s + 1})" for v, s in zip(copied, src[has], strict=False)],
            )
            kind, idx = "empty", idx[~has]  # nothing earlier to copy: blank the id instead
            if len(idx) == 0:
                columns[name] = col
                continue
        if kind == "hash":
            values = choose(rng, len(idx), TEXT_DAMAGE["hashes"])
            bad = pl.Series(np.full(df.height, None, dtype=object)).cast(pl.String).scatter(idx, values)
            col = df.select(pl.when(pl.lit(bad).is_not_null()).then(pl.concat_list(pl.lit(bad), pl.col(name)))
                            .otherwise(pl.col(name)).alias(name))[name]  # fmt: skip
        elif kind in ("negative", "zero"):
            old = col.gather(idx).cast(pl.Float64).to_numpy()
            number = -(np.abs(old) + 1) if kind == "negative" else np.zeros(len(idx))
            values = pl.Series(number.astype(np.int64) if c.kind == "integer" else np.round(number, 2))
            col = col.scatter(idx, values.cast(pl.String) if name in textual else values.cast(col.dtype))
        else:
            values = _damaged_text(rng, c, kind, len(idx))
            col = col.scatter(idx, values)
        columns[name] = col
        shown = values if kind != "negative" and kind != "zero" else values.cast(pl.String).to_numpy()
        reasons.add(idx, [_reason(Damage(c, kind), str(v)) for v in shown])
    return df.with_columns(list(columns.values()))


def _damaged_text(rng: np.random.Generator, c: Column, kind: str, n: int) -> np.ndarray:
    """``n`` values that break column ``c`` the way ``kind`` says (empty, blank, unknown reference, bad text)."""
    if kind == "empty":
        return np.full(n, "", dtype=object)
    if kind == "blank":
        return np.full(n, "  ", dtype=object)
    if kind == "unknown":
        return np.full(n, UNKNOWN_REF[c.references.split(".")[0]], dtype=object)
    return choose(rng, n, TEXT_DAMAGE[c.kind] if c.kind != "code" else _bad_codes(c))


def _bad_codes(c: Column) -> tuple[str, ...]:
    return tuple(v for v in TEXT_DAMAGE["code"] if v not in c.domain)
