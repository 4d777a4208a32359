"""Validate a workspace against the data contract and write what later stages read.

For each input table, in reference order, one SQL query types every column and
collects every reason a row is bad. Good rows go to ``out/tables/<table>.parquet``
(``brands.json`` for the registry) in the contract's types; bad rows go to
``quarantine/<table>.jsonl`` with their reasons. Rows that reference a quarantined
row are quarantined too, so every later stage sees a consistent set of tables.
Invariant: for every table, rows read = rows valid + rows quarantined.
"""

from __future__ import annotations

import hashlib
import os
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pycountry

from counterwatch import __version__

if TYPE_CHECKING:
    import duckdb
from counterwatch.config import Settings, load_settings
from counterwatch.contract.brands import brand_id_text, check_brand, read_brands_file
from counterwatch.contract.checks import Check, column_sql, lit, q, shown
from counterwatch.contract.reader import ROW, Header, RawTable, position_name, raw_value_to_json, read_header, read_raw
from counterwatch.contract.schema import ALL_TABLES, BRANDS, TABLES, TableSpec
from counterwatch.contract.writer import write_json
from counterwatch.errors import InputError
from counterwatch.workspace import Workspace, atomic_path

REPORT_FILE = "validation.json"
#: Rows per Parquet row group of the valid tables: the unit of work a scan hands each process.
ROW_GROUP_ROWS = 32_768
_QUOTED = re.compile(r"'[^']*'")
Progress = Callable[[str], None]


@dataclass
class TableReport:
    table: str
    file: str | None  # None: an optional table that is absent
    rows_read: int = 0
    rows_valid: int = 0
    rows_quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # reason code -> rows
    warnings: list[str] = field(default_factory=list)


@dataclass
class ValidationReport:
    workspace: str
    base_currency: str
    tables: dict[str, TableReport]
    inputs: dict[str, Any]  # fingerprint of the inputs the report was made from

    @property
    def rows_quarantined(self) -> int:
        return sum(t.rows_quarantined for t in self.tables.values())

    @property
    def exit_code(self) -> int:
        """0 when every row is valid, 1 when rows went to quarantine."""
        return 1 if self.rows_quarantined else 0

    def to_json(self) -> dict[str, Any]:
        return {"counterwatch": __version__, **asdict(self)}


def input_fingerprint(ws: Workspace, settings: Settings) -> dict[str, Any]:
    """What the validated tables depend on: each input file's identity and times, and the settings.

    Size and mtime alone miss a same-size rewrite with the mtime put back (``touch -r``); the inode
    changes when a file is replaced and ctime on any write, and neither can be set by the user.
    """
    files = {}
    for name in ALL_TABLES:
        candidates = [ws.root / "brands.json"] if name == BRANDS else ws.table_files(name)
        for path in candidates:
            if path.is_file():
                st = path.stat()
                files[path.name] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
    # Only the settings validation depends on: changing score bands must not re-validate.
    settings_hash = hashlib.sha256(settings.workspace.model_dump_json().encode()).hexdigest()[:16]
    return {"files": files, "settings": settings_hash, "counterwatch": __version__}


def _iso_sets(con: duckdb.DuckDBPyConnection) -> None:
    sets = {
        "iso_country": [c.alpha_2 for c in pycountry.countries],
        "iso_region": [s.code.upper() for s in pycountry.subdivisions],
        "iso_currency": [c.alpha_3 for c in pycountry.currencies],
    }
    for name, values in sets.items():
        con.register(f"_{name}", pa.table({"v": values}))
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT DISTINCT v FROM _{name}")
        con.unregister(f"_{name}")


@dataclass
class Structure:
    """Where every input is and what columns it has, found before any row is read."""

    headers: dict[str, Header | None]  # table -> header; None: an optional table that is absent
    brands: list[Any]  # the objects of brands.json


def _near_misses(wanted: str, names: list[str]) -> list[str]:
    """Columns that are ``wanted`` but for case or surrounding spaces (``Price``, ``listing_id ``)."""
    key = wanted.strip().casefold()
    return [n for n in names if n != wanted and n.strip().casefold() == key]


