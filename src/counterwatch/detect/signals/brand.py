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
from counterwatch.detect.frames import distinct_of, key_column, place_rows, with_distinct_keys
from counterwatch.detect.normalize import plain, skeleton_of_plain, text_views, token_view
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


@dataclass(frozen=True)
class _Tables:
    """The catalog as the frames the batch joins and gathers from, built once per context
    (``DetectContext.once``): built per batch from Python lists they cost 0.2 µs a listing."""

    brand_ids: pl.Series  # brand ids, then null (for "no brand")
    names: pl.Series  # display names, then null
    plain_names: pl.Series  # plain names and aliases per brand, then an empty list
    patterns: pl.DataFrame  # m, brand_idx, how, source: the fixed patterns (runs and fuzzy Han are per batch)
    categories: pl.DataFrame  # brand_idx, _cats: the top-level categories each brand sells in
    authorized: pl.DataFrame | None  # store_id, brand_id, _auth

    @classmethod
    def of(cls, cat) -> _Tables:  # type: ignore[no-untyped-def]
        table = [
            *((p, i, how, "token") for p, (i, how) in cat.token_patterns.items()),
            *((p, i, "squeezed", "squeezed") for p, i in cat.squeezed_patterns.items()),
            *((p, i, how, "han") for p, (i, how) in cat.han_patterns.items()),
            *((p, i, "name", "word") for p, i in cat.word_patterns.items()),
        ]
        authorized = (
            pl.DataFrame(sorted(cat.authorized), schema={"store_id": pl.String, "brand_id": pl.String}, orient="row")
            .with_columns(pl.lit(True).alias("_auth"))
            if cat.authorized else None
        )  # fmt: skip
        return cls(
            pl.Series([*cat.brand_ids, None], dtype=pl.String),
            pl.Series([*cat.names, None], dtype=pl.String),
            pl.Series([*cat.plain_names, []], dtype=pl.List(pl.String)),
            pl.DataFrame(table, schema=_PATTERN_SCHEMA, orient="row"),
            pl.DataFrame(
                {"brand_idx": list(range(len(cat.categories))), "_cats": [sorted(c) for c in cat.categories]},
                schema={"brand_idx": pl.Int32, "_cats": pl.List(pl.String)},
            ),
            authorized,
        )


