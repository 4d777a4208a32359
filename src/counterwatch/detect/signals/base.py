"""What every signal is: a name, the listing columns it reads, the columns it adds, and examples
that document it and double as tests. A signal is a pure function of a batch and the context."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl

if TYPE_CHECKING:
    from counterwatch.detect.context import DetectContext


@dataclass(frozen=True)
class Example:
    """A listing (contract fields; omitted ones take harmless defaults) and some outputs it must get."""

    listing: dict[str, Any]
    expect: dict[str, Any]
    note: str = ""
    store: dict[str, Any] = field(default_factory=dict)


class Signal(ABC):
    name: ClassVar[str]
    reads: ClassVar[tuple[str, ...]]
    outputs: ClassVar[dict[str, type[pl.DataType] | pl.DataType]]
    examples: ClassVar[tuple[Example, ...]] = ()

    @abstractmethod
    def compute(self, df: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
        """``df`` with this signal's ``outputs`` added (earlier signals' columns are there to use)."""
