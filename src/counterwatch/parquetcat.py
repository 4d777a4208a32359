"""Parquet files with one schema concatenated into one file by copying their row groups as bytes.

A Parquet file is ``PAR1``, its column chunks, a Thrift-encoded footer (``FileMetaData``), the
footer's length and ``PAR1``. Writing the parts' data regions one after the other and one footer
listing all their row groups, with every file offset moved by where its part landed, gives the
file a writer would have written with those row groups, without decoding or re-encoding a value:
what Java's ``ParquetFileWriter.appendFile`` does. The scan's workers encode their parts in
parallel, and this joins them in a copy.

The footer is read and written with a small, generic codec of Thrift's compact protocol that keeps
every field it does not know, so a footer read and written back is the same bytes (a test holds
it to that). Page indexes, whose page offsets live outside the footer, are left out of the result
(they are optional; readers then read the pages' own headers). Encrypted files are refused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAGIC = b"PAR1"

# Compact protocol types
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(13)


@dataclass
class Field:
    id: int
    type: int
    value: Any


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, t: int) -> Any:
        if t in (_TRUE, _FALSE):  # inside a list or map: one byte each
            return self.byte() == _TRUE
        if t == _BYTE:
            return self.byte()
        if t in (_I16, _I32, _I64):
            return self.zigzag()
        if t == _DOUBLE:
            v = self.data[self.pos : self.pos + 8]
            self.pos += 8
            return v
        if t == _BINARY:
            n = self.varint()
            v = self.data[self.pos : self.pos + n]
            self.pos += n
            return v
        if t in (_LIST, _SET):
            head = self.byte()
            size, elem = head >> 4, head & 0x0F
            if size == 15:
                size = self.varint()
            return (elem, [self.value(elem) for _ in range(size)])
        if t == _MAP:
            size = self.varint()
            if not size:
                return (0, 0, [])
            kinds = self.byte()
            k, v = kinds >> 4, kinds & 0x0F
            return (k, v, [(self.value(k), self.value(v)) for _ in range(size)])
        if t == _STRUCT:
            return self.struct()
        raise ValueError(f"unknown Thrift compact type {t} at byte {self.pos}")

    def struct(self) -> list[Field]:
        fields: list[Field] = []
        last = 0
        while True:
            head = self.byte()
            if head == _STOP:
                return fields
            delta, t = head >> 4, head & 0x0F
            fid = last + delta if delta else self.zigzag()
            value = (t == _TRUE) if t in (_TRUE, _FALSE) else self.value(t)
            fields.append(Field(fid, t, value))
            last = fid


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def varint(self, n: int) -> None:
        while True:
            if n < 0x80:
                self.out.append(n)
                return
            self.out.append((n & 0x7F) | 0x80)
            n >>= 7

    def zigzag(self, n: int) -> None:
        self.varint((n << 1) ^ (n >> 63))

    def value(self, t: int, v: Any) -> None:
        if t in (_TRUE, _FALSE):
            self.out.append(_TRUE if v else _FALSE)
        elif t == _BYTE:
            self.out.append(v)
        elif t in (_I16, _I32, _I64):
            self.zigzag(v)
        elif t == _DOUBLE:
            self.out += v
        elif t == _BINARY:
            self.varint(len(v))
            self.out += v
        elif t in (_LIST, _SET):
            elem, items = v
            if len(items) < 15:
                self.out.append(len(items) << 4 | elem)
            else:
                self.out.append(0xF0 | elem)
                self.varint(len(items))
            for item in items:
                self.value(elem, item)
        elif t == _MAP:
            k, vt, items = v
            self.varint(len(items))
            if items:
                self.out.append(k << 4 | vt)
                for key, val in items:
                    self.value(k, key)
                    self.value(vt, val)
        elif t == _STRUCT:
            self.struct(v)
        else:
            raise ValueError(f"unknown Thrift compact type {t}")

    def struct(self, fields: list[Field]) -> None:
        last = 0
        for f in fields:
            t = (_TRUE if f.value else _FALSE) if f.type in (_TRUE, _FALSE) else f.type
            if 0 < f.id - last <= 15:
                self.out.append((f.id - last) << 4 | t)
            else:
                self.out.append(t)
                self.zigzag(f.id)
            if f.type not in (_TRUE, _FALSE):
                self.value(f.type, f.value)
            last = f.id
        self.out.append(_STOP)


def decode(data: bytes) -> list[Field]:
    """A Thrift compact-protocol struct, every field kept (id, type, value)."""
    return _Reader(data).struct()


def encode(fields: list[Field]) -> bytes:
    w = _Writer()
    w.struct(fields)
    return bytes(w.out)


def _get(fields: list[Field], fid: int) -> Field | None:
    return next((f for f in fields if f.id == fid), None)


def read_footer(path: Path) -> tuple[list[Field], int]:
    """The file's ``FileMetaData`` fields and where its footer starts (the end of its data)."""
    with open(path, "rb") as f:
        f.seek(-8, 2)
        tail = f.read(8)
        if tail[4:] != MAGIC:
            raise ValueError(f"{path} is not a Parquet file (no PAR1 at its end)")
        length = struct.unpack("<I", tail[:4])[0]
        size = f.tell()
        start = size - 8 - length
        f.seek(start)
        return decode(f.read(length)), start


