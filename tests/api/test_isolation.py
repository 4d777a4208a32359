"""Cross-tenant isolation, property-based: random brand and seller users against random objects of
other tenants. Every read or write of another tenant's object answers exactly like a made-up id (404,
the same body but for the id) and writes a 'denied' audit entry; list endpoints never return another
tenant's rows. Runs against SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from counterwatch.store.models import Action, Appeal, AuditEntry, Decision, Notice, ReviewItem, StatementOfReasons
from tests.api.conftest import HOLDERS, MARKERS, SELLERS, USERS, Seeded

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TENANT_USERS = sorted(u for u, (role, _t) in USERS.items() if role in ("brand", "seller"))
FAKE = {"str": "ZZ-NOPE-7", "int": 987654}


@dataclass(frozen=True)
class Probe:
    kind: str  # the kind of object it targets
    method: str
    path: str  # with {id}
    body: Any = None  # a JSON body, ``{id}`` replaced by the id (as str or int)


PROBES = [
    Probe("notice", "GET", "/notices/{id}"),
    Probe("brand", "GET", "/brands/{id}"),
    Probe("brand", "GET", "/brands/{id}/trademarks"),
    Probe("brand", "POST", "/brands/{id}/trademarks", {"registration_no": "TM-NEW", "office": "EUIPO", "mark": "X"}),
    Probe("brand", "POST", "/notices", {"notice_id": "N-PROBE", "brand_id": "{id}", "listing_id": "L-QXSEL4-8",
                                        "basis": "trademark", "registration_no": "TM-X"}),
    Probe("rights_holder", "GET", "/rights-holders/{id}/reputation"),
    Probe("store", "GET", "/stores/{id}"),
    Probe("store", "POST", "/actions", {"kind": "warn", "store_id": "{id}", "note": "x"}),
    Probe("listing", "GET", "/listings/{id}"),
    Probe("listing", "POST", "/actions", {"kind": "take_down", "listing_id": "{id}"}),
    Probe("action", "GET", "/actions/{id}"),
    Probe("action", "POST", "/actions/{id}/reinstate", {"note": "undo"}),
    Probe("action", "POST", "/appeals", {"action_id": "{id}", "statement": "not mine"}),
    Probe("statement", "GET", "/statements/{id}"),
    Probe("appeal", "GET", "/appeals/{id}"),
    Probe("appeal", "POST", "/appeals/{id}/decision", {"upheld": True, "note": "x"}),
    Probe("review_item", "GET", "/review/items/{id}"),
    Probe("review_item", "POST", "/review/items/{id}/decision", {"outcome": "take_down", "reason_code": "counterfeit"}),
]
INT_KINDS = {"rights_holder", "action", "statement", "appeal", "review_item"}


def foreign_objects(seeded: Seeded, username: str) -> list[tuple[str, object]]:
    """(kind, id) of every object the user may not see: other tenants' objects, except listings a
    brand user's holder noticed (those are its business)."""
    role, own = USERS[username]
    out = []
    for tenant, kinds in seeded.objects.items():
        if tenant == own:
            continue
        for kind, ids in kinds.items():
            for oid in ids:
                if role == "brand" and kind == "listing" and _noticed_by(seeded, own, str(oid)):
                    continue
                out.append((kind, oid))
    return out


def _noticed_by(seeded: Seeded, holder: str, listing_id: str) -> bool:
    return seeded.count(Notice, Notice.listing_id == listing_id, Notice.rights_holder_id == seeded.rh_ids[holder]) > 0


def _fill(value: Any, oid: object) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, oid) for k, v in value.items()}
    if value == "{id}":
        return oid
    return value


def _call(client: TestClient, seeded: Seeded, username: str, probe: Probe, oid: object):  # type: ignore[no-untyped-def]
    path = probe.path.replace("{id}", str(oid))
    body = _fill(probe.body, oid) if probe.body is not None else None
    return client.request(probe.method, path, json=body, headers=seeded.auth(username))


def _snapshot(seeded: Seeded) -> tuple[int, ...]:
    return tuple(seeded.count(m) for m in (Notice, ReviewItem, Decision, Action, StatementOfReasons, Appeal))


def _forbidden_markers(username: str) -> list[str]:
    """Markers another tenant's data would carry in this user's responses. A seller is told which
    rights holder complained (statement of reasons) and a brand sees the listings it noticed, so
    a brand must never see another holder's marker and a seller never another seller's."""
    role, own = USERS[username]
    pool = HOLDERS if role == "brand" else SELLERS
    return [MARKERS[k] for k in pool if k != own]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])  # fmt: skip
