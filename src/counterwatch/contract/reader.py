"""Read one input table of a workspace as it was exported, whatever its format.

The reader does no validation beyond what it takes to get rows out of the file:
CSV and JSON Lines values come back as strings (lists in JSON Lines as JSON text),
Parquet columns keep their physical types. ``validate`` turns that into the
contract's types.

Column names are the user's and may be anything (empty, ``__row``, names SQL dislikes),
so the table the reader returns names its columns by position (``c0``, ``c1``, …) and
keeps the original names beside it. Every row gets ``__row``, its 1-based position among
the file's records, so a problem can be reported where the user can find it. A record
that cannot be split into the table's columns (a CSV row with the wrong number of
fields, a JSON Lines line that is not a JSON object) is not a reason to give up on the
file: it comes back in ``broken`` with its text, to be quarantined.
"""

from __future__ import annotations

import csv
import mmap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from counterwatch.errors import InputError
from counterwatch.workspace import Workspace

ROW = "__row"
BOM = b"\xef\xbb\xbf"
_JSON_KEY_SAMPLE = 10_000  # lines scanned for JSON Lines keys; spec columns are always looked for


def position_name(i: int) -> str:
    """The name of the ``i``-th raw column inside the reader's table and the validator's SQL."""
    return f"c{i}"


@dataclass(frozen=True)
class Header:
    """A table file's column names, read without reading its rows."""

    path: Path
    fmt: str
    names: list[str]  # original names by position; an empty name becomes ``column_<n>``
    empty: bool = False  # the file holds no records (and, for CSV and JSON Lines, maybe no header)
    warnings: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # JSON Lines: the keys as written, by position


@dataclass(frozen=True)
class Broken:
    """A record that could not be split into columns: quarantined with its text."""

    row_number: int
    raw: str
    reason: str  # "row: has 12 fields, the header has 11"
    code: str  # "row: wrong number of fields", counted in the summary


@dataclass(frozen=True)
class RawTable:
    """A table as read: columns ``c0, c1, …`` holding the original values, plus ``__row``."""

    name: str
    path: Path
    fmt: str
    table: pa.Table
    names: list[str]  # the original column names, by position
    broken: list[Broken] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return list(self.names)

    @property
    def rows_read(self) -> int:
        return self.table.num_rows + len(self.broken)

    def position(self, name: str) -> str | None:
        """The positional name (``c3``) of the column called ``name``; ``None`` when absent."""
        try:
            return position_name(self.names.index(name))
        except ValueError:
            return None


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


def _format(path: Path) -> str:
    fmt = path.suffix.lstrip(".")
    if fmt not in ("parquet", "csv", "jsonl"):
        raise InputError(f"{path}: unknown format '.{fmt}' (use .parquet, .csv or .jsonl)")
    return fmt


def read_header(path: Path, expected: list[str] | tuple[str, ...] = ()) -> Header:
    """The column names of ``path`` (cheap: the header, the schema, or a sample of JSON Lines keys).

    A file with no records at all (0 bytes, or only whitespace for CSV and JSON Lines) is an
    empty table that has every ``expected`` column.
    """
    fmt = _format(path)
    if path.stat().st_size == 0:
        return Header(path, fmt, list(expected), empty=True)
    if fmt == "parquet":
        try:
            names = pq.read_schema(path).names
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
        return _header(path, fmt, names, "the schema")
    if fmt == "csv":
        names = _csv_header(path)
        if names is None:
            return Header(path, fmt, list(expected), empty=True)
        return _header(path, fmt, names, "line 1")
    keys, records = _jsonl_keys(path, expected)
    if not records:
        return Header(path, fmt, list(expected), empty=True)
    if not keys:  # no record is a JSON object: they are all quarantined, no column is missing
        keys = list(expected)
    header = _header(path, fmt, keys, "the keys of the records")
    return Header(path, fmt, header.names, warnings=header.warnings, keys=keys)


