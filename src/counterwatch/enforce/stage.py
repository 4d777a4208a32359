"""The enforce stage: bring the case database up to date with the batch outputs, and act on them.

``counterwatch enforce WORKSPACE``:
1. imports the brand registry (rights holders by owner, brands, trademarks) and the stores, with
   their operator from linking;
2. mirrors every listing with its risk, band and reasons, remembering a digest of what detection saw;
3. files the workspace's ``notices`` table (each checked against the registered rights);
4. acts on listings that are new or changed since the last run: the ``block`` band is taken down
   (automated detection and decision, with a statement of reasons), the ``review`` band is queued,
   and a queued listing that fell to ``allow`` is withdrawn from the queue.

Rerunning it creates nothing twice: unchanged listings are skipped, and a person's decision on a
listing stands until detection sees the listing change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl
import pyarrow.dataset as pads
from sqlalchemy import insert, select, update

from counterwatch.config import Settings
from counterwatch.contract import read_brands, read_table
from counterwatch.contract.schema import TABLES
from counterwatch.enforce.service import SYSTEM, Enforcement, NoticeIn
from counterwatch.errors import InputError, RefusedError
from counterwatch.store.db import Database
from counterwatch.store.models import Brand, Listing, Notice, ReviewItem, RightsHolder, Store, Trademark, utcnow
from counterwatch.workspace import Workspace

CHUNK = 20_000


@dataclass
class EnforceResult:
    rights_holders_added: int = 0
    brands_added: int = 0
    trademarks_added: int = 0
    stores_added: int = 0
    stores_relinked: int = 0
    listings_added: int = 0
    listings_changed: int = 0
    notices_filed: int = 0
    notices_rejected: int = 0
    takedowns: int = 0
    review_items: int = 0
    withdrawn: int = 0
    store_actions: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _chunks(rows: list[dict[str, Any]], n: int = CHUNK) -> list[list[dict[str, Any]]]:
    return [rows[i : i + n] for i in range(0, len(rows), n)]


def enforce(ws: Workspace, settings: Settings, db: Database, progress: Callable[[str], None] | None = None,
            now: Callable[[], dt.datetime] = utcnow) -> EnforceResult:  # fmt: skip
    """Sync ``ws``'s brands, stores, listings, scores and notices into ``db`` and act on the bands."""
    say = progress or (lambda _m: None)
    scores_path = ws.out / "scores.parquet"
    if not scores_path.exists():
        raise InputError(f"{scores_path} is missing: run `counterwatch scan {ws.root}` first")
    r = EnforceResult()
    say("enforce: brands and rights holders")
    with db.session() as s:
        _sync_brands(s, ws, r, now)
    say("enforce: stores")
    with db.session() as s:
        _sync_stores(s, ws, r, now)
    say("enforce: listings and scores")
    changed = _sync_listings(db, ws, r, now, say)
    say("enforce: notices")
    _file_notices(db, ws, settings, r, now)
    say(f"enforce: acting on {len(changed):,} new or changed listings")
    _act(db, settings, changed, r, now, say)
    return r


def _sync_brands(s: Any, ws: Workspace, r: EnforceResult, now: Callable[[], dt.datetime]) -> None:
    holders = {rh.name: rh for rh in s.scalars(select(RightsHolder))}
    marks = {(t.brand_id, t.registration_no) for t in s.scalars(select(Trademark))}
    for b in read_brands(ws):
        rh = holders.get(b.owner)
        if rh is None:
            rh = holders[b.owner] = RightsHolder(name=b.owner, tier="standard", status="active", created_at=now())
            s.add(rh)
            s.flush()
            r.rights_holders_added += 1
        if s.get(Brand, b.brand_id) is None:
            s.add(Brand(brand_id=b.brand_id, name=b.name, rights_holder_id=rh.id, created_at=now()))
            r.brands_added += 1
        for t in b.trademarks:
            if (b.brand_id, t.registration_no) not in marks:
                s.add(Trademark(brand_id=b.brand_id, registration_no=t.registration_no, office=t.office,
                                mark=t.mark, classes=list(t.classes), expires=t.expires))  # fmt: skip
                marks.add((b.brand_id, t.registration_no))
                r.trademarks_added += 1
        s.flush()


