"""The penalty policy: a store is warned, suspended and closed exactly at the violation the policy
names, on both databases; and ``policy.active_points`` obeys its rules for any ledger (hypothesis)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from counterwatch.config import PenaltyPolicy, Settings, load_settings
from counterwatch.enforce import policy
from counterwatch.enforce.policy import LedgerRow, active_points
from counterwatch.store.models import Action, PenaltyEntry, StatementOfReasons, Store
from tests.enforce.conftest import World, build_world


def takedown(w: World, listing_id: str, reason: str = "counterfeit", settings: Settings | None = None) -> None:
    with w.svc(w.rev1, settings) as svc:
        svc.take_down(listing_id, reason, "reviewer saw a fake")


def state(w: World, store_id: str = "S1", settings: Settings | None = None) -> tuple[str, int, bool]:
    """(status, active points now, warned) of a store."""
    with w.svc(w.rev1, settings) as svc:
        st_ = svc.store(store_id)
        return st_.status, svc.points(st_), st_.warned_at is not None


def store_actions(w: World, store_id: str = "S1") -> list[str]:
    with w.db.session() as s:
        return list(s.scalars(select(Action.kind).where(Action.store_id == store_id, Action.kind != "take_down")
                              .order_by(Action.id)))  # fmt: skip


def test_default_policy_warns_suspends_and_closes_at_the_right_violation(world: World) -> None:
    w = world
    assert state(w) == ("active", 0, False)
    takedown(w, "L1")  # 12 points: the warning step
    assert state(w) == ("active", 12, True)
    assert store_actions(w) == ["warn"]

    w.clock.advance(days=2, hours=23)  # within 3 days of the first: the same violation group
    takedown(w, "L2")
    w.clock.advance(hours=1)  # exactly 3 days after the group's first: still the same group
    takedown(w, "L3")
    assert state(w) == ("active", 12, True)
    assert store_actions(w) == ["warn"]

    w.clock.advance(seconds=1)  # more than 3 days after the group's first: a second violation, 24 points
    suspended_at = w.clock()
    takedown(w, "L4")
    assert state(w) == ("suspended", 24, True)
    assert store_actions(w) == ["warn", "suspend_store"]
    with w.db.session() as s:
        store = s.get(Store, "S1")
        assert store.suspended_until == suspended_at + dt.timedelta(days=14)
        act = s.scalars(select(Action).where(Action.kind == "suspend_store")).one()
        assert act.reason_code == "penalty_policy" and act.details["days"] == 14
        sor = s.scalars(select(StatementOfReasons).where(StatementOfReasons.action_id == act.id)).one()
        assert "suspended for 14 days" in sor.restriction and "24 active penalty points" in sor.facts
        assert sor.ground_type == "terms" and sor.automated_decision is False

    w.clock.advance(days=20)  # suspension over; the third violation group closes the store
    takedown(w, "L5")
    assert state(w) == ("closed", 36, True)
    assert store_actions(w) == ["warn", "suspend_store", "close_store"]
    with w.db.session() as s:
        assert s.get(Store, "S1").suspended_until is None
    # the other store was never touched
    assert state(w, "S2") == ("active", 0, False)


def test_a_suspension_ends_after_its_days(world: World) -> None:
    w = world
    takedown(w, "L1")
    w.clock.advance(days=4)
    takedown(w, "L2")
    with w.db.session() as s:
        until = s.get(Store, "S1").suspended_until
    w.clock.at = until - dt.timedelta(seconds=1)
    for actor in (w.rev1, w.seller_1):  # staff and the seller see the same
        with w.svc(actor) as svc:
            assert svc.store("S1").status == "suspended"
    w.clock.at = until
    with w.svc(w.seller_1) as svc:
        store = svc.store("S1")
        assert (store.status, store.suspended_until) == ("active", None)
    with w.svc(w.admin) as svc:
        ended = svc.audit_log(entity="store", entity_id="S1")[-1]
        assert (ended.verb, ended.before, ended.after) == ("suspension_ended", {"status": "suspended"}, {"status": "active"})
    assert state(w) == ("active", 24, True)


def test_a_burst_within_the_window_counts_once(world: World) -> None:
    w = world
    for i in range(1, 9):  # eight takedowns in one sweep, hours apart
        takedown(w, f"L{i}")
        w.clock.advance(hours=6)
    assert state(w) == ("active", 12, True)
    assert store_actions(w) == ["warn"]
    assert w.count(PenaltyEntry) == 8  # each is on the ledger; the grouping happens when counting


def test_the_heaviest_violation_of_a_group_counts(world: World) -> None:
    w = world
    takedown(w, "L1", "misleading_listing")  # 2 points
    assert state(w) == ("active", 2, False)
    w.clock.advance(days=1)
    takedown(w, "L2", "trademark_misuse")  # 4 points, same group: the group counts 4
    assert state(w) == ("active", 4, False)
    w.clock.advance(days=1)
    takedown(w, "L3", "counterfeit")  # 12, same group: 12
    assert state(w) == ("active", 12, True)


def test_expired_points_no_longer_count(db_url: str) -> None:
    w = build_world(db_url)
    try:
        takedown(w, "L1")  # at T0, counts for 365 days
        takedown(w, "M1")
        w.clock.advance(days=364)
        takedown(w, "M2")  # S2: the first still counts: suspended
        assert state(w, "S2") == ("suspended", 24, True)
        w.clock.advance(days=1)  # T0 + 365 days: the first has expired
        assert state(w, "S1") == ("active", 0, True)
        takedown(w, "L2")
        assert state(w, "S1") == ("active", 12, True)
        assert store_actions(w, "S1") == ["warn"]  # no second warning, no suspension
    finally:
        w.db.dispose()


def test_reversed_takedown_lifts_a_policy_suspension(world: World) -> None:
    w = world
    takedown(w, "L1")
    w.clock.advance(days=5)
    takedown(w, "L2")
    assert state(w)[0] == "suspended"
    with w.db.session() as s:
        second = s.scalars(select(Action.id).where(Action.listing_id == "L2", Action.kind == "take_down")).one()
    w.clock.advance(days=1)
    with w.svc(w.rev2) as svc:
        svc.reinstate(second, "a reviewer found the goods genuine")
    assert state(w) == ("active", 12, True)
    with w.db.session() as s:
        assert s.get(Store, "S1").suspended_until is None
        assert s.scalars(select(Action.reversed_at).where(Action.kind == "suspend_store")).one() == w.clock()


def test_upheld_appeal_against_a_policy_suspension_lifts_it(world: World) -> None:
    w = world
    takedown(w, "L1")
    w.clock.advance(days=4)
    takedown(w, "L2")
    with w.db.session() as s:
        suspension = s.scalars(select(Action.id).where(Action.kind == "suspend_store")).one()
    w.clock.advance(days=1)
    with w.svc(w.seller_1) as svc:
        appeal_id = svc.file_appeal(suspension, "disproportionate: both items were returns").id
    with w.svc(w.rev2) as svc:
        svc.decide_appeal(appeal_id, True, "suspension lifted")
    assert state(w) == ("active", 24, True)  # the takedowns' points stand; the suspension does not
    with w.db.session() as s:
        assert s.get(Store, "S1").suspended_until is None
        assert s.scalars(select(Action.reversed_at).where(Action.id == suspension)).one() == w.clock()
    w.clock.advance(days=4)
    takedown(w, "L3")  # the next violation group takes it to the close step
    assert state(w) == ("closed", 36, True)


def test_a_persons_suspension_stands_when_a_takedown_is_reversed(world: World) -> None:
    w = world
    takedown(w, "L1")
    with w.svc(w.rev1) as svc:
        svc.suspend_store("S1", 30, "investigation of a supplier")
    with w.db.session() as s:
        first = s.scalars(select(Action.id).where(Action.kind == "take_down")).one()
        persons = s.scalars(select(Action.id).where(Action.kind == "suspend_store")).one()
    with w.svc(w.rev2) as svc:
        svc.reinstate(first, "genuine after all")
    assert state(w) == ("suspended", 0, True)
    with w.svc(w.rev2) as svc:
        svc.reinstate(persons, "investigation closed")
    assert state(w) == ("active", 0, True)


def _write_toml(root: Path, body: str) -> Settings:
    root.mkdir(parents=True, exist_ok=True)
    (root / "counterwatch.toml").write_text(body, encoding="utf-8")
    return load_settings(root)


@pytest.mark.parametrize("warn_first", [True, False])
def test_warn_before_suspend(db_url: str, tmp_path: Path, warn_first: bool) -> None:
    cfg = _write_toml(tmp_path / "ws", f"""
