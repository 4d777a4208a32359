"""A year of orders, shaped so that counterfeit operators land on both sides of the criminal threshold.

Genuine listings sell a heavy-tailed number of orders (most none or one, a few hundreds).
Counterfeit sales are planned per operator: each operator gets a sales *tier* and a
target in CNY (far above the threshold, just above it, just below it, or well below),
and orders are drawn for its listings until the target is met (``above`` tiers: the
order that crosses is kept, so the total is at least the target) or just before it
would be passed (``below`` tiers: the total stays under it). So "just below" really is
below RMB 50,000, whatever the prices, and the threshold test has cases at its edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from counterwatch.synth.brands import rates_to_cny
from counterwatch.synth.clock import DAY, seconds_before
from counterwatch.synth.config import SynthConfig
from counterwatch.synth.listings import Listings
from counterwatch.synth.places import BUYER_REGIONS, COUNTERFEIT_REGIONS
from counterwatch.synth.stores import Stores
from counterwatch.synth.text import choose, numbered, strs

TIERS = ("far_above", "just_above", "just_below", "below")


@dataclass
class Orders:
    table: pl.DataFrame
    tier: np.ndarray  # per operator: index into TIERS, -1 for operators with no counterfeit listings
    target_cny: np.ndarray  # per operator


def _tiers(rng: np.random.Generator, cfg: SynthConfig, cf_listings: np.ndarray) -> np.ndarray:
    """Sales tier per operator; the biggest counterfeit operators are the ones far above."""
    ops = np.flatnonzero(cf_listings > 0)
    tier = np.full(len(cf_listings), -1)
    if len(ops) == 0:
        return tier
    n = len(ops)
    k_far = max(1, round(n * cfg.far_above_share)) if n >= 3 else 0
    k_above = max(1, round(n * cfg.just_above_share)) if n >= 3 else 0
    k_below = max(1, round(n * cfg.just_below_share)) if n >= 3 else 0
    by_size = ops[np.lexsort((rng.random(n), -cf_listings[ops]))]
    tier[ops] = 3
    tier[by_size[:k_far]] = 0
    rest = rng.permutation(by_size[k_far:])
    tier[rest[:k_above]] = 1
    tier[rest[k_above : k_above + k_below]] = 2
    return tier


def _targets(rng: np.random.Generator, cfg: SynthConfig, tier: np.ndarray) -> np.ndarray:
    n = len(tier)
    log_uniform = lambda lo, hi: np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    factor = np.select(
        [tier == 0, tier == 1, tier == 2, tier == 3],
        [log_uniform(2, 40), rng.uniform(1.0, 1.2, n), rng.uniform(0.85, 0.99, n), log_uniform(0.005, 0.6)],
        0.0,
    )
    return factor * cfg.threshold_cny


def _quantities(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.minimum(rng.geometric(0.7, n), 10)


def _weighted_pick(
    rng: np.random.Generator, group_of_row: np.ndarray, weight: np.ndarray, groups: np.ndarray
) -> np.ndarray:
    """For each entry of ``groups``, one row of that group, chosen with probability proportional to ``weight``."""
    order = np.argsort(group_of_row, kind="stable")
    cw = np.cumsum(weight[order])
    start = np.searchsorted(group_of_row[order], groups, side="left")
    end = np.searchsorted(group_of_row[order], groups, side="right")
    lo = np.where(start > 0, cw[np.maximum(start - 1, 0)], 0.0)
    u = lo + rng.random(len(groups)) * (cw[end - 1] - lo)
    return order[np.minimum(np.searchsorted(cw, u, side="right"), end - 1)]


def _counterfeit_candidates(
    rng: np.random.Generator,
    listing_op: np.ndarray,
    cf_rows: np.ndarray,
    popularity: np.ndarray,
    value_cny: np.ndarray,
    target: np.ndarray,
    inclusive: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Orders (listing row, quantity) for counterfeit listings, meeting each operator's target."""
    ops = np.unique(listing_op[cf_rows])
    mean_value = np.bincount(listing_op[cf_rows], weights=value_cny[cf_rows] * popularity[cf_rows],
                             minlength=len(target)) / np.maximum(np.bincount(
                                 listing_op[cf_rows], weights=popularity[cf_rows], minlength=len(target)), 1e-9)  # fmt: skip
    listing_out, qty_out = [], []
    pending, factor = ops, 1.6
    attempts = 6
    for attempt in range(attempts):  # draw generously; an operator still short gets a bigger draw
        k = np.ceil(factor * target[pending] / np.maximum(mean_value[pending] * 1.4, 1.0)).astype(np.int64) + 3
        op_rep = np.repeat(pending, k)
        rows = cf_rows[_weighted_pick(rng, listing_op[cf_rows], popularity[cf_rows], op_rep)]
        qty = _quantities(rng, len(rows))
        # Below the threshold, a single order must not jump most of the gap: big ones become one unit,
        # and orders still worth over a tenth of the target are left out, so the total ends close under it.
        small = ~inclusive[op_rep]
        qty = np.where(small & (qty * value_cny[rows] > 0.1 * target[op_rep]), 1, qty)
        fits = ~small | (value_cny[rows] <= 0.1 * target[op_rep])
        op_rep, rows, qty = op_rep[fits], rows[fits], qty[fits]
        value = qty * value_cny[rows]
        order = np.lexsort((rng.random(len(rows)), op_rep))
        op_rep, rows, qty, value = op_rep[order], rows[order], qty[order], value[order]
        csum = np.cumsum(value)
        first = np.searchsorted(op_rep, op_rep, side="left")
        before = np.where(first > 0, csum[np.maximum(first - 1, 0)], 0.0)
        running = csum - before
        keep = np.where(inclusive[op_rep], running - value < target[op_rep], running <= target[op_rep])
        kept = np.bincount(op_rep[keep], weights=value[keep], minlength=len(target))
        enough = np.where(inclusive[pending], target[pending], 0.8 * target[pending])
        done = (kept[pending] >= enough) | (attempt == attempts - 1)
        ok = np.isin(op_rep, pending[done])
        listing_out.append(rows[keep & ok])
        qty_out.append(qty[keep & ok])
        pending, factor = pending[~done], factor * 2
        if len(pending) == 0:
            break
    return np.concatenate(listing_out), np.concatenate(qty_out)