def _header(path: Path, fmt: str, names: list[str], where: str) -> Header:
    warnings = []
    out = []
    for i, name in enumerate(names, start=1):
        if not name.strip():
            new = f"column_{i}"
            while new in names or new in out:
                new += "_"
            warnings.append(f"{path.name}: column {i} has no name in {where}; kept as '{new}'")
            name = new
        out.append(name)
    dupes = sorted({h for h in out if out.count(h) > 1})
    if dupes:
        raise InputError(f"{path}: {where} names column(s) {', '.join(dupes)} more than once")
    return Header(path, fmt, out, warnings=warnings)


def read_raw(
    path: Path, name: str, expected: list[str] | tuple[str, ...] = (), header: Header | None = None
) -> RawTable:
    """Read ``path`` (format from its extension) into a ``RawTable``; unreadable files raise ``InputError``."""
    header = header or read_header(path, expected)
    width = len(header.names)
    rows: pa.Array | None = None
    broken: list[Broken] = []
    if header.empty:
        table = pa.table({position_name(i): pa.array([], pa.string()) for i in range(width)})
    elif header.fmt == "parquet":
        table = _read_parquet(path)
    elif header.fmt == "csv":
        table, rows, broken = _read_csv(path, width)
    else:
        table, rows, broken = _read_jsonl(path, header.keys or header.names)
    if rows is None:
        rows = pa.array(range(1, table.num_rows + 1), pa.int64())
    if table.num_columns == 0:  # e.g. JSON Lines whose records are all ``{}``
        table = pa.table({ROW: rows})
    else:
        table = table.rename_columns([position_name(i) for i in range(width)]).append_column(ROW, rows)
    return RawTable(name, path, header.fmt, table, header.names, broken, header.warnings)


def _read_parquet(path: Path) -> pa.Table:
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
        return _utf8_hint(data.count(b"\n", 0, exc.start) + 1, data[exc.start], exc.start, path.suffix)
    return None


def _utf8_hint(line: int, byte: int, offset: int, suffix: str) -> str:
    return (
        f"line {line} is not UTF-8 (byte 0x{byte:02x} at offset {offset}); the contract requires "
        f"UTF-8: convert the file, e.g. `iconv -f GBK -t UTF-8 in{suffix} > out{suffix}`"
    )