_PATTERN_SCHEMA = {"m": pl.String, "brand_idx": pl.Int32, "how": pl.String, "source": pl.String}


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
        tables: _Tables = ctx.once("brand/tables", lambda: _Tables.of(cat))
        # Disguises are looked for in the title and the declared brand; descriptions (long, and
        # read by fewer buyers) are searched for the names as plain words only. Everything that
        # depends on a field's text alone (views, matches, the best mention, whether it is written
        # plainly, script flags) is computed once per distinct text; per listing, only the choice
        # between fields and the category check of misspellings remain.
        df = df.with_columns(pl.col(f).fill_null("") for f in FIELDS if df[f].null_count())
        # Each field's rows grouped by distinct text once; the later signals' views of the same
        # fields reuse the grouping (``frames.per_distinct(..., by=field)``).
        df = with_distinct_keys(df, FIELDS)
        top_category = df.select(pl.col("category").fill_null("").str.splitn("/", 2).struct.field("field_0"))[
            "field_0"
        ]
        picks: list[tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr, pl.Expr]] = []  # (found, idx, how, written, plainly)
        for _rank, f in enumerate(FIELDS):
            first, inverse = distinct_of(df, f)
            distinct, misspelled = self._per_text(df[f].gather(first), f, cat, tables, ctx.view_tables)
            df = df.hstack(distinct.drop(f).select(pl.all().gather(inverse)).get_columns())
            # A misspelling counts only in a category the brand sells in ("couch" is not Coach on a sofa),
            # and only where the field names no brand better: few listings, joined as a small table.
            need = df.select((pl.col(f"_{f}_idx").is_null() & pl.col(f"_{f}_misspelled")).alias("n"))["n"]
            m_idx, m_written = self._misspelled(pl.DataFrame({"_v": df[key_column(f)], "_cat": top_category}), need,
                                                misspelled, tables)  # fmt: skip
            df = df.with_columns(m_idx.alias(f"_{f}_midx"), m_written.alias(f"_{f}_mwritten"))
            picks.append((pl.col(f"_{f}_idx").is_not_null(), pl.col(f"_{f}_idx"),
                          pl.when(pl.col(f"_{f}_plainly")).then(pl.lit("plain")).otherwise(pl.lit("disguised")),
                          pl.col(f"_{f}_written"), pl.lit(f)))  # fmt: skip
            picks.append((pl.col(f"_{f}_midx").is_not_null(), pl.col(f"_{f}_midx"), pl.lit("misspelled"),
                          pl.col(f"_{f}_mwritten"), pl.lit(f)))  # fmt: skip

        def first(k: int, dtype: pl.DataType) -> pl.Expr:
            expr = pl.when(picks[0][0]).then(picks[0][k])
            for p in picks[1:]:
                expr = expr.when(p[0]).then(p[k])
            return expr.otherwise(pl.lit(None, dtype=dtype))

        idx = df.select(first(1, pl.Int32).alias("i"))["i"]
        gather = idx.fill_null(len(cat.brand_ids)).cast(pl.UInt32)
        df = df.with_columns(
            tables.brand_ids.gather(gather).alias("brand_id"),
            tables.names.gather(gather).alias("brand_name"),
            first(4, pl.String).alias("brand_field"),
            first(2, pl.String).alias("brand_how"),
            first(3, pl.String).str.strip_chars(" ").alias("brand_written"),
        )
        if tables.authorized is not None:  # (store, brand) pairs of the registry, joined rather than looked up
            auth = (
                df.select(pl.col("store_id").cast(pl.String), "brand_id")
                .join(tables.authorized, on=["store_id", "brand_id"], how="left", maintain_order="left")["_auth"]
                .fill_null(False)
            )
        else:
            auth = pl.repeat(False, df.height, dtype=pl.Boolean, eager=True)
        temp = [f"_{f}_{c}" for f in FIELDS for c in ("idx", "written", "plainly", "misspelled", "midx", "mwritten")]
        return df.with_columns(
            auth.alias("authorized"),
            ((pl.col("_title_latin") | pl.col("_brand_latin")) & (pl.col("_title_gc") | pl.col("_brand_gc")))
            .alias("homoglyphs"),
            (pl.col("_title_invisible") | pl.col("_brand_invisible")).alias("invisible_chars"),
        ).drop(*temp, *(f"_{f}_{c}" for f in SKELETON_FIELDS for c in ("latin", "gc", "invisible")))

    def _per_text(self, texts: pl.Series, f: str, cat, tables: _Tables, ctx_tables=None  # type: ignore[no-untyped-def]
                  ) -> tuple[pl.DataFrame, pl.DataFrame]:  # fmt: skip
        """Field ``f``'s distinct ``texts`` with their views, their best mention of a brand that is not
        a misspelling (``_f_idx``, ``_f_written``, ``_f_plainly``), and whether misspellings were found,
        in the order given; and the misspellings as a table (``_v``: the text's position, brand, written)."""
        plain, skel, tok = f"_{f}_plain", f"_{f}_skel", f"_{f}_tok"
        d = texts.to_frame(f)
        v = text_views(d[f], skeleton=f in SKELETON_FIELDS, token=f in TOKEN_FIELDS, tables=ctx_tables)
        views = [v["plain"].alias(plain)]
        if f in SKELETON_FIELDS:
            views += [v["skeleton"].alias(skel), v["latin"].alias(f"_{f}_latin"), v["greek_cyrillic"].alias(f"_{f}_gc"),
                      v["invisible"].alias(f"_{f}_invisible")]  # fmt: skip
        if f in TOKEN_FIELDS:
            views.append(v["token"].alias(tok))
        d = d.with_columns(views)
        matches = self._match_exprs(cat, f, plain, skel, tok)
        d = d.with_row_index("_v")
        found: list[pl.DataFrame] = []
        if matches:
            matched = d.select("_v", *(e.alias(src) for src, e in matches.items()))
            for src in matches:
                long = matched.select("_v", pl.col(src).alias("m")).explode("m").drop_nulls("m")
                if long.height:
                    found.append(long.with_columns(pl.lit(src).alias("source")))
        hits = self._resolve(pl.concat(found) if found else None, cat, tables)
        best = (
            hits.filter(pl.col("how") != "misspelled")
            .with_columns(pl.col("how").replace_strict(_HOW_RANK, default=3).alias("_how_rank"),
                          pl.col("m").str.len_chars().alias("_len"))
            # ties go to the longest match ("tag heuer" over "tag"), then fixed orders: deterministic
            .sort(["_v", "_how_rank", "_len", "brand_idx", "m"], descending=[False, False, True, False, False])
            .group_by("_v", maintain_order=True)
            .first()
            .select("_v", pl.col("brand_idx").alias(f"_{f}_idx"), pl.col("m").alias(f"_{f}_written"))
        )
        misspelled = hits.filter(pl.col("how") == "misspelled").select("_v", "brand_idx", "m")
        d = d.join(best, on="_v", how="left", maintain_order="left").with_columns(
            pl.col("_v").is_in(misspelled["_v"].implode()).alias(f"_{f}_misspelled")
        )
        # Written plainly when the field as entered (only lower-cased) holds a name or alias of the brand.
        # Only texts that name a brand are lower-cased.
        with_names = d.filter(pl.col(f"_{f}_idx").is_not_null()).select(
            "_v", pl.col(f).str.to_lowercase().alias("_lower"),
            pl.lit(tables.plain_names).gather(pl.col(f"_{f}_idx").cast(pl.UInt32)).alias("_n"),
        ).explode("_n").drop_nulls("_n")  # fmt: skip
        plainly = with_names.filter(pl.col("_lower").str.contains(pl.col("_n"), literal=True))["_v"].unique()
        d = d.with_columns(pl.col("_v").is_in(plainly.implode()).alias(f"_{f}_plainly"))
        return d.drop("_v"), misspelled

    @staticmethod
    def _misspelled(rows: pl.DataFrame, need: pl.Series, misspelled: pl.DataFrame, tables: _Tables
                    ) -> tuple[pl.Series, pl.Series]:  # fmt: skip
        """Per listing (``rows``: its text's distinct index ``_v`` and top category ``_cat``), the best
        misspelling in its field of a brand that sells in its category (longest, then brand order,
        then text), where ``need`` says to look: (brand index, written)."""
        n = rows.height
        if not need.any():
            return pl.repeat(None, n, dtype=pl.Int32, eager=True), pl.repeat(None, n, dtype=pl.String, eager=True)
        best = (
            rows.with_row_index("_row")
            .filter(need)
            .join(misspelled.with_columns(pl.col("_v").cast(rows["_v"].dtype)), on="_v")
            .join(tables.categories, on="brand_idx", how="left")
            .filter(pl.col("_cats").list.contains(pl.col("_cat")))
            .with_columns(pl.col("m").str.len_chars().alias("_len"))
            .sort(["_row", "_len", "brand_idx", "m"], descending=[False, True, False, False])
            .group_by("_row", maintain_order=True)
            .first()
        )
        per_row = place_rows(best.select("brand_idx", "m"), best["_row"], n)
        return per_row["brand_idx"].cast(pl.Int32), per_row["m"]

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
    def _resolve(long: pl.DataFrame | None, cat, tables: _Tables) -> pl.DataFrame:  # type: ignore[no-untyped-def]
        """Matched patterns (``_v``, ``m``, ``source``) resolved to brands: (``_v``, ``m``, ``brand_idx``, ``how``)."""
        schema = {"_v": pl.UInt32, "m": pl.String, "brand_idx": pl.Int32, "how": pl.String}
        if long is None:
            return pl.DataFrame(schema=schema)
        table: list[tuple[str, int, str, str]] = []  # the batch's own: runs of letters and fuzzy Han
        runs = long.filter(pl.col("source") == "run")["m"].unique().to_list()
        squeezed = {r: _collapse(r.replace(" ", "")) for r in runs}  # "g u c c i" -> "guci", as skeletons are
        table += [(r, *cat.squeezed_lookup[sq], "run") for r, sq in squeezed.items() if sq in cat.squeezed_lookup]
        fuzzy = long.filter(pl.col("source") == "han_fuzzy")["m"].unique().to_list()
        for w in fuzzy:
            if w in cat.han_patterns:
                table.append((w, cat.han_patterns[w][0], "name", "han_fuzzy"))
            elif (i := resolve_han(cat, w)) is not None:
                table.append((w, i, "misspelled", "han_fuzzy"))
        patterns = tables.patterns
        if table:
            patterns = pl.concat([patterns, pl.DataFrame(table, schema=_PATTERN_SCHEMA, orient="row")])
        return long.join(patterns, on=["m", "source"], how="inner").select(*schema)


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
