"""Brand mention: which registered brand a listing names, where, and whether the name is disguised.

Matches names and aliases of ``brands.json`` in the title, the declared brand and the description,
after folding (``normalize``): full-width, homoglyphs, zero-width characters, digit-for-letter
swaps and doubled letters all meet the plain name; separators are seen through (``G.U.C.C.I``,
``L V``, ``Louis Vu-itton``); one-edit misspellings of names of five letters or more count when the
listing's category is one the brand sells in. Chinese aliases match inside unsegmented text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import polars as pl

from counterwatch.detect.catalog import resolve_han
from counterwatch.detect.frames import per_distinct
from counterwatch.detect.normalize import plain, plain_expr, skeleton_expr, skeleton_of_plain, token_expr, token_view
from counterwatch.detect.signals.base import Example, Signal

FIELDS = ("title", "brand", "description")  # in order of how much a mention there says
SKELETON_FIELDS = ("title", "brand")
TOKEN_FIELDS = ("title", "description")
_RUNS = r"(?-u:\b)(?:[a-z] )+[a-z](?-u:\b)"  # single letters split by separators: "g u c c i"
_PAIR = re.compile(r"([a-z])\1")
_HOW_RANK = {"name": 0, "run": 1, "squeezed": 1, "misspelled": 2}
# The same patterns for Python's engine (one listing): ASCII word boundaries are ``\b`` under re.ASCII.
_RUNS_RE = re.compile(r"\b(?:[a-z] )+[a-z]\b", re.ASCII)
_LATIN = re.compile(r"[a-zA-Z]")
_GREEK_CYRILLIC = re.compile(r"[\u0370-\u03ff\u0400-\u04ff]")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060-\u2064\ufeff]")


@dataclass(frozen=True)
class _Matchers:
    """The catalog's patterns as automata (the Rust ``aho-corasick`` crate Polars' ``extract_many`` runs)."""

    token: Any
    squeezed: Any
    han: Any
    word: Any
    han_fuzzy: re.Pattern[str] | None


def _automaton(patterns: dict[str, Any]) -> Any:
    import ahocorasick_rs

    return ahocorasick_rs.AhoCorasick(list(patterns), matchkind=ahocorasick_rs.MatchKind.Standard) if patterns else None


def _find(ac: Any, text: str, overlapping: bool = True) -> list[str]:
    return ac.find_matches_as_strings(text, overlapping=overlapping) if ac is not None else []


class BrandMention(Signal):
    name = "brand"
    reads = ("title", "brand", "description", "category", "store_id")
    outputs = {
        "brand_id": pl.String,
        "brand_name": pl.String,
        "brand_field": pl.String,  # title | brand | description
        "brand_how": pl.String,  # plain | disguised | misspelled
        "brand_written": pl.String,  # the name as the listing wrote it (skeleton view when disguised)
        "authorized": pl.Boolean,
        "homoglyphs": pl.Boolean,  # Latin text with Cyrillic/Greek look-alikes
        "invisible_chars": pl.Boolean,  # zero-width characters
    }
    examples = (
        Example({"title": "Nike Air Max 90"}, {"brand_name": "Nike", "brand_how": "plain"}),
        Example({"title": "N1ke Air Max 90"}, {"brand_name": "Nike", "brand_how": "disguised"}),
        Example({"title": "G.U.C.C.I Marmont bag"}, {"brand_name": "Gucci", "brand_how": "disguised"}),
        Example({"title": "Rоlex Submariner"}, {"brand_name": "Rolex", "homoglyphs": True}),
        Example({"title": "ＲＯＬＥＸ 潜航者"}, {"brand_name": "Rolex", "brand_how": "disguised"}),
        Example({"title": "Rollex Submariner", "category": "watches/wristwatches"}, {"brand_name": "Rolex"}),
        Example({"title": "正品劳力士手表"}, {"brand_name": "Rolex", "brand_how": "plain"}),
        Example({"title": "plain cotton t-shirt"}, {"brand_id": None}),
        Example({"title": "", "description": "", "brand": ""}, {"brand_id": None}, note="empty text is scored"),
        Example({"title": "", "brand": "ROLEX"}, {"brand_name": "Rolex", "brand_field": "brand"}),
    )

    def compute(self, df: pl.DataFrame, ctx) -> pl.DataFrame:  # type: ignore[no-untyped-def]
        cat = ctx.catalog
        # Disguises are looked for in the title and the declared brand; descriptions (long, and
        # read by fewer buyers) are searched for the names as plain words only. Views and matches
        # are computed once per distinct text.
        df = df.with_columns(pl.col(f).fill_null("") for f in FIELDS)
        found: list[pl.DataFrame] = []
        for rank, f in enumerate(FIELDS):
            plain, skel, tok = f"_{f}_plain", f"_{f}_skel", f"_{f}_tok"
            views: dict[str, pl.Expr] = {}
            if f in SKELETON_FIELDS:
                views[skel] = skeleton_expr(pl.col(plain))
            if f in TOKEN_FIELDS:
                views[tok] = token_expr(pl.col(plain))
            matches = {f"_m_{f}_{source}": e for source, e in self._match_exprs(cat, f, plain, skel, tok).items()}
            df = per_distinct(df, f, [{plain: plain_expr(pl.col(f))}, views, matches])
            self._collect(df, {m.removeprefix(f"_m_{f}_"): pl.col(m) for m in matches}, rank, found)
            df = df.drop(list(matches))
        n = df.height
        if found:
            best = self._best(pl.concat(found), cat, df)
        else:
            best = pl.DataFrame(schema={"_row": pl.UInt32, "brand_idx": pl.Int32, "how": pl.String,
                                        "field_rank": pl.Int32, "m": pl.String})  # fmt: skip
        per_row = pl.DataFrame({"_row": pl.arange(0, n, dtype=pl.UInt32, eager=True)}).join(best, on="_row", how="left")
        idx = per_row["brand_idx"]
        brand_ids = pl.Series([*cat.brand_ids, None], dtype=pl.String)
        names = pl.Series([*cat.names, None], dtype=pl.String)
        gather = idx.fill_null(len(cat.brand_ids)).cast(pl.UInt32)
        df = df.with_columns(
            brand_ids.gather(gather).alias("brand_id"),
            names.gather(gather).alias("brand_name"),
            pl.Series(FIELDS).gather(per_row["field_rank"].fill_null(0).cast(pl.UInt32)).alias("_field"),
            per_row["how"].alias("_how"),
            per_row["m"].str.strip_chars(" ").alias("_written"),
        )
        # Plain when the field's plain view holds one of the brand's names or aliases as written.
        names_by_brand = pl.Series([cat.plain_names[i] for i in range(len(cat.brand_ids))] + [[]],
                                   dtype=pl.List(pl.String))  # fmt: skip
        df = df.with_columns(names_by_brand.gather(gather).alias("_names"))
        # Written plainly when the field as entered (only lower-cased) holds a name or alias of the brand.
        field_plain = (
            pl.when(pl.col("_field") == "title")
            .then(pl.col("title"))
            .when(pl.col("_field") == "brand")
            .then(pl.col("brand"))
            .otherwise(pl.col("description"))
            .fill_null("")
            .str.to_lowercase()
        )
        is_plain = (
            df.select(
                pl.int_range(pl.len()).alias("_i"), field_plain.alias("_fp"), pl.col("_names")
            )  # one row per (listing, name)
            .explode("_names")
            .filter(pl.col("_names").is_not_null())
            .filter(pl.col("_fp").str.contains(pl.col("_names"), literal=True))
            .select("_i")
            .unique()
        )
        plain_mask = pl.Series(pl.arange(0, n, eager=True).is_in(is_plain["_i"].implode()))
        how = (
            pl.when(pl.col("brand_id").is_null())
            .then(None)
            .when(pl.col("_how") == "misspelled")
            .then(pl.lit("misspelled"))
            .when(pl.lit(plain_mask))
            .then(pl.lit("plain"))
            .otherwise(pl.lit("disguised"))
        )
        if cat.authorized:  # (store, brand) pairs of the registry, joined rather than looked up row by row
            pairs = pl.DataFrame(sorted(cat.authorized), schema={"store_id": pl.String, "brand_id": pl.String},
                                 orient="row").with_columns(pl.lit(True).alias("_auth"))  # fmt: skip
            auth = (
                df.select(pl.col("store_id").cast(pl.String), "brand_id")
                .join(pairs, on=["store_id", "brand_id"], how="left", maintain_order="left")["_auth"]
                .fill_null(False)
            )
        else:
            auth = pl.Series([False] * n, dtype=pl.Boolean)
        originals = pl.concat_str(pl.col("title").fill_null(""), pl.col("brand").fill_null(""), separator=" ")
        return df.with_columns(
            pl.when(pl.col("brand_id").is_null()).then(None).otherwise(pl.col("_field")).alias("brand_field"),
            how.alias("brand_how"),
            pl.col("_written").alias("brand_written"),
            auth.alias("authorized"),
            (originals.str.contains(r"[a-zA-Z]") & originals.str.contains(r"[\u0370-\u03ff\u0400-\u04ff]")).alias(
                "homoglyphs"
            ),
            originals.str.contains(r"[\u200b-\u200f\u2060-\u2064\ufeff]").alias("invisible_chars"),
        ).drop("_field", "_how", "_written", "_names")

    def prepare(self, ctx) -> _Matchers:  # type: ignore[no-untyped-def]
        cat = ctx.catalog
        fuzzy = re.compile(cat.han_fuzzy) if cat.han_fuzzy else None
        return _Matchers(_automaton(cat.token_patterns), _automaton(cat.squeezed_patterns),
                         _automaton(cat.han_patterns), _automaton(cat.word_patterns), fuzzy)  # fmt: skip

    def one(self, row: dict[str, Any], ctx, m: _Matchers) -> None:  # type: ignore[no-untyped-def]
        """The batch rules for one listing: the same views, patterns, resolution and order of preference."""
        cat = ctx.catalog
        texts = {f: row.get(f) or "" for f in FIELDS}
        row.update(texts)  # as the batch fills them
        top_category = (row.get("category") or "").split("/")[0]
        best: tuple[Any, ...] | None = None
        for rank, f in enumerate(FIELDS):
            p = row[f"_{f}_plain"] = plain(texts[f])
            found: list[tuple[str, str]] = []  # (matched text, pattern source)
            if f in SKELETON_FIELDS:
                sk = row[f"_{f}_skel"] = skeleton_of_plain(p)
                found += [(x, "token") for x in _find(m.token, sk)]
                found += [(x, "squeezed") for x in _find(m.squeezed, sk.replace(" ", ""), overlapping=False)]
                found += [(x, "han") for x in _find(m.han, p)]
                found += [(x, "run") for x in _RUNS_RE.findall(sk)]
                if m.han_fuzzy is not None:
                    found += [(x, "han_fuzzy") for x in m.han_fuzzy.findall(p)]
            if f in TOKEN_FIELDS:
                tok = row[f"_{f}_tok"] = token_view(p)
                if f not in SKELETON_FIELDS:
                    found += [(x, "word") for x in _find(m.word, tok)]
                    found += [(x, "han") for x in _find(m.han, p)]
            for x, source in found:
                hit = _resolve_one(cat, x, source)
                if hit is None:
                    continue
                i, how = hit
                if how == "misspelled" and top_category not in cat.categories[i]:
                    continue
                key = (rank, _HOW_RANK.get(how, 3), -len(x), i, x)
                if best is None or key < best[0]:
                    best = (key, i, how, x)
        row["homoglyphs"], row["invisible_chars"] = _script_flags(texts["title"], texts["brand"])
        if best is None:
            row.update(brand_id=None, brand_name=None, brand_field=None, brand_how=None, brand_written=None,
                       authorized=False)  # fmt: skip
            return
        (rank, *_), i, how, x = best
        field = FIELDS[rank]
        written_plainly = any(name in texts[field].lower() for name in cat.plain_names[i])
        row.update(
            brand_id=cat.brand_ids[i],
            brand_name=cat.names[i],
            brand_field=field,
            brand_how="misspelled" if how == "misspelled" else "plain" if written_plainly else "disguised",
            brand_written=x.strip(" "),
            authorized=(row.get("store_id"), cat.brand_ids[i]) in cat.authorized,
        )

    @staticmethod
    def _match_exprs(cat, f: str, plain: str, skel: str, tok: str) -> dict[str, pl.Expr]:  # type: ignore[no-untyped-def]
        """What to look for in field ``f``: pattern source -> list of matched patterns."""
        pln = pl.col(plain)
        out: dict[str, pl.Expr] = {}
        if f not in SKELETON_FIELDS:
            if cat.word_patterns:
                out["word"] = pl.col(tok).str.extract_many(list(cat.word_patterns), overlapping=True)
            if cat.han_patterns:
                out["han"] = pln.str.extract_many(list(cat.han_patterns), overlapping=True)
            return out
        sk = pl.col(skel)
        if cat.token_patterns:
            out["token"] = sk.str.extract_many(list(cat.token_patterns), overlapping=True)
        if cat.squeezed_patterns:
            out["squeezed"] = sk.str.replace_all(" ", "", literal=True).str.extract_many(list(cat.squeezed_patterns))
        if cat.han_patterns:
            out["han"] = pln.str.extract_many(list(cat.han_patterns), overlapping=True)
        out["run"] = sk.str.extract_all(_RUNS)
        if cat.han_fuzzy:
            out["han_fuzzy"] = pln.str.extract_all(cat.han_fuzzy)
        return out

    @staticmethod
    def _collect(df: pl.DataFrame, cols: dict[str, pl.Expr | None], rank: int, found: list[pl.DataFrame]) -> None:
        """Matches of each pattern source in one field, as (row, matched text, source, field rank)."""
        exprs = {source: expr for source, expr in cols.items() if expr is not None}
        if not exprs:
            return
        matched = df.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"), *(e.alias(s) for s, e in exprs.items())
        )
        for source in exprs:
            long = matched.select("_row", pl.col(source).alias("m")).explode("m").drop_nulls("m")
            if long.height:
                found.append(long.with_columns(pl.lit(source).alias("source"), pl.lit(rank).alias("field_rank")))

    @staticmethod
    def _best(long: pl.DataFrame, cat, df: pl.DataFrame) -> pl.DataFrame:  # type: ignore[no-untyped-def]
        """Resolve matched patterns to brands and keep each listing's strongest mention."""
        table = [
            *((p, i, how, "token") for p, (i, how) in cat.token_patterns.items()),
            *((p, i, "squeezed", "squeezed") for p, i in cat.squeezed_patterns.items()),
            *((p, i, how, "han") for p, (i, how) in cat.han_patterns.items()),
            *((p, i, "name", "word") for p, i in cat.word_patterns.items()),
        ]
        runs = long.filter(pl.col("source") == "run")["m"].unique().to_list()
        squeezed = {r: _collapse(r.replace(" ", "")) for r in runs}  # "g u c c i" -> "guci", as skeletons are
        table += [(r, *cat.squeezed_lookup[sq], "run") for r, sq in squeezed.items() if sq in cat.squeezed_lookup]
        fuzzy = long.filter(pl.col("source") == "han_fuzzy")["m"].unique().to_list()
        for w in fuzzy:
            if w in cat.han_patterns:
                table.append((w, cat.han_patterns[w][0], "name", "han_fuzzy"))
            elif (i := resolve_han(cat, w)) is not None:
                table.append((w, i, "misspelled", "han_fuzzy"))
        patterns = pl.DataFrame(
            table, schema={"m": pl.String, "brand_idx": pl.Int32, "how": pl.String, "source": pl.String}, orient="row"
        )
        hits = long.join(patterns, on=["m", "source"], how="inner")
        # Misspellings count only in a category the brand sells in: "couch" is not Coach on a sofa.
        cats = pl.DataFrame(
            {"brand_idx": list(range(len(cat.categories))), "_cats": [sorted(c) for c in cat.categories]},
            schema={"brand_idx": pl.Int32, "_cats": pl.List(pl.String)},
        )
        listing_cat = df.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"),
            pl.col("category").fill_null("").str.split("/").list.first().alias("_cat"),
        )
        hits = (
            hits.join(cats, on="brand_idx", how="left")
            .join(listing_cat, on="_row", how="left")
            .filter((pl.col("how") != "misspelled") | pl.col("_cats").list.contains(pl.col("_cat")))
        )
        return (
            hits.with_columns(pl.col("how").replace_strict(_HOW_RANK, default=3).alias("_how_rank"))
            # ties go to the longest match ("tag heuer" over "tag"), then fixed orders: deterministic
            .with_columns(pl.col("m").str.len_chars().alias("_len"))
            .sort(
                ["_row", "field_rank", "_how_rank", "_len", "brand_idx", "m"],
                descending=[False, False, False, True, False, False],
            )
            .group_by("_row", maintain_order=True)
            .first()
            .select("_row", "brand_idx", "how", pl.col("field_rank").cast(pl.Int32), "m")
        )


