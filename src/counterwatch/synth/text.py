"""Brand-name obfuscation and vectorised text assembly.

Obfuscation runs once per brand over the small catalogue (a pool of variants per brand
and obfuscation kind); listings then draw from the pools by index, so a million titles
need no per-row Python. Titles are joined column-wise with Polars.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from counterwatch.synth.catalogue import HAN_SWAPS, BrandEntry
from counterwatch.synth.config import OBFUSCATIONS

DIGIT_SWAPS = {"o": "0", "i": "1", "l": "1", "e": "3", "a": "4", "s": "5", "t": "7", "b": "8", "g": "9"}
#: Latin letters and the Cyrillic/Greek letters that look the same.
HOMOGLYPHS = {
    "a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і", "v": "ν",
    "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "K": "К", "M": "М", "O": "О", "P": "Р",
    "T": "Т", "X": "Х", "N": "Ν", "I": "Ι", "Z": "Ζ",
}  # fmt: skip
ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\ufeff")
SEPARATORS = (".", " ", "-", "*", "_", "·")
VOWELS = "aeiou"

Obfuscator = Callable[[str, np.random.Generator], str | None]


def _is_latin(text: str) -> bool:
    return any("a" <= c.lower() <= "z" for c in text)


def _positions(text: str, ok: Callable[[str], bool]) -> list[int]:
    return [i for i, c in enumerate(text) if ok(c)]


def _replace_some(text: str, table: dict[str, str], rng: np.random.Generator, key: Callable[[str], str]) -> str | None:
    """Replace one or two characters found in ``table`` (looked up by ``key(char)``)."""
    spots = _positions(text, lambda c: key(c) in table)
    if not spots:
        return None
    chars = list(text)
    for i in rng.choice(spots, size=min(len(spots), int(rng.integers(1, 3))), replace=False):
        chars[i] = table[key(chars[i])]
    return "".join(chars)


def digit_swap(text: str, rng: np.random.Generator) -> str | None:
    """N1ke, R0lex, 6ucci: letters swapped for look-alike digits."""
    return _replace_some(text, DIGIT_SWAPS, rng, str.lower) if _is_latin(text) else None


def separate(text: str, rng: np.random.Generator) -> str | None:
    """G.U.C.C.I, L V, Louis-Vuitton: separators between letters defeat exact matching."""
    letters = text.replace(" ", "")
    if not _is_latin(text) or len(letters) < 2:
        return None
    sep = str(rng.choice(SEPARATORS))
    if len(letters) <= 7:
        word = letters.upper() if rng.random() < 0.7 else letters
        return sep.join(word)
    cut = int(rng.integers(1, len(text) - 1))
    return (text[:cut] + sep + text[cut:]).replace(" " + sep, sep)


def fullwidth(text: str, rng: np.random.Generator) -> str | None:
    """ＮＩＫＥ: full-width forms look like ASCII but are other code points."""
    if not _is_latin(text):
        return None
    base = text.upper() if rng.random() < 0.5 else text
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in base)


def homoglyph(text: str, rng: np.random.Generator) -> str | None:
    """Rolеx with a Cyrillic е: looks identical, compares different."""
    return _replace_some(text, HOMOGLYPHS, rng, lambda c: c) if _is_latin(text) else None


def zero_width(text: str, rng: np.random.Generator) -> str | None:
    """Invisible characters inside the name."""
    if len(text) < 2:
        return None
    chars = list(text)
    for _ in range(int(rng.integers(1, 3))):
        chars.insert(int(rng.integers(1, len(chars))), str(rng.choice(ZERO_WIDTH)))
    return "".join(chars)


def misspell(text: str, rng: np.random.Generator) -> str | None:
    """Rollex, Guci, Addidas, 劳力土: a letter doubled, dropped, swapped, or a near-homophone character."""
    if not _is_latin(text):
        swaps = _positions(text, lambda c: c in HAN_SWAPS)
        if not swaps:
            return None
        i = int(rng.choice(swaps))
        return text[:i] + HAN_SWAPS[text[i]] + text[i + 1 :]
    spots = _positions(text, str.isalpha)
    if len(spots) < 3:
        return None
    i = int(rng.choice(spots[1:]))
    op = int(rng.integers(0, 4))
    if op == 0:  # double a letter
        return text[:i] + text[i] + text[i:]
    if op == 1:  # drop a letter
        return text[:i] + text[i + 1 :]
    if op == 2 and i + 1 < len(text) and text[i + 1].isalpha():  # swap neighbours
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    vowel = str(rng.choice(list(VOWELS)))
    return text[:i] + (vowel if text[i].lower() in VOWELS else text[i] + vowel) + text[i + 1 :]


OBFUSCATORS: dict[str, Obfuscator] = {
    "digit_swap": digit_swap,
    "separator": separate,
    "fullwidth": fullwidth,
    "homoglyph": homoglyph,
    "zero_width": zero_width,
    "misspelling": misspell,
}
assert tuple(OBFUSCATORS) == OBFUSCATIONS


def obfuscation_pools(
    brands: Sequence[BrandEntry], rng: np.random.Generator, per_kind: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Variants of every brand name per obfuscation kind.

    Returns ``(variants, start, count)``: the variants of brand ``b`` and kind ``k`` are
    ``variants[start[b, k] : start[b, k] + count[b, k]]``; every count is at least 1
    (a kind that does not apply to a brand falls back to a misspelling).
    """
    variants: list[str] = []
    start = np.zeros((len(brands), len(OBFUSCATIONS)), dtype=np.int64)
    count = np.zeros_like(start)
    for b, brand in enumerate(brands):
        known = {n.casefold() for n in (brand.name, *brand.aliases)}
        names = [brand.name, *brand.aliases]
        for k, kind in enumerate(OBFUSCATIONS):
            found: list[str] = []
            for _attempt in range(per_kind * 3):
                v = OBFUSCATORS[kind](names[int(rng.integers(0, len(names)))], rng)
                if v and v.casefold() not in known and v not in found:
                    found.append(v)
                if len(found) == per_kind:
                    break
            if not found:  # the kind does not apply to any of the brand's names
                found = [brand.name + brand.name[-1]]
            start[b, k], count[b, k] = len(variants), len(found)
            variants.extend(found)
    return np.array(variants, dtype=object), start, count


