"""The API's async unit of work (``deps.run`` over ``Database.run``): requests served concurrently by
one event loop, on SQLite and PostgreSQL. On PostgreSQL the statements await psycopg's async
connection, so a request waiting on the database does not hold up the others; the guarantees stay
those of one transaction per request: one winner of two decisions, nothing half-written."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text

from counterwatch.api import schemas as sc
from counterwatch.api.app import create_app
from counterwatch.store.db import Database
from counterwatch.store.models import AuditEntry, Decision, Notice, ReviewItem
from tests.api.conftest import HOLDERS, Seeded

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def _with_client(db: Database, scenario: Any) -> Any:
    """``scenario(client)`` against the app on this event loop, requests in flight together."""
    app = create_app(db)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            return await scenario(client)
    finally:
        await db.dispose_async()


def _open_items(seeded: Seeded) -> list[int]:
    with seeded.db.session() as s:
        return list(s.scalars(select(ReviewItem.id).where(ReviewItem.status == "open").order_by(ReviewItem.id)))


def test_concurrent_decisions_one_winner_each(seeded: Seeded) -> None:
    """Two reviewers decide each open item at the same moment, all items at once: exactly one 201 per
    item, the other a 409 naming the winner, and one decision and one audit entry per item."""
    items = _open_items(seeded)
    assert len(items) >= 6
    bodies = {"rev1": {"outcome": "take_down", "reason_code": "counterfeit"},
              "rev2": {"outcome": "keep", "reason_code": "genuine"}}  # fmt: skip

    async def scenario(client: httpx.AsyncClient) -> list[tuple[int, str, httpx.Response]]:
        calls = [(item, who) for item in items for who in ("rev1", "rev2")]
        answers = await asyncio.gather(*(client.post(f"/review/items/{item}/decision", json=bodies[who],
                                                     headers=seeded.auth(who)) for item, who in calls))  # fmt: skip
        return [(item, who, r) for (item, who), r in zip(calls, answers, strict=True)]

    results = asyncio.run(_with_client(seeded.db, scenario))
    for item in items:
        mine = [(who, r) for i, who, r in results if i == item]
        assert sorted(r.status_code for _, r in mine) == [201, 409], [(w, r.status_code, r.text) for w, r in mine]
        (winner, _won), (_loser, lost) = sorted(mine, key=lambda x: x[1].status_code)
        assert lost.json()["error"] == "conflict"
        assert f"reviewer #{seeded.user_ids[winner]}" in lost.json()["detail"], lost.text
        with seeded.db.session() as s:
            (d,) = s.scalars(select(Decision).where(Decision.review_item_id == item)).all()
            assert d.reviewer_id == seeded.user_ids[winner] and d.outcome == bodies[winner]["outcome"]
            assert s.get(ReviewItem, item).status == "decided"  # type: ignore[union-attr]
        assert seeded.count(AuditEntry, AuditEntry.verb == "decide", AuditEntry.entity == "review_item",
                            AuditEntry.entity_id == str(item)) == 1  # fmt: skip


def test_concurrent_notices_all_filed_once(seeded: Seeded) -> None:
    """Forty notices filed at once, four ids twice: each id is recorded once, with its audit entry
    and review item, the second filing of an id is a 409, and nothing else is left behind."""
    _name, brand, reg = HOLDERS["rha"]
    # the four twins side by side, so that on PostgreSQL both of a pair pass the check for a taken id
    # before either has written
    ids = [f"N-burst-{i}" for i in range(4) for _ in (0, 1)] + [f"N-burst-{i}" for i in range(4, 36)]
    before = seeded.count(Notice), seeded.count(ReviewItem), seeded.count(AuditEntry, AuditEntry.verb == "file")

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return await asyncio.gather(*(client.post("/notices", headers=seeded.auth("acme"), json={
            "notice_id": nid, "brand_id": brand, "listing_id": f"L-QXSEL4-{5 + i % 4}", "basis": "trademark",
            "registration_no": reg}) for i, nid in enumerate(ids)))  # fmt: skip

    answers = asyncio.run(_with_client(seeded.db, scenario))
    created = [r.json()["notice_id"] for r in answers if r.status_code == 201]
    assert sorted(created) == sorted(set(ids)), [(r.status_code, r.text[:200]) for r in answers if r.status_code != 201]
    # a second filing of an id is refused whole, also when both passed the check before either wrote
    # (then the primary key refuses the second INSERT)
    refused = [r for r in answers if r.status_code != 201]
    assert len(refused) == 4 and all(r.status_code == 409 and "exists already" in r.json()["detail"] for r in refused)
    assert seeded.count(Notice) == before[0] + 36
    assert seeded.count(ReviewItem) == before[1] + 36
    assert seeded.count(AuditEntry, AuditEntry.verb == "file") == before[2] + 36
    with seeded.db.session() as s:
        orphans = s.scalar(select(func.count()).select_from(ReviewItem).where(
            ReviewItem.notice_id.like("N-burst-%"), ~ReviewItem.notice_id.in_(select(Notice.notice_id))))  # fmt: skip
        assert orphans == 0


def test_failed_notice_leaves_nothing(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    """A filing that fails after the notice, its audit entry and its review item were written (here:
    building the answer) is a 500, and none of the three is kept."""
    _name, brand, reg = HOLDERS["rha"]
    before = seeded.count(Notice), seeded.count(ReviewItem), seeded.count(AuditEntry)

    def boom(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("answer lost")

    monkeypatch.setattr(sc.NoticeOut, "model_validate", boom)

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/notices", headers=seeded.auth("acme"), json={
            "notice_id": "N-lost", "brand_id": brand, "listing_id": "L-QXSEL4-6", "basis": "trademark",
            "registration_no": reg})  # fmt: skip

    with pytest.raises(RuntimeError, match="answer lost"):  # the ASGI transport re-raises the server error
        asyncio.run(_with_client(seeded.db, scenario))
    assert (seeded.count(Notice), seeded.count(ReviewItem), seeded.count(AuditEntry)) == before
    assert seeded.count(Notice, Notice.notice_id == "N-lost") == 0


@pytest.mark.postgresql
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_request_waiting_on_the_database_does_not_hold_up_others(seeded: Seeded, db_url: str) -> None:
    """While one request waits for a lock held by another connection, the same event loop answers
    other requests; the waiting one completes once the lock is gone. (With a blocking driver on the
    loop, the other requests would wait for the lock too.)"""
    item = _open_items(seeded)[0]
    engine = create_engine(db_url)
    holder = engine.connect()
    holder.execute(text("LOCK TABLE decisions IN EXCLUSIVE MODE"))  # reads pass, inserts wait
    released = threading.Lock()

    def release() -> None:
        if released.acquire(blocking=False):
            holder.commit()

    # a safety net: if the loop were blocked, this releases the lock from another thread, so the
    # test fails on its timings instead of hanging
    safety = threading.Timer(5.0, release)
    safety.start()

    async def scenario(client: httpx.AsyncClient) -> tuple[float, bool, httpx.Response, httpx.Response, httpx.Response]:
        waiting = asyncio.ensure_future(client.post(f"/review/items/{item}/decision", headers=seeded.auth("rev1"),
                                                    json={"outcome": "keep", "reason_code": "genuine"}))  # fmt: skip
        await asyncio.sleep(0.5)  # the decision is now waiting for the lock
        t0 = time.monotonic()
        me = await client.get("/me", headers=seeded.auth("acme"))
        queued = await client.get(f"/review/items/{item}", headers=seeded.auth("rev2"))
        elapsed, still_waiting = time.monotonic() - t0, not waiting.done()
        release()
        return elapsed, still_waiting, me, queued, await asyncio.wait_for(waiting, 30)

    try:
        elapsed, still_waiting, me, queued, decided = asyncio.run(_with_client(seeded.db, scenario))
    finally:
        safety.cancel()
        release()
        holder.close()
        engine.dispose()
    assert still_waiting and elapsed < 2.0, f"other requests took {elapsed:.2f} s while the decision waited"
    assert me.status_code == 200 and me.json()["username"] == "acme"
    assert queued.status_code == 200 and queued.json()["status"] == "open"
    assert decided.status_code == 201, decided.text
    assert seeded.count(Decision, Decision.review_item_id == item) == 1
