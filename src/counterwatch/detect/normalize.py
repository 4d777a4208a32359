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
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

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


def _plain_chars(text: pl.Expr) -> pl.Expr:
    """The plain view's steps that work character by character (``text_views`` tabulates them)."""
    return text.str.normalize("NFKC").str.replace_all(ZERO_WIDTH, "").str.to_lowercase().str.replace_many(CONFUSABLES)


def plain_expr(text: pl.Expr) -> pl.Expr:
    """The plain view of a string column."""
    return _plain_chars(text.fill_null("")).str.replace_all(_WHITESPACE_RUNS, " ")


def _skeleton_chars(plain: pl.Expr) -> pl.Expr:
    """The skeleton view's steps that work character by character: accents go (Lancôme -> lancome:
    NFKD splits them off as combining marks), look-alike digits and symbols become letters."""
    return plain.str.normalize("NFKD").str.replace_all(r"\p{Mn}+", "").str.replace_many(LEET)


def skeleton_expr(plain: pl.Expr) -> pl.Expr:
    """The skeleton view of a column already in the plain view."""
    # Han runs become separate tokens ("nike耐克" -> "nike 耐克"), then anything else splits tokens.
    folded = _skeleton_chars(plain).str.replace_all(rf"{_HAN}+", " ${0} ").str.replace_all(_NOT_TOKEN_RUNS, " ")
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


@dataclass(frozen=True)
class ViewTables:
    """The views' per-character steps for every character of the Basic Multilingual Plane, as the
    Polars expressions compute them (``text_views``; built once, about 0.2 s)."""

    flags: np.ndarray  # uint8 bits of ``_views_kernels``: SAFE (its views do not depend on its neighbours), ...
    p_start: np.ndarray  # plain mapping of character c: p_cps[p_start[c]:p_start[c + 1]]
    p_cps: np.ndarray
    s_start: np.ndarray  # skeleton mapping of a plain character
    s_cps: np.ndarray


_TABLES: list[ViewTables] = []


def view_tables() -> ViewTables:
    """This process's ``ViewTables``, built at the first call."""
    if not _TABLES:
        _TABLES.append(_build_tables())
    return _TABLES[0]


