"""The enforcement workflow over the case database: one object per unit of work, acting as someone.

Every method checks the actor's scope first. Something outside it reads exactly like something
that does not exist (``NotFoundError(denied=True)``; the API answers 404 and audits the attempt).
Every change writes an audit entry in the same transaction, and every restriction writes a statement
of reasons, so nothing is done without saying who did it, when, and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, false, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from counterwatch.config import Settings
from counterwatch.enforce import policy as penalty
from counterwatch.enforce.reasons import KEEP, REASONS, STORE_GROUNDS, TAKE_DOWN
from counterwatch.errors import ConflictError, NotFoundError, RefusedError
from counterwatch.store.models import (
    Action,
    Appeal,
    AuditEntry,
    Brand,
    Decision,
    Listing,
    Notice,
    NotifierReputation,
    PenaltyEntry,
    ReviewItem,
    RightsHolder,
    StatementOfReasons,
    Store,
    Trademark,
    utcnow,
)

BASES = ("trademark", "copyright", "design", "patent")
STAFF = ("admin", "reviewer")
#: roles that may read everything enforcement holds (not change it)
READERS = ("admin", "reviewer", "investigator", "liaison")
RESTRICTIONS = ("take_down", "suspend_store", "close_store", "add_points", "warn")


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user of the API or command line, or the system itself."""

    user_id: int | None
    username: str
    role: str
    rights_holder_id: int | None = None
    seller_id: str | None = None

    @property
    def automated(self) -> bool:
        return self.user_id is None


SYSTEM = Actor(None, "system", "admin")


@dataclass(frozen=True)
class NoticeIn:
    notice_id: str
    brand_id: str
    listing_id: str
    basis: str
    registration_no: str
    evidence: str = ""
    submitted_at: dt.datetime | None = None


def _state(obj: Any, *fields: str) -> dict[str, Any]:
    out = {}
    for f in fields:
        v = getattr(obj, f)
        out[f] = v.isoformat() if isinstance(v, dt.datetime | dt.date) else v
    return out


# The notice path's one read, built once (every filing runs it, and building the expression cost
# more CPU than running it): the brand with its rights holder and the trademark relied on (none
# unless the basis is a trademark), whether the notice id is taken, and the listing's status and risk.
def _notice_read(relies_on_trademark: bool) -> Any:
    relied_on = (and_(Trademark.brand_id == Brand.brand_id, Trademark.registration_no == bindparam("registration_no"))
                 if relies_on_trademark else false())  # fmt: skip
    return (select(Brand, RightsHolder, Trademark,
                   select(Notice.notice_id).where(Notice.notice_id == bindparam("notice_id")).exists(),
                   select(Listing.status).where(Listing.listing_id == bindparam("listing_id")).scalar_subquery(),
                   select(Listing.risk).where(Listing.listing_id == bindparam("listing_id")).scalar_subquery())
            .join(RightsHolder, RightsHolder.id == Brand.rights_holder_id)
            .outerjoin(Trademark, relied_on)
            .where(Brand.brand_id == bindparam("brand_id")))  # fmt: skip


_NOTICE_READ = {True: _notice_read(True), False: _notice_read(False)}

# the notice path's INSERTs, as Core statements on the tables (see ``file_notice``)
_INSERT_NOTICE = insert(Notice.__table__)
_INSERT_ITEM = insert(ReviewItem.__table__)
_INSERT_AUDIT = insert(AuditEntry.__table__)


# The same read as plain columns, for the API's pipelined filing on PostgreSQL (``api/hot.py``), which
# writes the common case itself and hands every other case to ``Enforcement.file_notice``.
def _notice_facts(relies_on_trademark: bool) -> Any:
    b, rh, tm, no, li = (m.__table__ for m in (Brand, RightsHolder, Trademark, Notice, Listing))
    relied_on = (and_(tm.c.brand_id == b.c.brand_id, tm.c.registration_no == bindparam("registration_no"))
                 if relies_on_trademark else false())  # fmt: skip
    return (select(b.c.brand_id, b.c.rights_holder_id, rh.c.tier, rh.c.status, tm.c.id, tm.c.expires,
                   select(no.c.notice_id).where(no.c.notice_id == bindparam("notice_id")).exists(),
                   select(li.c.status).where(li.c.listing_id == bindparam("listing_id")).scalar_subquery(),
                   select(li.c.risk).where(li.c.listing_id == bindparam("listing_id")).scalar_subquery())
            .join_from(b, rh, rh.c.id == b.c.rights_holder_id)
            .outerjoin(tm, relied_on)
            .where(b.c.brand_id == bindparam("brand_id")))  # fmt: skip


NOTICE_FACTS = {True: _notice_facts(True), False: _notice_facts(False)}
#: the columns of the common case's three INSERTs, in ``common_notice_rows``' keys
NOTICE_COLUMNS = ("notice_id", "rights_holder_id", "brand_id", "listing_id", "basis", "registration_no", "evidence",
                  "submitted_at", "received_at", "status", "rejection_reason", "decided_at")  # fmt: skip
AUDIT_COLUMNS = ("at", "actor_id", "actor", "verb", "entity", "entity_id", "why", "before", "after")
ITEM_COLUMNS = ("listing_id", "source", "notice_id", "risk", "priority", "status", "created_at", "decided_at")