# Field ids of parquet.thrift
_FMD_SCHEMA, _FMD_ROWS, _FMD_GROUPS, _FMD_ENCRYPTION = 2, 3, 4, 8
_RG_COLUMNS, _RG_FILE_OFFSET, _RG_ORDINAL = 1, 5, 7
_CC_FILE_OFFSET, _CC_META, _CC_PAGE_INDEX = 2, 3, (4, 5, 6, 7)
_CM_OFFSETS = (9, 10, 11, 14)  # data page, index page, dictionary page, bloom filter


def concat(parts: list[Path], target: Path) -> int:
    """Write ``parts`` (Parquet files with the same schema) as one file ``target``, row groups in
    order; the number of rows. Raises ``ValueError`` when the schemas differ or a part is encrypted."""
    if not parts:
        raise ValueError("no Parquet file to concatenate")
    with Concatenation(target) as out:
        for path in parts:
            out.append(path)
        return out.finish()


class SchemaMismatch(ValueError):
    """A part whose schema differs from the first part's."""


class Concatenation:
    """``concat`` one part at a time, so that a producer's parts can be copied in as each is done:
    ``append`` each in order, then ``finish`` writes the footer. A file left unfinished (an error,
    or leaving the ``with`` block without ``finish``) has no footer, so no reader takes it for whole."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self._out = open(target, "wb")
        self._out.write(MAGIC)
        self._first: list[Field] | None = None
        self._schema = b""
        self._groups: list[Any] = []
        self.rows = 0

    def __enter__(self) -> Concatenation:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._out.close()

    def append(self, path: Path) -> None:
        """Copy the row groups of ``path`` after those appended so far. Raises ``SchemaMismatch`` when
        its schema differs from the first part's, ``ValueError`` when it is encrypted or not Parquet
        (nothing of it is then written)."""
        meta, end = read_footer(path)
        if _get(meta, _FMD_ENCRYPTION) is not None:
            raise ValueError(f"{path} is encrypted")
        schema = encode([_get(meta, _FMD_SCHEMA)])  # type: ignore[list-item]
        if self._first is None:
            self._first, self._schema = meta, schema
        elif schema != self._schema:
            raise SchemaMismatch(f"{path} has another schema than the parts before it")
        out = self._out
        shift = out.tell() - len(MAGIC)  # its data moves from byte 4 to here
        with open(path, "rb") as f:
            f.seek(len(MAGIC))
            _copy(f, out, end - len(MAGIC))
        self.rows += _get(meta, _FMD_ROWS).value  # type: ignore[union-attr]
        for group in (_get(meta, _FMD_GROUPS) or Field(0, _LIST, (_STRUCT, []))).value[1]:
            self._groups.append(_moved(group, shift, len(self._groups)))

    def finish(self) -> int:
        """Write the footer and close the file; the number of rows."""
        if self._first is None:
            raise ValueError("no Parquet file to concatenate")
        fields = [f for f in self._first if f.id not in (_FMD_ROWS, _FMD_GROUPS)]
        fields += [Field(_FMD_ROWS, _I64, self.rows), Field(_FMD_GROUPS, _LIST, (_STRUCT, self._groups))]
        footer = encode(sorted(fields, key=lambda f: f.id))
        self._out.write(footer)
        self._out.write(struct.pack("<I", len(footer)))
        self._out.write(MAGIC)
        self._out.close()
        return self.rows


def _copy(src: Any, dst: Any, n: int) -> None:
    while n > 0:
        chunk = src.read(min(n, 1 << 24))
        if not chunk:
            raise ValueError("a Parquet part is shorter than its footer says")
        dst.write(chunk)
        n -= len(chunk)


def _moved(group: list[Field], shift: int, ordinal: int) -> list[Field]:
    """A row group's metadata with its offsets moved by ``shift`` bytes, as row group ``ordinal``."""
    out = []
    for f in group:
        if f.id == _RG_FILE_OFFSET:
            f = Field(f.id, f.type, f.value + shift)
        elif f.id == _RG_ORDINAL:
            f = Field(f.id, f.type, ordinal)
        elif f.id == _RG_COLUMNS:
            f = Field(f.id, f.type, (_STRUCT, [_moved_chunk(c, shift) for c in f.value[1]]))
        out.append(f)
    return out


def _moved_chunk(chunk: list[Field], shift: int) -> list[Field]:
    out = []
    for f in chunk:
        if f.id in _CC_PAGE_INDEX:
            continue  # page indexes hold absolute offsets outside the footer: left out
        if f.id == _CC_FILE_OFFSET and f.value:
            f = Field(f.id, f.type, f.value + shift)
        elif f.id == _CC_META:
            f = Field(f.id, f.type, [Field(m.id, m.type, m.value + shift) if m.id in _CM_OFFSETS and m.value else m
                                     for m in f.value])  # fmt: skip
        out.append(f)
    return out