def _operators(ws: Workspace) -> pl.DataFrame:
    path = ws.out / "operators.parquet"
    if not path.exists():
        return pl.DataFrame(schema={"store_id": pl.String, "operator_id": pl.String})
    return pl.read_parquet(path, columns=["store_id", "operator_id"])


def _sync_stores(s: Any, ws: Workspace, r: EnforceResult, now: Callable[[], dt.datetime]) -> None:
    stores = pl.from_arrow(read_table(ws, "stores", ["store_id", "seller_id", "name", "status"]))
    assert isinstance(stores, pl.DataFrame)
    stores = stores.join(_operators(ws), on="store_id", how="left")
    have = dict(s.execute(select(Store.store_id, Store.operator_id)).all())
    t = now()
    new = [dict(row, updated_at=t, suspended_until=None, warned_at=None)
           for row in stores.filter(~pl.col("store_id").is_in(list(have))).iter_rows(named=True)]  # fmt: skip
    for part in _chunks(new):
        s.execute(insert(Store), part)
    r.stores_added = len(new)
    relinked = [{"store_id": sid, "operator_id": op} for sid, op in stores.select("store_id", "operator_id").iter_rows()
                if sid in have and have[sid] != op]  # fmt: skip
    for part in _chunks(relinked):
        s.execute(update(Store), part)
    r.stores_relinked = len(relinked)


def _scores(ws: Workspace) -> pl.DataFrame:
    # scores.parquet may be one file or a dataset directory; pyarrow reads both
    table = pads.dataset(ws.out / "scores.parquet", format="parquet").to_table(
        columns=["listing_id", "risk", "band", "reasons"])  # fmt: skip
    out = pl.from_arrow(table)
    assert isinstance(out, pl.DataFrame)
    return out


def _sync_listings(db: Database, ws: Workspace, r: EnforceResult, now: Callable[[], dt.datetime],
                   say: Callable[[str], None]) -> pl.DataFrame:  # fmt: skip
    """Mirror listings and their scores; the new and changed ones (with their band) come back."""
    listings = pl.from_arrow(read_table(ws, "listings", ["listing_id", "store_id", "title"]))
    assert isinstance(listings, pl.DataFrame)
    frame = listings.join(_scores(ws), on="listing_id", how="left").with_columns(
        pl.col("title").fill_null(""),
        # what detection saw and said; a change of either is a change a person has not judged yet
        scored_digest=pl.concat_str([pl.col("store_id"), pl.col("title").fill_null(""),
                                     pl.col("risk").round(6).cast(pl.String), pl.col("band")],
                                    separator="\x1f", ignore_nulls=True).hash(seed=7).cast(pl.String),
        # only listings that are not allowed carry reasons into the case database (they are the ones acted on)
        reasons=pl.when(pl.col("band") != "allow").then(pl.col("reasons")).otherwise(pl.lit([], pl.List(pl.String))),
    )  # fmt: skip
    with db.session() as s:
        have = pl.DataFrame(s.execute(select(Listing.listing_id, Listing.scored_digest)).all(),
                            schema={"listing_id": pl.String, "old_digest": pl.String}, orient="row")  # fmt: skip
    joined = frame.join(have, on="listing_id", how="left")
    new = joined.filter(pl.col("old_digest").is_null())
    changed = joined.filter(pl.col("old_digest").is_not_null() & (pl.col("old_digest") != pl.col("scored_digest")))
    t = now()
    cols = ["listing_id", "store_id", "title", "risk", "band", "reasons", "scored_digest"]
    done = 0
    for part in new.select(cols).iter_slices(CHUNK):
        with db.session() as s:
            s.execute(insert(Listing), [dict(row, status="active", updated_at=t) for row in part.iter_rows(named=True)])
        done += part.height
        say(f"enforce: listings {done:,}/{new.height:,} added")
    for part in changed.select(cols).iter_slices(CHUNK):
        with db.session() as s:
            s.execute(update(Listing), [dict(row, updated_at=t) for row in part.iter_rows(named=True)])
    r.listings_added, r.listings_changed = new.height, changed.height
    return pl.concat([new, changed]).select("listing_id", "band", "risk")