def _missing_columns(spec: TableSpec, header: Header) -> str | None:
    missing = [c.name for c in spec.columns if c.required and c.name not in header.names]
    if not missing:
        return None
    guesses = [
        f"{' or '.join(repr(m) for m in near)} for {c}" for c in missing if (near := _near_misses(c, header.names))
    ]
    hint = f"; did you mean {', '.join(guesses)}?" if guesses else ""
    found = ", ".join(repr(n) for n in header.names) or "none"
    return f"{header.path}: required column(s) {', '.join(missing)} missing{hint} (columns found: {found})"


def scan_structure(ws: Workspace) -> Structure:
    """Locate every input and read only its header or schema; every missing table or column in one error."""
    problems: list[str] = []
    headers: dict[str, Header | None] = {}
    for name, spec in TABLES.items():
        files = ws.table_files(name)
        headers[name] = None
        if len(files) > 1:
            names = ", ".join(f.name for f in files)
            problems.append(f"table '{name}' has {len(files)} files in {ws.root} ({names}): keep exactly one")
        elif not files:
            if spec.required:
                problems.append(
                    f"required table '{name}' is missing: put {name}.parquet, {name}.csv or {name}.jsonl in {ws.root}"
                )
        else:
            try:
                header = read_header(files[0], [c.name for c in spec.columns])
            except InputError as exc:
                problems.append(str(exc))
                continue
            headers[name] = header
            if problem := _missing_columns(spec, header):
                problems.append(problem)
    brands: list[Any] = []
    path = ws.root / "brands.json"
    if not path.is_file():
        problems.append(f"required table 'brands' is missing: put brands.json in {ws.root}")
    else:
        try:
            brands = read_brands_file(path)
        except InputError as exc:
            problems.append(str(exc))
    if len(problems) == 1:
        raise InputError(problems[0])
    if problems:
        raise InputError(f"{len(problems)} problems in {ws.root}:\n" + "\n".join(f"  - {p}" for p in problems))
    return Structure(headers, brands)