def build_orders(rng: np.random.Generator, cfg: SynthConfig, stores: Stores, listings: Listings) -> Orders:
    n = len(listings.cls)
    n_ops = int(stores.operator.max()) + 1
    listing_op = stores.operator[listings.store]
    cf_rows = np.flatnonzero(listings.counterfeit)
    tier = _tiers(rng, cfg, np.bincount(listing_op[cf_rows], minlength=n_ops))
    target = _targets(rng, cfg, tier)
    popularity = rng.lognormal(0.0, 1.2, n)
    popularity /= popularity.mean()
    # Buyers haggle sometimes: a few orders are paid below the listed price.
    discount = np.where(rng.random(n) < 0.2, np.round(rng.uniform(0.85, 0.99, n), 2), 1.0)
    unit_price = np.round(listings.price * discount, 2)
    value_cny = unit_price * rates_to_cny(listings.currency)

    cf_listing, cf_qty = _counterfeit_candidates(rng, listing_op, cf_rows, popularity, value_cny, target, tier <= 1)
    genuine = np.flatnonzero(~listings.counterfeit)
    per_listing = rng.poisson(cfg.orders_per_listing * popularity[genuine])
    g_listing = np.repeat(genuine, per_listing)
    row = np.concatenate([cf_listing, g_listing])
    qty = np.concatenate([cf_qty, _quantities(rng, len(g_listing))])
    m = len(row)

    window = np.minimum(listings.created_seconds[row], 365 * DAY)
    before = (rng.random(m) * window).astype(np.int64)
    store_region = stores.region[listings.store[row]]
    counterfeit_hub = choose(rng, m, list(COUNTERFEIT_REGIONS), p=_p(COUNTERFEIT_REGIONS))
    ship_from = np.where(store_region == "", "CN-HK", store_region)
    ship_from = np.where(listings.counterfeit[row] & (rng.random(m) < 0.25), counterfeit_hub, ship_from)
    buyer = choose(rng, m, list(BUYER_REGIONS), p=_p(BUYER_REGIONS))
    ship_from = np.where(rng.random(m) < 0.01, "", ship_from)
    buyer = np.where(rng.random(m) < 0.01, "", buyer)

    chrono = np.argsort(-before, kind="stable")  # order ids rise with time, as a real system's do
    table = pl.DataFrame(
        {
            "order_id": strs(numbered("O", np.arange(1, m + 1), 8)),
            "listing_id": listings.table["listing_id"].gather(row[chrono]),
            "quantity": pl.Series(qty[chrono], dtype=pl.Int64),
            "unit_price": pl.Series(unit_price[row][chrono], dtype=pl.Float64),
            "currency": strs(listings.currency[row][chrono]),
            "ordered_at": seconds_before(cfg.reference_date, before[chrono]),
            "ship_from": strs(ship_from[chrono]),
            "buyer_region": strs(buyer[chrono]),
        }
    )
    return Orders(table=table, tier=tier, target_cny=target)


def _p(weights: dict[str, float]) -> np.ndarray:
    w = np.array(list(weights.values()))
    return w / w.sum()