def _file_notices(db: Database, ws: Workspace, settings: Settings, r: EnforceResult,
                  now: Callable[[], dt.datetime]) -> None:  # fmt: skip
    from counterwatch.contract.reader import find_table_file

    if find_table_file(ws, "notices", required=False) is None:
        return
    notices = read_table(ws, "notices", [c.name for c in TABLES["notices"].columns]).to_pylist()
    with db.session() as s:
        known = set(s.scalars(select(Notice.notice_id)))
    for row in notices:
        if row["notice_id"] in known:
            continue
        with db.session() as s:
            svc = Enforcement(s, settings, SYSTEM, now)
            try:
                n = svc.file_notice(NoticeIn(row["notice_id"], row["brand_id"], row["listing_id"], row["basis"],
                                             row["registration_no"] or "", row["evidence"] or "", row["submitted_at"]))  # fmt: skip
            except RefusedError as exc:
                # a notifier suspended for abuse: the refusal is audited, the notice is not recorded
                svc.audit("refuse", "notice", row["notice_id"], why=str(exc))
                continue
            r.notices_filed += 1
            r.notices_rejected += n.status == "rejected"


def _act(db: Database, settings: Settings, changed: pl.DataFrame, r: EnforceResult,
         now: Callable[[], dt.datetime], say: Callable[[str], None]) -> None:  # fmt: skip
    block = changed.filter(pl.col("band") == "block")["listing_id"].to_list() if settings.enforce.auto_takedown else []
    review = changed.filter((pl.col("band") == "review") | ((pl.col("band") == "block") & (not settings.enforce.auto_takedown)))
    allow = changed.filter(pl.col("band") == "allow")["listing_id"].to_list()
    before = _store_action_counts(db)
    for i in range(0, len(block), 500):
        with db.session() as s:
            svc = Enforcement(s, settings, SYSTEM, now)
            for lid in block[i : i + 500]:
                listing = s.get(Listing, lid)
                if listing is None or listing.status != "active":
                    continue
                item = s.scalars(select(ReviewItem).where(ReviewItem.listing_id == lid, ReviewItem.status == "open")).first()
                if item is not None:
                    # the block band found it (automated detection), whatever queued the item first
                    svc._decide(item, "take_down", "counterfeit", "detection's block band", automated=True,
                                automated_detection=True)  # fmt: skip
                else:
                    svc._take_down(listing, "counterfeit", "", automated_detection=True, automated_decision=True)
                r.takedowns += 1
        say(f"enforce: {min(i + 500, len(block)):,}/{len(block):,} blocked listings taken down")
    with db.session() as s:
        open_items = set(s.scalars(select(ReviewItem.listing_id).where(ReviewItem.status == "open")))
        t = now()
        rows = [{"listing_id": lid, "source": "detection", "risk": risk, "priority": 2, "status": "open", "created_at": t}
                for lid, risk in review.select("listing_id", "risk").iter_rows() if lid not in open_items]  # fmt: skip
        inactive = set(s.scalars(select(Listing.listing_id).where(Listing.status != "active")))
        rows = [x for x in rows if x["listing_id"] not in inactive]
        for part in _chunks(rows):
            s.execute(insert(ReviewItem), part)
        r.review_items = len(rows)
        svc = Enforcement(s, settings, SYSTEM, now)
        stale = set(allow) & open_items
        items = s.scalars(select(ReviewItem).where(ReviewItem.status == "open", ReviewItem.source == "detection"))
        for item in [i for i in items if i.listing_id in stale]:
            item.status, item.decided_at = "withdrawn", t
            svc.audit("withdraw", "review_item", item.id, why="detection no longer flags the listing",
                      before={"status": "open"}, after={"status": "withdrawn"})  # fmt: skip
            r.withdrawn += 1
    after = _store_action_counts(db)
    r.store_actions = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


def _store_action_counts(db: Database) -> dict[str, int]:
    from sqlalchemy import func

    from counterwatch.store.models import Action

    with db.session() as s:
        return dict(s.execute(select(Action.kind, func.count()).group_by(Action.kind)).all())
