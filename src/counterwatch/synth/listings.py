"""Listings: counterfeits by tactic, genuine hard negatives, ordinary goods; titles, prices, photos.

Every listing has a *class* (the profile of store that sells it: counterfeit, ordinary, or
one hard-negative kind) and counterfeits a *tactic*. Text is assembled from parts
(lead phrase, brand, product, keyword, tail phrase, filler) drawn per row from the
phrase lists, then joined column-wise, so a million listings need no per-row Python.

Why it is hard: genuine resellers also say "100% authentic"; pre-owned and clearance
goods are cheap; guides say "fake" and "replica"; accessories name the brand; a sixth
of counterfeits have no textual tell and some are priced like the real thing; official
product photos appear in many unrelated genuine stores, while a counterfeit operator's
own photos recur, a few bits apart, across its stores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from counterwatch.synth import phrases as ph
from counterwatch.synth.brands import Products, brand_ids, rates_to_cny
from counterwatch.synth.catalogue import CATALOGUE
from counterwatch.synth.clock import days_before, seconds_before
from counterwatch.synth.config import HARD_NEGATIVES, OBFUSCATIONS, TACTICS, SynthConfig
from counterwatch.synth.hashing import flip_bits, hex_strings, mix64, random_u64
from counterwatch.synth.stores import PROFILES, Stores, brand_weights
from counterwatch.synth.text import choose, join_parts, numbered, obfuscation_pools, pick_in_ranges, strs, weights

CF, ORDINARY = PROFILES.index("counterfeit"), PROFILES.index("ordinary")
HN = {k: PROFILES.index(k) for k in HARD_NEGATIVES}
_CJK = re.compile(r"[\u4e00-\u9fff]")
GENERIC_BRANDS = ("无品牌", "Generic", "OEM", "自制", "其他", "no brand")
PHOTO_SOURCES = ("fresh", "operator_pool", "official")


@dataclass
class Listings:
    table: pl.DataFrame  # the contract's columns
    truth: pl.DataFrame  # truth/listings.csv
    store: np.ndarray  # store index (into the Stores arrays)
    cls: np.ndarray  # index into PROFILES
    counterfeit: np.ndarray
    brand: np.ndarray  # catalogue index, -1 for none
    price: np.ndarray
    currency: np.ndarray
    created_seconds: np.ndarray  # seconds before the reference date


def plan_listings(n: int, cfg: SynthConfig) -> tuple[dict[str, int], int]:
    """Listings per class, and how many ordinary listings sit in counterfeit stores as cover."""
    n_cf = round(n * cfg.counterfeit_share)
    n_genuine = n - n_cf
    hn_w = weights(cfg.hard_negative_shares, HARD_NEGATIVES)
    hn = np.floor(n_genuine * cfg.hard_negative_share * hn_w).astype(int)
    counts = {"counterfeit": n_cf, **{k: int(c) for k, c in zip(HARD_NEGATIVES, hn, strict=False)}}
    counts["ordinary"] = n_genuine - int(hn.sum())
    cover = min(round(n_cf * cfg.cover_share), counts["ordinary"])
    return counts, cover


def stores_needed(counts: dict[str, int], cover: int, cfg: SynthConfig) -> dict[str, int]:
    """How many stores each profile needs for its listings (at least one where it has any)."""
    out = {}
    for name, c in counts.items():
        total, per = (c + cover, cfg.counterfeit_listings_per_store) if name == "counterfeit" else (
            c - (cover if name == "ordinary" else 0), cfg.listings_per_store)  # fmt: skip
        out[name] = int(np.ceil(total / per)) if total > 0 else 0
    return out


def _ranges(groups: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flatten lists of strings into (values, start, count)."""
    count = np.array([len(g) for g in groups])
    return np.array([v for g in groups for v in g], dtype=object), np.cumsum(count) - count, count


def _mentions_brand(text: str, names: list[str]) -> bool:
    low = text.casefold()
    return any((n.casefold() in low.split() if len(n) <= 3 else n.casefold() in low) for n in names)


def _brandless_keywords(products: Products) -> list[list[str]]:
    """Per product, the keywords that do not name the brand (the ``brandless_keywords`` tactic)."""
    out = []
    for i, kws in enumerate(products.keywords):
        entry = CATALOGUE[products.brand[i]]
        names = [entry.name, *entry.aliases]
        clean = [k for k in kws if not _mentions_brand(k, names)]
        out.append(clean or [k for k in kws if k.isascii()] or list(kws))
    return out


