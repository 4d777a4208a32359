"""Dossiers (SQLite and PostgreSQL): the JSON bundle's content and its redaction by role, the PDF (a real
PDF naming the lead and the rule, Chinese titles included), the files and the errors."""

from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
import zlib
from pathlib import Path

import orjson
import polars as pl
import pytest
from sqlalchemy import select

from counterwatch.config import load_settings
from counterwatch.contract import read_table
from counterwatch.errors import NotFoundError
from counterwatch.leads.dossier import _visible, dossier_bundle, dossier_command, render_pdf, write_dossier
from counterwatch.leads.record import WITHHELD
from counterwatch.leads.stage import LEADS, build_leads
from counterwatch.store.db import open_database
from counterwatch.store.models import Action, AuditEntry, Case, CaseEvent, Listing, Store
from counterwatch.workspace import Workspace


@pytest.fixture
def recorded(scanned: Path, tmp_path: Path, db_url: str):
    shutil.copytree(scanned, tmp_path / "ws")
    ws = Workspace.at(tmp_path / "ws")
    settings = load_settings(ws.root)
    build_leads(ws, settings, db_url)
    db = open_database(db_url)
    leads = pl.read_parquet(ws.out / LEADS)
    # the lead with the most stores: links, several stores' identities
    lead = leads.sort(pl.col("store_ids").list.len(), descending=True).row(0, named=True)
    yield ws, settings, db, lead
    db.dispose()


def _identifier_values(ws: Workspace, stores: list[str]) -> set[str]:
    ids = pl.from_arrow(read_table(ws, "store_identifiers", ["store_id", "kind", "value"]))
    return {v for v in ids.filter(pl.col("store_id").is_in(stores))["value"].to_list() if len(v) >= 8}  # type: ignore[union-attr]


def _pdf_text(pdf: bytes) -> str:
    """The text operands of every content stream (inflated): enough to find ids set in Helvetica."""
    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        data = m.group(1).strip()
        if data.endswith(b"~>"):  # ReportLab's ASCII85 wrapping
            data = base64.a85decode(data, adobe=True) if data.startswith(b"<~") else base64.a85decode(data[:-2])
        try:
            out.append(zlib.decompress(data).decode("latin-1"))
        except zlib.error:
            out.append(data.decode("latin-1"))
    return "\n".join(out)


def test_personal_data_is_withheld_from_reviewers_and_brands_and_shown_to_investigators(recorded):
    ws, settings, db, lead = recorded
    values = _identifier_values(ws, lead["store_ids"])
    assert values
    full = dossier_bundle(db, settings, lead["lead_id"], "investigator")
    assert full["personal_data"] == "included"
    shown = {e["value"] for e in full["evidence"]["identity"]}
    assert values <= shown
    for role in ("reviewer", "brand"):
        b = dossier_bundle(db, settings, lead["lead_id"], role)
        assert b["personal_data"] == "withheld"
        assert {e["value"] for e in b["evidence"]["identity"]} == {WITHHELD}
        assert len(b["evidence"]["identity"]) == len(full["evidence"]["identity"])
        text = orjson.dumps(b).decode()
        assert not [v for v in values if v in text], role
        # the links are there, with the identifier values withheld and the photos kept
        assert len(b["links"]) == len(full["links"]) > 0
        sentences = [x for ln in b["links"] for x in ln["evidence"]]
        assert all(x.startswith("photo ") or WITHHELD in x for x in sentences)
    full_text = orjson.dumps(full).decode()
    assert [v for v in values if v in full_text]
    with pytest.raises(NotFoundError) as exc:
        dossier_bundle(db, settings, lead["lead_id"], "seller")
    assert exc.value.denied


