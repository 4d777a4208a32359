"""The cases endpoints for the liaison role (and who else may see what), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from counterwatch.config import Settings
from counterwatch.store.models import AuditEntry
from tests.api.conftest import client_for
from tests.cases.conftest import DAY, World


def _personal_for(roles: list[str]) -> Settings:
    """Settings with ``leads.personal_data_roles`` (set directly while the setting is not declared)."""
    if "personal_data_roles" in type(Settings().leads).model_fields:
        return Settings.model_validate({"leads": {"personal_data_roles": roles}})
    settings = Settings()
    object.__setattr__(settings.leads, "personal_data_roles", roles)
    return settings


def _refer(client, world: World, lead: str, who: str = "liaison"):  # type: ignore[no-untyped-def]
    return client.post("/cases", headers=world.auth(who),
                       json={"lead_id": lead, "agency": "Yiwu PSB", "region": "CN-ZJ", "on": DAY.isoformat(),
                             "reference": "YW-9"})  # fmt: skip


def _step(client, world: World, cid: int, status: str, days: int, who: str = "liaison", **figures):  # type: ignore[no-untyped-def]
    body = {"status": status, "on": (DAY + dt.timedelta(days=days)).isoformat(), "note": f"{status} note"}
    if figures:
        body["figures"] = figures
    return client.post(f"/cases/{cid}/events", headers=world.auth(who), json=body)


def test_liaison_refers_and_advances_to_conviction(world: World) -> None:
    with client_for(world.db) as c:
        r = _refer(c, world, world.leads[0])
        assert r.status_code == 201, r.text
        case = r.json()
        assert case["status"] == "referred" and case["next"] == ["accepted", "dropped"]
        cid = case["id"]
        assert _step(c, world, cid, "accepted", 2).status_code == 201
        assert _step(c, world, cid, "investigating", 5, arrests=2).status_code == 201
        r = _step(c, world, cid, "raided", 30, arrests=3, facilities_closed=1, units_seized=800, value_seized=96000)
        assert r.status_code == 201 and r.json()["events"][-1]["figures"]["value_seized"] == "96000.00"
        assert _step(c, world, cid, "prosecuted", 60).status_code == 201
        r = _step(c, world, cid, "convicted", 200, sentence_months=30, probation_months=6, fine="50000")
        assert r.status_code == 201
        out = r.json()
        assert out["status"] == "convicted" and out["next"] == []
        assert [e["status"] for e in out["events"]] == ["referred", "accepted", "investigating", "raided",
                                                         "prosecuted", "convicted"]  # fmt: skip
        assert c.get(f"/cases/{cid}", headers=world.auth("liaison")).json() == out
        assert [x["id"] for x in c.get("/cases?status=convicted", headers=world.auth("liaison")).json()] == [cid]
        # referred twice: 409
        r = _refer(c, world, world.leads[0])
        assert r.status_code == 409 and "referred already" in r.json()["detail"]


def test_illegal_transition_is_409_with_the_allowed_next_states(world: World) -> None:
    with client_for(world.db) as c:
        cid = _refer(c, world, world.leads[0]).json()["id"]
        r = _step(c, world, cid, "raided", 3)
        assert r.status_code == 409
        body = r.json()
        assert body["allowed"] == ["accepted", "dropped"] and body["current"] == "referred"
        assert body["requested"] == "raided" and "would skip accepted, investigating" in body["detail"]
        assert _step(c, world, cid, "dropped", 3).status_code == 201
        r = _step(c, world, cid, "accepted", 4)
        assert r.status_code == 409 and r.json()["allowed"] == [] and "final outcome" in r.json()["detail"]
        # dates going backwards: 409 with the reason
        cid2 = _refer(c, world, world.leads[1]).json()["id"]
        assert _step(c, world, cid2, "accepted", 10).status_code == 201
        r = _step(c, world, cid2, "investigating", 5)
        assert r.status_code == 409 and "dates cannot go backwards" in r.json()["detail"]


def test_malformed_requests_are_422_naming_the_field(world: World) -> None:
    with client_for(world.db) as c:
        cid = _refer(c, world, world.leads[0]).json()["id"]
        r = _step(c, world, cid, "accepted", 2, arrests=1)  # a figure that does not apply to the step
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "figures", "arrests"]
        assert "does not apply" in r.json()["detail"][0]["msg"]
        assert _step(c, world, cid, "accepted", 2).status_code == 201
        r = _step(c, world, cid, "investigating", 3, arrests=-2)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-2:] == ["figures", "arrests"]
        r = _step(c, world, cid, "arrested", 3)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "status"]
        r = c.post(f"/cases/{cid}/events", headers=world.auth("liaison"), json={"status": "investigating", "on": "yesterday"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "on"]
        r = c.post("/cases", headers=world.auth("liaison"), json={"lead_id": world.leads[1], "agency": "X", "on": "2025-01-01"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "region"]
        future = (dt.date.today() + dt.timedelta(days=5)).isoformat()
        r = c.post("/cases", headers=world.auth("liaison"),
                   json={"lead_id": world.leads[1], "agency": "X", "region": "CN", "on": future})  # fmt: skip
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "on"]


def test_scope_other_roles_get_404_and_are_audited(world: World) -> None:
    with client_for(world.db) as c:
        cid = _refer(c, world, world.leads[0]).json()["id"]
        missing = c.get("/cases/987654", headers=world.auth("liaison"))
        assert missing.status_code == 404
        for who in ("seller", "acme", "rev"):
            for r in (c.get(f"/cases/{cid}", headers=world.auth(who)), c.get("/cases", headers=world.auth(who)),
                      _step(c, world, cid, "accepted", 1, who=who), _refer(c, world, world.leads[1], who=who),
                      c.get("/leads", headers=world.auth(who)), c.get(f"/leads/{world.leads[0]}", headers=world.auth(who)),
                      c.get("/funnel", headers=world.auth(who))):  # fmt: skip
                assert r.status_code == 404, (who, r.request.url, r.text)
        # hidden reads the same as missing (but for the id)
        hidden = c.get(f"/cases/{cid}", headers=world.auth("seller")).json()["detail"]
        assert hidden == missing.json()["detail"].replace("987654", str(cid))
        # the investigator reads, but cannot act
        assert c.get(f"/cases/{cid}", headers=world.auth("inv")).status_code == 200
        assert _step(c, world, cid, "accepted", 1, who="inv").status_code == 404
        assert _refer(c, world, world.leads[1], who="inv").status_code == 404
        assert c.get("/cases").status_code == 401
    with world.db.session() as s:
        denied = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.verb == "denied"))
        assert denied == 3 * 7 + 1 + 2  # each refusal above, the second look at the hidden case, the investigator's two writes
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.verb == "advance")) == 0


def test_leads_ranked_and_personal_evidence_by_role(world: World) -> None:
    with client_for(world.db) as c:
        leads = c.get("/leads", headers=world.auth("inv")).json()
        assert len(leads) == len(world.leads)
        assert [x["rank"] for x in leads] == list(range(1, len(leads) + 1))
        readiness = [x["readiness"] for x in leads]
        assert readiness == sorted(readiness, reverse=True) and leads[0]["p"] is None  # no model yet
        lead = c.get(f"/leads/{world.leads[0]}", headers=world.auth("inv")).json()
        assert {e["kind"] for e in lead["evidence"]} == {"listing", "identity"} and lead["personal_withheld"] == 0
        _refer(c, world, world.leads[0])
        assert c.get("/leads", headers=world.auth("liaison")).json()[0]["lead_id"] != world.leads[0]
        assert world.leads[0] in [x["lead_id"] for x in c.get("/leads?status=referred", headers=world.auth("liaison")).json()]
        assert c.get("/leads/NOPE", headers=world.auth("inv")).status_code == 404
    with world.db.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.verb == "read_personal")) == 1
    # with leads.personal_data_roles configured, the others see no personal evidence
    with client_for(world.db, settings=_personal_for(["investigator"])) as c:
        shown = c.get(f"/leads/{world.leads[0]}", headers=world.auth("inv")).json()
        hidden = c.get(f"/leads/{world.leads[0]}", headers=world.auth("liaison")).json()
        assert any(e["personal"] for e in shown["evidence"])
        assert [e["kind"] for e in hidden["evidence"]] == ["listing"] and hidden["personal_withheld"] == 1
        assert "PERSONALQX" not in str(hidden)


def test_funnel_endpoint(world: World) -> None:
    with client_for(world.db) as c:
        cid = _refer(c, world, world.leads[0]).json()["id"]
        _step(c, world, cid, "accepted", 4)
        r = c.get("/funnel", headers=world.auth("inv"))
        assert r.status_code == 200
        f = r.json()
        assert f["leads"] == len(world.leads) and f["summary"]["referred"] == 1 and f["summary"]["accepted"] == 1
        assert f["stages"][0] == {"stage": "referred", "reached": 1, "in_stage_now": 0, "rate_from_previous": None,
                                  "rate_from_referred": 1.0, "median_days": 4, "dropped_here": 0}  # fmt: skip
        assert f["model"] is None  # not enough decided cases
        assert "Yiwu PSB" in f["by_agency"]
        assert c.get("/funnel?since=2099-01-01", headers=world.auth("inv")).json()["summary"]["referred"] == 0
