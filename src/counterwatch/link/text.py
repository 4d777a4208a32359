"""Text folding shared by the identifier kinds, in the two engines that must agree.

The cheap kinds exist twice: for one Python string (one store at sign-up) and for a Polars
column (a whole workspace). Their regular expressions are written once, in what Python's ``re``
and Rust's ``regex`` read alike (no look-around, no back-references, character classes spelt
out rather than ``\\s``), with replacements in Rust's ``${1}`` syntax; ``Sub`` runs one in either
engine. Han text becomes pinyin through pypinyin, one distinct run at a time, cached.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import polars as pl

#: Unicode White_Space, spelt out: Python's and Rust's ``\s`` differ on the ASCII separators.
WS_CHARS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
WS_RUN = f"[{WS_CHARS}]+"
WS_STRIP = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
#: Invisible characters: zero-width and formatting characters, and the Private Use Area.
INVISIBLE = "[\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ue000-\uf8ff]"
#: Han as explicit blocks (not \p{Han}).
HAN = "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]"
#: Whitespace, punctuation and symbols: word separators in addresses and names.
SEPARATORS = (
    f"[{WS_CHARS}!-/:-@\\[-`{{-~\u00a1-\u00bf\u00d7\u00f7\u2010-\u2027\u2030-\u205e"
    "\u3001-\u3003\u3008-\u3011\u3014-\u301f\u30fb]+"
)

_GROUP_REF = re.compile(r"\$\{(\d+)\}")
_INVISIBLE_RE = re.compile(INVISIBLE)
_WS_RE = re.compile(WS_RUN)
_MARKS_RE = re.compile("[\u0300-\u036f]")


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@dataclass(frozen=True)
class Sub:
    """One regex replacement, the same in Python and in Polars (replacement in ``${n}`` syntax)."""

    pattern: str
    replacement: str

    def apply(self, text: str) -> str:
        return _compiled(self.pattern).sub(_GROUP_REF.sub(r"\\g<\1>", self.replacement), text)

    def expr(self, column: pl.Expr) -> pl.Expr:
        return column.str.replace_all(self.pattern, self.replacement)


def fold(text: str) -> str:
    """NFKC, lower case, invisible characters removed, whitespace collapsed and trimmed."""
    t = _INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", text).lower())
    return _WS_RE.sub(" ", t).strip(" ")


def fold_expr(column: pl.Expr) -> pl.Expr:
    """``fold`` over a string column."""
    t = column.str.normalize("NFKC").str.to_lowercase().str.replace_all(INVISIBLE, "")
    return t.str.replace_all(WS_RUN, " ").str.strip_chars(" ")


#: What the invisible-character and whitespace passes would change: anything but single spaces.
_ODD = f"{INVISIBLE}|[{WS_CHARS.replace(' ', '')}]|  "


def fold_frame(df: pl.DataFrame, column: str, out: str) -> pl.DataFrame:
    """``df`` with ``out`` = ``fold(column)``, rows reordered. Shortcuts that change nothing: ASCII rows skip
    NFKC (most identifiers are ASCII, and NFKC is the dearest step), and rows with no invisible character
    and no whitespace but single spaces skip those two passes."""
    c, o, columns = pl.col(column), pl.col(out), [*df.columns, out]
    df = df.with_columns(_ascii=c.str.len_bytes() == c.str.len_chars())
    lowered = pl.concat([
        df.filter(pl.col("_ascii")).with_columns(c.str.to_lowercase().alias(out)),
        df.filter(~pl.col("_ascii")).with_columns(c.str.normalize("NFKC").str.to_lowercase().alias(out)),
    ]).with_columns(_odd=o.str.contains(_ODD))  # fmt: skip
    plain = lowered.filter(~pl.col("_odd")).with_columns(o.str.strip_chars(" "))
    odd = lowered.filter(pl.col("_odd")).with_columns(
        o.str.replace_all(INVISIBLE, "").str.replace_all(WS_RUN, " ").str.strip_chars(" ")
    )
    return pl.concat([plain.select(columns), odd.select(columns)])


def strip_ws(text: str) -> str:
    """Trim Unicode whitespace (the same set in both engines)."""
    return text.strip(WS_STRIP)


def strip_ws_expr(column: pl.Expr) -> pl.Expr:
    return column.str.strip_chars(WS_STRIP)


def _no_pinyin(chunk: str) -> list[str]:
    return list(chunk)  # characters pypinyin does not know stay as they are, one item each


@lru_cache(maxsize=1 << 18)
def syllables(run: str) -> tuple[str, ...]:
    """Toneless pinyin of a run of Han characters, one syllable per character (ü written u)."""
    from pypinyin import Style, lazy_pinyin  # imported on first use: loading takes ~0.2 s

    out = [
        _MARKS_RE.sub("", unicodedata.normalize("NFKD", s))
        for s in lazy_pinyin(run, style=Style.NORMAL, v_to_u=True, errors=_no_pinyin)
    ]
    if len(out) == len(run):
        return tuple(out)
    if len(run) == 1:
        return (run,)
    # pypinyin grouped something: one character at a time (loses phrase readings, keeps alignment)
    return tuple(syllables(c)[0] for c in run)


@cache
def rules() -> dict[str, Any]:
    """The packaged normalisation rules (``data/identifiers.toml``)."""
    text = resources.files("counterwatch.link").joinpath("data/identifiers.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def alternation(words: Iterable[str]) -> str:
    """A regex alternative of literal words, longest first (so the longer wins where both match)."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))
