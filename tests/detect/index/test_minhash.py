"""MinHash LSH finds planted near-duplicate titles, leaves unrelated ones, and is deterministic."""

from __future__ import annotations

import pickle

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from counterwatch.detect.index.minhash import TextIndex, _signature_compiled, s_curve, signature_one, signatures

WORDS = (
    "leather handbag wallet sneakers running shoes watch automatic steel diver chronograph silk scarf "
    "sunglasses polarized belt buckle perfume eau de parfum backpack travel hoodie cotton jacket "
    "down vintage classic limited edition original box gift"
).split()
CJK = "男女款真皮手提包钱包运动鞋跑步手表机械钢潜水计时丝巾太阳镜偏光皮带香水背包旅行卫衣棉夹克羽绒复古经典限量原装礼盒"


def titles(rng, n):
    out = []
    for i in range(n):
        if i % 3 == 0:
            out.append("".join(rng.choice(list(CJK), 14)) + f" {i}")
        else:
            out.append(" ".join(rng.choice(WORDS, 7)) + f" model {i:05d}")
    return out


def edit(rng, text, k):
    chars = list(text)
    for p in rng.choice(len(chars), k, replace=False):
        chars[p] = chr(ord("a") + int(rng.integers(26))) if chars[p].isascii() else rng.choice(list(CJK))
    return "".join(chars)


def jaccard(x, y):
    sx = {x[i : i + 3] for i in range(len(x) - 2)}
    sy = {y[i : i + 3] for i in range(len(y) - 2)}
    return len(sx & sy) / len(sx | sy)


def test_finds_planted_near_duplicates_and_not_unrelated():
    rng = np.random.default_rng(3)
    indexed = titles(rng, 3000)
    index = TextIndex.build(indexed, np.arange(3000) * 10)
    planted = rng.choice(3000, 500, replace=False)
    queries = [edit(rng, indexed[i].upper(), 2) for i in planted]
    best, _ = index.query(queries)
    true = np.array([jaccard(indexed[i].lower(), q.lower()) for i, q in zip(planted, queries, strict=True)])
    close = true >= 0.7  # the S-curve gives P(candidate) >= 0.99 from J = 0.7
    assert close.sum() > 200 and np.mean(best[close] == planted[close] * 10) >= 0.98
    assert np.mean(best == planted * 10) >= 0.85  # short Chinese titles lose J fast: 2 edits of 14 characters
    unrelated = ["Bluetooth speaker waterproof portable 20W", "蓝牙音箱防水便携", "", "!!!", None]
    best_u, jac_u = index.query(pl.Series(unrelated))
    assert (best_u[2:] == -1).all() and (jac_u[2:] == 0).all()
    assert ((best_u[:2] == -1) | (jac_u[:2] < 0.4)).all()


def test_identical_text_and_normalisation():
    index = TextIndex.build(["Ｒｏｌｅｘ  Submariner—Date 41mm", "other thing entirely"], np.array([5, 6]))
    best, jac = index.query(["rolex submariner date 41MM"])
    assert best.tolist() == [5] and jac.tolist() == [1.0]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=30))
def test_deterministic_picklable_and_exact_on_self(texts):
    sig_a, has_a = signatures(texts)
    sig_b, has_b = signatures(pl.Series(texts, dtype=pl.String))
    assert np.array_equal(sig_a, sig_b) and np.array_equal(has_a, has_b)
    index = TextIndex.build(texts, np.arange(len(texts)))
    again = pickle.loads(pickle.dumps(index))
    best, jac = index.query(texts)
    best2, jac2 = again.query(texts)
    assert np.array_equal(best, best2) and np.array_equal(jac, jac2)
    assert np.all(jac[has_a] == 1.0) and np.all(best[~has_a] == -1)


def test_estimate_tracks_true_jaccard():
    rng = np.random.default_rng(11)
    a = titles(rng, 400)
    b = [edit(rng, t, 4) for t in a]

    sa, _ = signatures(a)
    sb, _ = signatures(b)
    est = (sa == sb).mean(axis=1)
    true = np.array([jaccard(x.lower(), y.lower()) for x, y in zip(a, b, strict=True)])
    assert abs(float(np.mean(est - true))) < 0.03
    assert float(s_curve(0.8, 16, 4)) > 0.99 and float(s_curve(0.2, 16, 4)) < 0.03


ANY_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cn")), max_size=30) | st.text(
    st.sampled_from(list("abc XYZ_-1２３") + list(CJK[:10])), max_size=12
)


@settings(max_examples=200, deadline=None)
@given(st.lists(ANY_TEXT | st.none(), min_size=1, max_size=8))
def test_single_text_twins_equal_the_column_path(texts):
    """``signature_one``/``query_one`` (one listing at creation) give what the batch path gives."""
    sig, has = signatures(texts)
    for i, t in enumerate(texts):
        one, one_has = signature_one(t)
        assert one_has == bool(has[i])
        assert one == sig[i].tolist()
    rng = np.random.default_rng(len(texts))
    indexed = titles(rng, 300) + [t or "" for t in texts]
    index = TextIndex.build(indexed, np.arange(len(indexed)))
    queries = [*texts, *(edit(rng, t, 2) for t in indexed[:20])]
    payload, jac = index.query(pl.Series(queries, dtype=pl.String), min_jaccard=0.3)
    for q, p, j in zip(queries, payload.tolist(), jac.tolist(), strict=True):
        assert index.query_one(q, min_jaccard=0.3) == (p, j)