def common_notice_rows(actor: Actor, cfg: Any, n: NoticeIn, facts: Any,
                       now: dt.datetime) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:  # fmt: skip
    """The rows ``Enforcement.file_notice`` writes in its common case (a valid notice of a visible
    brand, from a notifier neither suspended nor auto-approved, on a listing still up: the notice, its
    ``file`` audit entry and its review item), given the facts ``NOTICE_FACTS`` read; None for
    anything else (an error to answer, a rejected right, a suspension, an automatic takedown, a
    listing already down), which takes the whole workflow. Kept equal to ``file_notice`` by
    ``tests/api/test_hot.py``."""
    if facts is None or actor.role not in ("admin", "brand"):
        return None
    brand_id, rh_id, tier, status, tm_id, tm_expires, taken, listing_status, listing_risk = facts
    if actor.role == "brand" and rh_id != actor.rights_holder_id:
        return None
    if status == "suspended" or n.basis not in BASES or taken or listing_status in (None, "removed"):
        return None
    if n.basis == "trademark" and (tm_id is None or (tm_expires is not None and tm_expires < now.date())):
        return None
    if tier == "good_faith" and cfg.reputation.good_faith_auto_approve:
        return None
    notice = {"notice_id": n.notice_id, "rights_holder_id": rh_id, "brand_id": brand_id, "listing_id": n.listing_id,
              "basis": n.basis, "registration_no": n.registration_no, "evidence": n.evidence,
              "submitted_at": n.submitted_at or now, "received_at": now, "status": "pending",
              "rejection_reason": None, "decided_at": None}  # fmt: skip
    filed = {k: notice[k] for k in ("listing_id", "brand_id", "basis", "registration_no", "status")}
    audit = {"at": now, "actor_id": actor.user_id, "actor": actor.username, "verb": "file", "entity": "notice",
             "entity_id": n.notice_id, "why": "", "before": None, "after": filed}  # fmt: skip
    item = {"listing_id": n.listing_id, "source": "notice", "notice_id": n.notice_id, "risk": listing_risk or 0.0,
            "priority": 0 if tier == "good_faith" else 1, "status": "open", "created_at": now,
            "decided_at": None}  # fmt: skip
    return notice, audit, item


def _row(obj: Any, statement: Any) -> dict[str, Any]:
    """A transient ORM object's values for an INSERT into its table (a key left unset is generated)."""
    return {c.key: v for c in statement.table.columns if (v := getattr(obj, c.key)) is not None or not c.primary_key}