def _csv_header(path: Path) -> list[str] | None:
    """The header row of a CSV file; ``None`` when the file holds nothing but whitespace."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {_utf8_problem(path) or exc.reason}") from exc
    except csv.Error as exc:
        raise InputError(f"{path}: line 1 is not a CSV header ({exc})") from exc
    if not header or (len(header) == 1 and not header[0].strip()):
        return None
    return header


def _read_csv(path: Path, width: int) -> tuple[pa.Table, pa.Array | None, list[Broken]]:
    """Arrow's fast reader; when it reports a problem, Python's exact one, record by record."""
    convert = pacsv.ConvertOptions(
        column_types={position_name(i): pa.string() for i in range(width)},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        null_values=[],
    )
    names = [position_name(i) for i in range(width)]
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows_after_names=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=convert,
        )
    except pa.ArrowInvalid:
        return _read_csv_exact(path, width)
    return table, None, []


def _read_csv_exact(path: Path, width: int) -> tuple[pa.Table, pa.Array, list[Broken]]:
    consumed: list[str] = []

    def lines(fh) -> Iterator[str]:
        for line in fh:
            consumed.append(line)
            yield line

    columns: list[list[str]] = [[] for _ in range(width)]
    rows: list[int] = []
    broken: list[Broken] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(lines(fh))
            next(reader, None)  # the header, read by ``read_header``
            consumed.clear()
            number = 0
            while True:
                first_line = reader.line_num + 1
                record = next(reader, None)
                if record is None:
                    break
                text = "".join(consumed).rstrip("\r\n")
                consumed.clear()
                if not record:  # a blank line is not a record
                    continue
                number += 1
                if len(record) == width:
                    rows.append(number)
                    for col, value in zip(columns, record, strict=True):
                        col.append(value)
                    continue
                fields = "field" if len(record) == 1 else "fields"
                reason = f"row: has {len(record)} {fields}, the header has {width}"
                if reader.line_num > first_line:  # quoted newlines, or a quote left open
                    reason += f" (lines {first_line}-{reader.line_num}: is a quote left unclosed?)"
                else:
                    reason += f" (line {first_line})"
                broken.append(Broken(number, text, reason, "row: wrong number of fields"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {_utf8_problem(path) or exc.reason}") from exc
    except csv.Error as exc:
        raise InputError(f"{path}: not readable as CSV ({exc})") from exc
    table = pa.Table.from_arrays(
        [pa.array(c, pa.string()) for c in columns], names=[position_name(i) for i in range(width)]
    )
    return table, pa.array(rows, pa.int64()), broken


def _jsonl_keys(path: Path, expected: list[str] | tuple[str, ...]) -> tuple[list[str], int]:
    """Keys of the first records, plus every expected key found anywhere; the number of records sampled."""
    found: dict[str, None] = {}
    records = 0
    complete = True
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if lineno > _JSON_KEY_SAMPLE:
                complete = False
                break
            if lineno == 1:
                line = line.removeprefix(BOM)
            if not line.strip():
                continue
            records += 1
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a broken line: quarantined when the rows are read
            if isinstance(obj, dict):
                found.update(dict.fromkeys(obj))
    if not complete:  # a record past the sample may hold an expected key the sample lacks
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            for key in expected:
                if key not in found and mm.find(orjson.dumps(key)) >= 0:
                    found[key] = None
    return list(found), records


def _read_jsonl(path: Path, keys: list[str]) -> tuple[pa.Table, pa.Array | None, list[Broken]]:
    """Polars' fast reader; when it reports a problem, line by line with orjson."""
    with path.open("rb") as fh:
        if fh.read(3) == BOM:
            return _read_jsonl_exact(path, keys)
    try:
        df = pl.read_ndjson(path, schema={k: pl.String for k in keys}, ignore_errors=False)
    except Exception:  # polars raises several error types for bad JSON; the exact path finds the line
        return _read_jsonl_exact(path, keys)
    return df.to_arrow().cast(pa.schema([(k, pa.string()) for k in keys])), None, []


def _json_text(value: object) -> str | None:
    """A JSON value as the fast reader gives it: strings as they are, anything else as JSON text."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _read_jsonl_exact(path: Path, keys: list[str]) -> tuple[pa.Table, pa.Array, list[Broken]]:
    columns: dict[str, list[str | None]] = {k: [] for k in keys}
    rows: list[int] = []
    broken: list[Broken] = []
    number = 0
    offset = 0
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            start, offset = offset, offset + len(line)
            if lineno == 1 and line.startswith(BOM):
                line, start = line[3:], 3
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                hint = _utf8_hint(lineno, line[exc.start], start + exc.start, path.suffix)
                raise InputError(f"{path}: {hint}") from exc
            if not text.strip():  # a blank line is not a record
                continue
            number += 1
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                reason = f"row: not valid JSON ({exc})"
                broken.append(Broken(number, text.rstrip("\r\n"), reason, "row: not valid JSON"))
                continue
            if not isinstance(obj, dict):
                kind = "null" if obj is None else type(obj).__name__
                reason = f"row: should be a JSON object, found {kind}"
                broken.append(Broken(number, text.rstrip("\r\n"), reason, "row: not a JSON object"))
                continue
            rows.append(number)
            for k, col in columns.items():
                col.append(_json_text(obj.get(k)))
    table = pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})
    return table, pa.array(rows, pa.int64()), broken


def raw_value_to_json(value: object) -> object:
    """A raw cell as it should appear in ``quarantine/*.jsonl``: lists stay lists, other values as read."""
    if isinstance(value, str) and value[:1] == "[":
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        return parsed if isinstance(parsed, list) else value
    return value
