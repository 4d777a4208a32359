"""Score one listing in-process, the same way the batch scan does, for the API at listing creation.

``ListingScorer.for_workspace(ws)`` builds the detection context, loads the model and turns the
store and product context the last scan kept (``out/scan-context/``) into dictionaries, once;
``score(listing)`` then runs each signal's one-listing twin (``Signal.one``), the same context
rules as ``scan.with_context``, the model's trees and the reasons in plain Python: well under a
millisecond, where one Polars plan per listing costs about a hundred. For a listing the last
scan saw, the result equals its row of ``out/scores.parquet`` (a test holds every column to
it); a new listing joins its store as one more listing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from counterwatch.config import Settings, load_settings
from counterwatch.contract import read_table
from counterwatch.detect.batch import signals_one
from counterwatch.detect.context import DetectContext
from counterwatch.detect.features import flagged_one
from counterwatch.detect.reasons import reasons_one
from counterwatch.detect.scan import CONTEXT, SCORES, ScanContext
from counterwatch.detect.scorer import Scorer
from counterwatch.detect.signals import SIGNALS
from counterwatch.errors import InputError
from counterwatch.link.stage import OPERATORS
from counterwatch.workspace import Workspace

_DAY_US = 86_400_000_000
FEATURE_INPUTS = ("brand_id", "implied_brand_id", "brand_how", "brand_field", "product_hits", "price_ratio",
                  "product_median_ratio", "photo_confirmed", "relist_similarity", "store_flagged_share",
                  "store_confirmed", "store_listings", "store_age_days", "store_brand_share",
                  "operator_flagged_share", "operator_confirmed", "operator_stores")  # fmt: skip
#: A listing with no evidence at all, to compile the scorer before the first real listing.
_NEUTRAL: dict[str, Any] = {
    "counterfeit_terms": [], "dupe_terms": [], "counterfeit_in_title": False, "homoglyphs": False,
    "invisible_chars": False, "authorized": False, "says_guide": False, "says_accessory": False,
    "says_pre_owned": False, "says_clearance": False, "says_authorized": False, "says_authentic_claim": False,
}  # fmt: skip


@dataclass
class ListingScorer:
    ctx: DetectContext
    scorer: Scorer
    settings: Settings
    #: store_id -> (listings, flagged, confirmed, brand share, opened) as the last scan counted them
    stores: dict[str, tuple[Any, ...]]
    product_median: dict[str, float]  # product_id -> median price ratio of the product line
    confirmed: frozenset[str]
    seen: frozenset[str]  # listings the last scan counted in their stores
    columns: list[str]  # the columns of scores.parquet, in order
    reference_time: dt.datetime  # "now" for store ages, as the last scan had it

    @classmethod
    def for_workspace(cls, ws: Workspace, settings: Settings | None = None) -> ListingScorer:
        settings = settings or load_settings(ws.root)
        if not (ws.out / SCORES).is_file() or not (ws.out / CONTEXT).is_dir():
            raise InputError(f"no scan yet: run `counterwatch scan {ws.root}` before scoring single listings")
        ctx = DetectContext.build(ws, settings)
        context = ScanContext.read(ws.out / CONTEXT)  # what pass 2 of the last scan joined
        columns = ("store_id", "n", "n_flagged", "n_confirmed", "brand_share", "store_created_at", "op_n",
                   "op_flagged", "op_confirmed", "operator_stores")  # fmt: skip
        stores = {r[0]: r[1:] for r in context.stores.select(columns).iter_rows()}
        opened = pl.from_arrow(read_table(ws, "stores", ["store_id", "created_at"]))
        # Stores without listings yet: a first listing joins them, and their operator's history (from
        # the last `link`) comes with them: a new store of an operator caught before is no clean slate.
        operator_totals = {
            r[0]: r[1:] for r in context.stores.select("operator_id", "op_n", "op_flagged", "op_confirmed",
                                                       "operator_stores").unique("operator_id").iter_rows()
        }  # fmt: skip
        operator_of: dict[str, str] = {}
        if (ws.out / OPERATORS).is_file():
            operator_of = dict(pl.read_parquet(ws.out / OPERATORS, columns=["store_id", "operator_id"]).iter_rows())
        for store_id, created in opened.iter_rows():
            totals = operator_totals.get(operator_of.get(store_id, store_id), (0, 0, 0, 1))
            stores.setdefault(store_id, (0, 0, 0, None, created, *totals))
        for signal in SIGNALS:  # automata and regexes now, not on the first listing
            ctx.prepared(signal)
        scorer = Scorer.for_workspace(ws)
        scorer.risk_one(dict.fromkeys(FEATURE_INPUTS) | _NEUTRAL)
        return cls(
            ctx,
            scorer,
            settings,
            stores,
            dict(context.products.iter_rows()),
            frozenset(context.confirmed["listing_id"].to_list()),
            frozenset(pl.read_parquet(ws.out / SCORES, columns=["listing_id"])["listing_id"].to_list()),
            pq.read_schema(ws.out / SCORES).names,
            context.reference_time,  # type: ignore[arg-type]
        )

    def score(self, listing: dict[str, Any]) -> dict[str, Any]:
        """Risk, band, reasons and signals of one listing given in the contract's shape: its row of
        ``scores.parquet`` (every column)."""
        row = signals_one(_contract_row(listing), self.ctx)
        flagged = flagged_one(row)
        n, n_flagged, n_confirmed, brand_share, opened, op_n, op_flagged, op_confirmed, op_stores = self.stores.get(
            row["store_id"], (None,) * 9
        )
        if n is not None and row["listing_id"] not in self.seen:  # a new listing: one more in its store
            if n == 0:  # its first: the store's brand share is this listing's
                brand_share = float(row["brand_id"] is not None or row["implied_brand_id"] is not None)
            n, n_flagged = n + 1, n_flagged + int(flagged)
            op_n, op_flagged = op_n + 1, op_flagged + int(flagged)
        own_confirmed = int(row["listing_id"] in self.confirmed)
        age = None
        if opened is not None:
            us = (self.reference_time - opened) // dt.timedelta(microseconds=1)
            age = us // _DAY_US if us >= 0 else -(-us // _DAY_US)  # whole days, towards zero as Polars counts
        row.update(
            store_listings=n,
            store_flagged_share=(n_flagged - int(flagged)) / (n - 1) if n is not None and n > 1 else 0.0,
            store_confirmed=None if n_confirmed is None else n_confirmed - own_confirmed,
            store_brand_share=brand_share,
            store_age_days=age,
            operator_stores=op_stores,
            # the operator's other stores: the listing's own store (now with the listing) left out
            operator_flagged_share=(op_flagged - n_flagged) / (op_n - n) if op_n is not None and op_n > n else 0.0,
            operator_confirmed=None if op_confirmed is None else op_confirmed - n_confirmed,
            product_median_ratio=self.product_median.get(row["product_id"]) if row["product_id"] else None,
        )
        implied = row["implied_brand_id"]
        cat = self.ctx.catalog
        row["implied_brand_name"] = cat.names[cat.brand_ids.index(implied)] if implied is not None else None
        risk = self.scorer.risk_one(row)
        d = self.settings.detect
        row["risk"] = risk
        row["band"] = "block" if risk >= d.block_at else "review" if risk >= d.review_at else "allow"
        row["reasons"] = reasons_one(row, self.ctx.base_currency)
        return {c: row.get(c) for c in self.columns}


def _contract_row(listing: dict[str, Any]) -> dict[str, Any]:
    """The listing's fields in the types the reader gives them (timestamps parsed, price a float)."""
    row = dict(listing)
    created = row.get("created_at")
    if isinstance(created, str):
        created = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    if isinstance(created, dt.datetime) and created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)  # the contract: no offset means UTC
    row["created_at"] = created
    if row.get("price") is not None:
        row["price"] = float(row["price"])
    row["image_hashes"] = list(row.get("image_hashes") or [])
    return row
