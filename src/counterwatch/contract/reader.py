"""Read one input table of a workspace as it was exported, whatever its format.

The reader does no validation beyond what it takes to get rows out of the file:
CSV and JSON Lines values come back as strings (lists in JSON Lines as JSON text),
Parquet columns keep their physical types. ``validate`` turns that into the
contract's types. Every row gets ``__row``, its 1-based position in the file, so a
problem can be reported where the user can find it.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from counterwatch.errors import InputError
from counterwatch.workspace import Workspace

ROW = "__row"
_JSON_KEY_SAMPLE = 10_000  # lines scanned for JSON Lines keys; spec columns are always read


@dataclass(frozen=True)
class RawTable:
    """A table as read: original values, plus ``__row``."""

    name: str
    path: Path
    fmt: str
    table: pa.Table

    @property
    def columns(self) -> list[str]:
        return [c for c in self.table.column_names if c != ROW]


def find_table_file(ws: Workspace, table: str, *, required: bool) -> Path | None:
    """The one file holding ``table``, or ``None`` when an optional table is absent."""
    files = ws.table_files(table)
    if len(files) > 1:
        names = ", ".join(f.name for f in files)
        raise InputError(f"table '{table}' has {len(files)} files in {ws.root} ({names}): keep exactly one")
    if not files:
        if required:
            raise InputError(
                f"required table '{table}' is missing: put {table}.parquet, {table}.csv or {table}.jsonl in {ws.root}"
            )
        return None
    return files[0]


def read_raw(path: Path, name: str, expected_columns: list[str] | tuple[str, ...] = ()) -> RawTable:
    """Read ``path`` (format from its extension) into a ``RawTable``; unreadable files raise ``InputError``."""
    fmt = path.suffix.lstrip(".")
    reader = {"parquet": _read_parquet, "csv": _read_csv, "jsonl": _read_jsonl}.get(fmt)
    if reader is None:
        raise InputError(f"{path}: unknown format '.{fmt}' (use .parquet, .csv or .jsonl)")
    table = reader(path, list(expected_columns))
    rows = pa.array(range(1, table.num_rows + 1), pa.int64())
    return RawTable(name, path, fmt, table.append_column(ROW, rows))


def _read_parquet(path: Path, expected: list[str]) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc


def _utf8_problem(path: Path) -> str | None:
    """Where ``path`` stops being UTF-8, as a sentence naming the line; ``None`` when it is UTF-8."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return (
            f"line {line} is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); the contract requires "
            "UTF-8: convert the file, e.g. `iconv -f GBK -t UTF-8 in.csv > out.csv`"
        )
    return None


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {_utf8_problem(path) or exc.reason}") from exc
    if not header:
        raise InputError(f"{path}: line 1 should be a header row naming the columns, but the file is empty")
    return header


def _read_csv(path: Path, expected: list[str]) -> pa.Table:
    header = _csv_header(path)
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(f"{path}: line 1 names column(s) {', '.join(dupes)} more than once")
    convert = pacsv.ConvertOptions(
        column_types={h: pa.string() for h in header},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        null_values=[],
    )
    try:
        return pacsv.read_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True), convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise InputError(f"{path}: {_locate_csv_error(path, len(header), str(exc))}") from exc


def _locate_csv_error(path: Path, width: int, message: str) -> str:
    """Arrow's message does not say where the problem is once quoted newlines are allowed: find the line."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            for row in reader:
                if len(row) != width:
                    return f"line {reader.line_num}: expected {width} fields as in the header, found {len(row)}"
    except UnicodeDecodeError as exc:
        return _utf8_problem(path) or exc.reason
    except csv.Error as exc:
        return f"line {reader.line_num}: {exc}"
    return re.sub(r"^CSV parse error: ", "", message)[:300]


def _read_jsonl(path: Path, expected: list[str]) -> pa.Table:
    found: dict[str, None] = {}
    records = 0
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if lineno > _JSON_KEY_SAMPLE:
                break
            records += _parse_json_line(path, lineno, line, found)
    if not records:  # an empty table: JSON Lines has no header, so it has the expected columns and no rows
        return pa.table({k: pa.array([], pa.string()) for k in expected})
    keys = {**found, **dict.fromkeys(expected)}  # expected keys first seen after the sample are still read
    try:
        df = pl.read_ndjson(path, schema={k: pl.String for k in keys}, ignore_errors=False)
    except Exception as exc:  # polars raises several error types for bad JSON; locate the line ourselves
        _find_bad_json_line(path)
        raise InputError(f"{path}: not valid JSON Lines ({str(exc)[:200]})") from exc
    # An expected key that no record has is a missing column, not a column of empty values.
    absent = [k for k in expected if k not in found and df[k].null_count() == df.height]
    return df.drop(absent).to_arrow().cast(pa.schema([(k, pa.string()) for k in keys if k not in absent]))


def _parse_json_line(path: Path, lineno: int, line: bytes, keys: dict[str, None]) -> int:
    """Check one line is a JSON object and note its keys; the number of records on it (0 or 1)."""
    if not line.strip():
        return 0
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path}: line {lineno} is not valid JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise InputError(f"{path}: line {lineno} should be a JSON object, found {type(obj).__name__}")
    keys.update(dict.fromkeys(obj))
    return 1


def _find_bad_json_line(path: Path) -> None:
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            _parse_json_line(path, lineno, line, {})


def raw_value_to_json(value: object) -> object:
    """A raw cell as it should appear in ``quarantine/*.jsonl``: lists stay lists, other values as read."""
    if isinstance(value, str) and value[:1] == "[":
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        return parsed if isinstance(parsed, list) else value
    return value