def choose(rng: np.random.Generator, n: int, options: Sequence[str], p: Sequence[float] | None = None) -> np.ndarray:
    """``n`` picks from ``options`` (an object array of str)."""
    arr = np.array(options, dtype=object)
    return arr[rng.choice(len(arr), size=n, p=p)]


def pick_in_ranges(rng: np.random.Generator, start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """One index uniformly in ``[start, start + count)`` per row."""
    return start + (rng.random(len(start)) * count).astype(np.int64)


def strs(values: np.ndarray | Sequence[str | None]) -> pl.Series:
    """A string series from a numpy array (object arrays may hold None: a missing part)."""
    return pl.Series(pa.array(np.asarray(values, dtype=object), type=pa.string(), from_pandas=True))


def numbered(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Ids such as ``L0000001``: ``prefix`` and each number zero-padded to ``width`` digits."""
    digits = pl.Series(np.asarray(numbers, dtype=np.int64)).cast(pl.String).str.zfill(width)
    return (prefix + digits).to_numpy().astype(object)


def join_parts(parts: Sequence[pl.Series | np.ndarray], sep: str = " ") -> pl.Series:
    """Join text parts row-wise, skipping nulls, so a missing part leaves no double separator."""
    cols = [p if isinstance(p, pl.Series) else strs(p) for p in parts]
    df = pl.DataFrame({f"p{i}": c for i, c in enumerate(cols)})
    return df.select(pl.concat_str(pl.all(), separator=sep, ignore_nulls=True).alias("s"))["s"]


def weights(shares: dict[str, float], names: Sequence[str]) -> np.ndarray:
    """Normalised probabilities for ``names`` from a share map (missing names weigh 0)."""
    w = np.array([max(shares.get(n, 0.0), 0.0) for n in names], dtype=float)
    if w.sum() <= 0:
        raise ValueError(f"shares {shares} give no weight to any of {list(names)}")
    return w / w.sum()