def _assign_stores(rng: np.random.Generator, cls: np.ndarray, cover: np.ndarray, stores: Stores) -> np.ndarray:
    store = np.empty(len(cls), dtype=np.int64)
    for p in range(len(PROFILES)):
        rows = np.flatnonzero((cls == p) & ~cover) if p != CF else np.flatnonzero((cls == CF) | cover)
        if len(rows) == 0:
            continue
        candidates = np.flatnonzero(stores.profile == p)
        w = stores.weight[candidates]
        store[rows] = candidates[rng.choice(len(candidates), size=len(rows), p=w / w.sum())]
    return store


def _prices(
    rng: np.random.Generator, cfg: SynthConfig, cls: np.ndarray, ref_cny: np.ndarray, ordinary_cny: np.ndarray
) -> np.ndarray:
    """Price in CNY: counterfeits mostly far below reference, some premium fakes close to it."""
    n = len(cls)
    u = rng.random(n)
    ratio = np.select(
        [cls == HN["authorized"], cls == HN["reseller"], cls == HN["pre_owned"], cls == HN["clearance"]],
        [rng.uniform(0.92, 1.05, n), rng.uniform(0.8, 0.97, n), rng.uniform(0.3, 0.8, n), rng.uniform(0.35, 0.7, n)],
        np.clip(rng.lognormal(np.log(0.12), 0.55, n), 0.02, 0.45),
    )  # fmt: skip
    ratio = np.where((cls == CF) & (u < cfg.premium_fake_share), rng.uniform(0.5, 0.9, n), ratio)
    cny = ref_cny * ratio
    cny = np.where(cls == HN["accessory"], np.clip(rng.lognormal(np.log(60), 0.7, n), 9, 600), cny)
    cny = np.where(cls == HN["guide"], rng.uniform(9, 59, n), cny)
    return np.where(cls == ORDINARY, ordinary_cny * rng.lognormal(0, 0.35, n), cny)


def _local_price(cny: np.ndarray, currency: np.ndarray) -> np.ndarray:
    """Convert to the store's currency and round as shops do (whole yen and won, cents elsewhere, ¥ x9)."""
    local = cny / rates_to_cny(currency)
    whole = np.isin(currency, ["JPY", "KRW"])
    cents = np.round(local, 2)
    yuan = np.maximum(np.floor(local / 10) * 10 + 9, 1.0)
    cny_style = np.where(local < 30, np.maximum(cents, 0.5), yuan)
    return np.where(
        whole, np.maximum(np.round(local, 0), 1.0), np.where(currency == "CNY", cny_style, np.maximum(cents, 0.5))
    )


def _image_hashes(
    rng: np.random.Generator,
    cfg: SynthConfig,
    cls: np.ndarray,
    operator: np.ndarray,
    product: np.ndarray,
    op_stores: np.ndarray,
    salt: int,
) -> tuple[pa.Array, np.ndarray]:
    """1-5 pHashes per listing and where they came from (fresh, the operator's pool, official photos)."""
    n = len(cls)
    u = rng.random(n)
    source = np.zeros(n, dtype=np.int64)
    source[(cls == CF) & (u < cfg.photo_reuse_share)] = 1
    source[(cls == CF) & (u >= cfg.photo_reuse_share) & (u < cfg.photo_reuse_share + 0.1)] = 2  # stolen official shots
    official_ok = (cls == HN["authorized"]) | (cls == HN["reseller"]) | (cls == HN["clearance"])
    source[official_ok & (u < cfg.official_photo_share)] = 2
    counts = rng.integers(1, 6, n)
    row = np.repeat(np.arange(n), counts)
    m = len(row)
    pool_size = 3 + 2 * op_stores[row]  # a bigger operator shoots more photos
    pool_idx = (rng.random(m) * pool_size).astype(np.uint64)
    op_key = mix64(np.uint64(salt) ^ (operator[row].astype(np.uint64) * np.uint64(4096) + pool_idx))
    j = (np.arange(m) - np.repeat(np.cumsum(counts) - counts, counts)).astype(np.uint64)
    official_key = mix64(np.uint64(salt + 1) ^ (np.maximum(product[row], 0).astype(np.uint64) * np.uint64(16) + j))
    base = np.select([source[row] == 1, source[row] == 2], [op_key, official_key], random_u64(rng, m))
    hashes = np.where(source[row] == 0, base, flip_bits(rng, base, 4))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), hex_strings(hashes)), source


