"""The API end to end, on SQLite and PostgreSQL: sign in, notice, review, takedown, statement,
appeal, reinstatement; 401, 409 and 422; bulk CSV with per-row errors; no half-written state."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from counterwatch.config import load_settings
from counterwatch.enforce.service import Enforcement
from counterwatch.enforce.stage import enforce
from counterwatch.store.db import Database
from counterwatch.store.models import (
    Action,
    AuditEntry,
    Decision,
    Listing,
    Notice,
    PenaltyEntry,
    ReviewItem,
    StatementOfReasons,
    User,
)
from counterwatch.workspace import Workspace
from tests.api.conftest import PASSWORD, Seeded, client_for

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def login(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_notice_review_appeal_reinstatement(client: TestClient, seeded: Seeded) -> None:
    acme = login(client, "acme")
    assert client.get("/me", headers=acme).json()["role"] == "brand"
    listing = "L-QXSEL3-5"
    notice = {"notice_id": "N-flow-1", "brand_id": "ACME-QXRHA", "listing_id": listing, "basis": "trademark",
              "registration_no": "TM-QXRHA", "evidence": "test purchase, order 42"}
    r = client.post("/notices", json=notice, headers=acme)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending" and r.json()["rejection_reason"] is None

    rev1, rev2 = seeded.auth("rev1"), login(client, "rev2")
    queue = client.get("/review/queue", params={"limit": 500}, headers=rev1).json()
    (item,) = [i for i in queue if i["notice_id"] == "N-flow-1"]
    assert (item["listing_id"], item["source"], item["status"]) == (listing, "notice", "open")
    assert client.get(f"/review/items/{item['id']}", headers=rev1).json()["notice_id"] == "N-flow-1"

    r = client.post(f"/review/items/{item['id']}/decision", headers=rev1,
                    json={"outcome": "take_down", "reason_code": "counterfeit", "note": "test purchase confirmed"})
    assert r.status_code == 201, r.text
    assert r.json()["reviewer_id"] == seeded.user_ids["rev1"] and r.json()["automated"] is False
    # a second decision on the same item: 409 naming who decided and when
    r = client.post(f"/review/items/{item['id']}/decision", headers=rev2,
                    json={"outcome": "keep", "reason_code": "genuine"})
    assert r.status_code == 409 and r.json()["error"] == "conflict"
    assert "decided already" in r.json()["detail"] and f"reviewer #{seeded.user_ids['rev1']}" in r.json()["detail"]
    assert client.get("/notices/N-flow-1", headers=acme).json()["status"] == "upheld"

    # the seller sees the takedown, the listing removed, and the statement of reasons
    seller = seeded.auth("seller3")
    assert client.get(f"/listings/{listing}", headers=seller).json()["status"] == "removed"
    actions = client.get("/actions", headers=seller).json()
    (takedown,) = [a for a in actions if a["kind"] == "take_down" and a["listing_id"] == listing]
    assert takedown["notice_id"] == "N-flow-1"
    statements = client.get("/statements", headers=seller).json()
    (sor,) = [s for s in statements if s["action_id"] == takedown["id"]]
    assert listing in sor["restriction"] and "N-flow-1" in sor["facts"] and "appeal" in sor["redress"]
    assert client.get(f"/statements/{sor['id']}", headers=seller).json() == sor

    r = client.post("/appeals", headers=seller, json={"action_id": takedown["id"], "statement": "genuine, invoice attached"})
    assert r.status_code == 201, r.text
    appeal = r.json()
    assert appeal["status"] == "open" and appeal["store_id"] == "S-QXSEL3"
    assert client.post("/appeals", headers=seller, json={"action_id": takedown["id"], "statement": "again"}).status_code == 409
    assert [a["id"] for a in client.get("/appeals", headers=seller).json()] == [appeal["id"]]

    # the reviewer who decided may not handle the appeal; another one upholds it
    r = client.post(f"/appeals/{appeal['id']}/decision", headers=rev1, json={"upheld": True, "note": "I was wrong"})
    assert r.status_code == 409 and "someone other than" in r.json()["detail"]
    r = client.post(f"/appeals/{appeal['id']}/decision", headers=rev2, json={"upheld": True, "note": "invoice checks out"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "upheld"
    assert client.get(f"/listings/{listing}", headers=seller).json()["status"] == "active"
    assert client.get("/notices/N-flow-1", headers=acme).json()["status"] == "reversed"
    reinstated = [a for a in client.get("/actions", headers=seller).json() if a["kind"] == "reinstate"]
    assert [a["reverses_id"] for a in reinstated] == [takedown["id"]]
    assert client.get(f"/actions/{takedown['id']}", headers=seller).json()["reversed_at"] is not None
    assert client.get("/stores/S-QXSEL3", headers=seller).json()["active_points"] == 0
    # decided once: the appeal cannot be decided again
    r = client.post(f"/appeals/{appeal['id']}/decision", headers=seeded.auth("admin"), json={"upheld": False, "note": "x"})
    assert r.status_code == 409
    # the whole path is in the audit log, by the people who did it
    trail = [(e["actor"], e["verb"], e["entity"]) for e in
             client.get("/audit", params={"limit": 1000}, headers=seeded.auth("admin")).json()]
    for step in [("acme", "file", "notice"), ("rev1", "decide", "review_item"), ("rev1", "take_down", "listing"),
                 ("seller3", "appeal", "action"), ("rev2", "decide_appeal", "appeal"), ("rev2", "reinstate", "listing"),
                 ("rev2", "reverse", "notice")]:  # fmt: skip
        assert step in trail


def test_authentication(client: TestClient, seeded: Seeded) -> None:
    assert client.get("/me").status_code == 401
    for bad in ("Bearer cw_not-a-token", "Bearer nope", "Basic YWRtaW46eA==", "Bearer "):
        r = client.get("/me", headers={"Authorization": bad})
        assert r.status_code == 401, bad
        assert r.headers["www-authenticate"] == "Bearer"
    assert client.get("/notices", headers={"Authorization": "Bearer cw_x"}).status_code == 401
    r = client.post("/auth/token", json={"username": "acme", "password": "wrong password"})
    assert r.status_code == 401
    assert client.post("/auth/token", json={"username": "nobody", "password": "x"}).status_code == 401
    # a user without a password (token only) cannot sign in with any password
    assert client.post("/auth/token", json={"username": "admin", "password": ""}).status_code == 422
    assert client.post("/auth/token", json={"username": "admin", "password": "x"}).status_code == 401
    # failed sign-ins are audited
    assert seeded.count(AuditEntry, AuditEntry.verb == "login_failed") == 3
    # a token stops working when it is revoked or its user is deactivated
    headers = login(client, "seller1")
    assert client.get("/me", headers=headers).json()["seller_id"] == "U-QXSEL1"
    with seeded.db.session() as s:
        s.scalars(select(User).where(User.username == "seller1")).one().active = False
    assert client.get("/me", headers=headers).status_code == 401
    assert client.post("/auth/token", json={"username": "seller1", "password": PASSWORD}).status_code == 401


def _loc(r) -> list[tuple]:  # type: ignore[no-untyped-def]
    assert r.status_code == 422, r.text
    return [tuple(e["loc"]) for e in r.json()["detail"]]


def test_malformed_requests_get_422_naming_the_field(client: TestClient, seeded: Seeded) -> None:
    acme, rev, admin = seeded.auth("acme"), seeded.auth("rev1"), seeded.auth("admin")
    good = {"notice_id": "N-422", "brand_id": "ACME-QXRHA", "listing_id": "L-QXSEL3-6", "basis": "trademark",
            "registration_no": "TM-QXRHA"}
    assert ("body", "basis") in _loc(client.post("/notices", headers=acme, json={**good, "basis": "vibes"}))
    assert ("body", "listing_id") in _loc(client.post("/notices", headers=acme, json={k: v for k, v in good.items() if k != "listing_id"}))
    assert ("body", "notice_id") in _loc(client.post("/notices", headers=acme, json={**good, "notice_id": " padded "}))
    assert ("body", "submitted_at") in _loc(client.post("/notices", headers=acme, json={**good, "submitted_at": "yesterday"}))
    assert ("body", "colour") in _loc(client.post("/notices", headers=acme, json={**good, "colour": "red"}))
    r = client.post("/notices", headers={**acme, "content-type": "application/json"}, content=b"{not json")
    assert _loc(r)[0][0] == "body"
    assert ("path", "item_id") in _loc(client.post("/review/items/abc/decision", headers=rev,
                                                   json={"outcome": "keep", "reason_code": "genuine"}))
    assert ("body", "outcome") in _loc(client.post("/review/items/1/decision", headers=rev,
                                                   json={"outcome": "maybe", "reason_code": "genuine"}))
    assert ("query", "limit") in _loc(client.get("/listings", headers=rev, params={"limit": 0}))
    assert ("query", "status") in _loc(client.get("/notices", headers=acme, params={"status": "lost"}))
    assert ("body", "listing_id") in _loc(client.post("/actions", headers=rev, json={"kind": "take_down"}))
    assert ("body", "days") in _loc(client.post("/actions", headers=rev, json={"kind": "suspend_store", "store_id": "S-QXSEL1", "days": 0}))
    assert ("body", "role") in _loc(client.post("/users", headers=admin, json={"username": "x", "role": "king"}))
    assert ("body", "statement") in _loc(client.post("/appeals", headers=seeded.auth("seller1"), json={"action_id": 1, "statement": ""}))
    # nothing was written by any of them
    assert seeded.count(Notice, Notice.notice_id == "N-422") == 0


BULK = """notice_id,brand_id,listing_id,basis,registration_no,evidence,submitted_at
N-bulk-1,ACME-QXRHA,L-QXSEL3-6,trademark,TM-QXRHA,test purchase,2026-01-05T10:00:00Z
N-bulk-2,ACME-QXRHA,L-QXSEL3-7,smell,TM-QXRHA,,
N-bulk-3,ACME-QXRHA,L-NOWHERE,trademark,TM-QXRHA,,
N-bulk-4,OTHER-QXRHB,L-QXSEL3-7,trademark,TM-QXRHB,,
N-QXRHA-QXSEL1,ACME-QXRHA,L-QXSEL3-7,trademark,TM-QXRHA,,
N-bulk-6,ACME-QXRHA,L-QXSEL3-7,trademark,TM-QXRHA,,not a date
N-bulk-7,ACME-QXRHA,L-QXSEL3-8,trademark,TM-UNKNOWN,,
N-bulk-8,ACME-QXRHA,L-QXSEL4-8,copyright,C-1,photos copied,
N-bulk-9,ACME-QXRHA,L-QXSEL4-7,trademark,TM-QXRHA,,,extra
"""


def test_bulk_csv_accepts_good_rows_and_reports_bad_ones(client: TestClient, seeded: Seeded) -> None:
    acme = seeded.auth("acme")
    items_before = seeded.count(ReviewItem)
    denied_before = seeded.denied("acme")
    r = client.post("/notices/bulk", headers=acme, files={"file": ("notices.csv", BULK.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["rows"] == 9
    assert sorted(n["notice_id"] for n in report["notices"]) == ["N-bulk-1", "N-bulk-7", "N-bulk-8"]
    assert report["accepted"] == 3 and report["rejected_by_rule"] == 1  # N-bulk-7: unknown trademark
    errors = {(e["row"], e["column"]) for e in report["errors"]}
    assert errors == {(2, "basis"), (3, "listing_id"), (4, "brand_id"), (5, "notice_id"), (6, "submitted_at"), (9, None)}
    assert all(e["message"] for e in report["errors"])
    by_row = {e["row"]: e for e in report["errors"]}
    assert by_row[4]["message"] == "brand 'OTHER-QXRHB' not found"  # another holder's brand reads as unknown
    # the good rows are in the database, the bad ones left nothing behind
    with seeded.db.session() as s:
        ids = set(s.scalars(select(Notice.notice_id).where(Notice.notice_id.like("N-bulk-%"))))
        assert ids == {"N-bulk-1", "N-bulk-7", "N-bulk-8"}
        assert s.get(Notice, "N-QXRHA-QXSEL1").listing_id == "L-QXSEL1-1"  # the duplicate did not overwrite
        assert s.get(Notice, "N-bulk-7").status == "rejected"
    assert seeded.count(ReviewItem) == items_before + 2
    assert seeded.count(ReviewItem, ReviewItem.listing_id == "L-QXSEL3-7") == 0
    assert seeded.denied("acme") == denied_before + 1  # the row naming another holder's brand is audited
    # a file without the columns, or not UTF-8, is refused as a whole
    assert client.post("/notices/bulk", headers=acme, files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")}).status_code == 400
    assert client.post("/notices/bulk", headers=acme, files={"file": ("x.csv", b"\xff\xfe\x00", "text/csv")}).status_code == 400
    assert ("body", "file") in _loc(client.post("/notices/bulk", headers=acme, data={"x": "1"}))
    assert seeded.count(Notice, Notice.notice_id.like("N-bulk-%")) == 3


def _state(seeded: Seeded) -> tuple:
    with seeded.db.session() as s:
        return (
            seeded.count(Action), seeded.count(StatementOfReasons), seeded.count(PenaltyEntry),
            seeded.count(AuditEntry), seeded.count(Notice), seeded.count(ReviewItem),
            tuple(s.scalars(select(Listing.status).order_by(Listing.listing_id))),
        )  # fmt: skip


def test_failures_leave_nothing_half_written(client: TestClient, seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    rev = seeded.auth("rev1")
    before = _state(seeded)
    # a rule refuses the request after the action and its statement were written: all rolled back
    r = client.post("/actions", headers=rev, json={"kind": "add_points", "store_id": "S-QXSEL3", "violation": "bogus"})
    assert r.status_code == 409 and "bogus" in r.json()["detail"]
    assert _state(seeded) == before

    # a crash in the middle of a takedown (listing changed, action and audit written, then the
    # statement fails): a 500, and the database is as before
    def boom(*_a, **_k):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Enforcement, "_statement", boom)
    r = client.post("/actions", headers=rev, json={"kind": "take_down", "listing_id": "L-QXSEL4-8"})
    assert r.status_code == 500
    assert _state(seeded) == before
    # the same crash during a review decision: no decision is kept (it would block the item for good)
    item = seeded.objects["rha"]["review_item"][2]  # the open notice on sel3's listing
    decisions = seeded.count(Decision)
    r = client.post(f"/review/items/{item}/decision", headers=rev, json={"outcome": "take_down", "reason_code": "counterfeit"})
    assert r.status_code == 500
    assert _state(seeded) == before and seeded.count(Decision) == decisions
    monkeypatch.undo()
    r = client.post(f"/review/items/{item}/decision", headers=rev, json={"outcome": "keep", "reason_code": "genuine"})
    assert r.status_code == 201, r.text

    before = _state(seeded)
    # a crash on the third row of a bulk file: the two rows before it are not kept either
    calls = {"n": 0}
    real = Enforcement.file_notice

    def flaky(self, n):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("connection lost")
        return real(self, n)

    monkeypatch.setattr(Enforcement, "file_notice", flaky)
    csv_text = "notice_id,brand_id,listing_id,basis,registration_no\n" + "".join(
        f"N-crash-{i},ACME-QXRHA,L-QXSEL4-{i},trademark,TM-QXRHA\n" for i in range(5, 9))
    r = client.post("/notices/bulk", headers=seeded.auth("acme"), files={"file": ("n.csv", csv_text.encode(), "text/csv")})
    assert r.status_code == 500
    assert _state(seeded) == before
    assert seeded.count(Notice, Notice.notice_id.like("N-crash-%")) == 0


# --- detection at the door: needs a workspace that was run --------------------------------------------


@pytest.fixture
def enforced(db: Database, run_workspace) -> Database:  # type: ignore[no-untyped-def]
    """The run workspace's stores, listings and scores enforced into this test's database."""
    ws = Workspace.at(run_workspace)
    enforce(ws, load_settings(ws.root), db)
    return db


def test_score_listing_and_check_store(enforced: Database, run_workspace) -> None:  # type: ignore[no-untyped-def]
    from counterwatch.api.auth import add_user, issue_token

    ws = Workspace.at(run_workspace)
    listings = pq.read_table(ws.root / "listings.parquet").to_pylist()
    scores = {r["listing_id"]: r for r in pq.read_table(ws.out / "scores.parquet").to_pylist()}
    stores = {r["store_id"]: r for r in pq.read_table(ws.root / "stores.parquet").to_pylist()}
    flagged = next(li for li in listings if scores[li["listing_id"]]["band"] == "block")
    owner = stores[flagged["store_id"]]["seller_id"]
    stranger = next(s["seller_id"] for s in stores.values() if s["seller_id"] != owner)
    tokens = {}
    with enforced.session() as s:
        for name, role, kw in (("admin", "admin", {}), ("inv", "investigator", {}), ("owner", "seller", {"seller_id": owner}),
                               ("stranger", "seller", {"seller_id": stranger}), ("brand", "brand", {"rights_holder": "X"})):
            tokens[name] = {"Authorization": "Bearer " + issue_token(s, add_user(s, name, role, None, **kw))}
    body = {k: v for k, v in flagged.items() if k != "created_at"}
    body["created_at"] = flagged["created_at"].isoformat()
    with client_for(enforced, ws.root) as client:
        for who in ("admin", "owner"):
            r = client.post("/listings/score", headers=tokens[who], json=body)
            assert r.status_code == 200, r.text
            assert r.json()["band"] == "block" and r.json()["risk"] == pytest.approx(scores[flagged["listing_id"]]["risk"], abs=1e-6)
            assert r.json()["reasons"]
        # another seller's store reads as unknown, and is audited; a brand may not score
        before = enforced_denied(enforced)
        r_other = client.post("/listings/score", headers=tokens["stranger"], json=body)
        r_none = client.post("/listings/score", headers=tokens["stranger"], json={**body, "store_id": "S-NOPE"})
        assert r_other.status_code == r_none.status_code == 404
        assert r_other.json()["detail"].replace(body["store_id"], "S-NOPE") == r_none.json()["detail"]
        assert enforced_denied(enforced) == before + 1
        assert client.post("/listings/score", headers=tokens["brand"], json=body).status_code == 404
        assert ("body", "price") in _loc(client.post("/listings/score", headers=tokens["admin"], json={**body, "price": -1}))

        # a new store sharing a known operator's identifiers is matched to it
        links = pq.read_table(ws.out / "operator_links.parquet").to_pylist()
        link = max(links, key=lambda r: r["weight"])
        idents = [r for r in pq.read_table(ws.root / "store_identifiers.parquet").to_pylist() if r["store_id"] == link["store_a"]]
        check = {"country": stores[link["store_a"]]["country"] or "CN",
                 "identifiers": [{"kind": r["kind"], "value": r["value"]} for r in idents]}
        r = client.post("/stores/check", headers=tokens["inv"], json=check)
        assert r.status_code == 200, r.text
        assert link["operator_id"] in {m["operator_id"] for m in r.json()["matches"]}
        assert client.post("/stores/check", headers=tokens["owner"], json=check).status_code == 404
        assert ("body", "identifiers") in _loc(client.post("/stores/check", headers=tokens["inv"], json={"country": "CN", "identifiers": []}))
    # without a workspace the detection endpoints answer 503
    with client_for(enforced) as bare:
        assert bare.post("/listings/score", headers=tokens["admin"], json=body).status_code == 503
        assert bare.post("/stores/check", headers=tokens["inv"], json=check).status_code == 503


def enforced_denied(db: Database) -> int:
    with db.session() as s:
        return len(s.scalars(select(AuditEntry.id).where(AuditEntry.verb == "denied")).all())
