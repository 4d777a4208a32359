"""The brand registry compiled for matching: patterns per brand in each text view, products, prices.

Built once per scan from ``brands.json`` and ``fx_rates`` and shipped to worker processes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import polars as pl

from counterwatch.contract.brands import Brand
from counterwatch.detect.normalize import LEET, plain, plain_expr, skeleton, skeleton_expr, tokens

_HAN = re.compile(r"[\u3400-\u9fff]")
VOWELS = "aeiou"
MIN_MISSPELL = 4  # letters: shorter names have too many innocent near neighbours
MIN_SQUEEZED = 7  # letters: long names are matched even when split inside a word ("Louis Vu-itton")


def misspellings(name: str) -> set[str]:
    """One-edit variants of a Latin name a seller would write (a letter dropped, neighbours swapped,
    a vowel changed or added), as skeletons. Edits apply to the name before doubled letters collapse,
    so "Vuituton" and "Burbrery" are found; variants shorter than four letters are left out."""
    return misspellings_of([name])[0]


def misspellings_of(names: list[str]) -> list[set[str]]:
    """``misspellings`` of many names, their variants folded in one column pass."""
    edits = [_edits(_uncollapsed(n)) for n in names]
    folded = dict(zip(pool := sorted(set().union(*edits)), skeletons(pool), strict=True))
    out = []
    for name, variants in zip(names, edits, strict=True):
        word = skeleton(name).strip()
        out.append({v for e in variants if (v := folded[e]) != word and len(v.replace(" ", "")) >= MIN_MISSPELL})
    return out


def _edits(raw: str) -> set[str]:
    """The one-edit variants of ``raw`` (uncollapsed letters), before folding."""
    out: set[str] = set()
    n = len(raw)
    for i in range(1, n):  # sellers keep the first letter: the name must still be recognised
        if raw[i] == " ":
            continue
        out.add(raw[:i] + raw[i + 1 :])
        if i + 1 < n and raw[i + 1] != " " and raw[i + 1] != raw[i]:
            out.add(raw[:i] + raw[i + 1] + raw[i] + raw[i + 2 :])
        if raw[i] in VOWELS:
            out.update(raw[:i] + v + raw[i + 1 :] for v in VOWELS)
        out.update(raw[: i + 1] + v + raw[i + 1 :] for v in VOWELS)
    return out


def skeletons(texts: list[str]) -> list[str]:
    """``skeleton(t).strip()`` of many texts at once (the column form; a test holds the two equal)."""
    views = pl.DataFrame({"t": texts}, schema={"t": pl.String}).select(skeleton_expr(plain_expr(pl.col("t"))))
    return [v.strip(" ") for v in views.to_series().to_list()]


def _uncollapsed(name: str) -> str:
    """The skeleton steps but the collapsing of doubled letters."""
    t = "".join(c for c in unicodedata.normalize("NFKD", plain(name)) if unicodedata.category(c) != "Mn")
    t = re.sub(r"[^a-z0-9]+", " ", re.sub("|".join(map(re.escape, LEET)), lambda m: LEET[m.group()], t))
    return t.strip()


def han_variants(alias: str) -> list[str]:
    """Regex alternatives for a Han alias with any one character replaced (劳力士 -> 劳力土), 3+ characters."""
    if len(alias) < 3:
        return []
    return [re.escape(alias[:i]) + "." + re.escape(alias[i + 1 :]) for i in range(len(alias))]


@dataclass
class BrandCatalog:
    """Patterns that find each brand, and the brand's products with reference prices in the base currency."""

    brand_ids: list[str]
    names: list[str]
    #: skeleton-view token patterns (" rolex ") -> (brand index, "name" | "misspelled")
    token_patterns: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: long names without spaces ("louisvuitton") -> brand index, matched in the squeezed skeleton
    squeezed_patterns: dict[str, int] = field(default_factory=dict)
    #: Han aliases in the plain view ("劳力士") -> (brand index, "name" | "misspelled")
    han_patterns: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: regex of Han aliases with one character replaced, and the aliases it stands for
    han_fuzzy: str = ""
    han_aliases: dict[str, int] = field(default_factory=dict)
    #: names and aliases as plain words (" louis vuitton "), for text only given a plain view (descriptions)
    word_patterns: dict[str, int] = field(default_factory=dict)
    #: squeezed skeletons for runs of single letters ("g u c c i" -> "guci") -> (brand index, how)
    squeezed_lookup: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: plain names and aliases per brand, to tell a plain mention from a disguised one
    plain_names: list[list[str]] = field(default_factory=list)
    #: top-level categories each brand sells in ("shoes", "bags")
    categories: list[set[str]] = field(default_factory=list)
    products: pl.DataFrame = field(default_factory=pl.DataFrame)
    #: product keyword (plain view) -> product row indexes
    keywords: dict[str, list[int]] = field(default_factory=dict)
    #: the keywords in the padded word view (" air max ") -> product row indexes, as matched in listings
    keyword_forms: dict[str, list[int]] = field(default_factory=dict)
    authorized: set[tuple[str, str]] = field(default_factory=set)  # (store_id, brand_id)
    #: the columns of ``products`` as lists, for the one-listing path
    product_brand: list[int] = field(default_factory=list)
    product_ids: list[str] = field(default_factory=list)
    product_names: list[str] = field(default_factory=list)
    reference_base: list[float | None] = field(default_factory=list)

    @classmethod
    def build(cls, brands: list[Brand], fx: dict[str, float], base: str) -> BrandCatalog:
        cat = cls([b.brand_id for b in brands], [b.name for b in brands])
        ambiguous: set[str] = set()
        exact: dict[str, int] = {}
        for i, b in enumerate(brands):
            names = [b.name, *b.aliases]
            cat.plain_names.append(sorted({plain(n).strip() for n in names if plain(n).strip()}))
            cat.categories.append({(p.category or "").split("/")[0] for p in b.products if p.category})
            for n in names:
                if _HAN.search(n):
                    cat.han_patterns.setdefault(plain(n).strip(), (i, "name"))
                    continue
                sk = skeleton(n).strip()
                if not sk:
                    continue
                if words := tokens(n):
                    cat.word_patterns.setdefault(f" {words} ", i)
                if sk in exact and exact[sk] != i:
                    ambiguous.add(sk)
                exact[sk] = i
                cat.token_patterns[f" {sk} "] = (i, "name")
                squeezed = sk.replace(" ", "")
                cat.squeezed_lookup[squeezed] = (i, "name")
                if len(squeezed) >= MIN_SQUEEZED:
                    cat.squeezed_patterns[squeezed] = i
        for sk in ambiguous:  # a skeleton two brands share identifies neither
            cat.token_patterns.pop(f" {sk} ", None)
            cat.squeezed_lookup.pop(sk.replace(" ", ""), None)
        for b in brands:
            cat.authorized.update((s, b.brand_id) for s in b.authorized_stores)
        latin_names = [(n, i) for i, b in enumerate(brands) for n in (b.name, *b.aliases) if not _HAN.search(n)]
        latin_names = [(n, i) for n, i in latin_names if len(skeleton(n).replace(" ", "")) >= MIN_MISSPELL]
        for (_n, i), variants in zip(latin_names, misspellings_of([n for n, _ in latin_names]), strict=True):
            for v in sorted(variants):
                if v in exact:
                    continue
                cat.token_patterns.setdefault(f" {v} ", (i, "misspelled"))
                cat.squeezed_lookup.setdefault(v.replace(" ", ""), (i, "misspelled"))
        cat.han_aliases = {a: i for a, (i, _how) in cat.han_patterns.items()}
        cat.han_fuzzy = "|".join(v for a in sorted(cat.han_aliases) for v in han_variants(a))
        rows = []
        for i, b in enumerate(brands):
            for p in b.products:
                rate = 1.0 if p.currency == base else fx.get(p.currency)
                rows.append(
                    {
                        "brand_idx": i,
                        "product_id": p.product_id,
                        "product_name": p.name,
                        "reference_base": None if rate is None else p.reference_price * rate,
                        "reference_price": p.reference_price,
                        "reference_currency": p.currency,
                    }
                )
                for kw in {p.name, *p.keywords}:
                    k = plain(kw).strip()
                    if len(k) >= 2:
                        cat.keywords.setdefault(k, []).append(len(rows) - 1)
        cat.keyword_forms = {f" {t} ": rows for k, rows in cat.keywords.items() if (t := tokens(k))}
        cat.products = pl.DataFrame(
            rows,
            schema={
                "brand_idx": pl.Int32, "product_id": pl.String, "product_name": pl.String,
                "reference_base": pl.Float64, "reference_price": pl.Float64, "reference_currency": pl.String,
            },
        )  # fmt: skip
        cat.product_brand = [r["brand_idx"] for r in rows]
        cat.product_ids = [r["product_id"] for r in rows]
        cat.product_names = [r["product_name"] for r in rows]
        cat.reference_base = [r["reference_base"] for r in rows]
        return cat


def resolve_han(catalog: BrandCatalog, written: str) -> int | None:
    """The brand whose Han alias ``written`` misspells by one character, if exactly one does."""
    hits = {
        i
        for alias, i in catalog.han_aliases.items()
        if len(alias) == len(written) and sum(a != b for a, b in zip(alias, written, strict=True)) <= 1
    }
    return hits.pop() if len(hits) == 1 else None
