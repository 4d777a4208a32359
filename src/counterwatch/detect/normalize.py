"""Text views that see through disguised brand names, vectorised over Polars string columns.

Two views of a text:
- **plain**: Unicode NFKC (full-width to ASCII), zero-width characters removed, Cyrillic and
  Greek look-alikes folded to Latin, lower case, whitespace collapsed. Vocabulary and product
  keywords are matched here.
- **skeleton**: the plain view without accents, with look-alike digits and symbols folded to letters (``0``→o,
  ``1``/``l``→i, ``3``→e …), repeated letters collapsed (``rollex``→``roiex``, ``gucci``→``guci``),
  everything but letters, digits and Han characters turned into single spaces, Latin and Han runs
  separated, and a space at each end. Brand names are folded the same way (``skeleton``), so
  ``R0lex``, ``ＲＯＬＥＸ``, ``Rоlex`` (Cyrillic о) and ``Rollex`` all meet ``rolex``.

``skeleton`` (one Python string) and ``skeleton_expr`` (a Polars column) must agree; a property
test holds them to it.
"""

from __future__ import annotations

import re
import unicodedata

import polars as pl

#: Cyrillic and Greek letters that look like Latin ones (lower case; upper case is lowered first).
CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "һ": "h", "ԁ": "d", "ԛ": "q",
    "ԝ": "w", "ь": "b", "г": "r", "п": "n", "ш": "w", "л": "n",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w", "ς": "s", "μ": "u", "γ": "y", "ζ": "z",
}  # fmt: skip
#: Unicode White_Space, spelled out: Python's and Rust's ``\s`` differ on the ASCII separators.
WHITESPACE = "[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
ZERO_WIDTH = "[\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
#: Digits and symbols sellers use for letters. ``l`` folds to ``i`` too, as ``1`` stands for both.
LEET: dict[str, str] = {
    "0": "o", "1": "i", "l": "i", "|": "i", "!": "i", "3": "e", "4": "a", "@": "a", "5": "s", "$": "s",
    "7": "t", "8": "b", "9": "g",
}  # fmt: skip
_DOUBLES = {c * 2: c for c in "abcdefghijklmnopqrstuvwxyz"}
# Han as explicit blocks (not \p{Han}): the Python and Rust regex engines then agree exactly.
_HAN_BLOCKS = r"\x{3400}-\x{4DBF}\x{4E00}-\x{9FFF}\x{F900}-\x{FAFF}\x{20000}-\x{2FFFF}"
_NOT_TOKEN = rf"[^a-z0-9{_HAN_BLOCKS}]+"
_HAN = rf"[{_HAN_BLOCKS}]"


def runs_to_space(chars: str, but_space: str) -> str:
    """A pattern for "every run of ``chars`` becomes one space" that leaves a lone space alone.

    ``chars`` is a character class that includes the space, ``but_space`` the same class without
    it. Replacing ``[...]+`` with " " rewrites every single space between words (most matches, and
    each costs a copy); this pattern matches only runs that change: a space followed by more of
    the class, or a run that starts with another character of it. The result is the same.
    """
    return f"(?: {chars}+|{but_space}{chars}*)"


_WHITESPACE_RUNS = runs_to_space(WHITESPACE[:-1], WHITESPACE[:-1].replace(" ", "", 1))
_NOT_TOKEN_RUNS = runs_to_space(_NOT_TOKEN[:-1], rf"[^a-z0-9 {_HAN_BLOCKS}]")
NOT_WORD_RUNS = runs_to_space(r"[^\p{L}\p{N}]", r"[^\p{L}\p{N} ]")


def plain_expr(text: pl.Expr) -> pl.Expr:
    """The plain view of a string column."""
    return (
        text.fill_null("")
        .str.normalize("NFKC")
        .str.replace_all(ZERO_WIDTH, "")
        .str.to_lowercase()
        .str.replace_many(CONFUSABLES)
        .str.replace_all(_WHITESPACE_RUNS, " ")
    )


def skeleton_expr(plain: pl.Expr) -> pl.Expr:
    """The skeleton view of a column already in the plain view."""
    # Accents go (Lancôme -> lancome): NFKD splits them off as combining marks.
    folded = plain.str.normalize("NFKD").str.replace_all(r"\p{Mn}+", "")
    # Han runs become separate tokens ("nike耐克" -> "nike 耐克"), then anything else splits tokens.
    folded = folded.str.replace_many(LEET).str.replace_all(rf"{_HAN}+", " ${0} ").str.replace_all(_NOT_TOKEN_RUNS, " ")
    collapsed = folded.str.replace_many(_DOUBLES).str.replace_many(_DOUBLES)
    return pl.concat_str(pl.lit(" "), collapsed.str.strip_chars(" "), pl.lit(" "))


_ZERO_WIDTH_RE = re.compile(ZERO_WIDTH)
_WHITESPACE_RE = re.compile(WHITESPACE)
_CONFUSABLES_RE = re.compile("|".join(map(re.escape, CONFUSABLES)))
_LEET_RE = re.compile("|".join(map(re.escape, LEET)))
_NOT_TOKEN_RE = re.compile(r"[^a-z0-9\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
_HAN_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_HAN_RUN = re.compile(f"([{_HAN_CLASS}]+)")
_DOUBLE_RE = re.compile(r"([a-z])\1")  # pairs, twice: the same as two replace_many passes


def plain(text: str) -> str:
    """The plain view of one string (as ``plain_expr``)."""
    t = unicodedata.normalize("NFKC", text or "")
    t = _ZERO_WIDTH_RE.sub("", t).lower()
    t = _CONFUSABLES_RE.sub(lambda m: CONFUSABLES[m.group()], t)
    return _WHITESPACE_RE.sub(" ", t)


def skeleton(text: str) -> str:
    """The skeleton view of one string (as ``skeleton_expr(plain_expr(...))``)."""
    return skeleton_of_plain(plain(text))


def skeleton_of_plain(p: str) -> str:
    """The skeleton view of a string already in the plain view (as ``skeleton_expr``)."""
    t = "".join(c for c in unicodedata.normalize("NFKD", p) if unicodedata.category(c) != "Mn")
    t = _LEET_RE.sub(lambda m: LEET[m.group()], t)
    t = _HAN_RUN.sub(r" \1 ", t)
    t = _NOT_TOKEN_RE.sub(" ", t)
    t = _DOUBLE_RE.sub(r"\1", _DOUBLE_RE.sub(r"\1", t))
    return " " + t.strip(" ") + " "


def token_expr(plain: pl.Expr) -> pl.Expr:
    """Words of the plain view split on anything but letters, digits and Han, padded with spaces,
    so ``" air max "`` matches whole words only; Han and Latin runs are separate words."""
    t = plain.str.replace_all(NOT_WORD_RUNS, " ")
    t = t.str.replace_all(rf"{_HAN}+", " ${0} ").str.replace_all("  +", " ")
    return pl.concat_str(pl.lit(" "), t.str.strip_chars(" "), pl.lit(" "))


_NOT_WORD_RE = re.compile(r"[\W_]+")  # Python's \w without "_" is Unicode letters and numbers
_SPACES_RE = re.compile(" +")


def token_view(p: str) -> str:
    """The word view of a string already in the plain view, padded (as ``token_expr``)."""
    t = _SPACES_RE.sub(" ", _HAN_RUN.sub(r" \1 ", _NOT_WORD_RE.sub(" ", p)))
    return " " + t.strip(" ") + " "


def tokens(text: str) -> str:
    """One keyword in the form ``token_expr`` gives (without the padding)."""
    return token_view(plain(text)).strip(" ")