class _Validator:
    def __init__(self, ws: Workspace, settings: Settings, structure: Structure, progress: Progress | None):
        self.ws = ws
        self.structure = structure
        self.settings = settings
        self.base = settings.workspace.base_currency
        self.progress = progress or (lambda _msg: None)
        import duckdb  # here: the scan's workers import this module (for reading), never validate

        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        # Tables larger than memory spill here instead of failing.
        self.con.execute("SET temp_directory = ?", [str(ws.out / ".duckdb-spill")])
        _iso_sets(self.con)
        self.reports: dict[str, TableReport] = {}
        self.quarantined: dict[str, list[dict[str, Any]]] = {}

    # -- sets used by the checks -------------------------------------------------------------
    def _sets(self, spec: TableSpec) -> dict[str, str]:
        sets = {"country": "iso_country", "region": "iso_region"}
        sets["currency"] = "iso_currency" if spec.name == "fx_rates" else "known_currency"
        for col in spec.columns:
            if col.references:
                parent = col.references.split(".")[0]
                sets["ref:" + col.references] = f"valid_ids_{parent}"
                sets["all:" + col.references] = f"all_ids_{parent}"
        return sets

    def _register_ids(self, table: str, all_ids: str, valid_ids: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE all_ids_{table} AS {all_ids}")
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE valid_ids_{table} AS {valid_ids}")

    # -- tabular inputs -------------------------------------------------------------------------
    def table(self, spec: TableSpec) -> None:
        header = self.structure.headers[spec.name]
        if header is None:
            self.reports[spec.name] = TableReport(spec.name, None)
            empty = pa.table({c.name: pa.array([], c.arrow_type) for c in spec.columns})
            self.con.register(f"empty_{spec.name}", empty)
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW valid_{spec.name} AS SELECT * FROM empty_{spec.name}")
            if spec.id_column:
                none = "SELECT CAST(NULL AS VARCHAR) AS v WHERE false"
                self._register_ids(spec.name, none, none)
            self._after_table(spec)
            return
        path = header.path
        self.progress(f"checking {path.name}")
        raw = read_raw(path, spec.name, [c.name for c in spec.columns], header)
        self.con.register(f"raw_{spec.name}", raw.table)
        self.con.execute(self._check_sql(spec, raw))
        self.con.unregister(f"raw_{spec.name}")
        chk = f"chk_{spec.name}"
        # Inside DuckDB the user's columns are named by position; extra columns get their names back here.
        out_cols = [q(c.name) for c in spec.columns] + [f"{pos} AS {q(name)}" for pos, name in _extras(spec, raw)]
        # A view, not a copy: the valid rows are read once, when written to Parquet.
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW valid_{spec.name} AS SELECT {', '.join(out_cols)} "
            f"FROM {chk} WHERE {chk}.__reasons IS NULL ORDER BY {chk}.{ROW}"
        )
        if spec.id_column:
            self._register_ids(
                spec.name,
                f"SELECT DISTINCT __key AS v FROM {chk} WHERE __key <> ''",
                f"SELECT __key AS v FROM {chk} WHERE __reasons IS NULL",
            )
        self._report(spec, raw, path)
        self._after_table(spec)

    def _after_table(self, spec: TableSpec) -> None:
        if spec.name == "fx_rates":  # currencies of every later table must have a rate, or be the base
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE known_currency AS "
                "SELECT currency AS v FROM valid_fx_rates UNION SELECT ? AS v",
                [self.base],
            )

    def _check_sql(self, spec: TableSpec, raw: RawTable) -> str:
        raw_types = {name: raw.table.schema.field(position_name(i)).type for i, name in enumerate(raw.names)}
        sets = self._sets(spec)
        stage1: dict[str, str] = {}
        values: dict[str, str] = {}
        checks: list[Check] = []
        for col in spec.columns:
            pos = raw.position(col.name)
            csql = column_sql(col, q(pos) if pos else None, raw_types.get(col.name), sets)
            stage1.update(csql.stage1)
            values[col.name] = csql.value
            checks.extend(csql.checks)
        if spec.name == "fx_rates":  # amount_in_base = amount * to_base, so the base converts at exactly 1
            rate = q("__d_to_base")
            checks.append(
                Check(
                    f"__key = {lit(self.base)} AND {rate} IS NOT NULL AND {rate} <> 1",
                    "to_base: the base currency's rate is not 1",
                    f"{lit(f'to_base: the base currency {self.base} must have rate 1, not ')} || "
                    f"{shown(q('__s_to_base'))}",
                )
            )
        extras = [pos for pos, _ in _extras(spec, raw)]
        key = values[spec.id_column] if spec.id_column else "CAST(NULL AS VARCHAR)"
        n = len(checks)
        window = dup = ""
        if spec.id_column:
            # The first *valid* row with an id wins: an invalid earlier row makes no later row a duplicate.
            others = " OR ".join(f"__c{i}" for i in range(n))
            window = f", min({ROW}) FILTER (WHERE NOT ({others})) OVER (PARTITION BY __key) AS __first"
            checks.append(
                Check(
                    f"__key <> '' AND __first < {ROW}",
                    f"{spec.id_column}: duplicate",
                    f"{lit(spec.id_column + ': duplicate ')} || {shown('__key')} "
                    f"|| ' (first at row ' || __first || ')'",
                )
            )
            dup = f", ({checks[n].condition}) AS __c{n}"
        s1 = ", ".join([ROW] + [f"{expr} AS {q(name)}" for name, expr in stage1.items()] + extras)
        flags = ", ".join(f"({c.condition}) AS __c{i}" for i, c in enumerate(checks[:n]))
        bad = " OR ".join(f"__c{i}" for i in range(len(checks)))
        # Reasons are assembled only for bad rows; NULL means the row is valid.
        reasons = ", ".join(f"CASE WHEN __c{i} THEN {c.message} END" for i, c in enumerate(checks))
        codes = ", ".join(f"CASE WHEN __c{i} THEN {lit(c.code)} END" for i, c in enumerate(checks))
        cols = ", ".join([*(f"{expr} AS {q(name)}" for name, expr in values.items()), *extras])
        return (
            f"CREATE OR REPLACE TEMP TABLE chk_{spec.name} AS "
            f"WITH s1 AS (SELECT {s1} FROM raw_{spec.name}), "
            f"s2 AS (SELECT *, {key} AS __key FROM s1), "
            f"s3 AS (SELECT *, {flags} FROM s2), "
            f"s4 AS (SELECT *{window} FROM s3), "
            f"s5 AS (SELECT *{dup} FROM s4) "
            f"SELECT {ROW}, __key, {cols}, "
            f"CASE WHEN {bad} THEN list_filter([{reasons}], lambda x: x IS NOT NULL) END AS __reasons, "
            f"CASE WHEN {bad} THEN list_filter([{codes}], lambda x: x IS NOT NULL) END AS __codes "
            f"FROM s5"
        )

    def _report(self, spec: TableSpec, raw: RawTable, path: Path) -> None:
        chk = f"chk_{spec.name}"
        rep = TableReport(spec.name, path.name, rows_read=raw.rows_read, warnings=list(raw.warnings))
        in_sql = self.con.execute(f"SELECT count(*) FROM {chk} WHERE __reasons IS NOT NULL").fetchone()[0]
        rep.rows_quarantined = in_sql + len(raw.broken)
        rep.rows_valid = rep.rows_read - rep.rows_quarantined
        codes: Counter[str] = Counter(b.code for b in raw.broken)
        sql_codes = f"SELECT code, count(*) FROM (SELECT unnest(__codes) AS code FROM {chk}) GROUP BY code"
        codes.update(dict(self.con.execute(sql_codes).fetchall()))
        rep.reasons = dict(sorted(codes.items(), key=lambda kv: (-kv[1], kv[0])))
        if rep.rows_quarantined:
            id_expr = "__key" if spec.id_column else "NULL"
            bad = self.con.execute(
                f"SELECT {ROW}, {id_expr}, __reasons FROM {chk} WHERE __reasons IS NOT NULL ORDER BY {ROW}"
            ).fetchall()
            numbers = raw.table.column(ROW).to_pylist() if bad else []  # ascending: positions by bisection
            where = pa.array([bisect_left(numbers, r[0]) for r in bad], pa.int64())
            rows = raw.table.drop_columns([ROW]).take(where).to_pylist()
            entries = [
                {
                    "row_number": row_number,
                    "id": row_id or None,
                    "row": {name: raw_value_to_json(row[position_name(i)]) for i, name in enumerate(raw.names)},
                    "reasons": reasons,
                }
                for (row_number, row_id, reasons), row in zip(bad, rows, strict=True)
            ]
            entries += [
                {"row_number": b.row_number, "id": None, "row": {"_raw": b.raw}, "reasons": [b.reason]}
                for b in raw.broken
            ]
            self.quarantined[spec.name] = sorted(entries, key=lambda e: e["row_number"])
        self.reports[spec.name] = rep

    # -- brands.json ----------------------------------------------------------------------------
    def brands(self) -> list[dict[str, Any]]:
        path = self.ws.root / "brands.json"
        self.progress(f"checking {path.name}")
        data = self.structure.brands
        known = {r[0] for r in self.con.execute("SELECT v FROM known_currency").fetchall()}
        stores = {r[0] for r in self.con.execute("SELECT v FROM valid_ids_stores").fetchall()}
        rep = TableReport(BRANDS, path.name, rows_read=len(data))
        valid: list[dict[str, Any]] = []
        first_row: dict[str, int] = {}
        bad: list[dict[str, Any]] = []
        codes: Counter[str] = Counter()
        for row_number, obj in enumerate(data, start=1):
            brand, reasons = check_brand(obj, known)
            # The first valid brand with an id wins, as in the tables.
            if brand is not None and brand.brand_id in first_row:
                reasons = [f"brand_id: duplicate '{brand.brand_id}' (first at row {first_row[brand.brand_id]})"]
            if reasons:
                bad.append({"row_number": row_number, "id": brand_id_text(obj), "row": obj, "reasons": reasons})
                codes.update(_reason_code(r) for r in reasons)
                continue
            assert brand is not None
            first_row[brand.brand_id] = row_number
            unknown = [s for s in brand.authorized_stores if s not in stores]
            if unknown:
                rep.warnings.append(
                    f"brands row {row_number} ({brand.brand_id}): authorized_stores {', '.join(unknown[:5])}"
                    f"{' …' if len(unknown) > 5 else ''} not among valid stores; ignored"
                )
                brand.authorized_stores = [s for s in brand.authorized_stores if s in stores]
            valid.append(brand.model_dump(mode="json"))
        rep.rows_quarantined = len(bad)
        rep.rows_valid = len(valid)
        rep.reasons = dict(codes.most_common())
        if bad:
            self.quarantined[BRANDS] = bad
        self.reports[BRANDS] = rep
        ids = pa.table({"v": pa.array([b["brand_id"] for b in valid], pa.string())})
        every = {i for i in map(brand_id_text, data) if i}
        self.con.register("_brand_ids", ids)
        self.con.register("_brand_all_ids", pa.table({"v": pa.array(sorted(every), pa.string())}))
        self._register_ids(BRANDS, "SELECT v FROM _brand_all_ids", "SELECT v FROM _brand_ids")
        return valid

    # -- outputs ----------------------------------------------------------------------------------
    def write(self, brands: list[dict[str, Any]]) -> None:
        tables_dir = self.ws.tables_dir
        tables_dir.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            target = tables_dir / f"{name}.parquet"
            with atomic_path(target) as tmp:
                self.con.execute(
                    f"COPY (SELECT * FROM valid_{name}) TO '{tmp.as_posix()}' "
                    f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS})"
                )
        write_json(brands, tables_dir / "brands.json")
        qdir = self.ws.quarantine
        for name in ALL_TABLES:
            target = qdir / f"{name}.jsonl"
            rows = self.quarantined.get(name)
            if not rows:
                target.unlink(missing_ok=True)
                continue
            with atomic_path(target) as tmp, tmp.open("wb") as fh:
                for row in rows:
                    fh.write(orjson.dumps(row, default=str, option=orjson.OPT_NON_STR_KEYS) + b"\n")


