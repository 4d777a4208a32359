"""The audit log is append-only in the database itself, and every change leaves an entry saying
who did it, why, and what was before and after."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from counterwatch.store.models import Action, AuditEntry
from tests.enforce.conftest import World, build_world


def _audit_rows(w: World) -> list[tuple]:
    with w.db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, actor, verb, entity, entity_id, why FROM audit_log ORDER BY id"))]


def _run_workflow(w: World) -> tuple[str, int, int]:
    nid = w.notice("L5")
    w.clock.advance(hours=2)
    with w.svc(w.rev1) as svc:
        svc.decide(w.item_for(nid), "take_down", "counterfeit", "fake stitching")
    with w.db.session() as s:
        act = s.scalars(select(Action.id).where(Action.kind == "take_down")).one()
    with w.svc(w.seller_1) as svc:
        ap = svc.file_appeal(act, "genuine").id
    with w.svc(w.rev2) as svc:
        svc.decide_appeal(ap, True, "invoice checks out")
    return nid, act, ap


@pytest.mark.parametrize(
    "sql",
    ["UPDATE audit_log SET why = 'rewritten'",
     "UPDATE audit_log SET actor = 'nobody' WHERE id = 1",
     "DELETE FROM audit_log",
     "DELETE FROM audit_log WHERE id = 1"],
)  # fmt: skip
def test_raw_sql_cannot_update_or_delete_the_audit_log(world: World, sql: str) -> None:
    w = world
    _run_workflow(w)
    before = _audit_rows(w)
    assert len(before) > 10
    with pytest.raises(DBAPIError, match="append-only"), w.db.engine.begin() as conn:
        conn.execute(text(sql))
    assert _audit_rows(w) == before
    # inserting stays possible: it is a log
    with w.db.engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_log (at, actor, verb, entity, entity_id, why) "
                          "VALUES (CURRENT_TIMESTAMP, 'ops', 'note', 'system', '0', 'manual entry')"))  # fmt: skip
    assert _audit_rows(w)[:-1] == before and _audit_rows(w)[-1][1:] == ("ops", "note", "system", "0", "manual entry")


def test_orm_cannot_rewrite_or_delete_an_entry(world: World) -> None:
    w = world
    _run_workflow(w)
    before = _audit_rows(w)
    with pytest.raises(DBAPIError, match="append-only"), w.db.session() as s:
        s.scalars(select(AuditEntry).order_by(AuditEntry.id)).first().why = "nothing happened"
    with pytest.raises(DBAPIError, match="append-only"), w.db.session() as s:
        s.delete(s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first())
    assert _audit_rows(w) == before


@pytest.mark.postgresql
def test_truncate_is_refused_on_postgresql(pg_databases) -> None:  # type: ignore[no-untyped-def]
    url = pg_databases.create()
    w = build_world(url)
    try:
        _run_workflow(w)
        before = _audit_rows(w)
        with pytest.raises(DBAPIError, match="append-only"), w.db.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
        with pytest.raises(DBAPIError, match="append-only"), w.db.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_log, actions, review_items CASCADE"))
        assert _audit_rows(w) == before
    finally:
        w.db.dispose()
        pg_databases.drop(url)


def test_every_change_is_audited_with_actor_and_before_after(world: World) -> None:
    w = world
    nid, act, ap = _run_workflow(w)
    with w.db.session() as s:
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    by = {(e.verb, e.entity, e.entity_id): e for e in entries}

    def entry(verb: str, entity: str, entity_id: object) -> AuditEntry:
        return by[(verb, entity, str(entity_id))]

    filed = entry("file", "notice", nid)
    assert (filed.actor, filed.actor_id, filed.after["status"]) == ("acme", w.brand_a.user_id, "pending")
    decided = entry("decide", "review_item", w.item_for(nid))
    assert (decided.actor, decided.actor_id) == ("rev1", w.rev1.user_id)
    assert decided.before == {"status": "open"} and decided.after == {"status": "decided", "outcome": "take_down"}
    assert "fake stitching" in decided.why
    down = entry("take_down", "listing", "L5")
    assert down.actor == "rev1" and down.before == {"status": "active"}
    assert down.after == {"status": "removed", "action_id": act}
    upheld = entry("decide", "notice", nid)
    assert upheld.before == {"status": "pending"} and upheld.after == {"status": "upheld"}
    points = entry("add_points", "store", "S1")
    assert points.after["points"] == 12 and "default-2026-11" in points.why
    assert entry("warn", "store", "S1").actor == "rev1"
    appealed = entry("appeal", "action", act)
    assert (appealed.actor, appealed.actor_id, appealed.after) == ("seller1", w.seller_1.user_id, {"appeal_id": ap})
    handled = entry("decide_appeal", "appeal", ap)
    assert (handled.actor, handled.before, handled.after) == ("rev2", {"status": "open"}, {"status": "upheld"})
    back = entry("reinstate", "listing", "L5")
    assert (back.actor, back.before, back.after) == ("rev2", {"status": "removed"}, {"status": "active"})
    reversed_ = entry("reverse", "notice", nid)
    assert (reversed_.before, reversed_.after) == ({"status": "upheld"}, {"status": "reversed"})
    assert entry("cancel_points", "store", "S1").actor == "rev2"
    # entries are in time order and each carries the clock's time
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert entries[-1].at == w.clock()
    # a refused request leaves no entry (its transaction is rolled back with everything else)
    n = len(entries)
    from counterwatch.errors import RefusedError

    with pytest.raises(RefusedError), w.svc(w.rev1) as svc:
        svc.add_points("S1", "spam", "no such violation")
    with w.db.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == n