[enforce.policy]
version = "heavy-1"
warn_before_suspend = {str(warn_first).lower()}
[enforce.policy.violations]
counterfeit = {{ points = 30, counts_for_days = 365 }}
""")  # default steps: warn 12, suspend 24, close 36
    w = build_world(db_url, cfg)
    try:
        takedown(w, "L1")  # 30 points jumps past the warning step
        if warn_first:
            assert state(w) == ("active", 30, True)
            assert store_actions(w) == ["warn"]
            w.clock.advance(days=4)
            takedown(w, "L2")  # 60: now that it was warned, the close step applies
            assert state(w) == ("closed", 60, True)
            assert store_actions(w) == ["warn", "close_store"]
        else:
            assert state(w) == ("suspended", 30, False)
            assert store_actions(w) == ["suspend_store"]
    finally:
        w.db.dispose()


def test_custom_policy_from_toml(db_url: str, tmp_path: Path) -> None:
    cfg = _write_toml(tmp_path / "ws", """
[enforce.policy]
version = "strict-7"
group_window_days = 0
warn_before_suspend = false
automated_takedowns_count = true

[enforce.policy.violations]
counterfeit = { points = 5, counts_for_days = 30 }
misleading_listing = { points = 1, counts_for_days = 10 }

[[enforce.policy.steps]]
at_points = 5
action = "warn"

