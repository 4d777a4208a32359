"""The plain peer of ``counterwatch scan``: the same signals, the way most teams would first write them.

pandas rows, Python ``re``, scikit-learn. Everything a competent engineer would do is done:
every regex is compiled once, the brand registry, vocabulary and rates are read once, folding
uses ``str.translate`` tables rather than per-character loops, the row loop is ``itertuples``
(several times faster than ``df.apply(axis=1)``), and the relational parts (store context,
product medians) are vectorised pandas ``groupby``s. What is per row is per row in Python:

- text folding: ``unicodedata.normalize('NFKC')``, zero-width removal, lower case, a
  Cyrillic/Greek confusables table, then for the brand view NFKD accent stripping, a
  digit-for-letter table, separators to spaces and doubled letters collapsed;
- brand mention: a compiled alternation of every brand name and alias (folded) over the folded
  title and declared brand, a Han alternation for Chinese aliases inside unsegmented text, runs
  of single letters (``G.U.C.C.I``) squeezed and looked up, one-edit misspellings by dict lookup
  of the folded words (the variant list is built once with ``counterwatch.detect.catalog.misspellings``),
  and names as plain words in the description; authorized stores from ``brands.json``;
- counterfeit vocabulary: one ``re`` alternation per phrase class of
  ``counterwatch.detect.vocabulary.load_vocabulary()`` (counterfeit and dupe terms kept as lists,
  the harmless contexts -- guide, accessory, pre-owned, clearance, official -- as flags);
- product line: every run of up to k words of title and description probed in a keyword -> products
  dict (faster than a ``re`` alternation of the keywords), hits tallied per product, the named
  brand's products first;
- price: price times the currency's rate against the product's reference price in the base currency;
- store context (share of a store's other listings flagged, labelled counterfeits, store age) and
  each product's median price ratio with pandas ``groupby``;
- the score: scikit-learn ``StandardScaler`` + ``LogisticRegression`` over the same feature names as ours, fitted on the
  labelled listings of the sample (latest label per listing), ``predict_proba`` for every listing,
  bands at the workspace's thresholds, a list of reason sentences per listing, ``to_parquet``.

Not done by the peer (which flatters it): photo reuse (Hamming-distance search of image hashes)
and re-listing (near-duplicate titles); a plain version of either is a scan of all pairs.

It runs on a sample (the first ``--sample`` listings, default 50,000), and its time is meant to
be extrapolated per listing: a per-row loop is linear, so seconds / sample x N is its cost for N
listings. Building the regexes and tables (``setup_seconds``) is reported apart and not counted
per listing, which flatters it again.

    python bench/peer_scan.py WORKSPACE --sample 50000    # prints one JSON line
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import resource
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

HAN_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# The same folding tables as counterwatch's own views: the peer differs in how it runs, not in what it knows.
from counterwatch.detect.normalize import CONFUSABLES, ZERO_WIDTH  # noqa: E402
from counterwatch.detect.normalize import LEET as DIGIT_FOR_LETTER  # noqa: E402

MIN_IMPLIED_HITS = 2
LISTED = ("counterfeit", "dupe")
FLAGS = ("authentic_claim", "guide", "accessory", "pre_owned", "clearance", "authorized")


class Folding:
    """Compiled once: the folding tables and regexes every row goes through."""

    def __init__(self) -> None:
        self.zero_width = re.compile(ZERO_WIDTH)
        self.confusables = str.maketrans(CONFUSABLES)
        self.confusable_chars = re.compile("[" + "".join(CONFUSABLES) + "]")
        self.leet = str.maketrans(DIGIT_FOR_LETTER)
        self.space = re.compile(r"\s+")
        self.han_run = re.compile(f"([{HAN_CLASS}]+)")
        self.not_token = re.compile(f"[^a-z0-9{HAN_CLASS}]+")
        self.not_word = re.compile(r"[\W_]+")
        self.double = re.compile(r"([a-z])\1")
        self.latin = re.compile(r"[a-z]")

    def plain(self, text: str) -> str:
        t = unicodedata.normalize("NFKC", text)
        t = self.zero_width.sub("", t).lower().translate(self.confusables)
        return self.space.sub(" ", t)

    def skeleton(self, plain: str) -> str:
        t = "".join(c for c in unicodedata.normalize("NFKD", plain) if not unicodedata.combining(c))
        t = self.han_run.sub(r" \1 ", t.translate(self.leet))
        t = self.not_token.sub(" ", t)
        t = self.double.sub(r"\1", self.double.sub(r"\1", t))
        return " " + t.strip() + " "

    def words(self, plain: str) -> str:
        t = self.han_run.sub(r" \1 ", self.not_word.sub(" ", plain))
        return " " + " ".join(t.split()) + " "


def _alternation(phrases: list[str], word_boundaries: bool = True) -> re.Pattern[str]:
    parts = []
    for p in sorted(set(phrases), key=len, reverse=True):
        esc = re.escape(p)
        if word_boundaries and not re.search(f"[{HAN_CLASS}]", p):
            left = r"(?<![a-z0-9])" if p[0].isalnum() else ""
            right = r"(?![a-z0-9])" if p[-1].isalnum() else ""
            esc = f"{left}{esc}{right}"
        parts.append(esc)
    return re.compile("|".join(parts))


class Registry:
    """Brands, products, vocabulary and rates, compiled once."""

    def __init__(self, ws: Path, fold: Folding) -> None:
        import pandas as pd

        from counterwatch.config import load_settings
        from counterwatch.detect.catalog import misspellings
        from counterwatch.detect.vocabulary import load_vocabulary

        settings = load_settings(ws)
        self.base = settings.workspace.base_currency
        self.block, self.review = settings.detect.block_at, settings.detect.review_at
        fx = pd.read_parquet(ws / "out" / "tables" / "fx_rates.parquet")
        self.fx = dict(zip(fx["currency"], fx["to_base"].astype(float), strict=True))
        self.fx[self.base] = 1.0
        brands = json.loads((ws / "brands.json").read_text(encoding="utf-8"))
        if isinstance(brands, dict):
            brands = brands["brands"]
        self.brand_ids = [b["brand_id"] for b in brands]
        self.brand_names = [b["name"] for b in brands]
        self.skel_to_brand: dict[str, int] = {}
        self.han_to_brand: dict[str, int] = {}
        self.word_to_brand: dict[str, int] = {}
        self.misspelt: dict[str, int] = {}
        self.plain_names: list[list[str]] = []
        self.authorized: set[tuple[str, str]] = set()
        han = re.compile(f"[{HAN_CLASS}]")
        for i, b in enumerate(brands):
            names = [b["name"], *b.get("aliases", [])]
            self.plain_names.append([fold.plain(n).strip() for n in names])
            self.authorized.update((s, b["brand_id"]) for s in b.get("authorized_stores", []))
            for n in names:
                if han.search(n):
                    self.han_to_brand.setdefault(fold.plain(n).strip(), i)
                    continue
                self.skel_to_brand.setdefault(fold.skeleton(fold.plain(n)).strip(), i)
                self.word_to_brand.setdefault(fold.words(fold.plain(n)).strip(), i)
        for i, b in enumerate(brands):
            for n in [b["name"], *b.get("aliases", [])]:
                if not han.search(n) and len(fold.skeleton(fold.plain(n)).replace(" ", "")) >= 4:
                    for v in misspellings(n):
                        if v not in self.skel_to_brand:
                            self.misspelt.setdefault(v, i)
        self.brand_re = _alternation(list(self.skel_to_brand))
        self.han_re = _alternation(list(self.han_to_brand), word_boundaries=False)
        self.word_re = _alternation(list(self.word_to_brand))
        self.runs_re = re.compile(r"(?<![a-z0-9])(?:[a-z] )+[a-z](?![a-z0-9])")
        self.squeezed = {k.replace(" ", ""): v for k, v in self.skel_to_brand.items()}
        self.squeezed.update({k.replace(" ", ""): v for k, v in self.misspelt.items()})
        # products: keyword (as words) -> product rows; reference price in the base currency
        self.products: list[dict[str, Any]] = []
        self.keyword_products: dict[str, list[int]] = {}
        for i, b in enumerate(brands):
            for p in b["products"]:
                rate = self.fx.get(p["currency"])
                self.products.append({"brand_idx": i, "product_id": p["product_id"], "name": p["name"],
                                      "reference_base": None if rate is None else p["reference_price"] * rate})  # fmt: skip
                for kw in {p["name"], *p.get("keywords", [])}:
                    k = fold.words(fold.plain(kw)).strip()
                    if len(k) >= 2:
                        self.keyword_products.setdefault(k, []).append(len(self.products) - 1)
        # keywords are looked up as runs of whole words (a dict probe per run), not a regex alternation
        self.keyword_len = max((len(k.split()) for k in self.keyword_products), default=1)
        voc = load_vocabulary()
        self.vocab = {name: _alternation([fold.plain(p).strip() for p in cls.phrases]) for name, cls in voc.items()}


def listing_signals(r: Any, reg: Registry, fold: Folding) -> tuple[Any, ...]:
    """Every signal of one listing (an ``itertuples`` row), in pure Python."""
    title, desc, declared = r.title or "", r.description or "", r.brand or ""
    tp, dp, bp = fold.plain(title), fold.plain(desc), fold.plain(declared)
    invisible = bool(fold.zero_width.search(title))
    homoglyphs = bool(fold.confusable_chars.search(title.lower())) and bool(fold.latin.search(tp))
    brand_idx = None
    field = how = written = None
    for name, text, pln in (("title", title, tp), ("brand", declared, bp)):
        sk = fold.skeleton(pln)
        m = reg.brand_re.search(sk)
        if m:
            brand_idx, written = reg.skel_to_brand[m.group()], m.group()
            raw = text.lower()
            how = "plain" if any(n in raw for n in reg.plain_names[brand_idx]) else "disguised"
        elif m := reg.han_re.search(pln):
            brand_idx, written, how = reg.han_to_brand[m.group()], m.group(), "plain"
        else:
            for run in reg.runs_re.findall(sk):
                hit = reg.squeezed.get(run.replace(" ", ""))
                if hit is not None:
                    brand_idx, written, how = hit, run, "disguised"
                    break
            else:
                toks = sk.split()
                for t in toks + [a + " " + b for a, b in itertools.pairwise(toks)]:
                    if t in reg.misspelt:
                        brand_idx, written, how = reg.misspelt[t], t, "misspelled"
                        break
        if brand_idx is not None:
            field = name
            break
    dw = fold.words(dp)
    if brand_idx is None and (m := reg.word_re.search(dw) or reg.han_re.search(dp)):
        g = m.group().strip()
        brand_idx = reg.word_to_brand.get(g, reg.han_to_brand.get(g))
        field, how, written = "description", "plain", g
    brand_id = reg.brand_ids[brand_idx] if brand_idx is not None else None
    authorized = brand_id is not None and (r.store_id, brand_id) in reg.authorized
    both = tp + " | " + dp
    counterfeit = list(dict.fromkeys(reg.vocab["counterfeit"].findall(both)))
    dupe = list(dict.fromkeys(reg.vocab["dupe"].findall(both)))
    in_title = reg.vocab["counterfeit"].search(tp) is not None
    flags = [reg.vocab[f].search(both) is not None for f in FLAGS]
    # product line: keyword hits tallied per product, the named brand's own products first
    tally: dict[int, list[int]] = {}
    found = set()
    for toks in (fold.words(tp).split(), dw.split()):  # title and description apart: no run spans both
        for i in range(len(toks)):
            for j in range(i + 1, min(i + reg.keyword_len, len(toks)) + 1):
                run = " ".join(toks[i:j])
                if run in reg.keyword_products:
                    found.add(run)
    for kw in found:
        for p in reg.keyword_products[kw]:
            t = tally.setdefault(p, [0, 0])
            t[0] += 1
            t[1] += len(kw)
    product = hits = implied = None
    if tally:
        best = max(tally, key=lambda p: (reg.products[p]["brand_idx"] == brand_idx, tally[p][0], tally[p][1], -p))
        hits = tally[best][0]
        pbrand = reg.products[best]["brand_idx"]
        if brand_idx is None and hits >= MIN_IMPLIED_HITS:
            implied = reg.brand_ids[pbrand]
        if pbrand == brand_idx or implied is not None:
            product = best
    rate = reg.fx.get(r.currency)
    price_base = r.price * rate if rate is not None and r.price is not None else None
    ref = reg.products[product]["reference_base"] if product is not None else None
    ratio = price_base / ref if price_base is not None and ref else None
    return (r.listing_id, r.store_id, brand_id, field, how, written, authorized, homoglyphs, invisible,
            counterfeit, in_title, dupe, *flags, None if product is None else reg.products[product]["product_id"],
            None if product is None else reg.products[product]["name"], hits, implied, price_base, ref, ratio)  # fmt: skip


COLUMNS = ["listing_id", "store_id", "brand_id", "brand_field", "brand_how", "brand_written", "authorized",
           "homoglyphs", "invisible_chars", "counterfeit_terms", "counterfeit_in_title", "dupe_terms",
           *(f"says_{f}" for f in FLAGS), "product_id", "product_name", "product_hits", "implied_brand_id",
           "price_base", "reference_base", "price_ratio"]  # fmt: skip


def reasons(r: Any, reg: Registry) -> list[str]:
    out = []
    if r.counterfeit_terms:
        out.append("says " + ", ".join(f"'{t}'" for t in r.counterfeit_terms) + " (counterfeit vocabulary)")
    if r.dupe_terms:
        out.append("offers itself as a copy: " + ", ".join(f"'{t}'" for t in r.dupe_terms))
    if r.brand_how in ("disguised", "misspelled"):
        out.append(f"brand '{r.brand_id}' written as '{r.brand_written}'")
    if r.homoglyphs:
        out.append("Cyrillic or Greek look-alike letters inside Latin text")
    if r.price_ratio == r.price_ratio and r.price_ratio is not None and r.price_ratio < 0.6 and not r.says_accessory:
        out.append(f"price {reg.base} {r.price_base:,.0f} is {r.price_ratio:.0%} of the '{r.product_name}' "
                   f"reference {reg.base} {r.reference_base:,.0f}")  # fmt: skip
    if r.store_flagged_share >= 0.2:
        out.append(f"{r.store_flagged_share:.0%} of the store's other listings show counterfeit signs")
    if r.authorized:
        out.append("store is authorized by the brand")
    if r.says_guide:
        out.append("reads as a guide about counterfeits, not an offer of one")
    return out


def peer_scan(ws: Path, sample: int, out: Path) -> dict[str, float]:
    """Score the first ``sample`` listings of ``ws`` the plain way; seconds and peak memory."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    t0 = time.perf_counter()
    fold = Folding()
    reg = Registry(ws, fold)
    setup = time.perf_counter() - t0

    start = time.perf_counter()
    tables = ws / "out" / "tables"
    pf = pq.ParquetFile(tables / "listings.parquet")
    cols = ["listing_id", "store_id", "title", "description", "brand", "price", "currency"]
    parts, n = [], 0
    for batch in pf.iter_batches(batch_size=min(sample, 65_536), columns=cols):
        parts.append(batch.to_pandas())
        n += batch.num_rows
        if n >= sample:
            break
    df = pd.concat(parts, ignore_index=True).head(sample)
    sig = pd.DataFrame([listing_signals(r, reg, fold) for r in df.itertuples(index=False)], columns=COLUMNS)

    # store context and product medians: vectorised pandas
    stores = pd.read_parquet(tables / "stores.parquet", columns=["store_id", "created_at"])
    labels = pd.read_parquet(tables / "labels.parquet")
    latest = labels.sort_values("decided_at").groupby("listing_id").tail(1)
    confirmed = set(latest.loc[latest["label"] == "counterfeit", "listing_id"])
    branded = sig["brand_id"].notna() | sig["implied_brand_id"].notna()
    cheap = branded & (sig["price_ratio"] < 0.35) & ~(sig["says_guide"] | sig["says_accessory"]) & ~sig["authorized"]
    sig["flagged"] = ((sig["counterfeit_terms"].str.len() > 0) | (sig["dupe_terms"].str.len() > 0)
                      | sig["brand_how"].isin(["disguised", "misspelled"]) | sig["homoglyphs"] | cheap) & ~sig["says_guide"]  # fmt: skip
    sig["confirmed"] = sig["listing_id"].isin(confirmed)
    g = sig.groupby("store_id").agg(n=("flagged", "size"), nf=("flagged", "sum"), nc=("confirmed", "sum"))
    sig = sig.join(g, on="store_id")
    sig["store_flagged_share"] = np.where(
        sig["n"] > 1, (sig["nf"] - sig["flagged"]) / (sig["n"] - 1).clip(lower=1), 0.0
    )
    sig["store_confirmed"] = sig["nc"] - sig["confirmed"]
    sig = sig.merge(stores, on="store_id", how="left")
    ref_time = sig["created_at"].max()
    sig["store_age_days"] = ((ref_time - sig["created_at"]).dt.days).fillna(365).clip(0, 3650)
    med = sig.groupby("product_id")["price_ratio"].median().rename("product_median_ratio")
    sig = sig.join(med, on="product_id")

    ratio = sig["price_ratio"].astype(float)
    x = pd.DataFrame({
        "counterfeit_in_title": sig["counterfeit_in_title"], "counterfeit_terms": sig["counterfeit_terms"].str.len(),
        "dupe_terms": sig["dupe_terms"].str.len(), "brand_named": sig["brand_id"].notna(),
        "brand_implied": sig["brand_id"].isna() & sig["implied_brand_id"].notna(),
        "brand_disguised": sig["brand_how"] == "disguised", "brand_misspelled": sig["brand_how"] == "misspelled",
        "brand_in_title": sig["brand_field"] == "title", "homoglyphs": sig["homoglyphs"],
        "invisible_chars": sig["invisible_chars"], "authorized_store": sig["authorized"],
        **{f"says_{f}": sig[f"says_{f}"] for f in FLAGS},
        "product_hits": sig["product_hits"].fillna(0), "has_price_ratio": ratio.notna(),
        "log_price_ratio": np.log(ratio.clip(1e-4, 100)).fillna(0.0),
        "log_ratio_vs_product": (np.log(ratio.clip(1e-4, 100))
                                 - np.log(sig["product_median_ratio"].astype(float).clip(1e-4, 100))).fillna(0.0),
        "store_flagged_share": sig["store_flagged_share"], "store_confirmed": sig["store_confirmed"],
        "store_log_listings": np.log1p(sig["n"]), "store_age_days": sig["store_age_days"],
    }).astype(float)  # fmt: skip
    y = sig[["listing_id"]].merge(latest[["listing_id", "label"]], on="listing_id", how="left")["label"]
    labelled = y.notna().to_numpy()
    yl = (y[labelled] == "counterfeit").to_numpy()
    trained = bool(labelled.sum() and 0 < yl.sum() < len(yl))
    if trained:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x.to_numpy()[labelled], yl)
        risk = model.predict_proba(x.to_numpy())[:, 1]
    else:  # too few labels in the sample: a fixed linear score, as a fallback
        risk = 1 / (1 + np.exp(-(3 * x["counterfeit_in_title"] + 2 * x["counterfeit_terms"] - 6)))
    sig["risk"] = risk
    sig["band"] = np.where(risk >= reg.block, "block", np.where(risk >= reg.review, "review", "allow"))
    needed = ["counterfeit_terms", "dupe_terms", "brand_id", "brand_how", "brand_written", "homoglyphs", "price_ratio",
              "price_base", "reference_base", "product_name", "says_accessory", "says_guide", "store_flagged_share",
              "authorized"]  # fmt: skip
    sig["reasons"] = [reasons(r, reg) for r in sig[needed].itertuples(index=False)]
    keep = ["listing_id", "store_id", "risk", "band", "reasons", *COLUMNS[2:], "store_flagged_share", "store_confirmed"]
    out.parent.mkdir(parents=True, exist_ok=True)
    sig[keep].to_parquet(out, index=False)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "setup_seconds": setup,
        "rows": len(sig),
        "labelled": int(labelled.sum()),
        "trained": trained,
        "block": int((sig["band"] == "block").sum()),
        "review": int((sig["band"] == "review").sum()),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--sample", type=int, default=50_000)
    parser.add_argument(
        "--out", type=Path, default=None, help="scores file (default WORKSPACE/out/peer-scores.parquet)"
    )
    args = parser.parse_args()
    out = args.out or args.workspace / "out" / "peer-scores.parquet"
    print(json.dumps(peer_scan(args.workspace, args.sample, out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
