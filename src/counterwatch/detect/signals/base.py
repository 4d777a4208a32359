"""What every signal is: a name, the listing columns it reads, the columns it adds, and examples
that document it and double as tests. A signal is a pure function of a batch and the context.

Each signal also has a one-listing twin, ``one``: the same outputs for one listing as a dict,
in plain Python over matchers built once (``prepare``), for scoring at listing creation in
well under a millisecond, where a Polars plan per listing would cost a hundred times more.
A test holds the twins to the batch result over thousands of generated listings.
"""

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
    #: Whether it reads the context's photo or text index (the scan builds those while the
    #: other signals already run, so these run last).
    uses_indexes: ClassVar[bool] = False

    @abstractmethod
    def compute(self, df: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
        """``df`` with this signal's ``outputs`` added (earlier signals' columns are there to use)."""

    def prepare(self, ctx: DetectContext) -> Any:
        """What ``one`` needs compiled from the context (automata, regexes); built once per context."""
        return None

    @abstractmethod
    def one(self, row: dict[str, Any], ctx: DetectContext, prepared: Any) -> None:
        """Add this signal's ``outputs`` to ``row`` (one listing; earlier signals' keys are there)."""
