"""Simulated law-enforcement outcomes for the leads in a case database: the funnel's ground truth.

``simulate_outcomes`` refers every open lead to an agency and follows its case through the strict
chain with the probabilities it is given, as functions of the lead's readiness:

- accepted with ``p_accept(readiness)``, else dropped at referral;
- an accepted case is investigated, raided and prosecuted (the chain is never skipped), then
  convicted with ``p_convict(readiness)``, else acquitted.

Dates spread over a year from ``start_date`` (referrals), each step some weeks or months after the
last; a step that would fall after today is not recorded (the case is still open). Figures are drawn
where they apply (arrests and seizures at the raid, sentence, probation and fine at conviction).
Everything is drawn from ``numpy.random.default_rng(seed)`` in the leads' id order, so a seed gives
the same outcomes. The truth (each lead's probabilities and what happened) is returned, and written
as CSV when ``truth_path`` is given.

A generated workspace has tens of leads; ``insert_synthetic_leads`` adds any number of lead rows with
checklists drawn at random (readiness spread over its range), for statistics on thousands of cases.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, select

from counterwatch.cases.lifecycle import Referral, advance_many, refer_many
from counterwatch.enforce.service import SYSTEM, Actor
from counterwatch.store.db import Database
from counterwatch.store.models import Lead, utcnow

#: (agency, region) pairs cases are referred to when none are given
AGENCIES: tuple[tuple[str, str], ...] = (
    ("Shanghai PSB Economic Crimes", "CN-SH"),
    ("Guangzhou PSB", "CN-GD"),
    ("Yiwu PSB", "CN-ZJ"),
    ("Zhejiang AMR", "CN-ZJ"),
    ("Shenzhen PSB", "CN-GD"),
)
#: (status, min days, max days) after the previous step
DELAYS = {"accepted": (5, 45), "dropped": (10, 60), "investigating": (2, 20), "raided": (14, 120),
          "prosecuted": (30, 150), "verdict": (60, 240)}  # fmt: skip
#: the statuses each readiness element may take in synthetic leads (as the leads stage assigns them)
SYNTH_STATUSES = {"threshold": ("present", "weak"), "confirmation": ("present", "weak", "missing"),
                  "trademark": ("present", "weak", "missing"), "sales_records": ("present", "weak", "missing"),
                  "identity": ("present", "weak", "missing"), "links": ("present", "weak")}  # fmt: skip
CHUNK = 500  # leads referred per flush
RULES = ("CN-214-sales", "CN-214-especially-serious", "CN-214-unsold")


def insert_synthetic_leads(db: Database, n: int, seed: int = 0, prefix: str = "SYN") -> list[str]:
    """Insert ``n`` open leads with random checklists; readiness is the leads stage's weighted score.
    Returns their ids (``{prefix}-000001``...)."""
    from counterwatch.leads.stage import ELEMENTS, STATUS_SCORE

    rng = np.random.default_rng(seed)
    now = utcnow()
    rows = []
    for i in range(1, n + 1):
        checklist = {e: SYNTH_STATUSES[e][int(rng.integers(len(SYNTH_STATUSES[e])))] for e in ELEMENTS}
        readiness = round(sum(ELEMENTS[e] * STATUS_SCORE[s] for e, s in checklist.items()), 3)
        rule = RULES[int(rng.integers(len(RULES)))]
        sales = Decimal(int(rng.integers(50_000, 2_000_000))).quantize(Decimal("0.01"))
        lid = f"{prefix}-{i:06d}"
        rows.append({
            "lead_id": lid, "operator_id": f"OP-{prefix}-{i:06d}", "jurisdiction": "CN", "rule_set_version": "CN-2022",
            "rule_met": rule, "severity": "especially_serious" if rule == "CN-214-especially-serious" else "serious",
            "currency": "CNY", "sales_amount": sales, "unsold_value": Decimal("0.00"),
            "margin": sales - Decimal(50_000), "readiness": readiness, "rank": i, "automated_only": False,
            "store_ids": [f"S-{prefix}-{i:06d}"], "checklist": [f"{k}: {s}" for k, s in checklist.items()],
            "gaps": [], "figures": {"synthetic": True}, "status": "open", "created_at": now, "updated_at": now,
        })  # fmt: skip
    with db.session() as s:
        for start in range(0, len(rows), 1000):
            s.execute(insert(Lead), rows[start : start + 1000])
    return [r["lead_id"] for r in rows]


def _agencies(agencies: Sequence[Any] | None) -> list[tuple[str, str]]:
    out = []
    for a in agencies or AGENCIES:
        if isinstance(a, str):
            out.append((a, "CN"))
        elif isinstance(a, dict):
            out.append((a["agency"], a.get("region", "CN")))
        else:
            out.append((str(a[0]), str(a[1])))
    return out


def simulate_outcomes(db: Database, settings: Any, seed: int, p_accept: Callable[[float], float],
                      p_convict: Callable[[float], float], agencies: Sequence[Any] | None = None,
                      start_date: dt.date = dt.date(2025, 1, 1), *, actor: Actor = SYSTEM,
                      today: dt.date | None = None, truth_path: Path | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Refer every open lead and play its case out (see the module). Returns one truth row per lead."""
    del settings  # the simulation needs none today; kept so callers pass what every stage gets
    rng = np.random.default_rng(seed)
    pairs = _agencies(agencies)
    today = today or dt.date.today()
    truth: list[dict[str, Any]] = []

    def after(on: dt.date, step: str) -> dt.date:
        lo, hi = DELAYS[step]
        return on + dt.timedelta(days=int(rng.integers(lo, hi + 1)))

    with db.session() as s:
        leads = list(s.scalars(select(Lead).where(Lead.status == "open").order_by(Lead.lead_id)))
        plans: list[tuple[Referral, list[tuple[str, dt.date, dict[str, Any]]], dict[str, Any]]] = []
        for n, lead in enumerate(leads, start=1):
            r = float(lead.readiness)
            pa, pc = float(p_accept(r)), float(p_convict(r))
            # the same draws for every lead whatever happens to it: one lead's fate does not shift the others'
            u_accept, u_convict = rng.random(), rng.random()
            agency, region = pairs[int(rng.integers(len(pairs)))]
            referred_on = start_date + dt.timedelta(days=int(rng.integers(0, 365)))
            arrests, facilities = int(rng.poisson(2)) + 1, int(rng.integers(0, 4))
            units = int(rng.integers(100, 20_000))
            unit_value = Decimal(int(rng.integers(20, 800)))
            sentence, probation = int(rng.integers(6, 85)), int(rng.integers(0, 37))
            fine = Decimal(int(rng.integers(10, 500)) * 1000)
            accepted, convicted = bool(u_accept < pa), bool(u_convict < pc)
            row = {"lead_id": lead.lead_id, "readiness": r, "p_accept": round(pa, 6), "p_convict": round(pc, 6),
                   "accepted": accepted, "convicted": accepted and convicted, "agency": agency, "region": region,
                   "final": None}  # fmt: skip
            truth.append(row)
            if not accepted:
                steps: list[tuple[str, dict[str, Any]]] = [("dropped", {})]
            else:
                steps = [("accepted", {}), ("investigating", {}),
                         ("raided", {"arrests": arrests, "facilities_closed": facilities, "units_seized": units,
                                     "value_seized": units * unit_value}),
                         ("prosecuted", {})]  # fmt: skip
                steps.append(("convicted", {"sentence_months": sentence, "probation_months": probation, "fine": fine})
                             if convicted else ("acquitted", {}))  # fmt: skip
            dated, on = [], referred_on
            for status, figures in steps:
                on = after(on, "verdict" if status in ("convicted", "acquitted") else status)
                dated.append((status, on, figures))
            if referred_on <= today:
                plans.append((Referral(lead.lead_id, agency, region, referred_on, f"SIM-{seed}-{n:06d}",
                                       "simulated referral"), dated, row))  # fmt: skip
        for start in range(0, len(plans), CHUNK):
            chunk = plans[start : start + CHUNK]
            cases = refer_many(s, actor, [p[0] for p in chunk], today=today, lock=False)
            steps = []
            for case, (_ref, dated, row) in zip(cases, chunk, strict=True):
                happened = [(st, on, f"simulated: {st}", figures) for st, on, figures in dated if on <= today]
                steps.append((case, happened))  # a step after today has not happened: the case stays open
                row["final"] = happened[-1][0] if happened else "referred"
            advance_many(s, actor, steps, today=today)
    if truth_path is not None:
        truth_path.parent.mkdir(parents=True, exist_ok=True)
        with open(truth_path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(truth[0]) if truth else ["lead_id"])
            w.writeheader()
            w.writerows(truth)
    return truth
