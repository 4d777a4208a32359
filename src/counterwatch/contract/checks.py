"""Per-column checks of the contract, as SQL that DuckDB and Spark SQL both accept.

Each column kind contributes a typed expression and a list of checks; a check is a
condition under which the row is bad, a stable code (for counting) and a message
(for the person who fixes the export). The validator assembles them into one query
per table, so a row gets every reason that applies to it, not just the first.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from counterwatch.contract.schema import Column

_MAX_SHOWN = 60  # characters of an offending value quoted in a reason
#: ISO 8601 extended form: a date, optionally a time (to the minute, second or a fraction) with an
#: optional offset. DuckDB's cast alone also takes ``2025/03/01``, zone names (``PST``, ``CST`` as US
#: Central) and ``T24:00``; the text must match this before it is cast.
ISO_EXTENDED = r"\d{4}-\d{2}-\d{2}([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?"
#: ISO 8601 basic form ``YYYYMMDDThhmmss[Z]``, rewritten to the extended form before the cast.
ISO_BASIC = r"(\d{4})(\d{2})(\d{2})T([01]\d|2[0-3])([0-5]\d)([0-5]\d)(Z?)"


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """An SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def shown(expr: str) -> str:
    """SQL for a value quoted in a message: ``'abc'``, cut to a readable length."""
    return f"'''' || left({expr}, {_MAX_SHOWN}) || ''''"


@dataclass(frozen=True)
class Check:
    condition: str  # SQL, true when the row is bad
    code: str  # "<column>: <rule>", counted in the summary
    message: str  # SQL string expression, the reason written to quarantine


@dataclass(frozen=True)
class ColumnSQL:
    stage1: dict[str, str]  # name -> SQL over the raw table (typed value and helpers)
    value: str  # SQL over stage 1 giving the canonical value
    checks: list[Check]