def _unique_violation(exc: IntegrityError) -> bool:
    """A duplicate key (PostgreSQL's SQLSTATE 23505, SQLite's UNIQUE constraint), not another rule."""
    return getattr(exc.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(exc.orig)


class Enforcement:
    """The workflow in one session, as ``actor``. ``now`` is injectable so policy windows can be tested."""

    def __init__(self, session: Session, settings: Settings, actor: Actor,
                 now: Callable[[], dt.datetime] = utcnow) -> None:  # fmt: skip
        self.s = session
        self.settings = settings
        self.cfg = settings.enforce
        self.actor = actor
        self.now = now

    # --- audit and scope -------------------------------------------------------------------------

    def audit(self, verb: str, entity: str, entity_id: object, why: str = "",
              before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.s.add(AuditEntry(at=self.now(), actor_id=self.actor.user_id, actor=self.actor.username, verb=verb,
                              entity=entity, entity_id=str(entity_id), why=why, before=before, after=after))  # fmt: skip

    def _audit_notice(self, notice: Notice, verb: str, why: str, through_session: bool,
                      after: dict[str, Any] | None = None) -> None:  # fmt: skip
        """An audit entry of the notice path: through the session when the notice went through it,
        else an INSERT at once (the notice was inserted so)."""
        if through_session:
            self.audit(verb, "notice", notice.notice_id, why=why, after=after)
            return
        self.s.execute(_INSERT_AUDIT, {"at": self.now(), "actor_id": self.actor.user_id, "actor": self.actor.username,
                                       "verb": verb, "entity": "notice", "entity_id": notice.notice_id, "why": why,
                                       "before": None, "after": after})  # fmt: skip

    def _require(self, *roles: str) -> None:
        if self.actor.role not in roles:
            # a role without the capability learns nothing more than a stranger would
            raise NotFoundError("not found", denied=True, entity="endpoint", entity_id=self.actor.role)

    def _missing(self, entity: str, key: object, denied: bool) -> NotFoundError:
        return NotFoundError(f"{entity} {key!r} not found", denied=denied, entity=entity, entity_id=str(key))

    def _store_visible(self, store: Store) -> bool:
        a = self.actor
        return a.role in READERS or (a.role == "seller" and store.seller_id == a.seller_id)

    def store(self, store_id: str) -> Store:
        st = self.s.get(Store, store_id)
        if st is None or not self._store_visible(st):
            raise self._missing("store", store_id, denied=st is not None)
        self._expire_suspension(st)  # a suspension ends when its time is up, not at the next violation
        return st

    def listing(self, listing_id: str) -> Listing:
        li = self.s.get(Listing, listing_id)
        visible = li is not None and (
            self.actor.role in READERS
            or (self.actor.role == "seller" and self.s.get(Store, li.store_id).seller_id == self.actor.seller_id)  # type: ignore[union-attr]
            or (self.actor.role == "brand" and self._brand_noticed(listing_id))
        )
        if not visible:
            raise self._missing("listing", listing_id, denied=li is not None)
        return li  # type: ignore[return-value]

    def _brand_noticed(self, listing_id: str) -> bool:
        q = select(Notice.notice_id).where(Notice.listing_id == listing_id,
                                           Notice.rights_holder_id == self.actor.rights_holder_id)  # fmt: skip
        return self.s.execute(q.limit(1)).first() is not None

    def brand(self, brand_id: str) -> Brand:
        b = self.s.get(Brand, brand_id)
        if b is None or not self._brand_visible(b):
            raise self._missing("brand", brand_id, denied=b is not None)
        return b

    def _brand_visible(self, b: Brand) -> bool:
        a = self.actor
        return a.role in READERS or (a.role == "brand" and b.rights_holder_id == a.rights_holder_id)

    def notice(self, notice_id: str) -> Notice:
        n = self.s.get(Notice, notice_id)
        a = self.actor
        if n is None or not (a.role in READERS or (a.role == "brand" and n.rights_holder_id == a.rights_holder_id)):
            raise self._missing("notice", notice_id, denied=n is not None)
        return n

    def action(self, action_id: int) -> Action:
        act = self.s.get(Action, action_id)
        visible = act is not None and (
            self.actor.role in READERS
            or (self.actor.role == "seller" and act.store_id is not None
                and self.s.get(Store, act.store_id).seller_id == self.actor.seller_id)  # type: ignore[union-attr]
        )  # fmt: skip
        if not visible:
            raise self._missing("action", action_id, denied=act is not None)
        return act  # type: ignore[return-value]

    def appeal(self, appeal_id: int) -> Appeal:
        ap = self.s.get(Appeal, appeal_id)
        visible = ap is not None and (
            self.actor.role in READERS
            or (self.actor.role == "seller" and self.s.get(Store, ap.store_id).seller_id == self.actor.seller_id)  # type: ignore[union-attr]
        )
        if not visible:
            raise self._missing("appeal", appeal_id, denied=ap is not None)
        return ap  # type: ignore[return-value]

    def statement(self, statement_id: int) -> StatementOfReasons:
        st = self.s.get(StatementOfReasons, statement_id)
        visible = st is not None and (
            self.actor.role in READERS or (self.actor.role == "seller" and st.seller_id == self.actor.seller_id)
        )
        if not visible:
            raise self._missing("statement", statement_id, denied=st is not None)
        return st  # type: ignore[return-value]

    # --- rights holders, brands, trademarks ------------------------------------------------------

    def create_rights_holder(self, name: str) -> RightsHolder:
        self._require("admin")
        if self.s.execute(select(RightsHolder.id).where(RightsHolder.name == name)).first():
            raise ConflictError(f"rights holder {name!r} exists already")
        rh = RightsHolder(name=name, tier="standard", status="active", created_at=self.now())
        self.s.add(rh)
        self.s.flush()
        self.audit("create", "rights_holder", rh.id, after=_state(rh, "name", "tier", "status"))
        return rh

    def register_brand(self, brand_id: str, name: str, rights_holder_id: int | None = None) -> Brand:
        """A brand for a rights holder: the brand role registers for its own holder only."""
        self._require("admin", "brand")
        if self.actor.role == "brand":
            rights_holder_id = self.actor.rights_holder_id
        if rights_holder_id is None or self.s.get(RightsHolder, rights_holder_id) is None:
            raise self._missing("rights holder", rights_holder_id, denied=False)
        if self.s.get(Brand, brand_id) is not None:
            raise ConflictError(f"brand {brand_id!r} is registered already")
        b = Brand(brand_id=brand_id, name=name, rights_holder_id=rights_holder_id, created_at=self.now())
        self.s.add(b)
        self.s.flush()
        self.audit("register", "brand", brand_id, after=_state(b, "name", "rights_holder_id"))
        return b

    def add_trademark(self, brand_id: str, registration_no: str, office: str, mark: str,
                      classes: list[int] | None = None, expires: dt.date | None = None) -> Trademark:  # fmt: skip
        self._require("admin", "brand")
        b = self.brand(brand_id)
        if self.s.execute(select(Trademark.id).where(Trademark.brand_id == brand_id,
                                                     Trademark.registration_no == registration_no)).first():  # fmt: skip
            raise ConflictError(f"trademark {registration_no!r} is registered for brand {brand_id!r} already")
        tm = Trademark(brand_id=b.brand_id, registration_no=registration_no, office=office, mark=mark,
                       classes=list(classes or []), expires=expires)  # fmt: skip
        self.s.add(tm)
        self.s.flush()
        self.audit("register", "trademark", tm.id, after=_state(tm, "brand_id", "registration_no", "office", "expires"))
        return tm

    # --- notices ----------------------------------------------------------------------------------

    def file_notice(self, n: NoticeIn) -> Notice:
        """Record a notice. One relying on an unknown or expired right is kept, as ``rejected`` with
        the reason; a valid one becomes a review item (or, for a good-faith notifier with
        auto-approval on, a takedown).

        One read (the brand with its rights holder and the trademark relied on, whether the notice
        id is taken, the listing's status and risk) and, in the common case, three INSERTs: each
        round trip is CPU on both sides and latency under load.
        """
        self._require("admin", "brand")
        row = self.s.execute(_NOTICE_READ[n.basis == "trademark"], {
            "brand_id": n.brand_id, "registration_no": n.registration_no, "notice_id": n.notice_id,
            "listing_id": n.listing_id}).first()  # fmt: skip
        brand, rh, tm, taken, listing_status, listing_risk = row if row is not None else (None,) * 6
        if brand is None or not self._brand_visible(brand):
            raise self._missing("brand", n.brand_id, denied=brand is not None)
        assert rh is not None
        self._refresh_holder_suspension(rh)
        if rh.status == "suspended":
            raise RefusedError(f"rights holder {rh.name!r} is suspended from filing notices until "
                               f"{rh.suspended_until:%Y-%m-%d} after repeated unfounded notices")  # fmt: skip
        if n.basis not in BASES:
            raise RefusedError(f"basis {n.basis!r} is not one of {', '.join(BASES)}")
        if taken:
            raise ConflictError(f"notice {n.notice_id!r} exists already")
        if listing_status is None:  # the listing is no secret to its complainant: it is public on the marketplace
            raise NotFoundError(f"listing {n.listing_id!r} not found", entity="listing", entity_id=n.listing_id)
        now = self.now()
        notice = Notice(notice_id=n.notice_id, rights_holder_id=rh.id, brand_id=brand.brand_id,
                        listing_id=n.listing_id, basis=n.basis, registration_no=n.registration_no,
                        evidence=n.evidence, submitted_at=n.submitted_at or now, received_at=now,
                        status="pending", rejection_reason=None, decided_at=None)  # fmt: skip
        problem = _right_problem(brand, tm, n, now)
        if problem:
            notice.status, notice.rejection_reason, notice.decided_at = "rejected", problem, now
        filed = _state(notice, "listing_id", "brand_id", "basis", "registration_no", "status")
        if not problem and listing_status == "removed":
            # already down: the notice is upheld by the earlier takedown, nothing to review
            notice.status, notice.decided_at = "upheld", now
        auto_approve = (notice.status == "pending" and rh.tier == "good_faith"
                        and self.cfg.reputation.good_faith_auto_approve)  # fmt: skip
        if auto_approve:
            self.s.add(notice)  # the decision below goes through the unit of work: the objects with it
        else:
            # The common case, written as plain INSERTs rather than through the unit of work (which
            # cost a third of a filing's CPU): the notice, its audit entries and its review item.
            # What the session holds already goes first, so the audit log keeps its order.
            if self.s.new or self.s.dirty:
                self.s.flush()
            try:
                self.s.execute(_INSERT_NOTICE, _row(notice, _INSERT_NOTICE))
            except IntegrityError as exc:
                # the same id filed by a concurrent request since the check above: it committed
                # first, this one is refused whole (the transaction rolls back with the error)
                if not _unique_violation(exc):
                    raise
                raise ConflictError(f"notice {n.notice_id!r} exists already") from None
        self._audit_notice(notice, "file", problem or "", auto_approve, after=filed)
        if problem:
            self.refresh_reputation(rh)
            return notice
        if listing_status == "removed":
            self._audit_notice(notice, "uphold", "the listing had already been taken down", auto_approve)
            return notice
        item = ReviewItem(listing_id=n.listing_id, source="notice", notice_id=notice.notice_id,
                          risk=listing_risk or 0.0, priority=0 if rh.tier == "good_faith" else 1,
                          status="open", created_at=now, decided_at=None)  # fmt: skip
        if not auto_approve:
            self.s.execute(_INSERT_ITEM, _row(item, _INSERT_ITEM))
            return notice
        self.s.add(item)
        self.s.flush()  # the decision needs the item's id
        self._decide(item, "take_down", "counterfeit", "good-faith notifier: approved automatically",
                     automated=True)  # fmt: skip
        return notice

    def notices(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[Notice]:
        self._require(*READERS, "brand")
        q = select(Notice).order_by(Notice.received_at, Notice.notice_id)
        if self.actor.role == "brand":
            q = q.where(Notice.rights_holder_id == self.actor.rights_holder_id)
        if status:
            q = q.where(Notice.status == status)
        return list(self.s.scalars(q.limit(limit).offset(offset)))

    # --- review -----------------------------------------------------------------------------------

    def queue(self, limit: int = 50, offset: int = 0) -> list[ReviewItem]:
        """Open items: trusted flaggers first, then other notices, then detection; riskiest and oldest first."""
        self._require(*STAFF)
        q = (select(ReviewItem).where(ReviewItem.status == "open")
             .order_by(ReviewItem.priority, ReviewItem.risk.desc(), ReviewItem.created_at, ReviewItem.id))  # fmt: skip
        return list(self.s.scalars(q.limit(limit).offset(offset)))

    def review_item(self, item_id: int) -> ReviewItem:
        self._require(*STAFF)
        item = self.s.get(ReviewItem, item_id)
        if item is None:
            raise self._missing("review item", item_id, denied=False)
        return item

    def decide(self, item_id: int, outcome: str, reason_code: str, note: str = "") -> Decision:
        """A reviewer's verdict. Of two reviewers deciding one item, exactly one wins; the other gets a
        ``ConflictError`` naming who decided."""
        self._require(*STAFF)
        item = self.review_item(item_id)
        return self._decide(item, outcome, reason_code, note, automated=False)

    def _decide(self, item: ReviewItem, outcome: str, reason_code: str, note: str, automated: bool,
                automated_detection: bool | None = None) -> Decision:  # fmt: skip
        allowed = TAKE_DOWN if outcome == "take_down" else KEEP if outcome == "keep" else None
        if allowed is None:
            raise RefusedError(f"outcome {outcome!r} is not take_down or keep")
        if reason_code not in allowed:
            raise RefusedError(f"reason code {reason_code!r} does not fit {outcome}; use one of {', '.join(allowed)}")
        if item.status != "open":
            raise ConflictError(self._decided_by(item))
        now = self.now()
        decision = Decision(review_item_id=item.id, reviewer_id=self.actor.user_id, outcome=outcome,
                            reason_code=reason_code, note=note, automated=automated, decided_at=now)  # fmt: skip
        try:
            with self.s.begin_nested():
                self.s.add(decision)
                self.s.flush()
        except IntegrityError:
            raise ConflictError(self._decided_by(item)) from None
        done = self.s.execute(update(ReviewItem).where(ReviewItem.id == item.id, ReviewItem.status == "open")
                              .values(status="decided", decided_at=now)
                              .execution_options(synchronize_session=False))  # fmt: skip
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise ConflictError(f"review item {item.id} is no longer open")
        self.s.refresh(item)
        self.audit("decide", "review_item", item.id, why=f"{outcome}: {reason_code}. {note}".strip(),
                   before={"status": "open"}, after={"status": "decided", "outcome": outcome})  # fmt: skip
        notice = self.s.get(Notice, item.notice_id) if item.notice_id else None
        listing = self.s.get(Listing, item.listing_id)
        assert listing is not None
        if outcome == "take_down":
            if listing.status == "active":
                if automated_detection is None:
                    automated_detection = item.source == "detection"
                self._take_down(listing, reason_code, note, item=item, notice=notice,
                                automated_detection=automated_detection, automated_decision=automated)  # fmt: skip
        if notice is not None:
            before = notice.status
            notice.status = "upheld" if outcome == "take_down" else "dismissed"
            notice.decided_at = now
            self.audit("decide", "notice", notice.notice_id, why=reason_code, before={"status": before},
                       after={"status": notice.status})  # fmt: skip
            self.refresh_reputation(self.s.get(RightsHolder, notice.rights_holder_id))  # type: ignore[arg-type]
        return decision

    def _decided_by(self, item: ReviewItem) -> str:
        d = self.s.execute(select(Decision).where(Decision.review_item_id == item.id)).scalar()
        if d is None:
            return f"review item {item.id} is {item.status}, not open"
        who = "the system" if d.reviewer_id is None else f"reviewer #{d.reviewer_id}"
        return f"review item {item.id} was decided already ({d.outcome}, {d.reason_code}) by {who} at {d.decided_at:%Y-%m-%d %H:%M:%S}Z"

    # --- actions ----------------------------------------------------------------------------------

    def _new_action(self, kind: str, *, listing: Listing | None = None, store: Store | None = None,
                    reason_code: str, note: str = "", item: ReviewItem | None = None,
                    notice: Notice | None = None, automated_detection: bool = False,
                    automated_decision: bool | None = None, reverses: Action | None = None,
                    details: dict[str, Any] | None = None, operator_id: str | None = None) -> Action:  # fmt: skip
        act = Action(kind=kind, listing_id=listing.listing_id if listing else None,
                     store_id=store.store_id if store else (listing.store_id if listing else None),
                     operator_id=operator_id, actor_id=self.actor.user_id,
                     automated_detection=automated_detection,
                     automated_decision=self.actor.automated if automated_decision is None else automated_decision,
                     reason_code=reason_code, note=note, review_item_id=item.id if item else None,
                     notice_id=notice.notice_id if notice else None,
                     reverses_id=reverses.id if reverses else None, created_at=self.now(),
                     details=details or {})  # fmt: skip
        self.s.add(act)
        self.s.flush()
        return act

    def _take_down(self, listing: Listing, reason_code: str, note: str, *, item: ReviewItem | None = None,
                   notice: Notice | None = None, automated_detection: bool = False,
                   automated_decision: bool | None = None, facts: str | None = None) -> Action:  # fmt: skip
        store = self.s.get(Store, listing.store_id)
        assert store is not None
        act = self._new_action("take_down", listing=listing, reason_code=reason_code, note=note, item=item,
                               notice=notice, automated_detection=automated_detection,
                               automated_decision=automated_decision)  # fmt: skip
        listing.status, listing.updated_at = "removed", self.now()
        self.audit("take_down", "listing", listing.listing_id, why=f"{reason_code}. {note}".strip(),
                   before={"status": "active"}, after={"status": "removed", "action_id": act.id})  # fmt: skip
        if facts is None:
            facts = self._facts(listing, notice, note)
        self._statement(act, store, f"Listing {listing.listing_id} ({listing.title[:120]!r}) was removed from the marketplace.",
                        facts, REASONS[reason_code].ground_type, REASONS[reason_code].ground)  # fmt: skip
        counts = not act.automated_decision or self.cfg.policy.automated_takedowns_count
        if counts:
            self._add_points(store, act, reason_code)
        return act

    def _facts(self, listing: Listing, notice: Notice | None, note: str) -> str:
        parts = []
        if notice is not None:
            rh = self.s.get(RightsHolder, notice.rights_holder_id)
            parts.append(f"Notice {notice.notice_id} from {rh.name if rh else 'a rights holder'} "  # fmt: skip
                         f"relying on {notice.basis} {notice.registration_no}: {notice.evidence[:300]}")
        if listing.reasons:
            parts.append("Detection found: " + "; ".join(listing.reasons[:6]) + ".")
        if note:
            parts.append(f"Reviewer's note: {note}")
        return " ".join(parts) or "Decided by a reviewer."

    def _statement(self, act: Action, store: Store, restriction: str, facts: str, ground_type: str,
                   ground: str) -> StatementOfReasons:  # fmt: skip
        days = self.cfg.appeal_window_days
        st = StatementOfReasons(
            action_id=act.id, seller_id=store.seller_id, restriction=restriction, facts=facts,
            automated_detection=act.automated_detection, automated_decision=act.automated_decision,
            ground_type=ground_type, ground=ground,
            redress=(f"You may appeal this decision within {days} days (until "
                     f"{(act.created_at + dt.timedelta(days=days)):%Y-%m-%d}) through the marketplace's "
                     f"complaint system (POST /appeals, action {act.id}); a person other than the one who "
                     "decided will review it. You may also use an out-of-court dispute settlement body "
                     "(DSA Art. 21) or go to court."),
            created_at=act.created_at,
        )  # fmt: skip
        self.s.add(st)  # flushed with the rest of the unit of work: nothing needs its id now
        return st

    def _add_points(self, store: Store, act: Action, violation: str) -> PenaltyEntry | None:
        v = self.cfg.policy.violations.get(violation)
        if v is None:
            raise RefusedError(f"violation {violation!r} has no points in [enforce.policy.violations]; "
                               f"configured: {', '.join(self.cfg.policy.violations)}")  # fmt: skip
        now = self.now()
        entry = PenaltyEntry(store_id=store.store_id, action_id=act.id, violation=violation, points=v.points,
                             occurred_at=now, expires_at=now + dt.timedelta(days=v.counts_for_days))  # fmt: skip
        self.s.add(entry)
        self.s.flush()
        self.audit("add_points", "store", store.store_id, why=f"{violation} under policy {self.cfg.policy.version}",
                   after={"points": v.points, "ledger_id": entry.id, "expires_at": entry.expires_at.isoformat()})  # fmt: skip
        self._apply_policy(store)
        return entry

    def points(self, store: Store) -> int:
        # plain rows, not entities: a sweep that takes down hundreds of one store's listings asks this
        # after each, and loading the growing ledger as objects made the sweep quadratic in cost
        rows = self.s.execute(select(PenaltyEntry.occurred_at, PenaltyEntry.expires_at, PenaltyEntry.points,
                                     PenaltyEntry.cancelled_at).where(PenaltyEntry.store_id == store.store_id))  # fmt: skip
        return penalty.active_points((penalty.LedgerRow(o, e, p, c is not None) for o, e, p, c in rows),
                                     self.now(), self.cfg.policy)  # fmt: skip

    def _apply_policy(self, store: Store) -> Action | None:
        self._expire_suspension(store)
        pts = self.points(store)
        step = penalty.step_for(pts, store.status, store.warned_at is not None, self.cfg.policy)
        if step is None:
            return None
        if step.action == "warn":
            return self._warn(store, step.why, reason_code="penalty_policy")
        if step.action == "suspend":
            return self._suspend(store, step.suspend_days or 1, step.why, reason_code="penalty_policy")
        return self._close(store, step.why, reason_code="penalty_policy")

    def _expire_suspension(self, store: Store) -> None:
        if store.status == "suspended" and store.suspended_until and store.suspended_until <= self.now():
            self.audit("suspension_ended", "store", store.store_id, why="suspension period over",
                       before={"status": "suspended"}, after={"status": "active"})  # fmt: skip
            store.status, store.suspended_until = "active", None

    def _warn(self, store: Store, why: str, reason_code: str, note: str = "") -> Action:
        act = self._new_action("warn", store=store, reason_code=reason_code, note=note, details={"why": why})
        store.warned_at = self.now()
        self.audit("warn", "store", store.store_id, why=why)
        self._statement(act, store, f"Store {store.store_id} received a formal warning; further violations "
                        "lead to suspension or closure.", why + (f". {note}" if note else ""), "terms", STORE_GROUNDS)  # fmt: skip
        return act

    def _suspend(self, store: Store, days: int, why: str, reason_code: str, note: str = "") -> Action:
        before = _state(store, "status", "suspended_until")
        until = self.now() + dt.timedelta(days=days)
        act = self._new_action("suspend_store", store=store, reason_code=reason_code, note=note,
                               details={"why": why, "days": days, "until": until.isoformat()})  # fmt: skip
        store.status, store.suspended_until, store.updated_at = "suspended", until, self.now()
        self.audit("suspend", "store", store.store_id, why=why, before=before, after=_state(store, "status", "suspended_until"))
        self._statement(act, store, f"Store {store.store_id} is suspended for {days} days, until {until:%Y-%m-%d}: "
                        "its listings are not shown and it cannot sell.", why + (f". {note}" if note else ""),
                        "terms", STORE_GROUNDS)  # fmt: skip
        return act

    def _close(self, store: Store, why: str, reason_code: str, note: str = "", operator_id: str | None = None) -> Action:
        before = _state(store, "status")
        act = self._new_action("close_store", store=store, reason_code=reason_code, note=note,
                               operator_id=operator_id, details={"why": why})  # fmt: skip
        store.status, store.suspended_until, store.updated_at = "closed", None, self.now()
        self.audit("close", "store", store.store_id, why=why, before=before, after={"status": "closed"})
        self._statement(act, store, f"Store {store.store_id} is closed: it cannot sell and its listings are removed.",
                        why + (f". {note}" if note else ""), "terms", STORE_GROUNDS)  # fmt: skip
        return act

    # the staff's direct actions

    def take_down(self, listing_id: str, reason_code: str, note: str = "") -> Action:
        self._require(*STAFF)
        if reason_code not in TAKE_DOWN:
            raise RefusedError(f"reason code {reason_code!r} is not a take-down reason; use one of {', '.join(TAKE_DOWN)}")
        listing = self.listing(listing_id)
        if listing.status != "active":
            raise ConflictError(f"listing {listing_id!r} is {listing.status} already")
        item = self.s.scalars(select(ReviewItem).where(ReviewItem.listing_id == listing_id,
                                                       ReviewItem.status == "open")).first()  # fmt: skip
        if item is not None:  # a queued listing is decided through its item, so the queue stays true
            self._decide(item, "take_down", reason_code, note, automated=False)
            return self.s.scalars(select(Action).where(Action.review_item_id == item.id)).one()
        return self._take_down(listing, reason_code, note)

    def warn_store(self, store_id: str, note: str) -> Action:
        self._require(*STAFF)
        return self._warn(self.store(store_id), note, reason_code="reviewer_warning")

    def add_points(self, store_id: str, violation: str, note: str) -> Action:
        self._require(*STAFF)
        store = self.store(store_id)
        act = self._new_action("add_points", store=store, reason_code=violation, note=note)
        self._statement(act, store, f"Store {store.store_id} received penalty points for {violation}.",
                        note, REASONS[violation].ground_type if violation in REASONS else "terms",
                        REASONS[violation].ground if violation in REASONS else STORE_GROUNDS)  # fmt: skip
        self._add_points(store, act, violation)
        return act

    def suspend_store(self, store_id: str, days: int, note: str) -> Action:
        self._require(*STAFF)
        store = self.store(store_id)
        if store.status == "closed":
            raise ConflictError(f"store {store_id!r} is closed; reinstate it before suspending it")
        return self._suspend(store, days, note, reason_code="reviewer_decision")

    def close_store(self, store_id: str, note: str) -> Action:
        self._require(*STAFF)
        store = self.store(store_id)
        if store.status == "closed":
            raise ConflictError(f"store {store_id!r} is closed already")
        return self._close(store, note, reason_code="reviewer_decision")

    def close_operator(self, operator_id: str, note: str) -> list[Action]:
        """Close every store linked to ``operator_id`` (from the link stage) that is not closed yet."""
        self._require(*STAFF)
        stores = list(self.s.scalars(select(Store).where(Store.operator_id == operator_id).order_by(Store.store_id)))
        if not stores:
            raise self._missing("operator", operator_id, denied=False)
        why = f"operator {operator_id} runs {len(stores)} linked stores. {note}".strip()
        return [self._close(st, why, reason_code="operator_closure", operator_id=operator_id)
                for st in stores if st.status != "closed"]  # fmt: skip

    def reinstate(self, action_id: int, note: str) -> Action:
        """Undo a takedown, suspension or closure (a person's decision, or an upheld appeal)."""
        self._require(*STAFF)
        return self._reinstate(self.action(action_id), note)

    def _reinstate(self, act: Action, note: str) -> Action:
        if act.reversed_at is not None:
            raise ConflictError(f"action {act.id} was reversed already")
        if act.kind not in RESTRICTIONS:
            raise RefusedError(f"action {act.id} ({act.kind}) restricts nothing that could be reinstated")
        now = self.now()
        store = self.s.get(Store, act.store_id) if act.store_id else None
        assert store is not None
        act.reversed_at = now
        undo = self._new_action("reinstate", store=store, listing=self.s.get(Listing, act.listing_id) if act.listing_id else None,
                                reason_code="reinstated", note=note, reverses=act, automated_decision=False)  # fmt: skip
        for entry in self.s.scalars(select(PenaltyEntry).where(PenaltyEntry.action_id == act.id, PenaltyEntry.cancelled_at.is_(None))):
            entry.cancelled_at, entry.cancel_reason = now, f"action {act.id} reversed: {note}"
            self.audit("cancel_points", "store", store.store_id, why=entry.cancel_reason, after={"ledger_id": entry.id})
        if act.kind == "take_down" and act.listing_id:
            listing = self.s.get(Listing, act.listing_id)
            assert listing is not None
            listing.status, listing.updated_at = "active", now
            self.audit("reinstate", "listing", listing.listing_id, why=note, before={"status": "removed"}, after={"status": "active"})
            if act.notice_id:
                notice = self.s.get(Notice, act.notice_id)
                assert notice is not None
                notice.status = "reversed"
                self.audit("reverse", "notice", notice.notice_id, why=note, before={"status": "upheld"}, after={"status": "reversed"})
                self.refresh_reputation(self.s.get(RightsHolder, notice.rights_holder_id))  # type: ignore[arg-type]
        if act.kind in ("suspend_store", "close_store") or store.status in ("suspended", "closed"):
            self._restore_store(store, act, note)
        return undo

    def _restore_store(self, store: Store, act: Action, note: str) -> None:
        """After a reversal, a store keeps only the state its remaining points (and other standing
        restrictions by a person) call for."""
        standing = self.s.scalars(select(Action).where(
            Action.store_id == store.store_id, Action.kind.in_(("suspend_store", "close_store")),
            Action.reversed_at.is_(None), Action.reason_code != "penalty_policy")).all()  # fmt: skip
        if standing:
            return  # a person suspended or closed it for reasons of its own; that stands until undone
        pts = self.points(store)
        allowed = "active"
        # undoing the very suspension or closure the store is under lifts it; the points stay on the
        # ledger for the next step. Undoing anything else leaves what the remaining points call for.
        lifted = {"suspend_store": "suspended", "close_store": "closed"}.get(act.kind) == store.status
        for s in self.cfg.policy.steps:
            if not lifted and pts >= s.at_points and s.action in ("suspend", "close"):
                allowed = "closed" if s.action == "close" else "suspended"
        if penalty.SEVERITY[store.status] > penalty.SEVERITY[allowed]:
            before = _state(store, "status", "suspended_until")
            # the policy-driven restrictions above what the points now call for are undone with it
            for other in self.s.scalars(select(Action).where(
                    Action.store_id == store.store_id, Action.kind.in_(("suspend_store", "close_store")),
                    Action.reversed_at.is_(None))):  # fmt: skip
                other.reversed_at = self.now()
            store.status, store.updated_at = "active", self.now()
            if allowed == "active":
                store.suspended_until = None
            self.audit("reinstate", "store", store.store_id, why=f"{pts} active points after action {act.id} was reversed. {note}".strip(),
                       before=before, after=_state(store, "status", "suspended_until"))  # fmt: skip

    # --- appeals ----------------------------------------------------------------------------------

    def file_appeal(self, action_id: int, statement: str) -> Appeal:
        self._require("seller", "admin")
        act = self.action(action_id)
        if act.kind not in RESTRICTIONS:
            raise RefusedError(f"action {action_id} ({act.kind}) is not a restriction that can be appealed")
        if act.reversed_at is not None:
            raise ConflictError(f"action {action_id} was reversed already")
        deadline = act.created_at + dt.timedelta(days=self.cfg.appeal_window_days)
        if self.now() > deadline:
            raise RefusedError(f"the appeal window for action {action_id} closed on {deadline:%Y-%m-%d} "
                               f"({self.cfg.appeal_window_days} days after the decision)")  # fmt: skip
        if self.s.execute(select(Appeal.id).where(Appeal.action_id == action_id, Appeal.status == "open")).first():
            raise ConflictError(f"action {action_id} has an open appeal already")
        if not statement.strip():
            raise RefusedError("an appeal needs a statement: say why the decision is wrong")
        ap = Appeal(action_id=act.id, store_id=act.store_id, filed_by=self.actor.user_id, statement=statement,
                    filed_at=self.now(), status="open")  # fmt: skip
        self.s.add(ap)
        self.s.flush()
        self.audit("appeal", "action", act.id, why=statement[:500], after={"appeal_id": ap.id})
        return ap

    def appeals(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[Appeal]:
        self._require(*READERS, "seller")
        q = select(Appeal).order_by(Appeal.filed_at, Appeal.id)
        if self.actor.role == "seller":
            q = q.join(Store, Store.store_id == Appeal.store_id).where(Store.seller_id == self.actor.seller_id)
        if status:
            q = q.where(Appeal.status == status)
        return list(self.s.scalars(q.limit(limit).offset(offset)))

    def decide_appeal(self, appeal_id: int, upheld: bool, note: str) -> Appeal:
        """A different person than the one who decided handles the appeal; upheld undoes the action."""
        self._require(*STAFF)
        ap = self.appeal(appeal_id)
        if ap.status != "open":
            raise ConflictError(f"appeal {appeal_id} was decided already ({ap.status})")
        act = self.s.get(Action, ap.action_id)
        assert act is not None
        deciders = {act.actor_id}
        if act.review_item_id:
            d = self.s.execute(select(Decision.reviewer_id).where(Decision.review_item_id == act.review_item_id)).scalar()
            deciders.add(d)
        if self.actor.user_id is not None and self.actor.user_id in deciders:
            raise RefusedError(f"appeal {appeal_id} must be handled by someone other than the person who decided action {act.id}")
        now = self.now()
        done = self.s.execute(update(Appeal).where(Appeal.id == ap.id, Appeal.status == "open")
                              .values(status="upheld" if upheld else "rejected", handler_id=self.actor.user_id,
                                      decision_note=note, decided_at=now)
                              .execution_options(synchronize_session=False))  # fmt: skip
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise ConflictError(f"appeal {appeal_id} was decided already")
        self.s.refresh(ap)
        self.audit("decide_appeal", "appeal", ap.id, why=note, before={"status": "open"}, after={"status": ap.status})
        if upheld:
            self._reinstate(act, f"appeal {ap.id} upheld: {note}".strip())
        return ap

    # --- notifier reputation ----------------------------------------------------------------------

    def _refresh_holder_suspension(self, rh: RightsHolder) -> None:
        if rh.status == "suspended" and rh.suspended_until and rh.suspended_until <= self.now():
            self.audit("suspension_ended", "rights_holder", rh.id, before={"status": "suspended"}, after={"status": "warned"})
            rh.status, rh.suspended_until = "warned", None

    def reputation(self, rh: RightsHolder) -> dict[str, Any]:
        """The rights holder's record over the rolling window (notices decided in it)."""
        r = self.cfg.reputation
        since = self.now() - dt.timedelta(days=r.window_days)
        rows = self.s.execute(select(Notice.status, func.count()).where(
            Notice.rights_holder_id == rh.id, Notice.decided_at >= since).group_by(Notice.status)).all()  # fmt: skip
        n = {status: count for status, count in rows}
        taken = n.get("upheld", 0) + n.get("reversed", 0)
        decided = taken + n.get("dismissed", 0) + n.get("rejected", 0)
        unfounded = n.get("dismissed", 0) + n.get("rejected", 0) + n.get("reversed", 0)
        return {
            "decided": decided, "upheld": n.get("upheld", 0), "counter_upheld": n.get("reversed", 0),
            "unfounded": unfounded,
            "takedown_rate": taken / decided if decided else None,
            "counter_notice_rate": n.get("reversed", 0) / taken if taken else None,
            "window_days": r.window_days,
        }  # fmt: skip

    def refresh_reputation(self, rh: RightsHolder) -> NotifierReputation | None:
        """Recompute the tier and status; records a snapshot and audits whenever either changes."""
        r = self.cfg.reputation
        self._refresh_holder_suspension(rh)
        rep = self.reputation(rh)
        judged = rep["decided"] >= r.min_decided
        good = (judged and rep["takedown_rate"] is not None and rep["takedown_rate"] >= r.good_faith_takedown_rate
                and (rep["counter_notice_rate"] or 0.0) <= r.good_faith_max_counter_rate)  # fmt: skip
        tier = "good_faith" if good and rh.status == "active" else "standard"
        status = rh.status
        abusive = rep["decided"] and rep["unfounded"] / rep["decided"] >= r.abuse_share
        if abusive and rep["unfounded"] >= r.suspend_after_unfounded and rh.status == "warned":
            status = "suspended"
        elif abusive and rep["unfounded"] >= r.warn_after_unfounded and rh.status == "active":
            status = "warned"
        if tier == rh.tier and status == rh.status:
            return None
        before = _state(rh, "tier", "status")
        rh.tier, rh.status = tier, status
        if status == "suspended":
            rh.suspended_until = self.now() + dt.timedelta(days=r.suspend_days)
            tier = rh.tier = "standard"
        why = (f"{rep['decided']} notices decided in {r.window_days} days: takedown rate "
               f"{_pct(rep['takedown_rate'])}, counter-notices upheld {_pct(rep['counter_notice_rate'])}, "
               f"{rep['unfounded']} unfounded")  # fmt: skip
        self.audit("reputation", "rights_holder", rh.id, why=why, before=before, after=_state(rh, "tier", "status"))
        snap = NotifierReputation(rights_holder_id=rh.id, computed_at=self.now(), window_days=r.window_days,
                                  decided=rep["decided"], upheld=rep["upheld"], counter_upheld=rep["counter_upheld"],
                                  unfounded=rep["unfounded"], takedown_rate=rep["takedown_rate"],
                                  counter_notice_rate=rep["counter_notice_rate"], tier=tier, status=status)  # fmt: skip
        self.s.add(snap)
        return snap

    # --- listings and stores, as sellers and staff see them ----------------------------------------

    def listings(self, store_id: str | None = None, status: str | None = None, limit: int = 100,
                 offset: int = 0) -> list[Listing]:  # fmt: skip
        self._require(*READERS, "seller")
        q = select(Listing).order_by(Listing.listing_id)
        if self.actor.role == "seller":
            q = q.join(Store, Store.store_id == Listing.store_id).where(Store.seller_id == self.actor.seller_id)
        if store_id:
            q = q.where(Listing.store_id == store_id)
        if status:
            q = q.where(Listing.status == status)
        return list(self.s.scalars(q.limit(limit).offset(offset)))

    def actions(self, store_id: str | None = None, limit: int = 100, offset: int = 0) -> list[Action]:
        self._require(*READERS, "seller")
        q = select(Action).order_by(Action.created_at, Action.id)
        if self.actor.role == "seller":
            q = q.join(Store, Store.store_id == Action.store_id).where(Store.seller_id == self.actor.seller_id)
        if store_id:
            q = q.where(Action.store_id == store_id)
        return list(self.s.scalars(q.limit(limit).offset(offset)))

    def statements(self, limit: int = 100, offset: int = 0) -> list[StatementOfReasons]:
        self._require(*READERS, "seller")
        q = select(StatementOfReasons).order_by(StatementOfReasons.id)
        if self.actor.role == "seller":
            q = q.where(StatementOfReasons.seller_id == self.actor.seller_id)
        return list(self.s.scalars(q.limit(limit).offset(offset)))

    def audit_log(self, entity: str | None = None, entity_id: str | None = None, limit: int = 100,
                  offset: int = 0) -> list[AuditEntry]:  # fmt: skip
        self._require("admin")
        q = select(AuditEntry).order_by(AuditEntry.id)
        if entity:
            q = q.where(AuditEntry.entity == entity)
        if entity_id:
            q = q.where(AuditEntry.entity_id == entity_id)
        return list(self.s.scalars(q.limit(limit).offset(offset)))


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _right_problem(brand: Brand, tm: Trademark | None, n: NoticeIn, now: dt.datetime) -> str | None:
    """Why the right a notice relies on does not hold (``tm``: the brand's trademark with the notice's
    registration number, if registered), or None."""
    if n.basis != "trademark":
        return None  # only trademarks are registered here; other rights are judged by the reviewer
    if tm is None:
        return (f"trademark {n.registration_no!r} is not registered for brand {brand.brand_id!r}; "
                "register it before relying on it")  # fmt: skip
    if tm.expires is not None and tm.expires < now.date():
        return f"trademark {n.registration_no!r} ({tm.office}) expired on {tm.expires.isoformat()}"
    return None