# Property tests of the compiled kernels against the plain-Python single-listing path.
EMOJI = "😀👍🏽🇨🇳❤️‍🔥🎁👜⌚️"
SCRIPTS = st.sampled_from(list("abcXYZ019 -_.!é") + list(CJK) + list(EMOJI) + ["ß", "İ", "ﬁ", "Ａ", "\u200b", "\u0301"])
UNICODE_TEXT = (
    st.text(SCRIPTS, max_size=3)  # empty, 1 and 2 characters: shorter than a shingle
    | st.text(SCRIPTS, max_size=60)
    | st.text(st.sampled_from(list(CJK)), min_size=1, max_size=20)
    | st.text(st.sampled_from(list(EMOJI)), min_size=1, max_size=8)
    | st.text(st.characters(exclude_categories=("Cs", "Cn")), max_size=40)
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(UNICODE_TEXT | st.none(), min_size=1, max_size=20),
    st.sampled_from([(64, 3), (8, 1), (16, 2), (128, 5), (32, 4)]),
    st.booleans(),
)
def test_batch_signatures_equal_signature_one(texts, settings_, plain):
    num_perm, shingle = settings_
    sig, has = signatures(pl.Series(texts, dtype=pl.String), num_perm, shingle, plain=plain)
    assert sig.shape == (len(texts), num_perm) and sig.dtype == np.uint32 and has.dtype == bool
    for i, t in enumerate(texts):
        one, one_has = signature_one(t, num_perm, shingle, plain=plain)
        assert (one, one_has) == (sig[i].tolist(), bool(has[i]))
        # the single-listing path's: the kernel on one text's bytes
        assert _signature_compiled(t, num_perm, shingle, plain) == (one, one_has)
    assert (sig[~has] == 0xFFFFFFFF).all()


def test_densification_fallback_equals_signature_one(monkeypatch):
    """When no probe finds a non-empty bin, an empty bin takes the text's first non-empty bin (made to
    happen here with probe sequences that never leave their own bin)."""
    from counterwatch.detect.index import minhash

    def stuck(num_perm):
        return np.broadcast_to(np.arange(num_perm, dtype=np.int64), (16 * num_perm, num_perm))

    monkeypatch.setattr(minhash, "_probe_sequences", stuck)
    monkeypatch.setattr(minhash, "_first_seen", minhash._first_seen.__wrapped__)
    monkeypatch.setattr(minhash, "_probe_lists", minhash._probe_lists.__wrapped__)
    texts = ["ab", "abcdef", "男女款真皮手提包", "x", ""]
    sig, has = minhash.signatures(texts)
    for i, t in enumerate(texts):
        one, one_has = minhash.signature_one(t)
        assert (one, one_has) == (sig[i].tolist(), bool(has[i]))
    assert has[:4].all() and (sig[:4] != 0xFFFFFFFF).all()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(UNICODE_TEXT, min_size=1, max_size=25),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0.0, 0.3, 0.6, 1.0]),
    st.sampled_from([(64, 16, 16), (64, 16, 2), (32, 8, 4), (16, 16, 1)]),
    st.booleans(),
)
def test_batch_query_equals_query_one(texts, seed, min_jaccard, shape, plain):
    """``query`` (compiled kernel) equals ``query_one`` on a small index of random texts, their
    near-duplicates (many bands in common: an item is reached more than once) and exact copies."""
    num_perm, bands, max_bucket = shape
    rng = np.random.default_rng(seed)
    base = [*texts, *titles(rng, 12)]
    near = [edit(rng, t, 1) for t in base if len(t) > 6]
    indexed = [*base, *near, *base[:3]]
    payload = rng.permutation(len(indexed)).astype(np.int64)
    index = TextIndex.build(indexed, payload, num_perm=num_perm, bands=bands, max_bucket=max_bucket, plain=plain)
    queries = [*indexed, *(edit(rng, t, 2) for t in base if len(t) > 6), "", None, "!!!"]
    got_payload, got_jaccard = index.query(pl.Series(queries, dtype=pl.String), min_jaccard=min_jaccard)
    assert got_payload.dtype == np.int64 and got_jaccard.dtype == np.float32
    for q, p, j in zip(queries, got_payload.tolist(), got_jaccard.tolist(), strict=True):
        assert index.query_one(q, min_jaccard=min_jaccard) == (p, j)


def test_query_signatures_checks_the_signature_width():
    index = TextIndex.build(["leather handbag", "silk scarf"], np.arange(2))
    sig, has = signatures(["leather handbag"], num_perm=32)
    with pytest.raises(ValueError, match=r"expected \(n, 64\)"):
        index.query_signatures(sig, has)


@settings(max_examples=200, deadline=None)
@given(st.lists(UNICODE_TEXT | st.none(), min_size=1, max_size=20))
def test_plain_views_need_no_second_nfkc_or_lower_case(texts):
    """The re-listing index takes plain views (``normalize.plain``: NFKC and lower case already done)
    and skips those steps: the same text wherever the plain view is itself NFKC (it is not only
    where folding a look-alike letter leaves a combining mark on a Latin one)."""
    import unicodedata

    from counterwatch.detect.index.minhash import normalise
    from counterwatch.detect.normalize import plain

    views = [plain(t) for t in texts]
    full = normalise(views).to_list()
    short = normalise(views, plain=True).to_list()
    for v, a, b in zip(views, full, short, strict=True):
        if unicodedata.normalize("NFKC", v) == v and v.lower() == v:
            assert a == b
