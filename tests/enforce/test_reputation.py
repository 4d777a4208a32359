"""Notifier reputation: the good-faith tier follows the statistics up and down; repeated unfounded
notices earn a warning, then a suspension that refuses notices until it ends."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from counterwatch.config import Settings
from counterwatch.enforce.service import NoticeIn
from counterwatch.errors import RefusedError
from counterwatch.store.models import Action, AuditEntry, Notice, NotifierReputation, ReviewItem, RightsHolder
from tests.enforce.conftest import World, build_world


def holder(w: World, rh_id: int | None = None) -> tuple[str, str]:
    with w.db.session() as s:
        rh = s.get(RightsHolder, rh_id or w.rh_a)
        return rh.tier, rh.status


def decided_notice(w: World, listing_id: str, outcome: str = "take_down") -> str:
    """A valid notice from Acme, decided by rev1 an hour later."""
    nid = w.notice(listing_id)
    w.clock.advance(hours=1)
    with w.svc(w.rev1) as svc:
        svc.decide(w.item_for(nid), outcome, "counterfeit" if outcome == "take_down" else "genuine")
    return nid


def listings():  # type: ignore[no-untyped-def]
    for prefix in ("L", "M"):
        for i in range(1, 41):
            yield f"{prefix}{i}"


def test_good_faith_tier_rises_at_min_decided_and_falls_with_upheld_appeals(world: World) -> None:
    w = world
    ids = listings()
    nids = []
    for _ in range(19):
        nids.append(decided_notice(w, next(ids)))
    assert holder(w) == ("standard", "active")  # 19 of 20 decided: too few to judge
    nids.append(decided_notice(w, next(ids)))
    assert holder(w) == ("good_faith", "active")
    with w.db.session() as s:
        snap = s.scalars(select(NotifierReputation).where(NotifierReputation.rights_holder_id == w.rh_a)).one()
        assert (snap.tier, snap.decided, snap.upheld, snap.takedown_rate, snap.counter_notice_rate) == (
            "good_faith", 20, 20, 1.0, 0.0)
        audit = s.scalars(select(AuditEntry).where(AuditEntry.verb == "reputation")).one()
        assert audit.before == {"tier": "standard", "status": "active"} and audit.after["tier"] == "good_faith"
    # a good-faith notice goes to the front of the queue
    trusted = w.notice(next(ids))
    with w.db.session() as s:
        assert s.scalars(select(ReviewItem.priority).where(ReviewItem.notice_id == trusted)).one() == 0

    def uphold_appeal(nid: str) -> None:
        with w.db.session() as s:
            act = s.scalars(select(Action.id).where(Action.notice_id == nid, Action.kind == "take_down")).one()
        seller = w.seller_1 if _store_of(w, act) == "S1" else w.seller_2
        with w.svc(seller) as svc:
            ap = svc.file_appeal(act, "genuine goods")
        with w.svc(w.rev2) as svc:
            svc.decide_appeal(ap.id, True, "invoice checks out")

    uphold_appeal(nids[0])  # 1 of 20 takedowns reversed: 5 %, still within the limit
    assert holder(w) == ("good_faith", "active")
    uphold_appeal(nids[1])  # 2 of 20: 10 % > 5 %
    assert holder(w) == ("standard", "active")
    with w.svc(w.admin) as svc:
        rep = svc.reputation(svc.s.get(RightsHolder, w.rh_a))
    assert (rep["decided"], rep["upheld"], rep["counter_upheld"], rep["counter_notice_rate"]) == (20, 18, 2, 0.1)
    with w.db.session() as s:
        last = s.scalars(select(NotifierReputation).order_by(NotifierReputation.id.desc())).first()
        assert (last.tier, last.counter_upheld) == ("standard", 2)


def _store_of(w: World, action_id: int) -> str:
    with w.db.session() as s:
        return s.get(Action, action_id).store_id


@pytest.mark.parametrize(("kept", "tier"), [(2, "good_faith"), (3, "standard")])
def test_good_faith_needs_ninety_percent_takedowns(world: World, kept: int, tier: str) -> None:
    w = world
    ids = listings()
    for _ in range(kept):
        decided_notice(w, next(ids), "keep")
    for _ in range(20 - kept):
        decided_notice(w, next(ids))
    assert holder(w) == (tier, "active")  # 18/20 = 90 % qualifies, 17/20 = 85 % does not


def test_good_faith_lapses_when_the_record_leaves_the_window(world: World) -> None:
    w = world
    ids = listings()
    for _ in range(20):
        decided_notice(w, next(ids))
    assert holder(w)[0] == "good_faith"
    w.clock.advance(days=91)  # the 20 decisions are outside the 90-day window now
    decided_notice(w, next(ids))
    assert holder(w)[0] == "standard"


def test_good_faith_auto_approval(db_url: str) -> None:
    cfg = Settings.model_validate({"enforce": {"reputation": {"good_faith_auto_approve": True}}})
    w = build_world(db_url, cfg)
    try:
        with w.db.session() as s:
            s.get(RightsHolder, w.rh_a).tier = "good_faith"
        nid = w.notice("L3")
        with w.db.session() as s:
            assert s.get(Notice, nid).status == "upheld"
            item = s.scalars(select(ReviewItem).where(ReviewItem.notice_id == nid)).one()
            assert item.status == "decided"
            act = s.scalars(select(Action).where(Action.kind == "take_down")).one()
            assert act.automated_decision is True and act.automated_detection is False
        nid_b = w.notice("M3", brand="OTHER", registration_no="TM-OTHER")  # a standard notifier waits
        with w.db.session() as s:
            assert s.get(Notice, nid_b).status == "pending"
    finally:
        w.db.dispose()


def test_unfounded_notices_warn_then_suspend_the_notifier(world: World) -> None:
    w = world
    for i in range(1, 10):
        w.notice(f"L{i}", registration_no=f"TM-FAKE-{i}")  # rejected: no such trademark
    assert holder(w) == ("standard", "active")
    w.notice("L10", registration_no="TM-FAKE-10")  # the 10th unfounded notice: a warning
    assert holder(w) == ("standard", "warned")
    for i in range(11, 20):
        w.notice(f"L{i}", registration_no=f"TM-FAKE-{i}")
    assert holder(w) == ("standard", "warned")
    suspended_at = w.clock.advance(hours=1)
    w.notice("L20", registration_no="TM-FAKE-20")  # the 20th: suspended
    assert holder(w) == ("standard", "suspended")
    with w.db.session() as s:
        rh = s.get(RightsHolder, w.rh_a)
        assert rh.suspended_until == suspended_at + dt.timedelta(days=30)
        statuses = [r.status for r in s.scalars(select(NotifierReputation).order_by(NotifierReputation.id))]
        assert statuses == ["warned", "suspended"]
        verbs = [(a.before, a.after) for a in s.scalars(select(AuditEntry).where(AuditEntry.verb == "reputation"))]
        assert [b["status"] for b, _ in verbs] == ["active", "warned"] and verbs[-1][1]["status"] == "suspended"
    n_before = w.count(Notice)

    # a suspended notifier's notices are refused, valid or not, and nothing is recorded
    w.clock.at = suspended_at + dt.timedelta(days=30, seconds=-1)
    with pytest.raises(RefusedError, match="suspended"), w.svc(w.brand_a) as svc:
        svc.file_notice(NoticeIn("N-late", "ACME", "L30", "trademark", "TM-ACME"))
    assert w.count(Notice) == n_before
    # other notifiers are not affected
    w.notice("M1", brand="OTHER", registration_no="TM-OTHER")

    # the suspension ends after suspend_days: back to warned, notices accepted again
    w.clock.at = suspended_at + dt.timedelta(days=30)
    nid = w.notice("L30")
    with w.db.session() as s:
        assert s.get(Notice, nid).status == "pending"
        rh = s.get(RightsHolder, w.rh_a)
        assert (rh.status, rh.suspended_until) == ("warned", None)
        assert s.scalars(select(AuditEntry).where(AuditEntry.verb == "suspension_ended")).one().entity_id == str(w.rh_a)


@pytest.mark.parametrize(("founded", "warned"), [(10, True), (11, False)])
def test_warning_needs_unfounded_to_be_half_of_the_decided(world: World, founded: int, warned: bool) -> None:
    w = world
    ids = listings()
    for _ in range(founded):
        decided_notice(w, next(ids))
    for i in range(10):
        w.notice(next(ids), registration_no=f"TM-FAKE-{i}")
    # 10 unfounded of 20 decided is half: warned; of 21 it is less than half: not
    assert holder(w)[1] == ("warned" if warned else "active")


def test_dismissed_and_reversed_notices_count_as_unfounded(world: World) -> None:
    w = world
    ids = listings()
    for _ in range(10):
        decided_notice(w, next(ids), "keep")  # dismissed by a reviewer
    assert holder(w)[1] == "warned"
    with w.svc(w.admin) as svc:
        rep = svc.reputation(svc.s.get(RightsHolder, w.rh_a))
    assert (rep["decided"], rep["unfounded"], rep["takedown_rate"]) == (10, 10, 0.0)
