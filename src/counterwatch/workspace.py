"""A workspace directory: where its input tables, outputs and quarantine live, and atomic writes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("parquet", "csv", "jsonl")


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> Workspace:
        return cls(Path(path).expanduser().resolve())

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def tables_dir(self) -> Path:
        """Validated, canonical copies of the input tables (Parquet), written by ``validate``."""
        return self.out / "tables"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def truth(self) -> Path:
        return self.root / "truth"

    @property
    def config_path(self) -> Path:
        return self.root / "counterwatch.toml"

    def table_files(self, table: str) -> list[Path]:
        """Every input file for ``table`` (``listings.parquet``, ``listings.csv``, ``listings.jsonl``)."""
        return [self.root / f"{table}.{fmt}" for fmt in FORMATS if (self.root / f"{table}.{fmt}").is_file()]


def _umask() -> int:
    """The process's umask (reading it means setting it, so it is put straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is renamed over ``target``.

    A stopped run leaves either the old file or the new one, never half of one.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    # mkstemp creates the file 0600; the result should have the mode a plain open() would give it.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text_atomic(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