def _flat(column: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per row, its code points: (starts, code points)."""
    mapped = column.to_list()
    starts = np.zeros(len(mapped) + 1, np.int64)
    starts[1:] = np.cumsum([len(t) for t in mapped])
    return starts, np.array([ord(c) for t in mapped for c in t], dtype=np.int32)


def _build_tables() -> ViewTables:
    bmp = np.arange(0x10000)
    chars = pl.Series("c", ["" if 0xD800 <= c <= 0xDFFF else chr(c) for c in bmp])  # surrogates: no text holds them
    frame = chars.to_frame().select(
        _plain_chars(pl.col("c")).alias("p"),
        _skeleton_chars(pl.col("c")).alias("s"),
        pl.col("c").str.contains(f"^{WHITESPACE}$").alias("ws"),
        pl.col("c").str.contains(f"^{_HAN}$").alias("han"),
        pl.col("c").str.contains("^[a-z0-9]$").alias("tok"),
        pl.col("c").str.contains(r"^[\p{L}\p{N}]$").alias("word"),
        # Σ (and Ϲ …, which NFKC makes Σ) lower-case by their place in the word
        pl.col("c").str.normalize("NFKC").str.contains("Σ", literal=True).alias("sigma"),
    )
    sigma = frame["sigma"].to_numpy()
    p_start, p_cps = _flat(frame["p"])
    s_start, s_cps = _flat(frame["s"])
    # A character composing with the one before it: the second of a canonical pair, and the conjoining
    # Hangul jamo (their syllables compose by an algorithm, not by the decomposition table).
    seconds = set()
    for c in bmp:
        d = unicodedata.decomposition(chr(c))
        if d and not d.startswith("<") and len(d.split()) == 2:
            seconds.add(int(d.split()[1], 16))

    def alone(c: int) -> bool:
        """Whether character ``c`` has views that are its own whatever surrounds it."""
        ch = chr(c)
        return (
            unicodedata.category(ch) not in ("Cn", "Cs")  # assigned (the two Unicode versions could differ)
            and unicodedata.combining(ch) == 0
            and c not in seconds
            and not (0x1100 <= c <= 0x11FF or 0xA960 <= c <= 0xA97F or 0xD7B0 <= c <= 0xD7FF)  # Hangul jamo compose
            and not sigma[c]
        )

    ok = np.array([alone(c) for c in bmp])
    # Each plain character's skeleton step keeps no mark that could be reordered (those it drops are fine).
    skel_ok = np.array([not any(unicodedata.combining(y) and unicodedata.category(y) != "Mn"
                                for y in unicodedata.normalize("NFKD", chr(c))) for c in bmp])  # fmt: skip
    s_in_bmp = np.ones(len(bmp), np.bool_)
    np.logical_and.at(s_in_bmp, np.repeat(bmp, np.diff(s_start)), s_cps < 0x10000)
    # A character is safe when it is alone and all it maps to is: alone, in the BMP, with a safe skeleton step.
    in_bmp = p_cps < 0x10000
    x = np.where(in_bmp, p_cps, 0)
    element_ok = in_bmp & ok[x] & skel_ok[x] & s_in_bmp[x]
    safe = ok.copy()
    np.logical_and.at(safe, np.repeat(bmp, np.diff(p_start)), element_ok)
    from counterwatch.detect import _views_kernels as k

    bits = [(safe, k.SAFE), (frame["ws"].to_numpy(), k.WS), (frame["han"].to_numpy(), k.HAN),
            (frame["tok"].to_numpy(), k.TOK), (frame["word"].to_numpy(), k.WORD),
            ((np.diff(p_start) == 1) & (p_cps[np.minimum(p_start[:-1], len(p_cps) - 1)] == bmp), k.P_SELF),
            ((np.diff(s_start) == 1) & (s_cps[np.minimum(s_start[:-1], len(s_cps) - 1)] == bmp), k.S_SELF)]  # fmt: skip
    flags = np.zeros(len(bmp), np.uint8)
    for mask, bit in bits:
        flags[mask] |= bit
    return ViewTables(flags, p_start.astype(np.int32), p_cps, s_start.astype(np.int32), s_cps)


def text_views(texts: pl.Series, *, skeleton: bool = True, token: bool = True, tables: ViewTables | None = None
               ) -> pl.DataFrame:  # fmt: skip
    """The plain view (``plain``), the skeleton (``skeleton``) and word (``token``) views of the
    plain view, and the script flags of the text as written (``latin``: a-z or A-Z; ``greek_cyrillic``;
    ``invisible``: zero-width characters), of many texts at once: the same as ``plain_expr``,
    ``skeleton_expr`` and ``token_expr`` (a property test holds them to it), about three times faster
    (1.2 against 4 µs per text).

    One compiled pass does it from tables of the per-character steps; the few texts with a character
    that needs its neighbours to be folded (a combining mark, a character outside the BMP …) go
    through the Polars expressions.
    """
    from counterwatch.detect import _views_kernels as kernels
    from counterwatch.detect.frames import replace_rows
    from counterwatch.detect.index.hamming import _string_array, _string_buffers

    t = tables or view_tables()
    values = texts.fill_null("")
    offsets, _, data = _string_buffers(_string_array(values))
    plain_b, skel_b, tok_b, off, latin, greek_cyrillic, invisible, fallback = kernels.views(
        offsets.astype(np.int64, copy=False), data, t.flags, t.p_start, t.p_cps, t.s_start, t.s_cps, skeleton, token
    )
    n = len(values)

    def column(buf: np.ndarray, row: int) -> pl.Series:
        arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(off[row]), pa.py_buffer(buf))
        return pl.Series(arr)  # type: ignore[arg-type]

    out = pl.DataFrame({"plain": column(plain_b, 0)})
    if skeleton:
        out = out.with_columns(skeleton=column(skel_b, 1))
    if token:
        out = out.with_columns(token=column(tok_b, 2))
    rows = np.flatnonzero(fallback)
    if len(rows):  # those few through Polars, gathered into place
        slow = values.gather(rows).to_frame("t").select(plain_expr(pl.col("t")).alias("plain"))
        slow = slow.with_columns(
            *([skeleton_expr(pl.col("plain")).alias("skeleton")] if skeleton else []),
            *([token_expr(pl.col("plain")).alias("token")] if token else []),
        )
        out = replace_rows(out, rows, slow)
    return out.with_columns(latin=pl.Series(latin), greek_cyrillic=pl.Series(greek_cyrillic),
                            invisible=pl.Series(invisible))  # fmt: skip