@given(data=st.data())
def test_foreign_objects_read_like_missing_ones(client: TestClient, seeded: Seeded, data: st.DataObject) -> None:
    username = data.draw(st.sampled_from(TENANT_USERS), label="user")
    kind, oid = data.draw(st.sampled_from(foreign_objects(seeded, username)), label="object")
    probe = data.draw(st.sampled_from([p for p in PROBES if p.kind == kind]), label="probe")
    fake = FAKE["int"] if kind in INT_KINDS else FAKE["str"]
    before, denied = _snapshot(seeded), seeded.denied(username)

    real = _call(client, seeded, username, probe, oid)
    assert real.status_code == 404, (probe, oid, real.text)
    assert seeded.denied(username) == denied + 1, "the attempt was not audited"
    entry = _last_denied(seeded)
    assert entry.actor == username and entry.actor_id == seeded.user_ids[username]

    missing = _call(client, seeded, username, probe, fake)
    assert missing.status_code == 404, missing.text
    # the same body, but for the id the caller sent itself
    assert real.json().keys() == missing.json().keys() == {"detail"}
    assert real.text.replace(str(oid), "<id>") == missing.text.replace(str(fake), "<id>")
    assert real.headers.get("content-type") == missing.headers.get("content-type")
    assert _snapshot(seeded) == before, "a refused request changed something"
    for marker in _forbidden_markers(username):
        # nothing of the other tenant comes back, except the id the caller itself sent
        assert marker not in real.text.replace(str(oid), ""), (marker, real.text)


def _last_denied(seeded: Seeded) -> AuditEntry:
    from sqlalchemy import select

    with seeded.db.session() as s:
        return s.scalars(select(AuditEntry).where(AuditEntry.verb == "denied").order_by(AuditEntry.id.desc())).first()  # type: ignore[return-value]


LISTS = ["/notices", "/listings", "/actions", "/statements", "/appeals", "/review/queue", "/audit",
         "/stats/time-to-action"]  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])  # fmt: skip
@given(data=st.data())
def test_lists_hold_only_the_callers_rows(client: TestClient, seeded: Seeded, data: st.DataObject) -> None:
    username = data.draw(st.sampled_from(TENANT_USERS), label="user")
    role, own = USERS[username]
    path = data.draw(st.sampled_from(LISTS), label="path")
    stores = [v[1] for v in SELLERS.values()]
    params = data.draw(st.fixed_dictionaries({}, optional={
        "store_id": st.sampled_from(stores), "limit": st.integers(1, 500), "offset": st.integers(0, 5)}), label="params")
    if path in ("/notices", "/appeals", "/review/queue", "/statements", "/audit", "/stats/time-to-action"):
        params.pop("store_id", None)
    r = client.get(path, params=params, headers=seeded.auth(username))
    allowed = {
        "brand": {"/notices"},
        "seller": {"/listings", "/actions", "/statements", "/appeals"},
    }[role]
    if path not in allowed:
        assert r.status_code == 404 and r.json() == {"detail": "not found"}, r.text
        return
    assert r.status_code == 200, r.text
    rows = r.json()
    for marker in _forbidden_markers(username):
        assert marker not in r.text, (path, marker)
    if role == "brand":
        assert all(n["notice_id"].startswith(f"N-{MARKERS[own]}-") for n in rows)
        if not params.get("offset"):
            assert len(rows) == min(len(seeded.objects[own]["notice"]), params.get("limit", 100))
    else:
        seller_store = SELLERS[own][1]
        for row in rows:
            assert row.get("store_id", seller_store) == seller_store, row
        if path == "/statements":
            mine = seeded.objects[own].get("statement", [])
            assert {row["id"] for row in rows} <= set(mine)


def test_denials_are_audited_with_who_what_and_why(client: TestClient, seeded: Seeded) -> None:
    """A concrete case of the property, with the audit entry spelled out."""
    notice = seeded.objects["rhb"]["notice"][0]
    r = client.get(f"/notices/{notice}", headers=seeded.auth("acme"))
    assert r.status_code == 404 and r.json() == {"detail": f"notice {notice!r} not found"}
    e = _last_denied(seeded)
    assert (e.actor, e.entity, e.entity_id) == ("acme", "notice", notice)
    assert "GET" in e.why and "brand" in e.why
    # and a missing object is not audited as a denial
    before = seeded.denied()
    assert client.get("/notices/N-NOPE", headers=seeded.auth("acme")).status_code == 404
    assert seeded.denied() == before
    # the staff see it
    assert client.get(f"/notices/{notice}", headers=seeded.auth("inv")).status_code == 200
    # a second user of the same holder sees the holder's notices; the seller of the listing does not
    assert client.get(f"/notices/{seeded.objects['rha']['notice'][0]}", headers=seeded.auth("acme2")).status_code == 200
    assert json.loads(client.get("/notices", headers=seeded.auth("seller1")).text) == {"detail": "not found"}