def build_listings(rng: np.random.Generator, cfg: SynthConfig, n: int, stores: Stores, products: Products) -> Listings:
    counts, n_cover = plan_listings(n, cfg)
    cls = rng.permutation(np.repeat([PROFILES.index(k) for k in counts], list(counts.values())))
    cover = np.zeros(n, dtype=bool)
    cover[rng.choice(np.flatnonzero(cls == ORDINARY), size=n_cover, replace=False)] = True
    store = _assign_stores(rng, cls, cover, stores)
    is_cf = cls == CF
    tactic = np.full(n, -1)
    tactic[is_cf] = rng.choice(len(TACTICS), int(is_cf.sum()), p=weights(cfg.tactic_shares, TACTICS))
    t = {name: tactic == i for i, name in enumerate(TACTICS)}

    # Brand and product: counterfeiters copy their operator's focus brands; licensees sell their own.
    brand = rng.choice(len(CATALOGUE), n, p=brand_weights())
    focus_pick = stores.focus[store, (rng.random(n) * stores.n_focus[store]).astype(np.int64)]
    brand = np.where(is_cf, focus_pick, np.where(cls == HN["authorized"], stores.brand[store], brand))
    brand = np.where(cls == ORDINARY, -1, brand)
    b0 = np.maximum(brand, 0)
    product = np.where(brand >= 0, pick_in_ranges(rng, products.start[b0], products.count[b0]), -1)
    p0 = np.maximum(product, 0)
    good = rng.integers(0, len(ph.ORDINARY_GOODS), n)

    # Brand as written: canonical, an alias in any script, or (obfuscated tactic) a disguise.
    names, n_start, n_count = _ranges([[e.name, *e.aliases] for e in CATALOGUE])
    zh, z_start, z_count = _ranges([[a for a in e.aliases if _CJK.search(a)] or [e.name] for e in CATALOGUE])
    written = names[pick_in_ranges(rng, n_start[b0], n_count[b0])]
    zh_written = zh[pick_in_ranges(rng, z_start[b0], z_count[b0])]
    written = np.where(t["vocab_zh"] & (rng.random(n) < 0.6), zh_written, written)
    pool, o_start, o_count = obfuscation_pools(CATALOGUE, rng)
    obf = np.full(n, -1)
    obf[t["obfuscated_brand"]] = rng.choice(len(OBFUSCATIONS), int(t["obfuscated_brand"].sum()),
                                           p=weights(cfg.obfuscation_shares, OBFUSCATIONS))  # fmt: skip
    o0 = np.maximum(obf, 0)
    disguised = pool[pick_in_ranges(rng, o_start[b0, o0], o_count[b0, o0])]
    written = np.where(t["obfuscated_brand"], disguised, written)

    kw, k_start, k_count = _ranges([list(k) for k in products.keywords])
    bl, bl_start, bl_count = _ranges(_brandless_keywords(products))
    keyword = np.where(t["brandless_keywords"], bl[pick_in_ranges(rng, bl_start[p0], bl_count[p0])],
                       kw[pick_in_ranges(rng, k_start[p0], k_count[p0])])  # fmt: skip
    prod_name = products.name[p0]
    brandless_name_ok = np.array([not _mentions_brand(nm, [CATALOGUE[b].name, *CATALOGUE[b].aliases])
                                  for nm, b in zip(products.name, products.brand, strict=False)])  # fmt: skip

    title, description, tell_in_desc = _texts(rng, cfg, cls, t, written, prod_name, keyword,
                                              brandless_name_ok[p0], good)  # fmt: skip

    ordinary_cny = np.array([g[2] for g in ph.ORDINARY_GOODS], dtype=float)[good]
    ref_cny = products.price_cny[p0]
    cny = _prices(rng, cfg, cls, ref_cny, ordinary_cny)
    currency = stores.currency[store]
    price = _local_price(cny, currency)
    created = days_before(rng, n, 5, 380)
    stock = np.select([cls == HN["pre_owned"], cls == HN["authorized"], is_cf],
                      [rng.integers(0, 2, n), rng.integers(5, 2000, n), rng.zipf(1.6, n).clip(0, 5000) * 10],
                      rng.integers(0, 400, n))  # fmt: skip
    op_stores = np.bincount(stores.operator)[stores.operator]
    images, photo_source = _image_hashes(rng, cfg, cls, stores.operator[store], product, op_stores[store],
                                         salt=int(rng.integers(0, 2**31)))  # fmt: skip

    category = np.where(brand >= 0, products.category[p0],
                        np.array([g[1] for g in ph.ORDINARY_GOODS], dtype=object)[good])  # fmt: skip
    accessories = strs(category).str.replace(r"/.*$", "/accessories").to_numpy().astype(object)
    category = np.where(cls == HN["accessory"], accessories, category)
    category = np.where(cls == HN["guide"], "books/guides", category)

    listing_ids = numbered("L", np.arange(1, n + 1), 7)
    table = pl.DataFrame(
        {
            "listing_id": strs(listing_ids),
            "store_id": strs(stores.store_id[store]),
            "title": title,
            "description": description,
            "category": strs(category),
            "brand": strs(_declared_brand(rng, cls, brand, written)),
            "price": pl.Series(price, dtype=pl.Float64),
            "currency": strs(currency),
            "stock": pl.Series(stock, dtype=pl.Int64),
            "created_at": seconds_before(cfg.reference_date, created),
            "image_hashes": pl.Series(images),
        }
    )
    hn_name = np.array(["", "", *HARD_NEGATIVES], dtype=object)[cls]
    truth = pl.DataFrame(
        {
            "listing_id": strs(listing_ids),
            "is_counterfeit": pl.Series(is_cf, dtype=pl.Boolean),
            "tactic": strs(np.array(["", *TACTICS], dtype=object)[tactic + 1]),
            "hard_negative": strs(hn_name),
            "obfuscation": strs(np.array(["", *OBFUSCATIONS], dtype=object)[obf + 1]),
            "tell_in_description": pl.Series(tell_in_desc, dtype=pl.Boolean),
            "cover": pl.Series(cover, dtype=pl.Boolean),
            "brand_id": strs(np.where(brand >= 0, brand_ids()[b0], "")),
            "product_id": strs(np.where(product >= 0, products.product_id[p0], "")),
            "price_ratio": pl.Series(np.where(brand >= 0, np.round(cny / ref_cny, 4), np.nan)).fill_nan(None),
            "photo_source": strs(np.array(PHOTO_SOURCES, dtype=object)[photo_source]),
        }
    )
    return Listings(table=table, truth=truth, store=store, cls=cls, counterfeit=is_cf, brand=brand,
                    price=price, currency=currency, created_seconds=created)  # fmt: skip


