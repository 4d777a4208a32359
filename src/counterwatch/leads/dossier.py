"""A lead's dossier: what an agency needs to decide on a referral, as a PDF and as a JSON bundle.

``dossier_bundle`` gathers, from the case database alone, the lead's summary, its valuation, the
statutory rule met (margin, rule-set version), the readiness checklist and its gaps, the evidence by
kind, the stores and the links between them, the ship-from regions, and a timeline (orders, notices,
test buys, the platform's actions against the lead's stores, the case's events). ``render_pdf`` lays
the same content out with ReportLab, with a figure of the store network and the ship-from table.

Personal data (identifiers, seller ids, identifier values in link evidence, case notes) is included
only for ``leads.personal_data_roles``; for every other role it reads "[personal data withheld]".
The seller role, and any role not known to the case database, sees no dossier at all: that reads
like an unknown lead (``NotFoundError(denied=True)``), so existence does not leak.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import orjson
from sqlalchemy import or_, select

from counterwatch.config import Settings, load_settings
from counterwatch.errors import NotFoundError
from counterwatch.leads.record import WITHHELD, _jsonable
from counterwatch.store.db import Database, database_url, open_database
from counterwatch.store.models import ROLES, Action, AuditEntry, Case, Lead, LeadEvidence, Listing, utcnow
from counterwatch.workspace import Workspace, atomic_path

FORMAT = "counterwatch-dossier/1"
#: roles that may read a dossier (personal data within it only for ``leads.personal_data_roles``)
DOSSIER_ROLES = tuple(r for r in ROLES if r != "seller")
KIND_ORDER = ("store", "listing", "order", "test_buy", "notice", "authentication", "link", "identity", "ship_from")


# --- the bundle ----------------------------------------------------------------------------------


def _iso(v: Any) -> str | None:
    j = _jsonable(v)
    return j if isinstance(j, str) or j is None else str(j)


def _allowed(settings: Settings, role: str) -> bool:
    return role in settings.leads.personal_data_roles


def dossier_bundle(db: Database, settings: Settings, lead_id: str, role: str) -> dict[str, Any]:
    """The dossier's content as JSON-ready data. ``NotFoundError`` for an unknown lead, and (denied) for a
    role that may not read dossiers."""
    if role not in DOSSIER_ROLES:
        raise NotFoundError(f"lead {lead_id!r} not found", denied=True, entity="lead", entity_id=lead_id)
    personal = _allowed(settings, role)
    with db.session() as s:
        lead = s.get(Lead, lead_id)
        if lead is None:
            raise NotFoundError(f"lead {lead_id!r} not found: run `counterwatch leads` to record leads",
                                entity="lead", entity_id=lead_id)  # fmt: skip
        evidence = s.execute(select(LeadEvidence.kind, LeadEvidence.ref, LeadEvidence.personal, LeadEvidence.data)
                             .where(LeadEvidence.lead_id == lead_id).order_by(LeadEvidence.id)).all()  # fmt: skip
        stores = list(lead.store_ids or [])
        listed = select(Listing.listing_id).where(Listing.store_id.in_(stores))
        actions = s.scalars(select(Action).where(or_(Action.store_id.in_(stores), Action.listing_id.in_(listed)))
                            .order_by(Action.created_at, Action.id)).all()  # fmt: skip
        cases = s.scalars(select(Case).where(Case.lead_id == lead_id).order_by(Case.id)).all()
        case_data = [{
            "case_id": c.id, "agency": c.agency, "region": c.region, "reference": c.reference, "status": c.status,
            "referred_on": _iso(c.referred_on),
            "events": [{"status": e.status, "on": _iso(e.on), "figures": e.figures,
                        "note": e.note if personal else (WITHHELD if e.note else "")} for e in c.events],
        } for c in cases]  # fmt: skip
        action_data = [{
            "action_id": a.id, "kind": a.kind, "listing_id": a.listing_id, "store_id": a.store_id,
            "reason_code": a.reason_code, "automated_detection": a.automated_detection,
            "automated_decision": a.automated_decision, "created_at": _iso(a.created_at),
            "reversed_at": _iso(a.reversed_at),
        } for a in actions]  # fmt: skip
        lead_row = {k: getattr(lead, k) for k in ("lead_id", "operator_id", "jurisdiction", "rule_set_version",
                                                   "rule_met", "severity", "currency", "sales_amount", "unsold_value",
                                                   "margin", "readiness", "rank", "automated_only", "store_ids",
                                                   "checklist", "gaps", "figures", "status", "created_at",
                                                   "updated_at")}  # fmt: skip
    return _assemble(lead_row, evidence, action_data, case_data, role, personal)


def _assemble(lead: dict[str, Any], evidence: list[Any], actions: list[dict[str, Any]], cases: list[dict[str, Any]],
              role: str, personal: bool) -> dict[str, Any]:  # fmt: skip
    fig = lead["figures"] or {}
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    full_links: dict[str, list[str]] = {}
    for kind, ref, is_personal, data in evidence:
        if kind == "link" and is_personal:
            if personal:
                full_links[ref] = data.get("evidence", [])
            continue
        if is_personal and not personal:
            data = {k: (WITHHELD if k == "value" else v) for k, v in data.items()}
            if "value" not in data:
                data = {"store_id": data.get("store_id"), "kind": data.get("kind"), "value": WITHHELD}
        by_kind[kind].append(dict(data) | {"ref": ref})
    links = []
    for ln in by_kind.get("link", []):
        ref = ln["ref"]
        links.append(ln | ({"evidence": full_links[ref]} if ref in full_links else {}))
    by_kind["link"] = links
    money = lambda v: _iso(Decimal(str(v)).quantize(Decimal("0.01"))) if v is not None else None
    listings = by_kind.get("listing", [])
    summary = {
        "lead_id": lead["lead_id"], "operator_id": lead["operator_id"], "status": lead["status"], "rank": lead["rank"],
        "jurisdiction": lead["jurisdiction"], "severity": lead["severity"], "currency": lead["currency"],
        "sales_amount": money(lead["sales_amount"]), "unsold_value": money(lead["unsold_value"]),
        "unsold_counted": fig.get("unsold_counted"), "brands": fig.get("brands"), "brand_ids": fig.get("brand_ids", []),
        "listings_confirmed": fig.get("listings_confirmed"), "orders": fig.get("orders"),
        "stores": len(lead["store_ids"] or []), "confirmed_store_ids": fig.get("confirmed_store_ids", []),
        "period_start": fig.get("period_start"), "period_end": fig.get("period_end"),
        "readiness": lead["readiness"], "automated_only": lead["automated_only"],
        "recorded_at": _iso(lead["created_at"]), "updated_at": _iso(lead["updated_at"]),
    }  # fmt: skip
    summary["headline"] = (
        f"Operator {lead['operator_id']} ({summary['stores']} store(s)) sold counterfeit goods worth "
        f"{lead['currency']} {Decimal(summary['sales_amount']):,.2f} between {(summary['period_start'] or '?')[:10]} and "
        f"{(summary['period_end'] or '?')[:10]}: {lead['rule_met']} is met by {lead['currency']} "
        f"{Decimal(str(lead['margin'])):,.2f}."
    )
    valuation = {
        "currency": lead["currency"], "sales_amount": summary["sales_amount"], "unsold_value": summary["unsold_value"],
        "unsold_counted": fig.get("unsold_counted"),
        "listings": sorted(({k: li.get(k) for k in ("listing_id", "store_id", "title", "brand_id", "basis", "automated",
                                                    "orders", "units_sold", "sales", "stock", "unsold_basis",
                                                    "unsold_value")} for li in listings),
                           key=lambda r: (-Decimal(str(r["sales"] or 0)), r["listing_id"])),
        "by_basis": _count(listings, "basis"),
    }  # fmt: skip
    rule = {
        "rule_id": lead["rule_met"], "article": fig.get("rule_article"), "offence": fig.get("rule_offence"),
        "severity": lead["severity"], "threshold": fig.get("threshold"), "margin": money(lead["margin"]),
        "margin_ratio": fig.get("margin_ratio"), "rules_met": fig.get("rules_met", []),
        "rule_set_version": lead["rule_set_version"], "jurisdiction": lead["jurisdiction"],
    }  # fmt: skip
    readiness = {
        "score": lead["readiness"],
        "checklist": [{"element": c.split(": ", 1)[0], "status": c.split(": ", 1)[-1]} for c in lead["checklist"] or []],
        "gaps": list(lead["gaps"] or []),
    }  # fmt: skip
    ev = {k: by_kind[k] for k in (*KIND_ORDER, *sorted(set(by_kind) - set(KIND_ORDER))) if by_kind.get(k)}
    return {
        "format": FORMAT, "lead_id": lead["lead_id"], "generated_at": _iso(utcnow()), "role": role,
        "personal_data": "included" if personal else "withheld",
        "summary": summary, "valuation": valuation, "rule": rule, "readiness": readiness,
        "evidence_counts": {k: len(v) for k, v in ev.items()}, "evidence": ev,
        "stores": by_kind.get("store", []), "links": links, "ship_from": by_kind.get("ship_from", []),
        "actions": actions, "cases": cases,
        "timeline": _timeline(summary, ev, actions, cases),
    }  # fmt: skip


def _count(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        out[str(r.get(key))] += 1
    return dict(sorted(out.items()))


def _timeline(summary: dict[str, Any], ev: dict[str, list[dict[str, Any]]], actions: list[dict[str, Any]],
              cases: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    t: list[dict[str, Any]] = []

    def at(when: str | None, event: str, text: str, ref: str = "") -> None:
        if when:
            t.append({"at": when, "event": event, "ref": ref, "text": text})

    at(summary["period_start"], "first_order", "first order counted")
    at(summary["period_end"], "last_order", "last order counted")
    for n in ev.get("notice", []):
        at(n.get("submitted_at"), "notice", f"notice {n['notice_id']} ({n.get('basis')}) on listing {n['listing_id']}",
           n["notice_id"])  # fmt: skip
        if n.get("decided_at"):
            at(n["decided_at"], "notice_decided", f"notice {n['notice_id']} {n.get('status')}", n["notice_id"])
    for b in ev.get("test_buy", []):
        at(b.get("decided_at"), "test_buy", f"test buy of listing {b['listing_id']}: {b.get('label')}", b["listing_id"])
    for a in actions:
        target = f"listing {a['listing_id']}" if a["listing_id"] else f"store {a['store_id']}"
        how = " (automated)" if a["automated_decision"] else ""
        at(a["created_at"], "action", f"{a['kind']} {target}: {a['reason_code']}{how}", str(a["action_id"]))
        at(a.get("reversed_at"), "action_reversed", f"{a['kind']} {target} reversed", str(a["action_id"]))
    at(summary["recorded_at"], "lead", "lead recorded", summary["lead_id"])
    for c in cases:
        at(c["referred_on"], "referral", f"referred to {c['agency']} ({c['region']})", str(c["case_id"]))
        for e in c["events"]:
            note = f": {e['note']}" if e.get("note") else ""
            at(e["on"], "case_event", f"case {c['case_id']} {e['status']}{note}", str(c["case_id"]))
    return sorted(t, key=lambda e: (e["at"], e["event"], e["ref"]))


# --- the PDF -------------------------------------------------------------------------------------

_FONTS: dict[str, str] = {}
CJK = re.compile(r"[\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]")
DEJAVU = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf",
          "/Library/Fonts/DejaVuSans.ttf")  # fmt: skip


def _fonts() -> dict[str, str]:
    """Font names by script: Helvetica for Latin-1, the Adobe CID font STSong-Light (its metrics ship with
    ReportLab, nothing to embed or download) for Chinese, Japanese and Korean, and DejaVu Sans, when the
    machine has it, for other scripts (Cyrillic look-alikes in disguised brand names)."""
    if _FONTS:
        return _FONTS
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    _FONTS.update(latin="Helvetica", bold="Helvetica-Bold", cjk="STSong-Light", other="STSong-Light")
    for path in DEJAVU:
        if Path(path).is_file():
            from reportlab.pdfbase.ttfonts import TTFont

            try:
                pdfmetrics.registerFont(TTFont("DejaVuSans", path))
                _FONTS["other"] = "DejaVuSans"
            except Exception:  # an unreadable font file: the CJK font for everything non-Latin
                pass
            break
    return _FONTS


def _visible(text: str) -> str:
    """Invisible characters (zero-width spaces, joiners) shown as ``<U+200B>``: hiding them is a tactic,
    and the referral should show it."""
    return "".join(f"<U+{ord(c):04X}>" if unicodedata.category(c) in ("Cf", "Cc") and c not in "\n\t" else c
                   for c in text)  # fmt: skip


def _font_for(text: str) -> str:
    f = _fonts()
    if all(ord(c) < 256 for c in text):
        return f["latin"]
    return f["cjk"] if CJK.search(text) else f["other"]


def _p(text: Any, style: Any, bold: bool = False) -> Any:
    from reportlab.platypus import Paragraph

    s = _visible("" if text is None else str(text))
    font = _font_for(s)
    if bold and font == "Helvetica":
        font = "Helvetica-Bold"
    return Paragraph(f'<font name="{font}">{escape(s)}</font>', style)


def _money(v: Any) -> str:
    return "" if v is None else f"{Decimal(str(v)):,.2f}"


def _network(stores: list[dict[str, Any]], links: list[dict[str, Any]], width: float, height: float) -> Any:
    """Stores as nodes on a circle (confirmed ones filled), links as edges labelled with their weight in bits."""
    from reportlab.graphics.shapes import Circle, Drawing, Line, String
    from reportlab.lib import colors

    d = Drawing(width, height)
    ids = [s["store_id"] for s in stores] or sorted({x for ln in links for x in (ln["store_a"], ln["store_b"])})
    confirmed = {s["store_id"] for s in stores if s.get("confirmed")}
    n = len(ids)
    cx, cy, r = width / 2, height / 2, min(width, height) / 2 - 28
    pos = {sid: (cx, cy) if n == 1 else (cx + r * math.cos(2 * math.pi * i / n + math.pi / 2),
                                         cy + r * math.sin(2 * math.pi * i / n + math.pi / 2))
           for i, sid in enumerate(ids)}  # fmt: skip
    small = n > 24
    for ln in links:
        a, b = pos.get(ln["store_a"]), pos.get(ln["store_b"])
        if a is None or b is None:
            continue
        w = float(ln.get("weight") or 0)
        d.add(Line(a[0], a[1], b[0], b[1], strokeColor=colors.HexColor("#7f8c8d"), strokeWidth=0.5 + min(w, 40) / 20))
        if not small or len(links) <= 40:
            d.add(String((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + 2, f"{w:.1f}", fontName="Helvetica", fontSize=6,
                         fillColor=colors.HexColor("#2c3e50"), textAnchor="middle"))  # fmt: skip
    radius = 4 if small else 7
    for sid, (x, y) in pos.items():
        d.add(Circle(x, y, radius, fillColor=colors.HexColor("#c0392b") if sid in confirmed else colors.HexColor("#bdc3c7"),
                     strokeColor=colors.black, strokeWidth=0.5))  # fmt: skip
        d.add(String(x, y - radius - 8, sid, fontName="Helvetica", fontSize=5 if small else 7, textAnchor="middle"))
    d.add(String(4, 4, "filled: store with confirmed counterfeit listings; edge labels: link weight in bits",
                 fontName="Helvetica", fontSize=6, fillColor=colors.HexColor("#555555")))  # fmt: skip
    return d


def render_pdf(bundle: dict[str, Any], *, max_rows: int = 200) -> bytes:
    """The dossier as a PDF (A4). Long lists (orders, identities) stop at ``max_rows`` rows each and say
    how many more the JSON bundle holds."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, PageBreak, SimpleDocTemplate, Spacer, Table, TableStyle

    _fonts()
    styles = getSampleStyleSheet()
    body, small, h1, h2 = styles["BodyText"], styles["BodyText"].clone("small", fontSize=7, leading=8.5), \
        styles["Title"], styles["Heading2"]  # fmt: skip
    s, rule, r = bundle["summary"], bundle["rule"], bundle["readiness"]
    cur = s["currency"]
    story: list[Any] = []
    width = A4[0] - 30 * mm

    def table(header: list[str], rows: list[list[Any]], widths: list[float] | None = None) -> None:
        def cell(c: Any) -> Any:  # a Paragraph only where text wraps or needs another font: 10x faster
            text = "" if c is None else str(c)
            return text if len(text) <= 24 and all(32 <= ord(ch) < 127 for ch in text) else _p(text, small)

        data = [[_p(h, small, bold=True) for h in header]] + [[cell(c) for c in row] for row in rows]
        t = Table(data, colWidths=widths, repeatRows=1)
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                               ("FONT", (0, 1), (-1, -1), "Helvetica", 7, 8.5),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#ecf0f1")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))  # fmt: skip
        story.append(t)
        story.append(Spacer(1, 4 * mm))

    def capped(rows: list[Any], what: str) -> list[Any]:
        if len(rows) > max_rows:
            story.append(_p(f"First {max_rows} of {len(rows):,} {what}; the JSON bundle holds all of them.", small))
            return rows[:max_rows]
        return rows

    story.append(_p(f"Lead {bundle['lead_id']}", h1))
    story.append(_p(f"Referral dossier generated {bundle['generated_at'][:19]} UTC for role {bundle['role']}; "
                    f"personal data {bundle['personal_data']}. Status: {s['status']}; rank {s['rank']}.", small))  # fmt: skip
    story.append(Spacer(1, 3 * mm))
    story.append(_p("Summary", h2))
    story.append(_p(s["headline"], body))
    table(["figure", "value"], [
        ["operator", s["operator_id"]], ["stores (with confirmed listings)", f"{s['stores']} ({len(s['confirmed_store_ids'])})"],
        ["jurisdiction", s["jurisdiction"]], ["sales amount", f"{cur} {_money(s['sales_amount'])}"],
        ["unsold goods (declared stock)", f"{cur} {_money(s['unsold_value'])}" + ("" if s["unsold_counted"] else " (not counted)")],
        ["brands", ", ".join(s["brand_ids"] or [])], ["listings confirmed", s["listings_confirmed"]],
        ["orders", s["orders"]], ["period", f"{(s['period_start'] or '')[:10]} to {(s['period_end'] or '')[:10]}"],
        ["readiness", f"{s['readiness']:.2f}" + (" (automated detection only)" if s["automated_only"] else "")],
    ], [60 * mm, width - 60 * mm])  # fmt: skip

    story.append(_p("Rule met", h2))
    table(["rule", "article / offence", "threshold", "margin", "rule set"], [[
        rule["rule_id"], f"{rule['article']}: {rule['offence']}", f"{cur} {_money(rule['threshold'])}",
        f"{cur} {_money(rule['margin'])} ({(rule['margin_ratio'] or 0):.0%})",
        f"{rule['rule_set_version']} ({rule['jurisdiction']})",
    ]], [38 * mm, 50 * mm, 28 * mm, 34 * mm, width - 150 * mm])  # fmt: skip
    story.append(_p("All rules met: " + ", ".join(rule["rules_met"] or []), small))

    story.append(_p("Readiness checklist", h2))
    table(["element", "status"], [[c["element"], c["status"]] for c in r["checklist"]], [60 * mm, 40 * mm])
    if r["gaps"]:
        story.append(_p("Gaps and the action that fills each", styles["Heading3"]))
        table(["#", "gap"], [[i + 1, g] for i, g in enumerate(r["gaps"])], [10 * mm, width - 10 * mm])

    story.append(_p("Valuation", h2))
    v = bundle["valuation"]
    story.append(_p(f"Confirmed by: {', '.join(f'{k} {n}' for k, n in v['by_basis'].items())}. Sales are orders of "
                    f"confirmed listings at their price, converted into {cur}.", small))  # fmt: skip
    rows = [[li["listing_id"], li["store_id"], li["title"], li["basis"], li["orders"], li["units_sold"],
             _money(li["sales"]), li["stock"], _money(li["unsold_value"])] for li in v["listings"]]  # fmt: skip
    table(["listing", "store", "title", "basis", "orders", "units", f"sales {cur}", "stock", f"unsold {cur}"],
          capped(rows, "listings"),
          [18 * mm, 16 * mm, width - 136 * mm, 18 * mm, 12 * mm, 11 * mm, 22 * mm, 12 * mm, 27 * mm])  # fmt: skip

    story.append(KeepTogether([_p("Store network", h2), _network(bundle["stores"], bundle["links"], width, 95 * mm)]))
    story.append(Spacer(1, 3 * mm))
    table(["store", "name", "country / region", "status", "link confidence", "confirmed"],
          [[st["store_id"], st.get("name"), f"{st.get('country')} / {st.get('region') or ''}", st.get("status"),
            "" if st.get("link_confidence") is None else f"{st['link_confidence']:.3f}",
            "yes" if st.get("confirmed") else ""] for st in bundle["stores"]])  # fmt: skip
    if bundle["links"]:
        table(["stores", "weight (bits)", "evidence"],
              [[f"{ln['store_a']} – {ln['store_b']}", f"{float(ln['weight']):.1f}", "; ".join(ln["evidence"])]
               for ln in capped(bundle["links"], "links")], [34 * mm, 20 * mm, width - 54 * mm])  # fmt: skip

    story.append(_p("Ship-from regions", h2))
    story.append(_p("Where goods leave from is where a raid happens.", small))
    table(["region", "orders", "units", f"amount {cur}", "first order", "last order"],
          [[x["region"], x["orders"], x["units"], _money(x["amount"]), (x.get("first_order") or "")[:10],
            (x.get("last_order") or "")[:10]] for x in bundle["ship_from"]])  # fmt: skip

    story.append(PageBreak())
    story.append(_p("Evidence", h2))
    ev = bundle["evidence"]
    story.append(_p("Counts: " + ", ".join(f"{k} {n}" for k, n in bundle["evidence_counts"].items()), small))
    if ev.get("listing"):
        story.append(_p("Listings (photos' hashes and detection's reasons)", styles["Heading3"]))
        table(["listing", "title / price", "photos", "reasons"],
              [[li["listing_id"], f"{li['title']} — {li.get('currency') or ''} {li.get('price')}",
                " ".join(li.get("image_hashes") or []), "; ".join(li.get("reasons") or [])]
               for li in capped(ev["listing"], "listings")],
              [18 * mm, 55 * mm, 37 * mm, width - 110 * mm])  # fmt: skip
    for kind, header, fn in (
        ("test_buy", ["listing", "store", "result", "decided"],
         lambda x: [x["listing_id"], x["store_id"], x["label"], (x.get("decided_at") or "")[:10]]),
        ("authentication", ["notice", "brand", "listing", "report"],
         lambda x: [x["notice_id"], x["brand_id"], x["listing_id"], x["report"]]),
        ("notice", ["notice", "brand", "listing", "basis", "registration", "submitted", "status"],
         lambda x: [x["notice_id"], x["brand_id"], x["listing_id"], x["basis"], x["registration_no"],
                    (x.get("submitted_at") or "")[:10], x.get("status") or ""]),
        ("order", ["order", "listing", "qty", "unit price", f"amount {cur}", "ordered", "ship from"],
         lambda x: [x["order_id"], x["listing_id"], x["quantity"], f"{x['currency']} {x['unit_price']}",
                    _money(x["amount"]), (x.get("ordered_at") or "")[:19], x.get("ship_from") or ""]),
        ("identity", ["store", "kind", "value"], lambda x: [x.get("store_id"), x.get("kind"), x.get("value")]),
    ):  # fmt: skip
        if ev.get(kind):
            story.append(_p(kind.replace("_", " ").capitalize() + ("s" if not kind.endswith("y") else ""),
                            styles["Heading3"]))  # fmt: skip
            table(header, [fn(x) for x in capped(ev[kind], kind.replace("_", " "))])

    if bundle["cases"]:
        story.append(_p("Cases", h2))
        table(["case", "agency", "region", "reference", "status", "referred"],
              [[c["case_id"], c["agency"], c["region"], c["reference"], c["status"], c["referred_on"]]
               for c in bundle["cases"]])  # fmt: skip
    story.append(_p("Timeline", h2))
    table(["date", "event", "what"], [[e["at"][:19].replace("T", " "), e["event"], e["text"]]
                                      for e in capped(bundle["timeline"], "events")],
          [32 * mm, 25 * mm, width - 57 * mm])  # fmt: skip

    buf = io.BytesIO()

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(15 * mm, 8 * mm, f"{bundle['lead_id']} · {rule['rule_id']} · personal data "
                                           f"{bundle['personal_data']} · page {doc.page}")  # fmt: skip
        canvas.restoreState()

    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=f"Dossier {bundle['lead_id']}", author="counterwatch",
                            subject=f"{rule['rule_id']} ({rule['rule_set_version']})")  # fmt: skip
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


