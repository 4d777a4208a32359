"""Two reviewers deciding one review item: exactly one decision stands, the other reviewer is told
who decided (ConflictError), whether they come one after the other or at the very same moment."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from counterwatch.enforce.service import Actor, Enforcement
from counterwatch.errors import ConflictError
from counterwatch.store.models import Action, Appeal, Decision, Listing, Notice, PenaltyEntry, ReviewItem
from tests.enforce.conftest import World


def _one_decision(w: World, item_id: int) -> None:
    """One decision, at most one takedown and one ledger entry for the item's listing."""
    with w.db.session() as s:
        item = s.get(ReviewItem, item_id)
        assert len(s.scalars(select(Decision).where(Decision.review_item_id == item_id)).all()) == 1
        assert item.status == "decided"
        acts = s.scalars(select(Action.id).where(Action.kind == "take_down", Action.listing_id == item.listing_id)).all()
        assert len(acts) <= 1
        assert len(s.scalars(select(PenaltyEntry).where(PenaltyEntry.action_id.in_(acts))).all()) == len(acts)


def test_second_decision_is_a_conflict(world: World) -> None:
    w = world
    nid = w.notice("L4")
    item = w.item_for(nid)
    with w.svc(w.rev1) as svc:
        svc.decide(item, "take_down", "counterfeit")
    w.clock.advance(minutes=3)
    with pytest.raises(ConflictError, match=rf"review item {item} was decided already \(take_down, counterfeit\) "
                                            rf"by reviewer #{w.rev1.user_id}"), w.svc(w.rev2) as svc:  # fmt: skip
        svc.decide(item, "keep", "genuine")
    with pytest.raises(ConflictError), w.svc(w.rev1) as svc:  # the same reviewer twice: also refused
        svc.decide(item, "take_down", "counterfeit")
    _one_decision(w, item)
    with w.db.session() as s:
        assert s.get(Notice, nid).status == "upheld"
        assert s.get(Listing, "L4").status == "removed"


def test_direct_takedown_of_a_queued_listing_goes_through_its_item(world: World) -> None:
    w = world
    nid = w.notice("L4")
    item = w.item_for(nid)
    with w.svc(w.rev1) as svc:
        act = svc.take_down("L4", "counterfeit")
        assert act.review_item_id == item
    with pytest.raises(ConflictError), w.svc(w.rev2) as svc:
        svc.decide(item, "keep", "genuine")
    with pytest.raises(ConflictError, match="removed already"), w.svc(w.rev2) as svc:
        svc.take_down("L4", "counterfeit")
    _one_decision(w, item)


class Gate:
    """Where the two threads meet. On PostgreSQL both sessions read the item as open, then write at
    once (the unique decision key decides). SQLite runs one writing transaction at a time (the
    store begins every transaction IMMEDIATE): both threads start their sessions at the same
    instant, and the one that gets the lock second must see the first one's decision."""

    def __init__(self, dialect: str) -> None:
        self.both_read = dialect != "sqlite"
        self._barrier = threading.Barrier(2, timeout=30)

    def before_session(self) -> None:
        if not self.both_read:
            self._barrier.wait()

    def after_read(self) -> None:
        if self.both_read:
            self._barrier.wait()


def _race(w: World, call_a, call_b, actors: tuple[Actor, Actor]) -> list[object]:  # type: ignore[no-untyped-def]
    """Run two units of work in two threads with two sessions, released together by a ``Gate``.
    Returns each thread's result ("ok") or exception."""
    gate = Gate(w.db.dialect)
    results: list[object] = [None, None]

    def run(i: int, call, actor: Actor) -> None:  # type: ignore[no-untyped-def]
        try:
            gate.before_session()
            with w.db.session() as s:
                svc = Enforcement(s, w.settings, actor, now=w.clock)
                call(svc, gate)
            results[i] = "ok"
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c, a)) for i, (c, a) in enumerate(zip((call_a, call_b), actors, strict=False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "a deciding thread hung"
    return results


@pytest.mark.parametrize("outcomes", [("take_down", "take_down"), ("take_down", "keep"), ("keep", "take_down")])
@pytest.mark.parametrize("rounds", [3])
def test_concurrent_decisions_exactly_one_wins(world: World, outcomes: tuple[str, str], rounds: int) -> None:
    w = world
    for r in range(rounds):
        listing = f"L{10 + r}"
        nid = w.notice(listing)
        item = w.item_for(nid)

        def decide(outcome: str, item: int = item):  # type: ignore[no-untyped-def]
            def call(svc: Enforcement, gate: Gate) -> None:
                it = svc.review_item(item)
                if gate.both_read:
                    assert it.status == "open"  # both saw it open before either wrote
                gate.after_read()
                svc.decide(item, outcome, "counterfeit" if outcome == "take_down" else "genuine")

            return call

        results = _race(w, decide(outcomes[0]), decide(outcomes[1]), (w.rev1, w.rev2))
        assert sorted(type(x).__name__ for x in results) == ["ConflictError", "str"], results
        winner = results.index("ok")
        _one_decision(w, item)
        with w.db.session() as s:
            d = s.scalars(select(Decision).where(Decision.review_item_id == item)).one()
            assert d.reviewer_id == (w.rev1, w.rev2)[winner].user_id and d.outcome == outcomes[winner]
            wins_takedown = outcomes[winner] == "take_down"
            assert s.get(Listing, listing).status == ("removed" if wins_takedown else "active")
            assert s.get(Notice, nid).status == ("upheld" if wins_takedown else "dismissed")
            takedowns = s.scalars(select(Action).where(Action.kind == "take_down", Action.listing_id == listing)).all()
            assert len(takedowns) == int(wins_takedown)
            # the loser's transaction left nothing behind: one audit entry for the item's decision
            from counterwatch.store.models import AuditEntry

            decides = s.scalars(select(AuditEntry).where(AuditEntry.verb == "decide", AuditEntry.entity == "review_item",
                                                         AuditEntry.entity_id == str(item))).all()  # fmt: skip
            assert len(decides) == 1
        loser = results[1 - winner]
        assert "decided already" in str(loser) or "no longer open" in str(loser)


def test_concurrent_appeal_decisions_exactly_one_wins(world: World) -> None:
    w = world
    nid = w.notice("L20")
    with w.svc(w.admin) as svc:
        svc.decide(w.item_for(nid), "take_down", "counterfeit")
    with w.db.session() as s:
        act = s.scalars(select(Action.id).where(Action.kind == "take_down")).one()
    with w.svc(w.seller_1) as svc:
        appeal_id = svc.file_appeal(act, "genuine").id

    def decide(upheld: bool):  # type: ignore[no-untyped-def]
        def call(svc: Enforcement, gate: Gate) -> None:
            ap = svc.appeal(appeal_id)
            if gate.both_read:
                assert ap.status == "open"
            gate.after_read()
            svc.decide_appeal(appeal_id, upheld, "decided")

        return call

    results = _race(w, decide(True), decide(False), (w.rev1, w.rev2))
    assert sorted(type(x).__name__ for x in results) == ["ConflictError", "str"], results
    winner = results.index("ok")
    with w.db.session() as s:
        ap = s.get(Appeal, appeal_id)
        assert ap.status == ("upheld", "rejected")[winner]
        assert ap.handler_id == (w.rev1, w.rev2)[winner].user_id
        reinstated = s.scalars(select(Action).where(Action.kind == "reinstate")).all()
        assert len(reinstated) == (1 if winner == 0 else 0)
        assert s.get(Listing, "L20").status == ("active" if winner == 0 else "removed")