def _phrases_by_class(
    rng: np.random.Generator, n: int, groups: list[tuple[np.ndarray, tuple[str, ...], float]]
) -> np.ndarray:
    """For each ``(rows, phrases, chance)``: those rows get a phrase with probability ``chance``."""
    out = np.full(n, None, dtype=object)
    for rows, options, chance in groups:
        idx = np.flatnonzero(rows & (rng.random(n) < chance))
        out[idx] = choose(rng, len(idx), options)
    return out


def _templated(
    rng: np.random.Generator, rows: np.ndarray, templates: tuple[str, ...], subject: np.ndarray
) -> np.ndarray:
    """``template.format(subject)`` for the given rows, vectorised as left + subject + right."""
    idx = np.flatnonzero(rows)
    which = rng.integers(0, len(templates), len(idx))
    left = np.array([t.split("{}")[0] for t in templates], dtype=object)[which]
    right = np.array([t.split("{}")[1] for t in templates], dtype=object)[which]
    return join_parts([left, subject[idx], right], sep="").to_numpy()


def _texts(
    rng: np.random.Generator,
    cfg: SynthConfig,
    cls: np.ndarray,
    t: dict[str, np.ndarray],
    written: np.ndarray,
    prod_name: np.ndarray,
    keyword: np.ndarray,
    brandless_name_ok: np.ndarray,
    good: np.ndarray,
) -> tuple[pl.Series, pl.Series, np.ndarray]:
    """Titles and descriptions for every listing; also which counterfeits hide their tell in the description."""
    n = len(cls)
    is_cf = cls == CF
    vocab = t["vocab_en"] | t["vocab_zh"]
    tell_in_desc = vocab & (rng.random(n) < cfg.tell_in_description_share)
    tell = _phrases_by_class(rng, n, [
        (t["vocab_en"], ph.VOCAB_EN, 1.0), (t["vocab_zh"], ph.VOCAB_ZH, 1.0), (t["dupe"], ph.DUPE, 1.0),
        (t["obfuscated_brand"], ph.AUTHENTIC_CLAIMS, 0.3), (t["brandless_keywords"], ph.AUTHENTIC_CLAIMS, 0.2),
        (t["no_text_tell"], ph.AUTHENTIC_CLAIMS, 0.4), (cls == HN["authorized"], ph.AUTHORIZED, 0.5),
        (cls == HN["reseller"], ph.RESELLER + ph.AUTHENTIC_CLAIMS, 0.7), (cls == HN["pre_owned"], ph.PRE_OWNED, 1.0),
        (cls == HN["clearance"], ph.CLEARANCE, 1.0),
    ])  # fmt: skip
    title_tell = np.where(tell_in_desc, None, tell)
    # Chinese shops fence the selling point in 【】.
    bracket = strs(title_tell).str.contains(r"[\u4e00-\u9fff]").fill_null(False).to_numpy()
    bracket &= rng.random(n) < 0.35
    title_tell = np.where(
        bracket, np.char.add(np.char.add("【", title_tell.astype(str)), "】").astype(object), title_tell
    )
    lead_first = rng.random(n) < 0.45
    lead = np.where(lead_first, title_tell, None)
    tail = np.where(lead_first, None, title_tell)

    branded = (cls != ORDINARY) & (cls != HN["accessory"]) & (cls != HN["guide"])
    brand_part = np.where(branded & ~t["brandless_keywords"], written, None)
    show_name = np.where(t["brandless_keywords"], brandless_name_ok & (rng.random(n) < 0.7), rng.random(n) < 0.8)
    prod_part = np.where(branded & show_name, prod_name, None)
    kw_part = np.where(branded & (t["brandless_keywords"] | (rng.random(n) < 0.5)), keyword, None)
    filler = np.where(rng.random(n) < 0.5, choose(rng, n, ph.FILLER), None)

    subject = join_parts([written, prod_name]).to_numpy()
    special = np.full(n, None, dtype=object)
    special[cls == HN["accessory"]] = _templated(rng, cls == HN["accessory"], ph.ACCESSORY, subject)
    special[cls == HN["guide"]] = _templated(rng, cls == HN["guide"], ph.GUIDE, written)
    ordinary = cls == ORDINARY
    adjective = np.where(ordinary & (rng.random(n) < 0.5), choose(rng, n, ph.ADJECTIVES), None)
    goods = np.where(ordinary, np.array([g[0] for g in ph.ORDINARY_GOODS], dtype=object)[good], None)
    title = join_parts([lead, adjective, special, brand_part, prod_part, goods, kw_part,
                        tail, filler])  # fmt: skip

    desc_lead = _phrases_by_class(rng, n, [
        (tell_in_desc, ph.VOCAB_EN + ph.VOCAB_ZH, 1.0), (is_cf & ~tell_in_desc, ph.AUTHENTIC_CLAIMS, 0.3),
        (cls == HN["pre_owned"], ph.PRE_OWNED, 0.8),
        (cls == HN["accessory"], ("Not affiliated with the brand; name used for compatibility only.", "非原装，仅做兼容。"), 0.7),
        (cls == HN["guide"], ("Learn the tells of a replica: stitching, serial numbers, fonts.", "教你识别高仿和A货。"), 0.8),
        (cls == HN["reseller"], ("Purchased from the official boutique, receipt included.", "专柜购入，附小票。"), 0.5),
    ])  # fmt: skip
    empty = (rng.random(n) < cfg.description_empty_share) & (desc_lead == None)
    s1 = np.where(empty, None, choose(rng, n, ph.DESCRIPTION))
    s2 = np.where(empty | (rng.random(n) < 0.5), None, choose(rng, n, ph.DESCRIPTION))
    description = join_parts([desc_lead, s1, s2])
    return title, description, tell_in_desc


def _declared_brand(rng: np.random.Generator, cls: np.ndarray, brand: np.ndarray, written: np.ndarray) -> np.ndarray:
    """The brand field as sellers fill it: canonical, empty, misspelt, or a generic word."""
    n = len(cls)
    canonical = np.array([e.name for e in CATALOGUE], dtype=object)[np.maximum(brand, 0)]
    generic = choose(rng, n, GENERIC_BRANDS)
    u = rng.random(n)
    cf = np.select([u < 0.4, u < 0.75, u < 0.9], [canonical, "", written], generic)
    genuine_branded = np.select([u < 0.85, u < 0.95], [canonical, written], "")
    accessory = np.select([u < 0.5, u < 0.8], ["", generic], canonical)
    ordinary = np.where(u < 0.7, "", generic)
    return np.select(
        [cls == CF, cls == HN["accessory"], cls == HN["guide"], cls == ORDINARY],
        [cf, accessory, "", ordinary],
        genuine_branded,
    ).astype(object)