# --- files and the command -------------------------------------------------------------------------


def _safe_name(lead_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", lead_id)


def write_dossier(ws: Workspace, db: Database, settings: Settings, lead_id: str, role: str,
                  out_dir: Path | None = None, *, actor: str = "system") -> tuple[Path, Path]:  # fmt: skip
    """Write ``<out_dir>/<lead_id>.pdf`` and ``.json`` (default ``WORKSPACE/out/dossiers``) atomically, and
    audit the export (who, for which role, with or without personal data); a denied attempt is audited too."""
    try:
        bundle = dossier_bundle(db, settings, lead_id, role)
    except NotFoundError as exc:
        if exc.denied:
            with db.session() as s:
                s.add(AuditEntry(at=utcnow(), actor=actor, verb="denied", entity="lead", entity_id=lead_id[:100],
                                 why=f"dossier requested for role {role!r}, which may not read dossiers"))  # fmt: skip
        raise
    pdf = render_pdf(bundle)
    out = out_dir or ws.out / "dossiers"
    pdf_path, json_path = out / f"{_safe_name(lead_id)}.pdf", out / f"{_safe_name(lead_id)}.json"
    with atomic_path(json_path) as tmp:
        tmp.write_bytes(orjson.dumps(bundle, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    with atomic_path(pdf_path) as tmp:
        tmp.write_bytes(pdf)
    with db.session() as s:
        s.add(AuditEntry(at=utcnow(), actor=actor, verb="export_dossier", entity="lead", entity_id=lead_id,
                         why=f"dossier for role {role}; personal data {bundle['personal_data']}",
                         after={"pdf": str(pdf_path), "json": str(json_path)}))  # fmt: skip
    return pdf_path, json_path


def dossier_command(workspace: Path, lead_id: str, role: str, db: str | None) -> tuple[Path, Path]:
    """Render a lead's referral dossier: a PDF and a JSON bundle with the same content.

    Summary, valuation table, the statutory rule met (margin, rule-set version), readiness checklist
    and gaps, evidence by kind (listings with titles, prices, photos' hashes and reasons; orders; test
    buys; notices and authentication reports; links; identities), the store network, the ship-from
    regions and a timeline. Personal data (identities, identifier values in link evidence) only for
    the roles in `[leads].personal_data_roles`. Written to `WORKSPACE/out/dossiers/<lead_id>.pdf`
    and `.json`; the lead must have been recorded by `counterwatch leads`.

    **Example:** `counterwatch dossier ./counterwatch-demo LEAD-OP-S000123 --role investigator`
    """
    ws = Workspace.at(workspace)
    settings = load_settings(ws.root)
    url = database_url(ws.root, db)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise NotFoundError(f"lead {lead_id!r} not found: no case database at {url.removeprefix('sqlite:///')} "
                            f"(run `counterwatch leads {workspace}` first)", entity="lead", entity_id=lead_id)  # fmt: skip
    database = open_database(url)
    try:
        return write_dossier(ws, database, settings, lead_id, role)
    finally:
        database.dispose()
