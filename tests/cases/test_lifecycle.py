"""The case lifecycle on SQLite and PostgreSQL: the full chain with dates and figures, every illegal
step refused naming the allowed next states, dates that go backwards refused, roles and scope, and the
audit trail."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select

from counterwatch.cases.lifecycle import (
    CHAIN,
    FINAL,
    STATUSES,
    TRANSITIONS,
    FieldError,
    IllegalTransition,
    advance,
    get_case,
    list_cases,
    refer,
)
from counterwatch.errors import ConflictError, NotFoundError, RefusedError
from counterwatch.store.models import AuditEntry, Case, CaseEvent, Lead
from tests.cases.conftest import DAY, World

FULL = [
    ("accepted", 3, {}),
    ("investigating", 10, {"arrests": 1}),
    ("raided", 40, {"arrests": 4, "facilities_closed": 2, "units_seized": 5200, "value_seized": "1250000.5"}),
    ("prosecuted", 90, {}),
    ("convicted", 300, {"sentence_months": 36, "probation_months": 12, "fine": 200000}),
]


def _to(world: World, lead: str, target: str, actor: str = "liaison") -> int:
    """A case of ``lead`` brought to ``target`` the legal way; returns its id."""
    with world.db.session() as s:
        case = refer(s, world.actors[actor], lead, "Yiwu PSB", "CN-ZJ", DAY, "YW-1")
        cid = case.id
    if target == "referred":
        return cid
    path = ["dropped"] if target == "dropped" else [*CHAIN[1:], target] if target in FINAL else CHAIN[1 : CHAIN.index(target) + 1]
    with world.db.session() as s:
        for i, st in enumerate(path, start=1):
            advance(s, world.actors[actor], cid, st, DAY + dt.timedelta(days=i))
    return cid


def test_full_chain_with_dates_and_figures(world: World) -> None:
    lead = world.leads[0]
    with world.db.session() as s:
        case = refer(s, world.actors["liaison"], lead, "Yiwu PSB", "CN-ZJ", DAY, "YW-2025-114", "first referral")
        cid = case.id
    for status, days, figures in FULL:
        with world.db.session() as s:
            advance(s, world.actors["liaison"], cid, status, DAY + dt.timedelta(days=days), f"note {status}", figures)
    with world.db.session() as s:
        case = s.get(Case, cid)
        assert case.status == "convicted" and case.reference == "YW-2025-114" and case.referred_on == DAY
        events = list(s.scalars(select(CaseEvent).where(CaseEvent.case_id == cid).order_by(CaseEvent.id)))
        assert [e.status for e in events] == ["referred", *[f[0] for f in FULL]]
        assert [e.on for e in events] == [DAY, *[DAY + dt.timedelta(days=f[1]) for f in FULL]]
        assert events[0].note == "first referral" and events[-1].note == "note convicted"
        raid = events[3].figures
        assert raid == {"arrests": 4, "facilities_closed": 2, "units_seized": 5200, "value_seized": "1250000.50"}
        assert events[-1].figures == {"sentence_months": 36, "probation_months": 12, "fine": "200000.00"}
        assert all(e.recorded_by == world.actors["liaison"].user_id for e in events)
        assert s.get(Lead, lead).status == "referred"
        assert TRANSITIONS[case.status] == ()


def test_every_illegal_transition_is_refused_naming_the_allowed_states(world: World) -> None:
    """From each state, every status the lifecycle does not allow (skips, steps back, repeats, anything
    after a final outcome) is refused, the case unchanged, the message naming what may follow."""
    checked = 0
    for lead, state in zip(world.leads, STATUSES, strict=False):
        cid = _to(world, lead, state)
        for requested in STATUSES:
            if requested in TRANSITIONS[state]:
                continue
            with world.db.session() as s, pytest.raises(IllegalTransition) as info:
                advance(s, world.actors["liaison"], cid, requested, DAY + dt.timedelta(days=30))
            exc = info.value
            assert isinstance(exc, ConflictError)
            assert exc.current == state and exc.requested == requested and exc.allowed == TRANSITIONS[state]
            msg = str(exc)
            if state in FINAL:
                assert "final outcome" in msg
            else:
                assert "allowed next states are: " + ", ".join(TRANSITIONS[state]) in msg
                if requested in CHAIN and CHAIN.index(requested) < CHAIN.index(state):
                    assert "cannot go back" in msg
                elif requested != state:
                    assert "would skip" in msg
            checked += 1
        with world.db.session() as s:
            assert s.get(Case, cid).status == state
    # 8 states x 8 requests, minus the 11 allowed steps
    assert checked == 64 - sum(len(v) for v in TRANSITIONS.values())


def test_skip_message_names_the_skipped_steps(world: World) -> None:
    cid = _to(world, world.leads[0], "accepted")
    with world.db.session() as s, pytest.raises(IllegalTransition, match="raided would skip investigating"):
        advance(s, world.actors["liaison"], cid, "raided", DAY + dt.timedelta(days=9))
    with world.db.session() as s, pytest.raises(IllegalTransition, match="convicted would skip investigating, raided, prosecuted"):
        advance(s, world.actors["liaison"], cid, "convicted", DAY + dt.timedelta(days=9))


def test_dropped_from_any_open_state(world: World) -> None:
    for lead, state in zip(world.leads, CHAIN, strict=False):
        cid = _to(world, lead, state)
        with world.db.session() as s:
            advance(s, world.actors["liaison"], cid, "dropped", DAY + dt.timedelta(days=20), "agency declined")
            assert s.get(Case, cid).status == "dropped"


def test_dates_must_not_go_backwards_nor_into_the_future(world: World) -> None:
    cid = _to(world, world.leads[0], "investigating")  # investigating on DAY + 2
    with world.db.session() as s, pytest.raises(RefusedError, match=r"before its last step .*dates cannot go backwards"):
        advance(s, world.actors["liaison"], cid, "raided", DAY + dt.timedelta(days=1))
    with world.db.session() as s, pytest.raises(FieldError, match="in the future") as info:
        advance(s, world.actors["liaison"], cid, "raided", dt.date.today() + dt.timedelta(days=2))
    assert info.value.field == "on"
    with world.db.session() as s:  # the same day as the last step is fine
        advance(s, world.actors["liaison"], cid, "raided", DAY + dt.timedelta(days=2))
    with world.db.session() as s, pytest.raises(FieldError, match="in the future"):
        refer(s, world.actors["liaison"], world.leads[1], "A", "CN", dt.date.today() + dt.timedelta(days=3))


@pytest.mark.parametrize("status,figures,field", [
    ("accepted", {"arrests": 1}, "figures.arrests"),
    ("investigating", {"units_seized": 10}, "figures.units_seized"),
    ("investigating", {"arrests": -1}, "figures.arrests"),
    ("investigating", {"handcuffs": 2}, "figures.handcuffs"),
    ("investigating", {"arrests": "many"}, "figures.arrests"),
], ids=["not-applicable", "not-applicable-2", "negative", "unknown", "not-a-number"])  # fmt: skip
def test_figures_are_validated_per_step(world: World, status: str, figures: dict, field: str) -> None:
    cid = _to(world, world.leads[0], "accepted" if status == "investigating" else "referred")
    with world.db.session() as s, pytest.raises(FieldError) as info:
        advance(s, world.actors["liaison"], cid, status, DAY + dt.timedelta(days=5), "", figures)
    assert info.value.field == field
    assert field.split(".")[1] in str(info.value)


def test_unknown_status_and_bad_referrals(world: World) -> None:
    cid = _to(world, world.leads[0], "referred")
    liaison = world.actors["liaison"]
    with world.db.session() as s, pytest.raises(FieldError, match="unknown status 'arrested'"):
        advance(s, liaison, cid, "arrested", DAY)
    with world.db.session() as s, pytest.raises(ConflictError, match=f"referred already \\(case {cid}\\)"):
        refer(s, liaison, world.leads[0], "Other PSB", "CN-GD", DAY)
    with world.db.session() as s, pytest.raises(NotFoundError) as info:
        refer(s, liaison, "NO-SUCH-LEAD", "Other PSB", "CN-GD", DAY)
    assert not info.value.denied
    with world.db.session() as s, pytest.raises(FieldError, match="agency is required"):
        refer(s, liaison, world.leads[1], "  ", "CN-GD", DAY)
    with world.db.session() as s:
        s.get(Lead, world.leads[2]).status = "stale"
    with world.db.session() as s, pytest.raises(RefusedError, match="stale"):
        refer(s, liaison, world.leads[2], "Other PSB", "CN-GD", DAY)
    with world.db.session() as s, pytest.raises(NotFoundError):
        advance(s, liaison, 999_999, "accepted", DAY)


@pytest.mark.parametrize("role_user", ["seller", "acme", "rev"])
def test_other_roles_see_nothing(world: World, role_user: str) -> None:
    cid = _to(world, world.leads[0], "accepted")
    who = world.actors[role_user]
    calls = [
        lambda s: refer(s, who, world.leads[1], "A", "CN", DAY),
        lambda s: advance(s, who, cid, "investigating", DAY + dt.timedelta(days=5)),
        lambda s: get_case(s, who, cid),
        lambda s: list_cases(s, who),
    ]
    for call in calls:
        with world.db.session() as s, pytest.raises(NotFoundError) as info:
            call(s)
        assert info.value.denied
    with world.db.session() as s:
        assert s.get(Case, cid).status == "accepted"


def test_investigator_reads_only_and_admin_acts(world: World) -> None:
    cid = _to(world, world.leads[0], "accepted", actor="admin")
    inv = world.actors["inv"]
    with world.db.session() as s:
        assert get_case(s, inv, cid).status == "accepted"
        assert [c.id for c in list_cases(s, inv)] == [cid]
    for call in (lambda s: advance(s, inv, cid, "investigating", DAY + dt.timedelta(days=5)),
                 lambda s: refer(s, inv, world.leads[1], "A", "CN", DAY)):  # fmt: skip
        with world.db.session() as s, pytest.raises(NotFoundError) as info:
            call(s)
        assert info.value.denied


def test_every_change_is_audited_with_before_and_after(world: World) -> None:
    cid = _to(world, world.leads[0], "referred")
    with world.db.session() as s:
        advance(s, world.actors["liaison"], cid, "accepted", DAY + dt.timedelta(days=4), "accepted by PSB")
    with world.db.session() as s, pytest.raises(IllegalTransition):
        advance(s, world.actors["liaison"], cid, "convicted", DAY + dt.timedelta(days=5))
    with world.db.session() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.verb.in_(["refer", "advance"])).order_by(AuditEntry.id)))
    assert [(r.verb, r.entity) for r in rows] == [("refer", "case"), ("refer", "lead"), ("advance", "case")]
    assert all(r.actor == "liaison" and r.actor_id == world.actors["liaison"].user_id for r in rows)
    ref_case, ref_lead, adv = rows
    assert ref_case.entity_id == str(cid) and ref_case.before is None
    assert ref_case.after["agency"] == "Yiwu PSB" and ref_case.after["status"] == "referred"
    assert ref_lead.before == {"status": "open"} and ref_lead.after == {"status": "referred", "case_id": cid}
    assert adv.before == {"status": "referred", "on": DAY.isoformat()}
    assert adv.after == {"status": "accepted", "on": (DAY + dt.timedelta(days=4)).isoformat(), "figures": {}}
    assert adv.why == "accepted by PSB"


def test_transitions_table_is_the_documented_chain() -> None:
    for a, b in itertools.pairwise(CHAIN):
        assert b in TRANSITIONS[a]
    for st in CHAIN:
        assert "dropped" in TRANSITIONS[st]
    assert TRANSITIONS["prosecuted"] == ("convicted", "acquitted", "dropped")
    assert all(TRANSITIONS[f] == () for f in FINAL)
