"""The whole notice → review → takedown → appeal → reinstatement path, and who may see what."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from counterwatch.enforce.service import NoticeIn
from counterwatch.enforce.timing import time_to_action
from counterwatch.errors import ConflictError, NotFoundError, RefusedError
from counterwatch.store.models import (
    Action,
    Appeal,
    AuditEntry,
    Decision,
    Listing,
    Notice,
    PenaltyEntry,
    ReviewItem,
    RightsHolder,
    StatementOfReasons,
)
from tests.enforce.conftest import World


def _takedown_via_notice(w: World, listing_id: str = "L5") -> tuple[str, int]:
    """A notice on ``listing_id`` taken down by rev1; returns (notice id, takedown action id)."""
    nid = w.notice(listing_id)
    item = w.item_for(nid)
    with w.svc(w.rev1) as svc:
        svc.decide(item, "take_down", "counterfeit", "test purchase confirmed")
    with w.db.session() as s:
        return nid, s.scalars(select(Action.id).where(Action.kind == "take_down", Action.notice_id == nid)).one()


def test_notice_to_reinstatement_full_path(world: World) -> None:
    w = world
    # 1. the rights holder files a notice: it is pending and becomes a review item
    nid = w.notice("L5")
    with w.db.session() as s:
        n = s.get(Notice, nid)
        assert n.status == "pending" and n.rejection_reason is None
        item = s.scalars(select(ReviewItem).where(ReviewItem.notice_id == nid)).one()
        assert (item.source, item.status, item.priority, item.listing_id) == ("notice", "open", 1, "L5")
    with w.svc(w.rev1) as svc:
        assert [i.notice_id for i in svc.queue()] == [nid]

    # 2. five hours later a reviewer takes it down
    w.clock.advance(hours=5)
    with w.svc(w.rev1) as svc:
        d = svc.decide(item.id, "take_down", "counterfeit", "test purchase confirmed")
        assert (d.outcome, d.reviewer_id, d.automated) == ("take_down", w.rev1.user_id, False)
        assert svc.queue() == []
    with w.db.session() as s:
        assert s.get(Listing, "L5").status == "removed"
        assert s.get(Notice, nid).status == "upheld"
        act = s.scalars(select(Action).where(Action.kind == "take_down")).one()
        assert (act.listing_id, act.store_id, act.notice_id, act.review_item_id, act.actor_id) == (
            "L5", "S1", nid, item.id, w.rev1.user_id)
        assert not act.automated_detection and not act.automated_decision
        # DSA Art. 17: restriction, facts, automation, ground, redress
        sor = s.scalars(select(StatementOfReasons).where(StatementOfReasons.action_id == act.id)).one()
        assert sor.seller_id == "U1"
        assert "L5" in sor.restriction and "removed" in sor.restriction
        assert nid in sor.facts and "Acme Holdings" in sor.facts and "TM-ACME" in sor.facts
        assert "test purchase confirmed" in sor.facts
        assert sor.automated_detection is False and sor.automated_decision is False
        assert sor.ground_type == "illegal_content" and "trademark" in sor.ground.lower()
        assert "183 days" in sor.redress and "Art. 21" in sor.redress and str(act.id) in sor.redress
        # 12 points: the policy warns the store, with its own statement of reasons
        pts = s.scalars(select(PenaltyEntry).where(PenaltyEntry.store_id == "S1")).all()
        assert [(p.points, p.violation, p.cancelled_at) for p in pts] == [(12, "counterfeit", None)]
        warn = s.scalars(select(Action).where(Action.kind == "warn")).one()
        assert warn.store_id == "S1" and warn.reason_code == "penalty_policy"
        assert s.scalars(select(StatementOfReasons).where(StatementOfReasons.action_id == warn.id)).one().ground_type == "terms"
        takedown_id = act.id

    # time to action is recorded: 5 hours from arrival to decision
    with w.db.session() as s:
        tta = time_to_action(s, now=w.clock())
    assert tta["notices"]["decided"] == 1 and tta["notices"]["median_hours"] == pytest.approx(5.0)
    assert tta["review_items"]["decided"] == 1 and tta["review_items"]["median_hours"] == pytest.approx(5.0)
    assert tta["notices"]["within_24h"] == 1.0

    # 3. the seller sees the statement and appeals
    w.clock.advance(days=10)
    with w.svc(w.seller_1) as svc:
        assert [st.action_id for st in svc.statements()] == [takedown_id, warn.id]
        ap = svc.file_appeal(takedown_id, "These are genuine; invoice from the brand's distributor attached.")
        appeal_id = ap.id
        assert ap.status == "open" and ap.store_id == "S1"
    with pytest.raises(ConflictError), w.svc(w.seller_1) as svc:
        svc.file_appeal(takedown_id, "again")

    # 4. the reviewer who decided may not handle the appeal
    with pytest.raises(RefusedError, match="someone other than"), w.svc(w.rev1) as svc:
        svc.decide_appeal(appeal_id, True, "I was wrong")
    with w.db.session() as s:
        assert s.get(Appeal, appeal_id).status == "open"

    # 5. another reviewer upholds it: everything is undone
    with w.svc(w.rev2) as svc:
        done = svc.decide_appeal(appeal_id, True, "distributor invoice checks out")
        assert (done.status, done.handler_id) == ("upheld", w.rev2.user_id)
        assert svc.points(svc.store("S1")) == 0
        rep = svc.reputation(svc.s.get(RightsHolder, w.rh_a))
        assert rep["counter_upheld"] == 1 and rep["unfounded"] == 1 and rep["upheld"] == 0
        assert rep["counter_notice_rate"] == 1.0
    with w.db.session() as s:
        assert s.get(Listing, "L5").status == "active"
        assert s.get(Notice, nid).status == "reversed"
        assert s.get(Action, takedown_id).reversed_at == w.clock()
        undo = s.scalars(select(Action).where(Action.kind == "reinstate")).one()
        assert undo.reverses_id == takedown_id and undo.actor_id == w.rev2.user_id
        (entry,) = s.scalars(select(PenaltyEntry)).all()
        assert entry.cancelled_at == w.clock() and str(takedown_id) in entry.cancel_reason
        trail = [(a.verb, a.entity, a.actor) for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert trail[-4:] == [("decide_appeal", "appeal", "rev2"), ("cancel_points", "store", "rev2"),
                              ("reinstate", "listing", "rev2"), ("reverse", "notice", "rev2")]
    # the appeal is over: it cannot be decided again, nor the reversed action appealed
    with pytest.raises(ConflictError), w.svc(w.admin) as svc:
        svc.decide_appeal(appeal_id, False, "second thoughts")
    with pytest.raises(ConflictError, match="reversed already"), w.svc(w.seller_1) as svc:
        svc.file_appeal(takedown_id, "again")


def test_rejected_appeal_changes_nothing(world: World) -> None:
    w = world
    nid, takedown = _takedown_via_notice(w)
    with w.svc(w.seller_1) as svc:
        appeal_id = svc.file_appeal(takedown, "genuine").id
    with w.svc(w.rev2) as svc:
        assert svc.decide_appeal(appeal_id, False, "the photos show a fake").status == "rejected"
    with w.db.session() as s:
        assert s.get(Listing, "L5").status == "removed"
        assert s.get(Notice, nid).status == "upheld"
        assert s.scalars(select(PenaltyEntry.cancelled_at)).one() is None
        assert s.scalars(select(Action).where(Action.kind == "reinstate")).all() == []


def test_appeal_window_closes_after_the_configured_days(world: World) -> None:
    w = world
    _, takedown = _takedown_via_notice(w)
    decided_at = w.clock()
    w.clock.at = decided_at + dt.timedelta(days=183, seconds=1)
    with pytest.raises(RefusedError, match="appeal window"), w.svc(w.seller_1) as svc:
        svc.file_appeal(takedown, "too late")
    assert w.count(Appeal) == 0
    w.clock.at = decided_at + dt.timedelta(days=183)  # the last moment of the window
    with w.svc(w.seller_1) as svc:
        assert svc.file_appeal(takedown, "just in time").status == "open"


def test_appeal_needs_a_statement_and_a_restriction(world: World) -> None:
    w = world
    _, takedown = _takedown_via_notice(w)
    with pytest.raises(RefusedError, match="statement"), w.svc(w.seller_1) as svc:
        svc.file_appeal(takedown, "   ")
    with w.db.session() as s:
        reinstate_kind = s.scalars(select(Action.id).where(Action.kind == "warn")).one()
    with w.svc(w.rev2) as svc:
        svc.reinstate(takedown, "changed my mind")
    with w.db.session() as s:
        undo = s.scalars(select(Action.id).where(Action.kind == "reinstate")).one()
    with pytest.raises(RefusedError, match="not a restriction"), w.svc(w.seller_1) as svc:
        svc.file_appeal(undo, "appealing a reinstatement")
    assert reinstate_kind  # the warning exists and is itself appealable
    with w.svc(w.seller_1) as svc:
        assert svc.file_appeal(reinstate_kind, "the warning rested on a reversed takedown").status == "open"


@pytest.mark.parametrize(
    ("registration_no", "reason"),
    [("TM-OLD", "trademark 'TM-OLD' (CNIPA) expired on 2025-12-31"),
     ("TM-NOPE", "trademark 'TM-NOPE' is not registered for brand 'ACME'"),
     ("TM-OTHER", "trademark 'TM-OTHER' is not registered for brand 'ACME'")],
)  # fmt: skip
def test_notice_on_expired_or_unknown_trademark_is_rejected_with_the_reason(
    world: World, registration_no: str, reason: str
) -> None:
    w = world
    nid = w.notice("L7", registration_no=registration_no)
    with w.svc(w.brand_a) as svc:
        n = svc.notice(nid)
        assert n.status == "rejected"
        assert n.rejection_reason.startswith(reason)
        assert n.decided_at == w.clock()
        assert [x.notice_id for x in svc.notices(status="rejected")] == [nid]
    assert w.count(ReviewItem) == 0
    with w.db.session() as s:
        assert s.get(Listing, "L7").status == "active"
        audit = s.scalars(select(AuditEntry).where(AuditEntry.entity == "notice", AuditEntry.entity_id == nid)).one()
        assert audit.why.startswith(reason) and audit.after["status"] == "rejected"


def test_trademark_valid_through_its_expiry_day(world: World) -> None:
    w = world
    w.clock.at = dt.datetime(2025, 12, 31, 23, 0, tzinfo=dt.UTC)
    nid = w.notice("L8", registration_no="TM-OLD")
    w.clock.at = dt.datetime(2026, 1, 1, 0, 0, 1, tzinfo=dt.UTC)
    nid2 = w.notice("L9", registration_no="TM-OLD")
    with w.db.session() as s:
        assert s.get(Notice, nid).status == "pending"
        assert s.get(Notice, nid2).status == "rejected"


def test_notice_refused_for_bad_basis_and_duplicate_id(world: World) -> None:
    w = world
    with pytest.raises(RefusedError, match="basis"), w.svc(w.brand_a) as svc:
        svc.file_notice(NoticeIn("X1", "ACME", "L1", "rumour", "TM-ACME"))
    nid = w.notice("L1")
    with pytest.raises(ConflictError), w.svc(w.brand_a) as svc:
        svc.file_notice(NoticeIn(nid, "ACME", "L2", "trademark", "TM-ACME"))
    # a non-trademark right is not checked against the registry: the reviewer judges it
    nid2 = w.notice("L3", basis="copyright", registration_no="photo-42")
    with w.db.session() as s:
        assert s.get(Notice, nid2).status == "pending"


def test_notice_on_a_removed_listing_is_upheld_without_review(world: World) -> None:
    w = world
    _takedown_via_notice(w, "L5")
    nid = w.notice("L5", brand="OTHER", registration_no="TM-OTHER")
    with w.db.session() as s:
        assert s.get(Notice, nid).status == "upheld"
        assert s.scalars(select(ReviewItem).where(ReviewItem.notice_id == nid)).all() == []
        assert len(s.scalars(select(Action).where(Action.kind == "take_down")).all()) == 1


def test_keep_decision_dismisses_the_notice(world: World) -> None:
    w = world
    nid = w.notice("L6")
    with pytest.raises(RefusedError, match="does not fit"), w.svc(w.rev1) as svc:
        svc.decide(w.item_for(nid), "keep", "counterfeit")
    with w.svc(w.rev1) as svc:
        svc.decide(w.item_for(nid), "keep", "authorized_seller", "on the brand's list")
    with w.db.session() as s:
        assert s.get(Notice, nid).status == "dismissed"
        assert s.get(Listing, "L6").status == "active"
        assert s.scalars(select(Action)).all() == [] and s.scalars(select(PenaltyEntry)).all() == []


def test_queue_orders_by_notifier_tier_then_risk_then_age(world: World) -> None:
    w = world
    with w.db.session() as s:
        for i, (lid, risk) in enumerate((("M30", 0.99), ("M31", 0.2))):  # detection: lowest priority
            s.add(ReviewItem(listing_id=lid, source="detection", risk=risk, priority=2, status="open",
                             created_at=w.clock() - dt.timedelta(days=30 - i)))  # fmt: skip
        s.get(Listing, "L31").risk = 0.80  # the same risk as L30
    n_low = w.notice("L2")  # risk 0.52, filed first
    w.clock.advance(hours=1)
    n_high = w.notice("L30")  # risk 0.80
    w.clock.advance(hours=1)
    n_high_newer = w.notice("L31")  # risk 0.80, an hour younger
    with w.db.session() as s:
        s.get(RightsHolder, w.rh_b).tier = "good_faith"  # a trusted flagger's notice jumps the queue
    w.clock.advance(hours=1)
    n_trusted = w.notice("M2", brand="OTHER", registration_no="TM-OTHER")  # low risk 0.52, newest
    with w.svc(w.rev1) as svc:
        q = svc.queue()
        assert [i.priority for i in q] == [0, 1, 1, 1, 2, 2]
        assert [(i.notice_id or i.listing_id) for i in q] == [n_trusted, n_high, n_high_newer, n_low, "M30", "M31"]
        assert [i.notice_id for i in svc.queue(limit=2, offset=1)] == [n_high, n_high_newer]


def test_scope_denied_reads_like_missing(world: World) -> None:
    w = world
    nid, takedown = _takedown_via_notice(w, "L5")
    with w.svc(w.seller_1) as svc:
        appeal_id = svc.file_appeal(takedown, "genuine").id
        statement_id = svc.statements()[0].id

    def both(actor, call, other, missing):  # type: ignore[no-untyped-def]
        with pytest.raises(NotFoundError) as denied, w.svc(actor) as svc:
            call(svc, other)
        with pytest.raises(NotFoundError) as absent, w.svc(actor) as svc:
            call(svc, missing)
        assert denied.value.denied is True and absent.value.denied is False
        assert str(denied.value).replace(repr(other), "<id>") == str(absent.value).replace(repr(missing), "<id>")
        assert denied.value.entity == absent.value.entity

    # another seller: store, listing, action, appeal, statement of the first seller
    both(w.seller_2, lambda s, k: s.store(k), "S1", "S9")
    both(w.seller_2, lambda s, k: s.listing(k), "L5", "L999")
    both(w.seller_2, lambda s, k: s.action(k), takedown, 99_999)
    both(w.seller_2, lambda s, k: s.appeal(k), appeal_id, 99_999)
    both(w.seller_2, lambda s, k: s.statement(k), statement_id, 99_999)
    both(w.seller_2, lambda s, k: s.file_appeal(k, "not mine"), takedown, 99_999)
    # another brand: notice, brand, listing it never complained about
    both(w.brand_b, lambda s, k: s.notice(k), nid, "N999")
    both(w.brand_b, lambda s, k: s.brand(k), "ACME", "NOBRAND")
    both(w.brand_b, lambda s, k: s.add_trademark(k, "X-1", "EUIPO", "X"), "ACME", "NOBRAND")
    both(w.brand_b, lambda s, k: s.file_notice(NoticeIn("NX", k, "L1", "trademark", "TM-ACME")), "ACME", "NOBRAND")
    both(w.brand_b, lambda s, k: s.listing(k), "L5", "L999")
    # a brand sees a listing it complained about; a seller, its own things only
    with w.svc(w.brand_a) as svc:
        assert svc.listing("L5").listing_id == "L5"
        assert [n.notice_id for n in svc.notices()] == [nid]
    with w.svc(w.brand_b) as svc:
        assert svc.notices() == []
    with w.svc(w.seller_2) as svc:
        assert svc.appeals() == [] and svc.statements() == [] and svc.actions() == []
        assert {li.store_id for li in svc.listings()} == {"S2"}
    with w.svc(w.seller_1) as svc:
        assert [a.id for a in svc.appeals()] == [appeal_id]
        assert {li.store_id for li in svc.listings()} == {"S1"}
    # roles without the capability at all
    for actor, call in ((w.seller_1, lambda s: s.queue()), (w.brand_a, lambda s: s.decide(1, "keep", "genuine")),
                        (w.seller_1, lambda s: s.take_down("L6", "counterfeit")),
                        (w.brand_a, lambda s: s.decide_appeal(appeal_id, True, "mine")),
                        (w.rev1, lambda s: s.audit_log())):  # fmt: skip
        with pytest.raises(NotFoundError) as err, w.svc(actor) as svc:
            call(svc)
        assert err.value.denied is True
    # nothing was changed by any of it
    assert w.count(Decision) == 1 and w.count(Appeal) == 1
    with w.db.session() as s:
        assert s.get(Listing, "L6").status == "active" and s.get(Appeal, appeal_id).status == "open"