def column_sql(col: Column, raw: str | None, raw_type: pa.DataType | None, sets: dict[str, str]) -> ColumnSQL:
    """SQL that types and checks ``col``, read from the raw column ``raw`` (SQL) of type ``raw_type``.

    ``raw`` and ``raw_type`` are ``None`` when an optional column is absent.

    ``sets`` maps a set name (``country``, ``region``, ``currency``, ``ref:<table.column>``,
    ``all:<table.column>``) to a table with one column ``v`` of allowed values.
    """
    n = col.name
    s = f"__s_{n}"  # the raw value as trimmed text ('' when missing)
    if raw is None or raw_type is None:
        raw, raw_text = None, "CAST(NULL AS VARCHAR)"
    elif pa.types.is_string(raw_type) or pa.types.is_large_string(raw_type):
        raw_text = raw
    else:
        raw_text = f"CAST({raw} AS VARCHAR)"
    # Text is kept as entered and accepts anything: it needs no trimmed helper.
    stage1 = {} if col.kind == "text" else {s: f"coalesce(trim({raw_text}), '')"}
    s = q(s)
    empty = f"{s} = ''"
    checks: list[Check] = []

    def need_value(what: str = "is empty") -> None:
        if not col.empty_ok:
            checks.append(Check(empty, f"{n}: empty", lit(f"{n}: {what}")))

    kind = col.kind
    if kind in ("id", "ref"):
        value = s
        need_value()
        if kind == "ref":
            target = col.references
            assert target is not None
            parent = target.split(".")[0]
            valid = f"{s} IN (SELECT v FROM {sets['ref:' + target]})"
            known = f"{s} IN (SELECT v FROM {sets['all:' + target]})"
            checks.append(
                Check(
                    f"NOT {empty} AND NOT ({valid}) AND {known}",
                    f"{n}: references a quarantined row",
                    f"{lit(n + ': ' + parent)} || ' ' || {shown(s)} || ' was quarantined'",
                )
            )
            checks.append(
                Check(
                    f"NOT {empty} AND NOT ({known})",
                    f"{n}: unknown reference",
                    f"{lit(n + ': ')} || {shown(s)} || {lit(' is not in ' + parent)}",
                )
            )
    elif kind == "text":  # kept as entered, untrimmed
        stage1[f"__x_{n}"] = f"coalesce({raw_text}, '')"
        value = q(f"__x_{n}")
    elif kind in ("code", "country", "region", "currency"):
        norm = f"lower({s})" if kind == "code" else f"upper({s})"
        value = f"nullif({norm}, '')" if col.empty_ok else norm
        need_value()
        if kind == "code":
            allowed = f"[{', '.join(lit(d) for d in col.domain)}]"
            ok = f"list_contains({allowed}, {norm})"
            rule, expect = "not one of the allowed values", "one of " + ", ".join(col.domain)
        else:
            ok = f"{norm} IN (SELECT v FROM {sets[kind]})"
            rule, expect = {
                "country": ("not an ISO 3166-1 code", "an ISO 3166-1 alpha-2 country code such as CN"),
                "region": ("not an ISO 3166-2 code", "an ISO 3166-2 subdivision code such as CN-ZJ"),
                "currency": (
                    "no rate to the base currency",
                    "the base currency or a currency listed in fx_rates",
                ),
            }[kind]
        checks.append(
            Check(
                f"NOT {empty} AND NOT ({ok})",
                f"{n}: {rule}",
                f"{lit(n + ': ')} || {shown(s)} || {lit(' is not ' + expect)}",
            )
        )
    elif kind == "timestamp":
        typed = f"__t_{n}"
        if raw is not None and raw_type is not None and pa.types.is_timestamp(raw_type):
            stage1[typed] = f"CAST({raw} AS TIMESTAMPTZ)"
        else:
            iso = (
                f"CASE WHEN regexp_full_match({s}, {lit(ISO_EXTENDED)}) THEN {s} "
                f"WHEN regexp_full_match({s}, {lit(ISO_BASIC)}) "
                f"THEN regexp_replace({s}, {lit(ISO_BASIC)}, '\\1-\\2-\\3T\\4:\\5:\\6\\7') END"
            )
            stage1[typed] = f"TRY_CAST({iso} AS TIMESTAMPTZ)"
        typed = q(typed)
        value = f"CASE WHEN isfinite({typed}) THEN {typed} END"
        need_value()
        checks.append(
            Check(
                f"NOT {empty} AND ({typed} IS NULL OR NOT isfinite({typed}))",
                f"{n}: not an ISO 8601 timestamp",
                f"{lit(n + ': ')} || {shown(s)} || ' is not an ISO 8601 timestamp (e.g. 2025-03-01T12:00:00Z)'",
            )
        )
    elif kind in ("amount", "integer"):
        num = f"__d_{n}"
        native_int = raw is not None and raw_type is not None and pa.types.is_integer(raw_type)
        if native_int:  # exact: an int64 above 2**53 is not rounded through a double
            stage1[num] = f"TRY_CAST({raw} AS BIGINT)"
        elif raw is not None and raw_type is not None and pa.types.is_floating(raw_type):
            stage1[num] = f"CAST({raw} AS DOUBLE)"
        else:
            stage1[num] = f"TRY_CAST(nullif({s}, '') AS DOUBLE)"
        num = q(num)
        finite = f"({num} IS NOT NULL)" if native_int else f"({num} IS NOT NULL AND isfinite({num}))"
        need_value()
        if kind == "amount":
            value = f"CASE WHEN {finite} THEN CAST({num} AS DOUBLE) END"
            checks.append(
                Check(
                    f"NOT {empty} AND NOT {finite}",
                    f"{n}: not a number",
                    f"{lit(n + ': ')} || {shown(s)} || ' is not a finite number'",
                )
            )
        else:
            whole = finite if native_int else f"({finite} AND {num} = trunc({num}) AND abs({num}) < 9.0e15)"
            value = f"CASE WHEN {whole} THEN CAST({num} AS BIGINT) END"
            checks.append(
                Check(
                    f"NOT {empty} AND NOT {whole}",
                    f"{n}: not a whole number",
                    f"{lit(n + ': ')} || {shown(s)} || ' is not a whole number'",
                )
            )
        if col.minimum is not None:
            op, words = (">", "greater than") if col.exclusive_minimum else (">=", "at least")
            bound = f"{col.minimum:g}"
            checks.append(
                Check(
                    f"{finite} AND NOT ({num} {op} {bound})",
                    f"{n}: must be {words} {bound}",
                    f"{lit(n + ': ')} || {shown(s)} || {lit(f' must be {words} {bound}')}",
                )
            )
        if col.maximum is not None:
            bound = f"{col.maximum:.0e}".replace("e+0", "e").replace("e+", "e")  # 1e12, 1e6
            checks.append(
                Check(
                    f"{finite} AND {num} >= {bound}",
                    f"{n}: above the plausible maximum",
                    f"{lit(n + ': ')} || {shown(s)} || {lit(f' is above the plausible maximum {bound}')}",
                )
            )
    elif kind == "hashes":
        items = f"__l_{n}"
        if raw is None or raw_type is None:
            stage1[items] = "CAST([] AS VARCHAR[])"
        elif pa.types.is_list(raw_type) or pa.types.is_large_list(raw_type):
            stage1[items] = f"coalesce(CAST({raw} AS VARCHAR[]), CAST([] AS VARCHAR[]))"
        else:
            # CSV: "a|b"; JSON Lines: a JSON array (read as its text); accept either in both.
            stage1[items] = (
                f"CASE WHEN {s} = '' THEN CAST([] AS VARCHAR[]) "
                f"WHEN starts_with({s}, '[') THEN TRY_CAST(TRY_CAST({s} AS JSON) AS VARCHAR[]) "
                f"ELSE string_split({s}, '|') END"
            )
        items = q(items)
        value = f"list_transform({items}, lambda h: lower(trim(h)))"
        bad = f"list_filter({items}, lambda h: h IS NULL OR NOT regexp_full_match(trim(h), '[0-9a-fA-F]{{16}}'))"
        checks.append(
            Check(
                f"{items} IS NULL",
                f"{n}: not a list",
                f"{lit(n + ': ')} || {shown(s)} || ' is not a list of hashes'",
            )
        )
        checks.append(
            Check(
                f"{items} IS NOT NULL AND len({bad}) > 0",
                f"{n}: not a 16-hex-digit hash",
                f"{lit(n + ': ')} || {shown(f'coalesce({bad}[1], {lit(chr(0))})')} "
                f"|| ' is not a 64-bit hash written as 16 hex digits'",
            )
        )
    else:  # pragma: no cover - the schema only uses the kinds above
        raise ValueError(f"unknown column kind {kind!r}")
    return ColumnSQL(stage1, value, checks)
