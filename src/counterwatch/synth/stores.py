"""Operators, their stores, and the identifiers that (sometimes) give them away.

The model: a real-world *operator* runs one or more stores. Counterfeit operators run
many (heavy-tailed: most 1-3, a few dozens or more) and hide the tie: a *hub* operator
reuses some of its phones, accounts and places across stores at random; a *chain*
operator gives each store fresh identifiers except one shared with the store opened
before it (A shares a phone with B, B a bank account with C), so only transitive
linking finds the whole operator. Legitimate sellers mostly run one store; the few with
several share their identity openly. Decoys (a fulfilment warehouse, a courier's
hotline, 王伟) are shared by many unrelated stores and must not merge them;
placeholders (``000000``, ``n/a``) are valid rows that carry no identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from counterwatch.contract.schema import IDENTIFIER_KINDS
from counterwatch.synth.catalogue import CATALOGUE
from counterwatch.synth.clock import days_before, seconds_before
from counterwatch.synth.config import HARD_NEGATIVES, SynthConfig
from counterwatch.synth.identifiers import RENDERERS, address_city
from counterwatch.synth.phrases import STORE_HEADS, STORE_TAILS
from counterwatch.synth.places import CITIES, COUNTRIES, DECOYS, PLACEHOLDERS
from counterwatch.synth.text import choose, join_parts, numbered, strs

#: What a store mainly sells. Counterfeit stores also sell some ordinary goods as cover.
PROFILES = ("counterfeit", "ordinary", *HARD_NEGATIVES)
KIND_INDEX = {k: i for i, k in enumerate(IDENTIFIER_KINDS)}
#: Per kind: chance a store has one, chance it has a second.
SLOT_PROBABILITIES = {
    "phone": (1.0, 0.35), "email": (0.95, 0.15), "id_number": (0.5, 0.0), "business_license": (0.6, 0.0),
    "bank_account": (0.8, 0.1), "payment_account": (0.75, 0.1), "address": (1.0, 0.0),
    "return_address": (0.6, 0.0), "warehouse": (0.3, 0.0), "device_id": (0.7, 0.3), "ip": (0.7, 0.3),
    "contact_name": (0.9, 0.0),
}  # fmt: skip
#: Kinds a chain operator's consecutive stores may share (its only tie).
CHAIN_KINDS = ("phone", "email", "bank_account", "payment_account", "address", "device_id", "ip", "id_number")
#: How popular each decoy is: the fulfilment warehouses and the courier hotline are everywhere.
DECOY_WEIGHTS = np.array([3, 2, 1.5, 1.5, 2.5, 1.5, 2, 1.5, 1, 1, 1, 1])
OPERATOR_KEY_BASE = np.uint64(1 << 40)  # operator entities live above the fresh per-store keys
AUTHORIZED_SUFFIXES = ("官方旗舰店", " Official Store", "授权专卖店", " Authorized Dealer", "品牌直营店")
COPYCAT_SUFFIXES = ("工厂店", " Outlet", "折扣店", " Factory Store", "特卖")


@dataclass
class Stores:
    """The stores table plus what the generator (and the truth files) know about each store."""

    table: pl.DataFrame  # the contract's columns, in store-id order
    identifiers: pl.DataFrame  # store_id, kind, value
    store_id: np.ndarray  # per store (generation order, grouped by operator)
    operator: np.ndarray  # operator index
    operator_id: np.ndarray
    profile: np.ndarray  # index into PROFILES
    counterfeit: np.ndarray  # bool
    brand: np.ndarray  # authorized stores' brand, else -1
    focus: np.ndarray  # (stores, 4) brand indices a counterfeit operator copies
    n_focus: np.ndarray
    currency: np.ndarray
    region: np.ndarray
    weight: np.ndarray  # relative number of listings
    pattern: np.ndarray  # single, hub, chain, group (legit multi-store)
    decoys: np.ndarray  # "D01|D05" decoys the store touches, "" for none


def brand_weights() -> np.ndarray:
    """How often a brand is sold (and copied): the catalogue's first entries are the most popular."""
    w = 1.0 / (np.arange(len(CATALOGUE)) % 20 + 3.0)
    return w / w.sum()