def _reason_code(reason: str) -> str:
    """Group a brand reason for counting: list positions and quoted values left out."""
    where, _, what = reason.partition(": ")
    where = ".".join(p for p in where.split(".") if not p.isdigit())
    return where + ": " + _QUOTED.sub("…", what)


def _extras(spec: TableSpec, raw: RawTable) -> list[tuple[str, str]]:
    """(positional name, original name) of the columns the contract does not define, in file order."""
    return [(position_name(i), name) for i, name in enumerate(raw.names) if name not in spec._by_name]


def _remove_previous_outputs(ws: Workspace) -> None:
    """Nothing from an earlier run may be read as current if this one stops on an error."""
    (ws.out / REPORT_FILE).unlink(missing_ok=True)
    for name in ALL_TABLES:
        (ws.quarantine / f"{name}.jsonl").unlink(missing_ok=True)


def validate_workspace(
    ws: Workspace, settings: Settings | None = None, progress: Progress | None = None
) -> ValidationReport:
    """Check every input table of ``ws``, write valid tables, quarantine and ``out/validation.json``."""
    if not ws.root.is_dir():
        raise InputError(f"workspace {ws.root} does not exist or is not a directory")
    settings = settings or load_settings(ws.root)
    fingerprint = input_fingerprint(ws, settings)
    _remove_previous_outputs(ws)
    structure = scan_structure(ws)
    v = _Validator(ws, settings, structure, progress)
    brands: list[dict[str, Any]] = []
    for name in ALL_TABLES:
        if name == BRANDS:
            brands = v.brands()
        else:
            v.table(TABLES[name])
    v.write(brands)
    report = ValidationReport(str(ws.root), v.base, {n: v.reports[n] for n in ALL_TABLES}, fingerprint)
    write_json(report.to_json(), ws.out / REPORT_FILE)
    return report


def load_report(ws: Workspace) -> dict[str, Any] | None:
    path = ws.out / REPORT_FILE
    if not path.is_file():
        return None
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        return None


def is_current(ws: Workspace, settings: Settings) -> bool:
    """Whether ``out/tables`` was validated from the inputs and settings now in the workspace."""
    report = load_report(ws)
    return bool(
        report
        and report.get("inputs") == input_fingerprint(ws, settings)
        and all((ws.tables_dir / f"{n}.parquet").is_file() for n in TABLES)
        and os.path.isfile(ws.tables_dir / "brands.json")
    )