[[enforce.policy.steps]]
at_points = 10
action = "suspend"
suspend_days = 3

[[enforce.policy.steps]]
at_points = 15
action = "close"
""")
    assert cfg.enforce.policy.version == "strict-7" and [s.at_points for s in cfg.enforce.policy.steps] == [5, 10, 15]
    w = build_world(db_url, cfg)
    try:
        takedown(w, "L1", "misleading_listing")
        assert state(w) == ("active", 1, False)
        w.clock.advance(minutes=1)  # no grouping window: every violation counts
        takedown(w, "L2")
        assert state(w) == ("active", 6, True)
        w.clock.advance(minutes=1)
        takedown(w, "L3")
        assert state(w) == ("suspended", 11, True)
        with w.db.session() as s:
            assert s.get(Store, "S1").suspended_until == w.clock() + dt.timedelta(days=3)
        w.clock.advance(days=29, hours=23)  # the 3-day suspension is over; the misleading point expired at 10 days
        assert state(w) == ("active", 10, True)
        takedown(w, "L4")  # 5 + 5 + 5 = 15: closed
        assert state(w) == ("closed", 15, True)
        with w.db.session() as s:
            from counterwatch.store.models import AuditEntry

            whys = s.scalars(select(AuditEntry.why).where(AuditEntry.verb == "add_points")).all()
            assert whys and all(y.endswith("under policy strict-7") for y in whys)
    finally:
        w.db.dispose()


def test_violation_without_points_is_refused(world: World) -> None:
    from counterwatch.errors import RefusedError

    w = world
    with pytest.raises(RefusedError, match="no points"), w.svc(w.rev1) as svc:
        svc.add_points("S1", "spam", "not a configured violation")
    assert w.count(Action) == 0 and w.count(PenaltyEntry) == 0


# --------------------------------------------------------------------------- pure policy properties

BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DEFAULT = PenaltyPolicy()


@st.composite
def rows(draw: st.DrawFn, max_size: int = 12) -> list[LedgerRow]:
    out = []
    for _ in range(draw(st.integers(0, max_size))):
        start = BASE + dt.timedelta(hours=draw(st.integers(0, 24 * 60)))
        out.append(LedgerRow(start, start + dt.timedelta(days=draw(st.integers(1, 90))), draw(st.integers(0, 40)),
                             draw(st.booleans())))  # fmt: skip
    return out


ats = st.integers(0, 24 * 120).map(lambda h: BASE + dt.timedelta(hours=h))
windows = st.sampled_from([0.0, 0.5, 3.0, 7.0])


def _live(rs: list[LedgerRow], at: dt.datetime) -> list[LedgerRow]:
    return [r for r in rs if not r.cancelled and r.occurred_at <= at < r.expires_at]


@hsettings(max_examples=100, deadline=None)
@given(rows(), ats, windows)
def test_points_never_exceed_the_live_sum_nor_fall_below_the_heaviest(rs: list[LedgerRow], at: dt.datetime,
                                                                       window: float) -> None:  # fmt: skip
    pol = PenaltyPolicy(group_window_days=window)
    live = _live(rs, at)
    got = active_points(rs, at, pol)
    assert max((r.points for r in live), default=0) <= got <= sum(r.points for r in live)
    assert got <= sum(r.points for r in rs)


@hsettings(max_examples=100, deadline=None)
@given(rows(), ats, windows, st.randoms(use_true_random=False))
def test_points_do_not_depend_on_row_order(rs: list[LedgerRow], at: dt.datetime, window: float, rnd) -> None:  # type: ignore[no-untyped-def]
    pol = PenaltyPolicy(group_window_days=window)
    shuffled = list(rs)
    rnd.shuffle(shuffled)
    assert active_points(shuffled, at, pol) == active_points(rs, at, pol)
    assert active_points(reversed(rs), at, pol) == active_points(iter(rs), at, pol)


@hsettings(max_examples=100, deadline=None)
@given(rows(), ats, windows)
def test_cancelled_expired_and_future_rows_do_not_count(rs: list[LedgerRow], at: dt.datetime, window: float) -> None:
    pol = PenaltyPolicy(group_window_days=window)
    assert active_points(rs, at, pol) == active_points(_live(rs, at), at, pol)
    cancelled = [LedgerRow(r.occurred_at, r.expires_at, r.points, True) for r in rs]
    assert active_points(cancelled, at, pol) == 0
    future = [LedgerRow(at + dt.timedelta(seconds=1), at + dt.timedelta(days=9), 50)]
    expired = [LedgerRow(at - dt.timedelta(days=9), at, 50)]  # expires exactly now: no longer counts
    assert active_points(rs + future + expired, at, pol) == active_points(rs, at, pol)


@hsettings(max_examples=100, deadline=None)
@given(rows(), windows, st.integers(0, 40), st.integers(1, 1000), st.booleans())
def test_a_violation_outside_every_window_adds_exactly_its_points(rs: list[LedgerRow], window: float, points: int,
                                                                   gap_hours: int, before: bool) -> None:  # fmt: skip
    pol = PenaltyPolicy(group_window_days=window)
    span = dt.timedelta(days=window) + dt.timedelta(hours=gap_hours)
    far = dt.timedelta(days=1000)
    # every row counts at ``at``: long-lived, occurred before it
    rs = [LedgerRow(r.occurred_at, r.occurred_at + far, r.points, r.cancelled) for r in rs]
    if before:
        first = min((r.occurred_at for r in rs), default=BASE)
        new = LedgerRow(first - span, first - span + far, points)
        at = max((r.occurred_at for r in rs), default=BASE)
    else:
        last = max((r.occurred_at for r in rs), default=BASE)
        new = LedgerRow(last + span, last + span + far, points)
        at = new.occurred_at
    assert active_points([*rs, new], at, pol) == active_points(rs, at, pol) + points


@hsettings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=8), st.floats(0, 3.0), windows)
def test_a_group_within_the_window_counts_its_heaviest(points: list[int], spread_days: float, window: float) -> None:
    pol = PenaltyPolicy(group_window_days=window)
    spread = min(spread_days, window)
    rs = [LedgerRow(BASE + dt.timedelta(days=spread * i / len(points)), BASE + dt.timedelta(days=400), p)
          for i, p in enumerate(points)]  # fmt: skip
    assert active_points(rs, BASE + dt.timedelta(days=10), pol) == max(points)


@pytest.mark.parametrize(
    ("points", "status", "warned", "expected"),
    [(11, "active", False, None), (12, "active", False, "warn"), (12, "active", True, None),
     (24, "active", False, "warn"), (24, "active", True, "suspend"), (24, "suspended", True, None),
     (35, "suspended", True, None), (36, "suspended", True, "close"), (36, "active", False, "warn"),
     (100, "closed", True, None)],
)  # fmt: skip
def test_step_for_the_default_policy(points: int, status: str, warned: bool, expected: str | None) -> None:
    step = policy.step_for(points, status, warned, DEFAULT)
    assert (step.action if step else None) == expected
    if step and step.action == "suspend":
        assert step.suspend_days == 14
