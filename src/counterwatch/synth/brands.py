"""The rights-holder registry (``brands.json``) built from the catalogue: ids, trademarks, products.

Some trademarks have expired (a notice relying on one is weaker); authorized stores are
filled in once the stores exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from counterwatch.synth.catalogue import CATALOGUE, CATEGORY_PATHS, FX_TO_CNY, NICE_CLASSES
from counterwatch.synth.text import strs

#: Trademark office and how its registration numbers look.
OFFICES = (("CNIPA", "{:08d}", 10**8), ("USPTO", "{:07d}", 10**7), ("EUIPO", "{:09d}", 10**9),
           ("WIPO", "{:07d}", 10**7), ("JPO", "{:07d}", 10**7), ("UKIPO", "UK{:08d}", 10**8))  # fmt: skip


@dataclass(frozen=True)
class Products:
    """The catalogue's products flattened: brand ``b`` owns rows ``start[b] : start[b] + count[b]``."""

    brand: np.ndarray
    start: np.ndarray
    count: np.ndarray
    product_id: np.ndarray
    name: np.ndarray
    category: np.ndarray  # marketplace category path
    price_cny: np.ndarray  # reference price in the base currency
    keywords: tuple[tuple[str, ...], ...]


def rates_to_cny(currency: np.ndarray) -> np.ndarray:
    """The rate into CNY for each row's currency."""
    return strs(currency).replace_strict(FX_TO_CNY, return_dtype=pl.Float64).to_numpy()


def brand_ids() -> np.ndarray:
    return np.array([f"B{i + 1:03d}" for i in range(len(CATALOGUE))], dtype=object)


def flat_products() -> Products:
    rows = [(b, p, e) for b, e in enumerate(CATALOGUE) for p in e.products]
    count = np.array([len(e.products) for e in CATALOGUE])
    return Products(
        brand=np.array([b for b, _, _ in rows]),
        start=np.cumsum(count) - count,
        count=count,
        product_id=np.array([f"P{i + 1:04d}" for i in range(len(rows))], dtype=object),
        name=np.array([p.name for _, p, _ in rows], dtype=object),
        category=np.array([CATEGORY_PATHS[e.category] for _, _, e in rows], dtype=object),
        price_cny=np.array([p.price * FX_TO_CNY[e.currency] for _, p, e in rows]),
        keywords=tuple(p.keywords for _, p, _ in rows),
    )


def build_brands(rng: np.random.Generator, reference: date, authorized: dict[int, list[str]]) -> list[dict]:
    """``brands.json`` records; ``authorized`` maps a brand index to its licensed store ids."""
    ids, products = brand_ids(), flat_products()
    records = []
    for b, entry in enumerate(CATALOGUE):
        marks = []
        # Every brand is registered in China (the marketplace's jurisdiction), some elsewhere too.
        others = rng.choice(np.arange(1, len(OFFICES)), size=int(rng.integers(0, 3)), replace=False)
        for office_idx in [0, *sorted(others.tolist())]:
            office, pattern, top = OFFICES[office_idx]
            # About one mark in eight has lapsed: a complaint citing it rests on a dead right.
            days = int(rng.integers(-900, -30)) if rng.random() < 0.12 else int(rng.integers(200, 3650))
            marks.append({
                "registration_no": pattern.format(int(rng.integers(top // 10, top))),
                "office": office,
                "mark": entry.aliases[0] if office == "CNIPA" and rng.random() < 0.3 else entry.name,
                "classes": list(NICE_CLASSES[entry.category]),
                "expires": (reference + timedelta(days=days)).isoformat(),
            })  # fmt: skip
        rows = range(products.start[b], products.start[b] + products.count[b])
        records.append({
            "brand_id": ids[b],
            "name": entry.name,
            "aliases": list(entry.aliases),
            "owner": entry.owner,
            "trademarks": marks,
            "products": [
                {"product_id": products.product_id[i], "name": entry.products[i - products.start[b]].name,
                 "category": products.category[i], "keywords": list(products.keywords[i]),
                 "reference_price": entry.products[i - products.start[b]].price, "currency": entry.currency}
                for i in rows
            ],
            "authorized_stores": sorted(authorized.get(b, [])),
        })  # fmt: skip
    return records