def _counterfeit_operator_sizes(rng: np.random.Generator, n_stores: int, cfg: SynthConfig) -> np.ndarray:
    sizes: list[int] = []
    while sum(sizes) < n_stores:
        draw = 1 + np.floor(rng.pareto(cfg.counterfeit_stores_per_operator_alpha, 256) * 1.5).astype(np.int64)
        # A small marketplace cannot hold an operator with most of its stores: cap at a quarter.
        sizes.extend(np.minimum(draw, min(cfg.max_stores_per_operator, max(3, n_stores // 4))).tolist())
    sizes_arr = np.array(sizes, dtype=np.int64)
    keep = int(np.searchsorted(np.cumsum(sizes_arr), n_stores)) + 1
    sizes_arr = sizes_arr[:keep]
    sizes_arr[-1] -= sizes_arr.sum() - n_stores
    return sizes_arr[sizes_arr > 0]


def _legit_operator_sizes(rng: np.random.Generator, n_stores: int, cfg: SynthConfig) -> np.ndarray:
    draw = np.where(rng.random(n_stores) < cfg.legit_multi_store_share, rng.integers(2, 5, n_stores), 1)
    keep = int(np.searchsorted(np.cumsum(draw), n_stores)) + 1
    draw = draw[:keep]
    draw[-1] -= draw.sum() - n_stores
    return draw[draw > 0]


def build_stores(rng: np.random.Generator, cfg: SynthConfig, stores_per_profile: dict[str, int]) -> Stores:
    """Operators and stores for the given number of stores per profile, with identifiers."""
    sizes, op_profile, op_cf = [], [], []
    for p, name in enumerate(PROFILES):
        n = stores_per_profile.get(name, 0)
        if n <= 0:
            continue
        s = _counterfeit_operator_sizes(rng, n, cfg) if name == "counterfeit" else _legit_operator_sizes(rng, n, cfg)
        sizes.append(s)
        op_profile.append(np.full(len(s), p))
        op_cf.append(np.full(len(s), name == "counterfeit"))
    op_sizes = np.concatenate(sizes)
    n_ops, n = len(op_sizes), int(op_sizes.sum())
    operator = np.repeat(np.arange(n_ops), op_sizes)
    rank = np.arange(n) - np.repeat(np.cumsum(op_sizes) - op_sizes, op_sizes)
    profile = np.concatenate(op_profile)[operator]
    cf = np.concatenate(op_cf)[operator]
    op_size = op_sizes[operator]

    # Link pattern per operator: how its stores' identifiers tie together.
    # Exactly the configured share of multi-store counterfeit operators are chains (at least one).
    multi_cf = np.flatnonzero(np.concatenate(op_cf) & (op_sizes > 1))
    k_chain = min(len(multi_cf), max(1, round(len(multi_cf) * cfg.chain_operator_share)))
    op_chain = np.zeros(n_ops, dtype=bool)
    op_chain[rng.choice(multi_cf, size=k_chain, replace=False)] = True
    pattern = np.where(op_size == 1, "single", np.where(~cf, "group", np.where(op_chain[operator], "chain", "hub")))

    # Brands: authorized stores carry one; counterfeit operators copy a few.
    bw = brand_weights()
    op_focus = rng.choice(len(CATALOGUE), size=(n_ops, 4), p=bw)
    op_n_focus = rng.integers(1, 5, n_ops)
    brand = np.where(profile == PROFILES.index("authorized"), rng.choice(len(CATALOGUE), n, p=bw), -1)
    brand = np.where(profile == PROFILES.index("authorized"), op_focus[operator, 0], brand)

    op_ids = numbered("OP", rng.permutation(n_ops) + 1, 5)
    store_ids = numbered("S", rng.permutation(n) + 1, 6)

    # Country per operator; currency follows it.
    countries = list(COUNTRIES)
    p_cf = np.array([COUNTRIES[c][0] for c in countries])
    p_lg = np.array([COUNTRIES[c][1] for c in countries])
    op_country = np.where(
        np.concatenate(op_cf), rng.choice(len(countries), n_ops, p=p_cf / p_cf.sum()),
        rng.choice(len(countries), n_ops, p=p_lg / p_lg.sum()),
    )  # fmt: skip
    country = np.array(countries, dtype=object)[op_country[operator]]
    currency = np.array([COUNTRIES[c][2] for c in countries], dtype=object)[op_country[operator]]

    keys, present = _identifier_slots(rng, cfg, operator, rank, cf, pattern, op_size)
    addr_city = address_city(keys[:, KIND_INDEX["address"], 0], cf)
    foreign_region = np.array(
        [COUNTRIES[c][3][int(u * len(COUNTRIES[c][3]))] if COUNTRIES[c][3] else "" for c, u in
         zip(countries, rng.random(len(countries)), strict=False)], dtype=object)  # fmt: skip
    region = np.where(country == "CN", np.array([c[2] for c in CITIES], dtype=object)[addr_city],
                      foreign_region[op_country[operator]])  # fmt: skip

    identifiers, decoys = _identifier_rows(rng, cfg, keys, present, cf, store_ids)

    seller = rng.choice(90_000_000, size=n, replace=False) + 10_000_000
    first_store = np.cumsum(op_sizes) - op_sizes
    shared_seller = (~cf) | (rng.random(n_ops) < cfg.shared_seller_account_share)[operator]
    seller = np.where(shared_seller, seller[first_store[operator]], seller)

    status_p = np.where(cf[:, None], [0.85, 0.10, 0.05], [0.95, 0.03, 0.02])
    status_idx = (rng.random(n)[:, None] > np.cumsum(status_p, axis=1)).sum(axis=1)
    table = pl.DataFrame(
        {
            "store_id": strs(store_ids),
            "seller_id": strs(numbered("U", seller, 8)),
            "name": _store_names(rng, profile, brand, op_focus[operator, 0]),
            "created_at": seconds_before(cfg.reference_date, days_before(rng, n, 400, 2200)),
            "country": strs(country),
            "region": strs(region),
            "status": strs(np.array(["active", "suspended", "closed"])[status_idx]),
        }
    ).sort("store_id")
    return Stores(
        table=table, identifiers=identifiers, store_id=store_ids, operator=operator,
        operator_id=op_ids[operator], profile=profile, counterfeit=cf, brand=brand,
        focus=op_focus[operator], n_focus=op_n_focus[operator], currency=currency, region=region,
        weight=rng.lognormal(0.0, 1.0, n), pattern=pattern, decoys=decoys,
    )  # fmt: skip


def _store_names(rng: np.random.Generator, profile: np.ndarray, brand: np.ndarray, focus: np.ndarray) -> pl.Series:
    n = len(profile)
    names = np.array([b.name for b in CATALOGUE], dtype=object)
    generic = join_parts([choose(rng, n, STORE_HEADS), choose(rng, n, STORE_TAILS)], sep="")
    number = pl.Series(np.where(rng.random(n) < 0.3, rng.integers(1, 999, n).astype(str), ""), dtype=pl.String)
    generic = (generic + number).to_numpy().astype(object)
    official = join_parts([names[np.maximum(brand, 0)], choose(rng, n, AUTHORIZED_SUFFIXES)], sep="").to_numpy()
    # Some counterfeit stores pose as a brand's outlet: a name a filter cannot tell from a licensee's.
    copycat = join_parts([names[focus], choose(rng, n, COPYCAT_SUFFIXES)], sep="").to_numpy()
    is_cf = profile == PROFILES.index("counterfeit")
    out = np.where(brand >= 0, official, np.where(is_cf & (rng.random(n) < 0.2), copycat, generic))
    return strs(out)


def _identifier_slots(
    rng: np.random.Generator,
    cfg: SynthConfig,
    operator: np.ndarray,
    rank: np.ndarray,
    cf: np.ndarray,
    pattern: np.ndarray,
    op_size: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Entity key and presence per (store, kind, slot 0/1)."""
    n, k = len(operator), len(IDENTIFIER_KINDS)
    probs = np.array([SLOT_PROBABILITIES[kind] for kind in IDENTIFIER_KINDS])  # (k, 2)
    u = rng.random((n, k, 2))
    present = np.stack([u[:, :, 0] < probs[:, 0], (u[:, :, 0] < probs[:, 0]) & (u[:, :, 1] < probs[:, 1])], axis=2)
    keys = np.arange(n * k * 2, dtype=np.uint64).reshape(n, k, 2)  # fresh: one entity per slot
    op_keys = (OPERATOR_KEY_BASE + operator.astype(np.uint64)[:, None, None] * np.uint64(32)
               + np.arange(k * 2, dtype=np.uint64).reshape(1, k, 2))  # fmt: skip
    share_p = np.select([pattern == "group", pattern == "hub"], [0.85, cfg.hub_share_probability], 0.0)
    use_op = rng.random((n, k, 2)) < share_p[:, None, None]
    keys = np.where(use_op, op_keys, keys)

    # Chains: store r shares exactly one identifier with store r-1 (stores are grouped by operator).
    chain = (pattern == "chain") & (rank > 0)
    link_kind = np.array([KIND_INDEX[c] for c in CHAIN_KINDS])[rng.integers(0, len(CHAIN_KINDS), n)]
    rows = np.flatnonzero(chain)
    present[rows, link_kind[rows], 0] = True
    present[rows - 1, link_kind[rows], 0] = True
    for r in range(1, int(rank.max(initial=0)) + 1):  # one vectorised step per rank, not per store
        at = rows[rank[rows] == r]
        keys[at, link_kind[at], 0] = keys[at - 1, link_kind[at], 0]

    # A store's return address is often its own address, spelt differently.
    same = present[:, KIND_INDEX["return_address"], 0] & (rng.random(n) < 0.5)
    keys[same, KIND_INDEX["return_address"], 0] = keys[same, KIND_INDEX["address"], 0]
    return keys, present


def _identifier_rows(
    rng: np.random.Generator,
    cfg: SynthConfig,
    keys: np.ndarray,
    present: np.ndarray,
    cf: np.ndarray,
    store_ids: np.ndarray,
) -> tuple[pl.DataFrame, np.ndarray]:
    """Render every present slot, add decoys and placeholders; return the table and each store's decoys."""
    n = len(cf)
    s_idx, k_idx, j_idx = np.nonzero(present)
    values = np.empty(len(s_idx), dtype=object)
    for kind, render in RENDERERS.items():
        sel = k_idx == KIND_INDEX[kind]
        if not sel.any():
            continue
        values[sel] = render(keys[s_idx[sel], k_idx[sel], j_idx[sel]], cf[s_idx[sel]], rng).to_numpy()

    # Decoys: many legitimate stores (and a few counterfeit ones) use the same warehouse or courier.
    touches = rng.random(n) < np.where(cf, cfg.decoy_counterfeit_store_share, cfg.decoy_store_share)
    d_store = np.flatnonzero(touches)
    d_store = np.concatenate([d_store, d_store[rng.random(len(d_store)) < 0.2]])  # some touch two
    d_which = rng.choice(len(DECOYS), len(d_store), p=DECOY_WEIGHTS / DECOY_WEIGHTS.sum())
    d_kind = np.array([KIND_INDEX[k] for k, _ in DECOYS])[d_which]
    d_value = np.array([v for _, v in DECOYS], dtype=object)[d_which]
    decoy_df = pl.DataFrame({"s": d_store, "d": d_which}).unique().sort("s", "d")
    labels = decoy_df.group_by("s", maintain_order=True).agg(
        ("D" + (pl.col("d") + 1).cast(pl.String).str.zfill(2)).str.join("|").alias("d")
    )
    decoys = np.full(n, "", dtype=object)
    decoys[labels["s"].to_numpy()] = labels["d"].to_numpy()

    # Placeholders: typed to get past a form; valid rows that identify no one.
    p_store = np.flatnonzero(rng.random(n) < cfg.placeholder_share)
    p_kind = rng.integers(0, len(IDENTIFIER_KINDS), len(p_store))
    p_value = np.array(
        [PLACEHOLDERS[IDENTIFIER_KINDS[k]][int(u * len(PLACEHOLDERS[IDENTIFIER_KINDS[k]]))]
         for k, u in zip(p_kind, rng.random(len(p_store)), strict=False)], dtype=object)  # fmt: skip

    store = np.concatenate([s_idx, d_store, p_store])
    kind = np.concatenate([k_idx, d_kind, p_kind])
    order = np.lexsort((kind, store_ids[store]))  # by store id, then kind: how an export lists them
    table = pl.DataFrame(
        {
            "store_id": strs(store_ids[store][order]),
            "kind": strs(np.array(IDENTIFIER_KINDS, dtype=object)[kind][order]),
            "value": strs(np.concatenate([values, d_value, p_value])[order]),
        }
    )
    return table, decoys


def store_truth(stores: Stores) -> pl.DataFrame:
    """``truth/stores.csv``: who runs each store, and what evaluation needs to know about it."""
    return pl.DataFrame(
        {
            "store_id": strs(stores.store_id),
            "operator_id": strs(stores.operator_id),
            "operator_kind": strs(np.where(stores.counterfeit, "counterfeit", "legit")),
            "profile": strs(np.array(PROFILES, dtype=object)[stores.profile]),
            "link_pattern": strs(stores.pattern),
            "touches_decoy": pl.Series(stores.decoys != "", dtype=pl.Boolean),
            "decoys": strs(stores.decoys),
        }
    ).sort("store_id")
