"""Leads recorded in the case database (SQLite and PostgreSQL): complete evidence, personal data marked,
idempotent reruns, stale and reopened leads, audit entries."""

from __future__ import annotations

import orjson
import polars as pl
from sqlalchemy import select

from counterwatch.config import load_settings
from counterwatch.contract import read_table
from counterwatch.leads.record import WITHHELD, record_leads, redact_link_evidence
from counterwatch.leads.stage import LEADS, build_leads
from counterwatch.leads.valuation import value_operators
from counterwatch.store.db import open_database
from counterwatch.store.models import AuditEntry, Lead, LeadEvidence
from counterwatch.workspace import Workspace


def _evidence(db, lead_id: str | None = None) -> list[LeadEvidence]:
    with db.session() as s:
        q = select(LeadEvidence).order_by(LeadEvidence.id)
        return list(s.scalars(q if lead_id is None else q.where(LeadEvidence.lead_id == lead_id)))


def _audit(db) -> list[AuditEntry]:
    with db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.entity == "lead").order_by(AuditEntry.id)))


def test_every_lead_is_recorded_with_complete_evidence_and_a_rerun_changes_nothing(ws: Workspace, db_url: str):
    settings = load_settings(ws.root)
    r = build_leads(ws, settings, db_url)
    leads = pl.read_parquet(ws.out / LEADS)
    assert r.recorded is not None and sorted(r.recorded.created) == sorted(leads["lead_id"]) and leads.height >= 2
    v = value_operators(ws, settings)
    idents = pl.from_arrow(read_table(ws, "store_identifiers", ["store_id", "kind", "value"]))
    db = open_database(db_url)
    try:
        with db.session() as s:
            recorded = {x.lead_id: x for x in s.scalars(select(Lead))}
        assert set(recorded) == set(leads["lead_id"])
        for row in leads.iter_rows(named=True):
            lead = recorded[row["lead_id"]]
            assert (lead.rule_met, lead.rank, lead.status) == (row["rule_met"], row["rank"], "open")
            assert lead.sales_amount == row["sales_amount"] and lead.store_ids == row["store_ids"]
            assert lead.figures["rules_met"] == row["rules_met"]
            ev = _evidence(db, row["lead_id"])
            kinds: dict[str, list[LeadEvidence]] = {}
            for e in ev:
                kinds.setdefault(e.kind, []).append(e)
            op = row["operator_id"]
            # every listing and every order the valuation counted is evidence, with what it stands on
            want_listings = set(v.listings.filter(pl.col("operator_id") == op)["listing_id"])
            assert {e.ref for e in kinds["listing"]} == want_listings
            some = kinds["listing"][0].data
            assert {"title", "price", "currency", "image_hashes", "reasons", "basis"} <= set(some)
            assert {e.ref for e in kinds["order"]} == set(v.orders.filter(pl.col("operator_id") == op)["order_id"])
            # ship-from regions add up to the lead's orders and sales
            ship = [e.data for e in kinds["ship_from"]]
            assert sum(x["orders"] for x in ship) == row["orders"]
            assert sum(pl.Series([x["amount"] for x in ship]).cast(pl.Decimal(18, 2))) == row["sales_amount"]
            assert {e.ref for e in kinds["store"]} == set(row["store_ids"])
            # every identity is personal, and one per identifier of the lead's stores (plus the seller id)
            mine = idents.filter(pl.col("store_id").is_in(row["store_ids"]))  # type: ignore[union-attr]
            identity = kinds["identity"]
            assert all(e.personal for e in identity)
            assert len(identity) == mine.height + len(row["store_ids"])
            # nothing but identity rows and link rows with values is personal, and no public row holds a value
            assert {e.kind for e in ev if e.personal} <= {"identity", "link"}
            values = {x for x in mine["value"].to_list() if len(x) >= 8}
            public = orjson.dumps([e.data for e in ev if not e.personal]).decode()
            assert not [x for x in values if x in public]
            if len(row["store_ids"]) > 1:
                assert kinds["link"] and all(e.data["store_a"] in row["store_ids"] for e in kinds["link"])
        first_ids = [e.id for e in _evidence(db)]
        audits = _audit(db)
        assert [a.verb for a in audits] == ["create"] * leads.height and {a.actor for a in audits} == {"system"}

        again = build_leads(ws, settings, db_url)
        assert again.recorded.unchanged == leads.height and not again.recorded.created and not again.recorded.updated
        assert again.recorded.evidence_rows == 0
        assert [e.id for e in _evidence(db)] == first_ids  # not rewritten
        assert len(_audit(db)) == len(audits)
    finally:
        db.dispose()


def test_changed_stale_referred_and_returning_leads(ws: Workspace, db_url: str):
    settings = load_settings(ws.root)
    build_leads(ws, settings, db_url)
    full = pl.read_parquet(ws.out / LEADS)
    first, second = full["lead_id"][0], full["lead_id"][1]
    v = value_operators(ws, settings)
    db = open_database(db_url)
    try:
        ids_before = [e.id for e in _evidence(db, second)]
        # a changed figure updates the lead (audited) and leaves unchanged evidence alone
        full.with_columns(gaps=pl.col("gaps").list.concat(pl.lit(["another gap"]))).write_parquet(ws.out / LEADS)
        r = record_leads(ws, settings, db, valuation=v)
        assert sorted(r.updated) == sorted(full["lead_id"]) and r.evidence_rows == 0
        assert [e.id for e in _evidence(db, second)] == ids_before
        with db.session() as s:
            assert s.get(Lead, first).gaps[-1] == "another gap"
            s.get(Lead, second).status = "referred"
        # leads no longer meeting a rule become stale, unless referred
        full.filter(~pl.col("lead_id").is_in([first, second])).write_parquet(ws.out / LEADS)
        r = record_leads(ws, settings, db, valuation=v)
        assert r.staled == [first]
        with db.session() as s:
            assert s.get(Lead, first).status == "stale" and s.get(Lead, second).status == "referred"
        assert _evidence(db, first)  # a stale lead keeps its evidence
        # and come back open
        full.write_parquet(ws.out / LEADS)
        r = record_leads(ws, settings, db, valuation=v)
        assert r.reopened == [first] and not r.staled
        with db.session() as s:
            assert s.get(Lead, first).status == "open" and s.get(Lead, second).status == "referred"
        verbs = [(a.verb, a.entity_id) for a in _audit(db)]
        assert ("stale", first) in verbs and ("stale", second) not in verbs
        assert verbs.count(("update", first)) == 2  # the changed gaps, then the return
    finally:
        db.dispose()


def test_build_leads_records_nothing_without_a_database(ws: Workspace):
    r = build_leads(ws, load_settings(ws.root))
    assert r.recorded is None and not (ws.root / "counterwatch.db").exists()


def test_link_evidence_keeps_photos_and_withholds_identifier_values():
    assert redact_link_evidence("phone +8615738311609 shared by 2 stores (+12.0 bits)") == \
        f"phone {WITHHELD} shared by 2 stores (+12.0 bits)"  # fmt: skip
    assert redact_link_evidence("addr huanghe rd no940 bldg3, hangzhou shared by 4 stores, 90% of them tied "
                                "otherwise (+8.4 bits)") == \
        f"addr {WITHHELD} shared by 4 stores, 90% of them tied otherwise (+8.4 bits)"  # fmt: skip
    photo = "photo 04ee68bf5a4a71d8 shared by 2 stores (+7.0 bits)"
    assert redact_link_evidence(photo) == photo