def _resolve_one(cat, x: str, source: str) -> tuple[int, str] | None:  # type: ignore[no-untyped-def]
    """(brand index, how) of one matched text, as ``_best``'s pattern table resolves it."""
    if source == "token":
        return cat.token_patterns.get(x)
    if source == "squeezed":
        return (cat.squeezed_patterns[x], "squeezed") if x in cat.squeezed_patterns else None
    if source == "han":
        return cat.han_patterns.get(x)
    if source == "word":
        return (cat.word_patterns[x], "name") if x in cat.word_patterns else None
    if source == "run":
        return cat.squeezed_lookup.get(_collapse(x.replace(" ", "")))
    if x in cat.han_patterns:  # han_fuzzy
        return cat.han_patterns[x][0], "name"
    i = resolve_han(cat, x)
    return None if i is None else (i, "misspelled")


def _script_flags(title: str, brand: str) -> tuple[bool, bool]:
    """(Latin text with Cyrillic/Greek look-alikes, zero-width characters) in the title and declared brand."""
    original = f"{title} {brand}"
    return bool(_LATIN.search(original) and _GREEK_CYRILLIC.search(original)), bool(_INVISIBLE.search(original))


def _collapse(letters: str) -> str:
    """Doubled letters collapsed the way ``normalize.skeleton`` does it (pairs, twice)."""
    return _PAIR.sub(r"\1", _PAIR.sub(r"\1", letters))