def test_the_bundle_holds_rule_readiness_evidence_network_ship_from_and_a_timeline(recorded):
    _ws, settings, db, lead = recorded
    lid, store = lead["lead_id"], lead["confirmed_store_ids"][0]
    b0 = dossier_bundle(db, settings, lid, "investigator")
    listing = next(x["listing_id"] for x in b0["evidence"]["listing"] if x["store_id"] == store)
    with db.session() as s:  # what enforcement and the referral added to the case database
        s.add(Store(store_id=store, seller_id="U1", name="x"))
        s.flush()
        s.add(Listing(listing_id=listing, store_id=store, title="t"))
        s.flush()
        s.add(Action(kind="take_down", listing_id=listing, store_id=store, reason_code="counterfeit",
                     created_at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC)))  # fmt: skip
        case = Case(lead_id=lid, agency="Putian PSB", region="CN-FJ", referred_on=dt.date(2026, 10, 5))
        s.add(case)
        s.flush()
        s.add(CaseEvent(case_id=case.id, status="raided", on=dt.date(2026, 11, 2), note="suspect Zhang San detained",
                        figures={"arrests": 2}))  # fmt: skip
    b = dossier_bundle(db, settings, lid, "investigator")
    assert b["lead_id"] == lid and b["summary"]["operator_id"] == lead["operator_id"]
    assert b["rule"]["rule_id"] == lead["rule_met"] and b["rule"]["rule_set_version"] == lead["rule_set_version"]
    assert b["rule"]["margin"] == str(lead["margin"]) and b["summary"]["sales_amount"] == str(lead["sales_amount"])
    assert [f"{c['element']}: {c['status']}" for c in b["readiness"]["checklist"]] == lead["checklist"]
    assert b["readiness"]["gaps"] == lead["gaps"]
    assert len(b["valuation"]["listings"]) == lead["listings_confirmed"] == len(b["evidence"]["listing"])
    assert len(b["evidence"]["order"]) == lead["orders"] == sum(x["orders"] for x in b["ship_from"])
    assert {s["store_id"] for s in b["stores"]} == set(lead["store_ids"])
    assert all({"store_a", "store_b", "weight", "evidence"} <= set(ln) for ln in b["links"])
    events = {e["event"] for e in b["timeline"]}
    assert {"first_order", "last_order", "action", "referral", "case_event", "lead"} <= events
    assert [e["at"] for e in b["timeline"]] == sorted(e["at"] for e in b["timeline"])
    assert any("Zhang San" in e["text"] for e in b["timeline"])
    redacted = dossier_bundle(db, settings, lid, "reviewer")
    assert "Zhang San" not in orjson.dumps(redacted).decode()
    assert redacted["cases"][0]["events"][0]["figures"] == {"arrests": 2}


def test_the_pdf_is_a_pdf_naming_the_lead_and_rule_and_chinese_titles_render(recorded):
    _ws, settings, db, lead = recorded
    bundle = dossier_bundle(db, settings, lead["lead_id"], "investigator")
    cjk = re.compile(r"[\u4e00-\u9fff]")
    assert any(cjk.search(s.get("name") or "") for s in bundle["stores"])  # generated store names are Chinese
    bundle["valuation"]["listings"][0]["title"] = "耐克 Air Max 90 正品 莆田 \u200b纯原"
    bundle["evidence"]["listing"][0]["title"] = "ナイキ 나이키 Nіke (Cyrillic і) 😀"
    pdf = render_pdf(bundle)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type /Page\b", pdf)) >= 2
    assert b"STSong-Light" in pdf
    text = _pdf_text(pdf)
    assert lead["lead_id"] in text and lead["rule_met"] in text
    assert _visible("Nike\u200b Air") == "Nike<U+200B> Air"  # hidden characters are shown, not dropped
    try:  # a real parser when the machine has one
        import pypdf
    except ImportError:
        return
    import io

    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) >= 2


def test_write_dossier_and_the_command_write_both_files_and_audit(recorded, db_url: str):
    ws, settings, db, lead = recorded
    pdf_path, json_path = write_dossier(ws, db, settings, lead["lead_id"], "reviewer")
    assert pdf_path == ws.out / "dossiers" / f"{lead['lead_id']}.pdf" and json_path.with_suffix(".pdf") == pdf_path
    assert pdf_path.read_bytes().startswith(b"%PDF-")
    data = orjson.loads(json_path.read_bytes())
    assert data["lead_id"] == lead["lead_id"] and data["personal_data"] == "withheld"
    assert not list(pdf_path.parent.glob(".*.tmp"))
    p2, j2 = dossier_command(ws.root, lead["lead_id"], "investigator", db_url)
    assert (p2, j2) == (pdf_path, json_path) and orjson.loads(j2.read_bytes())["personal_data"] == "included"
    with db.session() as s:
        verbs = [a.verb for a in s.scalars(select(AuditEntry).where(AuditEntry.entity_id == lead["lead_id"]))]
    assert verbs.count("export_dossier") == 2


def test_an_unknown_lead_is_not_found(recorded, db_url: str, tmp_path: Path):
    ws, settings, db, _lead = recorded
    with pytest.raises(NotFoundError) as exc:
        dossier_bundle(db, settings, "LEAD-OP-NOPE", "investigator")
    assert not exc.value.denied and exc.value.entity_id == "LEAD-OP-NOPE"
    with pytest.raises(NotFoundError):
        dossier_command(ws.root, "LEAD-OP-NOPE", "admin", db_url)
    with pytest.raises(NotFoundError):  # no case database at all: nothing is created
        dossier_command(tmp_path / "empty", "LEAD-OP-NOPE", "admin", None)
    assert not (tmp_path / "empty" / "counterwatch.db").exists()
