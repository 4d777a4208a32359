"""The hot requests' pipelined path on PostgreSQL (``api/hot.py``) against the whole workflow.

A notice filed in the common case through the API must leave exactly the rows
``Enforcement.file_notice`` leaves (the notice, its ``file`` audit entry, its review item), and every
other case must be answered by the workflow itself: a rejected right, a listing already down, another
holder's brand (404, audited), a taken id (409), a revoked token (401). On SQLite the same requests go
through the workflow, so both databases answer alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from counterwatch.api.auth import actor_for
from counterwatch.config import Settings
from counterwatch.enforce import service
from counterwatch.enforce.service import SYSTEM, Enforcement, NoticeIn
from counterwatch.store.models import ApiToken, AuditEntry, Listing, Notice, ReviewItem, User
from tests.api.conftest import HOLDERS, Seeded

NOTICE_KEYS = ("rights_holder_id", "brand_id", "basis", "registration_no", "evidence", "status", "rejection_reason",
               "decided_at")  # fmt: skip
ITEM_KEYS = ("source", "risk", "priority", "status", "decided_at")
AUDIT_KEYS = ("actor_id", "actor", "verb", "entity", "why", "before", "after")


@pytest.fixture
def workflow_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The notice ids ``Enforcement.file_notice`` was called with (the whole workflow)."""
    calls: list[str] = []
    original = Enforcement.file_notice

    def spy(self: Enforcement, n: NoticeIn) -> Notice:
        calls.append(n.notice_id)
        return original(self, n)

    monkeypatch.setattr(service.Enforcement, "file_notice", spy)
    return calls


def _rows(seeded: Seeded, notice_id: str) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    with seeded.db.session() as s:
        n = s.get(Notice, notice_id)
        item = s.scalars(select(ReviewItem).where(ReviewItem.notice_id == notice_id)).one()
        audits = s.scalars(select(AuditEntry).where(AuditEntry.entity == "notice", AuditEntry.entity_id == notice_id)
                           .order_by(AuditEntry.id)).all()  # fmt: skip
        assert n is not None
        assert n.received_at == n.submitted_at == item.created_at
        assert dt.timedelta(0) <= audits[0].at - n.received_at < dt.timedelta(seconds=1)
        assert n.received_at.tzinfo is not None
        return ({k: getattr(n, k) for k in NOTICE_KEYS}, {k: getattr(item, k) for k in ITEM_KEYS},
                [{k: getattr(a, k) for k in AUDIT_KEYS} for a in audits])  # fmt: skip


def test_common_notice_writes_what_the_workflow_writes(client: TestClient, seeded: Seeded,
                                                        workflow_calls: list[str], db_url: str) -> None:  # fmt: skip
    _name, brand, reg = HOLDERS["rha"]
    body = {"notice_id": "N-HOT-API", "brand_id": brand, "listing_id": "L-QXSEL4-5", "basis": "trademark",
            "registration_no": reg, "evidence": "test purchase"}  # fmt: skip
    r = client.post("/notices", headers=seeded.auth("acme"), json=body)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending" and r.json()["notice_id"] == "N-HOT-API"
    # PostgreSQL: the pipelined path wrote it; SQLite: the workflow
    assert workflow_calls == ([] if db_url.startswith("postgresql") else ["N-HOT-API"])
    with seeded.db.session() as s:
        actor = actor_for(s.get(User, seeded.user_ids["acme"]))  # type: ignore[arg-type]
        Enforcement(s, Settings(), actor).file_notice(
            NoticeIn("N-HOT-WORKFLOW", brand, "L-QXSEL4-5", "trademark", reg, "test purchase")
        )
    api, wf = _rows(seeded, "N-HOT-API"), _rows(seeded, "N-HOT-WORKFLOW")
    assert api[0] == wf[0] and api[1] == wf[1]
    assert api[2] == wf[2]  # the audit entries, who, what and why (``entity_id`` is each notice's own)
    # the answer is the stored notice
    with seeded.db.session() as s:
        stored = s.get(Notice, "N-HOT-API")
        assert stored is not None
        assert dt.datetime.fromisoformat(r.json()["received_at"]) == stored.received_at


def test_other_cases_go_through_the_workflow(client: TestClient, seeded: Seeded, workflow_calls: list[str]) -> None:
    _name, brand, reg = HOLDERS["rha"]
    acme = seeded.auth("acme")
    good = {"brand_id": brand, "basis": "trademark", "registration_no": reg}
    # an unregistered trademark: recorded as rejected, with the reason
    r = client.post("/notices", headers=acme, json={**good, "notice_id": "N-HOT-REJ", "listing_id": "L-QXSEL4-5",
                                                    "registration_no": "TM-NONE"})  # fmt: skip
    assert r.status_code == 201 and r.json()["status"] == "rejected", r.text
    # a listing already taken down: upheld at once, nothing to review
    with seeded.db.session() as s:
        s.execute(update(Listing).where(Listing.listing_id == "L-QXSEL4-7").values(status="removed"))
    r = client.post("/notices", headers=acme, json={**good, "notice_id": "N-HOT-UP", "listing_id": "L-QXSEL4-7"})
    assert r.status_code == 201 and r.json()["status"] == "upheld", r.text
    # a taken id: 409; another holder's brand: 404, audited
    r = client.post("/notices", headers=acme, json={**good, "notice_id": "N-HOT-UP", "listing_id": "L-QXSEL4-5"})
    assert r.status_code == 409 and "exists already" in r.json()["detail"]
    denied = seeded.denied("acme")
    _n, other_brand, other_reg = HOLDERS["rhb"]
    r = client.post("/notices", headers=acme, json={"notice_id": "N-HOT-FOREIGN", "brand_id": other_brand,
                                                    "listing_id": "L-QXSEL4-5", "basis": "trademark",
                                                    "registration_no": other_reg})  # fmt: skip
    assert r.status_code == 404 and seeded.denied("acme") == denied + 1
    # a reviewer may not file: 404, audited
    r = client.post("/notices", headers=seeded.auth("rev1"), json={**good, "notice_id": "N-HOT-REV",
                                                                   "listing_id": "L-QXSEL4-5"})  # fmt: skip
    assert r.status_code == 404 and seeded.denied("rev1") >= 1
    assert workflow_calls == ["N-HOT-REJ", "N-HOT-UP", "N-HOT-UP", "N-HOT-FOREIGN", "N-HOT-REV"]
    assert seeded.count(Notice, Notice.notice_id.in_(["N-HOT-FOREIGN", "N-HOT-REV"])) == 0
    # a revoked token stops working at once, on the pipelined path too
    with seeded.db.session() as s:
        s.execute(update(ApiToken).where(ApiToken.user_id == seeded.user_ids["acme"])
                  .values(revoked_at=dt.datetime.now(dt.UTC)))  # fmt: skip
    r = client.post("/notices", headers=acme, json={**good, "notice_id": "N-HOT-REVOKED", "listing_id": "L-QXSEL4-5"})
    assert r.status_code == 401
    assert seeded.count(Notice, Notice.notice_id == "N-HOT-REVOKED") == 0


def test_system_filing_is_unchanged(seeded: Seeded) -> None:
    """The batch and command-line path (the workflow as ``system``) still files as before."""
    _name, brand, reg = HOLDERS["rha"]
    with seeded.db.session() as s:
        n = Enforcement(s, Settings(), SYSTEM).file_notice(NoticeIn("N-HOT-SYS", brand, "L-QXSEL4-8", "trademark", reg))
        assert n.status == "pending"
    assert seeded.count(ReviewItem, ReviewItem.notice_id == "N-HOT-SYS") == 1
