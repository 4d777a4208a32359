"""The text views: the Python and Polars forms agree on any text, and disguises meet the plain name."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from counterwatch.detect.normalize import (
    plain,
    plain_expr,
    skeleton,
    skeleton_expr,
    text_views,
    token_expr,
    tokens,
)

ALPHABET = st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .-_*·!|@$")
    + list("аеорсхуіАВСЕНКМОРТХαεονρτ")  # Cyrillic and Greek look-alikes
    + list("ＮＩＫＥｎｉｋｅ０１　")  # full-width
    + ["\u200b", "\u200d", "\ufeff", "é", "ô", "ü"]
    + list("耐克劳力士古驰高仿复刻正品")
)
# Characters assigned in this Python's Unicode database (Rust's may be newer).
texts = st.text(ALPHABET, max_size=40) | st.text(st.characters(exclude_categories=("Cs", "Cn")), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, min_size=1, max_size=20))
def test_python_and_polars_views_agree(values):
    s = pl.Series(values, dtype=pl.String)
    got = pl.select(
        plain_expr(pl.lit(s)).alias("plain"),
        skeleton_expr(plain_expr(pl.lit(s))).alias("skeleton"),
        token_expr(plain_expr(pl.lit(s))).alias("tokens"),
    )
    assert got["plain"].to_list() == [plain(v) for v in values]
    assert got["skeleton"].to_list() == [skeleton(v) for v in values]
    assert [t.strip() for t in got["tokens"].to_list()] == [tokens(v) for v in values]


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("abcdefghijkmnopqrstuvwxyz"), min_size=1, max_size=12), st.data())  # no l: it folds to i
def test_doubling_letters_does_not_change_the_skeleton(word, data):
    """Rollex, Guccci, Addidas: a seller doubling letters of a name still meets the name."""
    runs_ok = all(word[i : i + 3] != word[i] * 3 for i in range(len(word)))  # names have runs of 2 at most
    doubled = "".join(c * (2 if data.draw(st.booleans()) else 1) for c in word)
    if runs_ok:
        assert skeleton(doubled) == skeleton(word)


def test_disguises_meet_the_plain_name():
    for disguised in ("R0lex", "ＲＯＬＥＸ", "Rоlex", "Ro\u200blex", "ROLLEX", "r0l3x"):
        assert skeleton(disguised) == skeleton("Rolex"), disguised


#: Characters whose views depend on their neighbours, which the compiled views hand to Polars:
#: combining marks, Hangul jamo, a final sigma, characters outside the Basic Multilingual Plane.
HARD = [*"\u0301\u0308\u0327\u1100\u1161\u11a8ΣΣΑ", "\U0001f525", "\U00020000", "İ", "ß", "ﬁ", "ﷺ", "\u00a8"]
view_texts = texts | st.text(st.sampled_from([*"ab ", *HARD, *"aa\u3000\t"]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(view_texts | st.none(), min_size=1, max_size=25))
def test_compiled_views_agree_with_the_polars_expressions(values):
    """``text_views`` (one compiled pass over tables of the per-character steps) gives exactly what
    the Polars expressions give, whatever the text: doubled letters, runs of separators, Han runs,
    full-width and look-alike letters, and the texts it hands back to Polars."""
    s = pl.Series(values, dtype=pl.String)
    got = text_views(s)
    p = plain_expr(pl.lit(s))
    want = pl.select(
        p.alias("plain"),
        skeleton_expr(p).alias("skeleton"),
        token_expr(p).alias("token"),
        pl.lit(s).fill_null("").str.contains(r"[a-zA-Z]").alias("latin"),
        pl.lit(s).fill_null("").str.contains(r"[\u0370-\u03ff\u0400-\u04ff]").alias("greek_cyrillic"),
        pl.lit(s).fill_null("").str.contains(r"[\u200b-\u200f\u2060-\u2064\ufeff]").alias("invisible"),
    )
    assert got.to_dicts() == want.to_dicts()
    plain_only = text_views(s, skeleton=False, token=False)
    assert plain_only.columns == ["plain", "latin", "greek_cyrillic", "invisible"]
    assert plain_only["plain"].to_list() == want["plain"].to_list()


def test_every_character_the_compiled_views_fold_alone_really_folds_alone():
    """Each character the tables take as foldable without its neighbours gives the Polars result
    beside a letter, after one and three times in a row: a character that composes with, or
    lower-cases by, its neighbour (Hangul jamo, Ϲ becoming a final sigma) must go to Polars."""
    from counterwatch.detect._views_kernels import SAFE
    from counterwatch.detect.normalize import view_tables

    safe = [chr(c) for c in (view_tables().flags & SAFE).nonzero()[0]]
    s = pl.Series([t for c in safe for t in (f"a{c}", f"{c}a", f"{c}{c}{c}", f"가{c}")])
    got = text_views(s)
    p = plain_expr(pl.lit(s))
    want = pl.select(p.alias("plain"), skeleton_expr(p).alias("skeleton"), token_expr(p).alias("token"))
    for column in ("plain", "skeleton", "token"):
        wrong = s.filter(got[column] != want[column]).head(5).to_list()
        assert not wrong, f"{column} differs for {wrong!r}"
