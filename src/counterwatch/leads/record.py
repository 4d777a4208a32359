"""Leads in the case database, with the evidence each stands on.

``record_leads`` upserts every row of ``out/leads.parquet`` into ``leads`` and keeps its evidence in
``lead_evidence``, one row per piece:

| kind | ref | data | personal |
|---|---|---|---|
| ``store`` | store id | name, country, region, status, created_at, link confidence, confirmed | no |
| ``listing`` | listing id | title, price, currency, photos' hashes, detection's reasons, risk, band, basis of the confirmation, brand, stock, sales, orders, unsold value and basis | no |
| ``order`` | order id | listing, quantity, unit price, currency, amount in the base currency, ordered_at, ship_from, buyer_region | no |
| ``test_buy`` | listing id @ date | label (counterfeit or genuine), decided_at | no |
| ``notice`` | notice id | brand, listing, basis, registration no., evidence, submitted_at, status and decided_at from the case database | no |
| ``authentication`` | notice id | a right holder's authentication report or test purchase cited in a notice | no |
| ``link`` | ``store_a~store_b`` | weight, the evidence with identifier values withheld (photos stay) | no |
| ``link`` | ``store_a~store_b`` | the same evidence with the identifier values | **yes** |
| ``identity`` | ``store:kind:n`` | the store's identifiers as entered (contact names, id numbers, accounts, phones...) and seller id | **yes** |
| ``ship_from`` | region | orders, units and amount shipped from it | no |

Rows marked ``personal`` are shown only to ``leads.personal_data_roles``; no other row holds personal
data, so a reader that drops personal rows leaks none.

Idempotent: a lead's evidence carries a digest (``figures.evidence_digest``); when neither the lead's
figures nor the digest changed nothing is written. A lead no longer in the file becomes ``stale``
(unless it was referred); one that comes back is ``open`` again. Creations, updates and staling are
audited (actor ``system``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import polars as pl
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from counterwatch.config import Settings
from counterwatch.contract import read_table
from counterwatch.contract.reader import find_table_file
from counterwatch.errors import InputError
from counterwatch.leads.stage import LEADS
from counterwatch.leads.valuation import Valuation, value_operators
from counterwatch.store.db import Database
from counterwatch.store.models import AuditEntry, Lead, LeadEvidence, Notice, utcnow
from counterwatch.workspace import Workspace

#: what takes the place of personal data for roles not allowed to see it
WITHHELD = "[personal data withheld]"
#: the lead's columns in the case database (everything else of the row goes to ``figures``)
COLUMNS = ("operator_id", "jurisdiction", "rule_set_version", "rule_met", "severity", "currency", "sales_amount",
           "unsold_value", "margin", "readiness", "rank", "automated_only", "store_ids", "checklist", "gaps")  # fmt: skip
#: link evidence families whose values are not personal data (a photo's hash is the listing's, not a person's)
PUBLIC_FAMILIES = ("photo",)
#: a notice citing one of these is a right holder's authentication (an appraisal or a test purchase)
AUTHENTICATION = re.compile(r"鉴定|authenticat|apprais|test purchase|not manufactured by the rights holder", re.I)
CENT = Decimal("0.01")


@dataclass
class RecordResult:
    leads: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    staled: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    evidence_rows: int = 0


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)  # exact: amounts keep their cents
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC).isoformat() if v.tzinfo else v.replace(tzinfo=dt.UTC).isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and v != v:  # NaN is not JSON
        return None
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


def redact_link_evidence(sentence: str) -> str:
    """``phone +8613... shared by 2 stores (+12.0 bits)`` -> ``phone [personal data withheld] shared by ...``;
    photo hashes stay (they are the listings', not a person's)."""
    family, _, rest = sentence.partition(" ")
    if family in PUBLIC_FAMILIES or " shared by " not in rest:
        return sentence if family in PUBLIC_FAMILIES else f"{family} {WITHHELD}"
    return f"{family} {WITHHELD} shared by {rest.rsplit(' shared by ', 1)[1]}"


# --- evidence ----------------------------------------------------------------------------------


@dataclass
class _Sources:
    """Every table the evidence is drawn from, read once for all leads."""

    valuation: Valuation
    listings: pl.DataFrame
    scores: pl.DataFrame
    stores: pl.DataFrame
    operators: pl.DataFrame
    links: pl.DataFrame
    identifiers: pl.DataFrame
    labels: pl.DataFrame
    notices: pl.DataFrame
    notice_state: dict[str, tuple[str, dt.datetime | None]]


def _optional(ws: Workspace, table: str, columns: list[str], schema: dict[str, Any]) -> pl.DataFrame:
    if find_table_file(ws, table, required=False) is None:
        return pl.DataFrame(schema=schema)
    return pl.from_arrow(read_table(ws, table, columns))  # type: ignore[return-value]


def _sources(ws: Workspace, v: Valuation, session: Session) -> _Sources:
    ids = v.listings["listing_id"]
    listings = pl.from_arrow(read_table(ws, "listings", ["listing_id", "price", "currency", "image_hashes"]))
    listings = listings.filter(pl.col("listing_id").is_in(ids.implode()))  # type: ignore[union-attr]
    scores = pl.read_parquet(ws.out / "scores.parquet", columns=["listing_id", "band", "reasons"]).filter(
        pl.col("listing_id").is_in(ids.implode()))  # fmt: skip
    stores = pl.from_arrow(read_table(ws, "stores", ["store_id", "seller_id", "name", "created_at", "country",
                                                     "region", "status"]))  # fmt: skip
    ops_path, links_path = ws.out / "operators.parquet", ws.out / "operator_links.parquet"
    operators = (pl.read_parquet(ops_path, columns=["store_id", "confidence"]) if ops_path.exists()
                 else pl.DataFrame(schema={"store_id": pl.String, "confidence": pl.Float64}))  # fmt: skip
    links = (pl.read_parquet(links_path, columns=["store_a", "store_b", "operator_id", "weight", "evidence"])
             if links_path.exists() else
             pl.DataFrame(schema={"store_a": pl.String, "store_b": pl.String, "operator_id": pl.String,
                                  "weight": pl.Float64, "evidence": pl.List(pl.String)}))  # fmt: skip
    identifiers = _optional(ws, "store_identifiers", ["store_id", "kind", "value"],
                            {"store_id": pl.String, "kind": pl.String, "value": pl.String})  # fmt: skip
    labels = _optional(ws, "labels", ["listing_id", "label", "source", "decided_at"],
                       {"listing_id": pl.String, "label": pl.String, "source": pl.String,
                        "decided_at": pl.Datetime("us", "UTC")})  # fmt: skip
    notices = _optional(ws, "notices", ["notice_id", "brand_id", "listing_id", "basis", "registration_no", "evidence",
                                        "submitted_at"],
                        {"notice_id": pl.String, "brand_id": pl.String, "listing_id": pl.String, "basis": pl.String,
                         "registration_no": pl.String, "evidence": pl.String,
                         "submitted_at": pl.Datetime("us", "UTC")})  # fmt: skip
    state = {nid: (status, at) for nid, status, at in
             session.execute(select(Notice.notice_id, Notice.status, Notice.decided_at)).all()}  # fmt: skip
    return _Sources(v, listings, scores, stores, operators, links, identifiers, labels, notices, state)  # type: ignore[arg-type]


def _by(df: pl.DataFrame, key: str) -> dict[Any, pl.DataFrame]:
    return {k: g for (k,), g in df.group_by(key)} if df.height else {}


class _Evidence:
    """Evidence rows per lead, from the sources grouped once (so 100 leads cost one pass, not 100)."""

    def __init__(self, src: _Sources) -> None:
        v = src.valuation
        li = v.listings.join(src.listings, on="listing_id", how="left").join(src.scores, on="listing_id", how="left")
        self.listings = _by(li, "operator_id")
        self.orders = _by(v.orders, "operator_id")
        self.links = _by(src.links, "operator_id")
        self.stores = {r["store_id"]: r for r in src.stores.iter_rows(named=True)}
        self.confidence = dict(src.operators.iter_rows())
        self.identifiers = _by(src.identifiers, "store_id")
        self.notice_state = src.notice_state


def _listing_store(ws: Workspace) -> pl.DataFrame:
    return pl.from_arrow(read_table(ws, "listings", ["listing_id", "store_id"]))  # type: ignore[return-value]


def _evidence_rows(lead: dict[str, Any], ev: _Evidence, by_store_labels: dict[str, pl.DataFrame],
                   by_store_notices: dict[str, pl.DataFrame]) -> list[dict[str, Any]]:  # fmt: skip
    """Every evidence row of one lead: ``kind``, ``ref``, ``personal``, ``data`` (JSON-ready)."""
    oid, stores = lead["operator_id"], list(lead["store_ids"])
    confirmed = set(lead["confirmed_store_ids"] or [])
    rows: list[dict[str, Any]] = []

    def add(kind: str, ref: str, data: dict[str, Any], personal: bool = False) -> None:
        rows.append({"kind": kind, "ref": ref[:200], "personal": personal, "data": _jsonable(data)})

    for sid in stores:
        st = ev.stores.get(sid) or {}
        add("store", sid, {"store_id": sid, "name": st.get("name"), "country": st.get("country"),
                           "region": st.get("region"), "status": st.get("status"), "created_at": st.get("created_at"),
                           "link_confidence": ev.confidence.get(sid), "confirmed": sid in confirmed})  # fmt: skip
        n = 0
        if st.get("seller_id"):
            n += 1
            add("identity", f"{sid}:seller_id:{n}", {"store_id": sid, "kind": "seller_id", "value": st["seller_id"]}, True)
        ids = ev.identifiers.get(sid)
        if ids is not None:
            for kind, value in ids.sort("kind", "value").select("kind", "value").iter_rows():
                n += 1
                add("identity", f"{sid}:{kind}:{n}", {"store_id": sid, "kind": kind, "value": value}, True)
    listings = ev.listings.get(oid)
    if listings is not None:
        for r in listings.sort("listing_id").iter_rows(named=True):
            add("listing", r["listing_id"], {
                "listing_id": r["listing_id"], "store_id": r["store_id"], "title": r["title"], "price": r["price"],
                "currency": r["currency"], "image_hashes": list(r["image_hashes"] or []),
                "reasons": list(r["reasons"] or []), "risk": r["risk"], "band": r["band"], "basis": r["basis"],
                "automated": r["automated"], "brand_id": r["brand_id"], "stock": r["stock"], "sales": r["sales"],
                "units_sold": r["units_sold"], "orders": r["orders"], "first_order": r["first_order"],
                "last_order": r["last_order"], "unsold_basis": r["unsold_basis"], "unsold_value": r["unsold_value"],
            })  # fmt: skip
    orders = ev.orders.get(oid)
    if orders is not None:
        orders = orders.sort("ordered_at", "order_id")
        for r in orders.iter_rows(named=True):
            add("order", r["order_id"], {k: r[k] for k in ("order_id", "listing_id", "quantity", "unit_price", "currency",
                                                           "amount", "ordered_at", "ship_from", "buyer_region")})  # fmt: skip
        ship = (orders.with_columns(pl.col("ship_from").fill_null("unknown"))
                .group_by("ship_from").agg(orders=pl.len(), units=pl.col("quantity").sum(), amount=pl.col("amount").sum(),
                                           first=pl.col("ordered_at").min(), last=pl.col("ordered_at").max())
                .sort(["amount", "ship_from"], descending=[True, False]))  # fmt: skip
        for r in ship.iter_rows(named=True):
            add("ship_from", r["ship_from"], {"region": r["ship_from"], "orders": r["orders"], "units": r["units"],
                                              "amount": r["amount"], "first_order": r["first"], "last_order": r["last"]})  # fmt: skip
    for sid in stores:
        lab = by_store_labels.get(sid)
        if lab is not None:
            for r in lab.filter(pl.col("source") == "test_buy").sort("decided_at", "listing_id").iter_rows(named=True):
                add("test_buy", f"{r['listing_id']}@{_jsonable(r['decided_at'])}",
                    {"listing_id": r["listing_id"], "store_id": sid, "label": r["label"], "decided_at": r["decided_at"]})  # fmt: skip
        nts = by_store_notices.get(sid)
        if nts is not None:
            for r in nts.sort("submitted_at", "notice_id").iter_rows(named=True):
                status, decided = ev.notice_state.get(r["notice_id"], (None, None))
                data = {k: r[k] for k in ("notice_id", "brand_id", "listing_id", "basis", "registration_no", "evidence",
                                          "submitted_at")} | {"store_id": sid, "status": status, "decided_at": decided}  # fmt: skip
                add("notice", r["notice_id"], data)
                if AUTHENTICATION.search(r["evidence"] or ""):
                    add("authentication", r["notice_id"], {"notice_id": r["notice_id"], "brand_id": r["brand_id"],
                                                           "listing_id": r["listing_id"], "store_id": sid,
                                                           "report": r["evidence"], "submitted_at": r["submitted_at"],
                                                           "status": status})  # fmt: skip
    links = ev.links.get(oid)
    if links is not None:
        for r in links.sort("store_a", "store_b").iter_rows(named=True):
            ref = f"{r['store_a']}~{r['store_b']}"
            sentences = list(r["evidence"] or [])
            redacted = [redact_link_evidence(x) for x in sentences]
            add("link", ref, {"store_a": r["store_a"], "store_b": r["store_b"], "weight": round(float(r["weight"]), 3),
                              "evidence": redacted})  # fmt: skip
            if redacted != sentences:
                add("link", ref, {"store_a": r["store_a"], "store_b": r["store_b"], "evidence": sentences}, True)
    return rows


def evidence_digest(rows: Iterable[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for r in rows:
        h.update(orjson.dumps([r["kind"], r["ref"], r["personal"], r["data"]], option=orjson.OPT_SORT_KEYS))
        h.update(b"\n")
    return h.hexdigest()[:32]


# --- leads -------------------------------------------------------------------------------------


def _lead_values(row: dict[str, Any], digest: str) -> dict[str, Any]:
    out = {k: row[k] for k in COLUMNS}
    for k in ("sales_amount", "unsold_value", "margin"):
        out[k] = Decimal(out[k]).quantize(CENT)
    out["store_ids"] = list(out["store_ids"] or [])
    out["checklist"] = list(out["checklist"] or [])
    out["gaps"] = list(out["gaps"] or [])
    out["readiness"] = float(out["readiness"])
    out["rank"] = int(out["rank"])
    out["automated_only"] = bool(out["automated_only"])
    figures = {k: _jsonable(v) for k, v in row.items() if k not in COLUMNS and k != "lead_id"}
    figures["evidence_digest"] = digest
    out["figures"] = figures
    return out


def _current(lead: Lead) -> dict[str, Any]:
    out = {k: getattr(lead, k) for k in COLUMNS} | {"figures": lead.figures}
    for k in ("sales_amount", "unsold_value", "margin"):
        out[k] = Decimal(out[k]).quantize(CENT)
    return out


def _differs(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    def canon(v: Any) -> bytes:
        return orjson.dumps(_jsonable(v), option=orjson.OPT_SORT_KEYS)

    return {k: (old[k], new[k]) for k in new if canon(old[k]) != canon(new[k])}


def _summary(values: dict[str, Any]) -> dict[str, Any]:
    return _jsonable({k: values[k] for k in ("rule_met", "sales_amount", "margin", "readiness", "rank")})


def record_leads(ws: Workspace, settings: Settings, db: Database, progress: Callable[[str], None] | None = None,
                 *, valuation: Valuation | None = None, now: dt.datetime | None = None) -> RecordResult:  # fmt: skip
    """Upsert the leads of ``out/leads.parquet`` and their evidence into the case database (one transaction).

    ``valuation`` is the one the leads were built from (``build_leads`` passes it); without it the
    operators are valued again."""
    say = progress or (lambda _m: None)
    path: Path = ws.out / LEADS
    if not path.is_file():
        raise InputError(f"{path} is missing: run `counterwatch leads {ws.root}` first")
    leads = pl.read_parquet(path)
    if valuation is None:
        valuation = value_operators(ws, settings, db.engine.url.render_as_string(hide_password=False))
    now = now or utcnow()
    result = RecordResult(leads=leads.height)
    say(f"leads: recording {leads.height:,} leads with their evidence")
    with db.session() as s:
        src = _sources(ws, valuation, s)
        ev = _Evidence(src)
        lead_stores = {sid for ids in leads["store_ids"].to_list() for sid in ids or []}
        li_store = _listing_store(ws).filter(pl.col("store_id").is_in(list(lead_stores)))
        by_store_labels = _by(src.labels.join(li_store, on="listing_id"), "store_id")
        by_store_notices = _by(src.notices.join(li_store, on="listing_id"), "store_id")
        existing = {lead.lead_id: lead for lead in s.scalars(select(Lead))}
        replace: dict[str, list[dict[str, Any]]] = {}
        audits: list[AuditEntry] = []
        for row in leads.iter_rows(named=True):
            lid = row["lead_id"]
            rows = _evidence_rows(row, ev, by_store_labels, by_store_notices)
            values = _lead_values(row, evidence_digest(rows))
            lead = existing.get(lid)
            if lead is None:
                s.add(Lead(lead_id=lid, status="open", created_at=now, updated_at=now, **values))
                replace[lid] = rows
                result.created.append(lid)
                audits.append(AuditEntry(at=now, actor="system", verb="create", entity="lead", entity_id=lid,
                                         why=f"meets {values['rule_met']} ({values['rule_set_version']})",
                                         after=_summary(values) | {"evidence": len(rows)}))  # fmt: skip
                continue
            changed = _differs(_current(lead), values)
            reopen = lead.status == "stale"
            if not changed and not reopen:
                result.unchanged += 1
                continue
            before = _summary(_current(lead)) | {"status": lead.status}
            for k, v in values.items():
                setattr(lead, k, v)
            if reopen:
                lead.status = "open"
                result.reopened.append(lid)
            lead.updated_at = now
            if "figures" in changed and changed["figures"][0].get("evidence_digest") != values["figures"]["evidence_digest"]:
                replace[lid] = rows
            result.updated.append(lid)
            what = sorted(k if k != "figures" else "figures/evidence" for k in changed)
            audits.append(AuditEntry(at=now, actor="system", verb="update", entity="lead", entity_id=lid,
                                     why=("meets a rule again; " if reopen else "") + "changed: " + ", ".join(what),
                                     before=before, after=_summary(values) | {"status": lead.status}))  # fmt: skip
        in_file = set(leads["lead_id"].to_list())
        for lid, lead in sorted(existing.items()):
            if lid in in_file or lead.status in ("referred", "stale"):
                continue
            audits.append(AuditEntry(at=now, actor="system", verb="stale", entity="lead", entity_id=lid,
                                     why="no longer meets a statutory rule in the latest leads run",
                                     before={"status": lead.status}, after={"status": "stale"}))  # fmt: skip
            lead.status, lead.updated_at = "stale", now
            result.staled.append(lid)
        s.flush()  # the leads exist before their evidence refers to them
        if replace:
            s.execute(delete(LeadEvidence).where(LeadEvidence.lead_id.in_(list(replace))))
            batch = [r | {"lead_id": lid} for lid, rows in replace.items() for r in rows]
            for i in range(0, len(batch), 5000):
                s.execute(insert(LeadEvidence), batch[i : i + 5000])
            result.evidence_rows = len(batch)
        s.add_all(audits)
    say(f"leads: {len(result.created)} created, {len(result.updated)} updated, {result.unchanged} unchanged, "
        f"{len(result.staled)} stale; {result.evidence_rows:,} evidence rows written")  # fmt: skip
    return result
