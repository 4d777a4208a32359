"""The funnel: how far referred leads get, how long each stage takes, and where they leak.

``funnel(session)`` counts leads → referred → accepted → investigating → raided → prosecuted →
convicted (and acquitted, dropped), with rates and their standard errors, the median days spent in
each stage, the figures achieved (arrests, seizures, sentences), and the same broken down by agency,
region, the statutory rule met and the lead's readiness band, so the team sees whether
better-evidenced leads convert more.

Rates count decided cases only, so open cases do not pull them down:

- acceptance = accepted / (accepted + dropped while still ``referred``);
- conviction = convicted / accepted cases with an outcome (convicted, acquitted or dropped later);
- court conviction = convicted / (convicted + acquitted);
- overall = convicted / referred cases with an outcome.

``rank_model(session)``: with at least ``min_decided`` cases decided at acceptance, a logistic
regression over the readiness checklist (each element present 1, weak 0.5, missing 0) predicts
acceptance, and over accepted cases with an outcome, conviction. ``score_leads`` ranks open leads by
the predicted chance of both, with the elements that drive it and what filling each gap would gain.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from counterwatch.cases.lifecycle import CHAIN, FINAL
from counterwatch.store.models import Case, CaseEvent, Lead

#: readiness bands: (label, low inclusive, high exclusive)
BANDS: tuple[tuple[str, float, float], ...] = (("<0.5", 0.0, 0.5), ("0.5-0.75", 0.5, 0.75), (">=0.75", 0.75, math.inf))
#: decided cases needed before the rank model is fitted (``min_decided`` overrides it)
MIN_DECIDED = 50
#: a checklist element's value in the model
STATUS_VALUE = {"present": 1.0, "weak": 0.5, "missing": 0.0}
#: figures summed over the steps of cases
SUMMED = ("arrests", "facilities_closed", "units_seized", "value_seized", "fine")
STAGES = (*CHAIN, "convicted")


def band(readiness: float | None) -> str:
    if readiness is None:
        return "unknown"
    for label, lo, hi in BANDS:
        if lo <= readiness < hi:
            return label
    return BANDS[0][0]


def parse_checklist(items: Iterable[Any] | None) -> dict[str, str]:
    """``["threshold: present", "identity: weak", ...]`` → ``{"threshold": "present", ...}``; items that
    do not parse are skipped."""
    out: dict[str, str] = {}
    for item in items or []:
        if isinstance(item, dict):  # tolerate {"element": ..., "status": ...}
            k, v = item.get("element"), item.get("status")
        else:
            k, _, v = str(item).partition(":")
        k, v = (k or "").strip(), (v or "").strip().lower()
        if k and v in STATUS_VALUE:
            out[k] = v
    return out


def _rate(k: int, n: int) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    p = k / n
    return round(p, 4), round(math.sqrt(p * (1 - p) / n), 4)


@dataclass
class _CaseRow:
    case_id: int
    lead_id: str
    agency: str
    region: str
    status: str
    referred_on: dt.date
    rule: str
    readiness: float | None
    path: list[tuple[str, dt.date]] = field(default_factory=list)
    figures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reached(self) -> set[str]:
        return {s for s, _ in self.path} | {self.status}

    @property
    def dropped_from(self) -> str | None:
        if self.status != "dropped":
            return None
        before = [s for s, _ in self.path if s != "dropped"]
        return before[-1] if before else "referred"

    @property
    def accepted(self) -> bool:
        return "accepted" in self.reached

    @property
    def acceptance_decided(self) -> bool:
        return self.accepted or self.dropped_from == "referred"

    @property
    def final(self) -> bool:
        return self.status in FINAL


def _load(session: Session, since: dt.date | None) -> tuple[list[_CaseRow], list[tuple[str, str, float, str]]]:
    leads = {r.lead_id: r for r in session.execute(select(Lead.lead_id, Lead.rule_met, Lead.readiness, Lead.status))}
    q = select(Case.id, Case.lead_id, Case.agency, Case.region, Case.status, Case.referred_on)
    if since:
        q = q.where(Case.referred_on >= since)
    cases: dict[int, _CaseRow] = {}
    for r in session.execute(q.order_by(Case.id)):
        lead = leads.get(r.lead_id)
        cases[r.id] = _CaseRow(r.id, r.lead_id, r.agency, r.region, r.status, r.referred_on,
                               lead.rule_met if lead else "unknown", lead.readiness if lead else None)  # fmt: skip
    ev = select(CaseEvent.case_id, CaseEvent.status, CaseEvent.on, CaseEvent.figures).order_by(
        CaseEvent.case_id, CaseEvent.on, CaseEvent.id)  # fmt: skip
    if since:
        ev = ev.join(Case, Case.id == CaseEvent.case_id).where(Case.referred_on >= since)
    for r in session.execute(ev):
        c = cases.get(r.case_id)
        if c is not None:
            c.path.append((r.status, r.on))
            if r.figures:
                c.figures.append(r.figures)
    lead_rows = [(x.lead_id, x.rule_met, x.readiness, x.status) for x in leads.values()]
    return list(cases.values()), lead_rows


def _summary(cases: list[_CaseRow]) -> dict[str, Any]:
    referred = len(cases)
    accepted = sum(c.accepted for c in cases)
    acc_decided = sum(c.acceptance_decided for c in cases)
    conv_decided = sum(c.accepted and c.final for c in cases)
    convicted = sum(c.status == "convicted" for c in cases)
    acquitted = sum(c.status == "acquitted" for c in cases)
    dropped = sum(c.status == "dropped" for c in cases)
    final = convicted + acquitted + dropped
    acc, acc_se = _rate(accepted, acc_decided)
    conv, conv_se = _rate(convicted, conv_decided)
    court, court_se = _rate(convicted, convicted + acquitted)
    overall, overall_se = _rate(convicted, final)
    readiness = [c.readiness for c in cases if c.readiness is not None]
    return {
        "referred": referred, "accepted": accepted, "convicted": convicted, "acquitted": acquitted,
        "dropped": dropped, "open": referred - final,
        "acceptance_decided": acc_decided, "acceptance_rate": acc, "acceptance_se": acc_se,
        "conviction_decided": conv_decided, "conviction_rate": conv, "conviction_se": conv_se,
        "court_conviction_rate": court, "court_conviction_se": court_se,
        "overall_rate": overall, "overall_se": overall_se,
        "mean_readiness": round(statistics.fmean(readiness), 4) if readiness else None,
    }  # fmt: skip


def funnel(session: Session, since: dt.date | None = None) -> dict[str, Any]:
    """The funnel over every case referred on or after ``since`` (all when None); see the module."""
    cases, leads = _load(session, since)
    referred = len(cases)
    stages = []
    previous = None
    days: dict[str, list[int]] = defaultdict(list)
    for c in cases:
        for (s, on), (_nxt, nxt_on) in zip(c.path, c.path[1:], strict=False):
            days[s].append((nxt_on - on).days)
    for stage in STAGES:
        reached = sum(stage in c.reached for c in cases)
        now_in = sum(c.status == stage for c in cases)
        stay = days.get(stage, [])
        stages.append({
            "stage": stage, "reached": reached, "in_stage_now": now_in,
            "rate_from_previous": round(reached / previous, 4) if previous else None,
            "rate_from_referred": round(reached / referred, 4) if referred else None,
            "median_days": statistics.median(stay) if stay and stage not in FINAL else None,
            "dropped_here": sum(c.dropped_from == stage for c in cases),
        })  # fmt: skip
        previous = reached
    to_outcome = [(c.path[-1][1] - c.referred_on).days for c in cases if c.final and c.path]
    totals: dict[str, Any] = {k: 0 for k in SUMMED}
    totals["value_seized"] = totals["fine"] = Decimal(0)
    sentences = []
    for c in cases:
        for f in c.figures:
            for k in SUMMED:
                if f.get(k) is not None:
                    totals[k] += Decimal(str(f[k])) if k in ("value_seized", "fine") else int(f[k])
            if f.get("sentence_months") is not None:
                sentences.append(int(f["sentence_months"]))
    figures = {k: (f"{v:.2f}" if isinstance(v, Decimal) else v) for k, v in totals.items()}
    figures["median_sentence_months"] = statistics.median(sentences) if sentences else None

    def breakdown(key: str) -> dict[str, dict[str, Any]]:
        groups: dict[str, list[_CaseRow]] = defaultdict(list)
        for c in cases:
            groups[getattr(c, key) if key != "band" else band(c.readiness)].append(c)
        order = [b[0] for b in BANDS] + ["unknown"] if key == "band" else sorted(groups)
        return {g: _summary(groups[g]) for g in order if g in groups}

    lead_bands: dict[str, int] = defaultdict(int)
    for _lid, _rule, readiness, _st in leads:
        lead_bands[band(readiness)] += 1
    summary = _summary(cases)
    return {
        "since": since.isoformat() if since else None,
        "leads": len(leads),
        "leads_open": sum(st == "open" for *_x, st in leads),
        "leads_by_band": {b[0]: lead_bands.get(b[0], 0) for b in BANDS},
        "referral_rate": round(referred / len(leads), 4) if leads and not since else None,
        "summary": summary,
        "stages": stages,
        "dropped_at": {s["stage"]: s["dropped_here"] for s in stages if s["dropped_here"]},
        "median_days_to_outcome": statistics.median(to_outcome) if to_outcome else None,
        "figures": figures,
        "by_agency": breakdown("agency"),
        "by_region": breakdown("region"),
        "by_rule": breakdown("rule"),
        "by_readiness": breakdown("band"),
    }


# --- the rank model --------------------------------------------------------------------------------


@dataclass
class _Target:
    """One fitted logistic regression: what it predicts, on how many cases, its coefficients."""

    name: str
    n: int
    positives: int
    intercept: float
    coefficients: dict[str, float]

    def logit(self, x: dict[str, float]) -> float:
        return self.intercept + sum(self.coefficients[e] * x.get(e, 0.0) for e in self.coefficients)

    def p(self, x: dict[str, float]) -> float:
        return 1.0 / (1.0 + math.exp(-self.logit(x)))


@dataclass
class RankModel:
    """Chance of acceptance and of conviction from a lead's readiness checklist."""

    elements: list[str]
    accept: _Target
    convict: _Target | None
    #: the mean value of each element over the training cases (the "average lead")
    means: dict[str, float]

    def coefficients(self) -> dict[str, dict[str, float]]:
        out = {"accept": dict(self.accept.coefficients)}
        if self.convict:
            out["convict"] = dict(self.convict.coefficients)
        return out

    def features(self, checklist: Iterable[Any] | dict[str, str]) -> dict[str, float]:
        items = checklist if isinstance(checklist, dict) else parse_checklist(checklist)
        return {e: STATUS_VALUE.get(items.get(e, "missing"), 0.0) for e in self.elements}

    def _p(self, x: dict[str, float]) -> tuple[float, float | None, float]:
        pa = self.accept.p(x)
        pc = self.convict.p(x) if self.convict else None
        return pa, pc, pa * (pc if pc is not None else 1.0)

    def score(self, checklist: Iterable[Any] | dict[str, str]) -> dict[str, Any]:
        """``p_accept``, ``p_convict`` (None without enough outcomes), ``p`` (both), the elements that
        drive it (effect on the log-odds against the average lead), and what filling each gap gains."""
        x = self.features(checklist)
        pa, pc, p = self._p(x)
        drivers = []
        for e in self.elements:
            effect = self.accept.coefficients[e] + (self.convict.coefficients[e] if self.convict else 0.0)
            drivers.append({"element": e, "value": x[e], "effect": round(effect * (x[e] - self.means[e]), 4)})
        drivers.sort(key=lambda d: -abs(d["effect"]))
        gains = []
        for e in self.elements:
            if x[e] < 1.0:
                _a, _c, better = self._p({**x, e: 1.0})
                gains.append({"element": e, "p_if_present": round(better, 4), "gain": round(better - p, 4)})
        gains.sort(key=lambda g: -g["gain"])
        return {"p_accept": round(pa, 4), "p_convict": round(pc, 4) if pc is not None else None, "p": round(p, 4),
                "drivers": drivers[:3], "gains": gains}  # fmt: skip


def _fit(name: str, rows: list[tuple[dict[str, float], int]], elements: list[str]) -> _Target | None:
    ys = [y for _x, y in rows]
    if len(set(ys)) < 2:  # one class only: nothing to tell apart
        return None
    from sklearn.linear_model import LogisticRegression

    X = [[x[e] for e in elements] for x, _y in rows]
    lr = LogisticRegression(C=1.0, max_iter=1000)
    lr.fit(X, ys)
    coef = {e: round(float(c), 4) for e, c in zip(elements, lr.coef_[0], strict=True)}
    return _Target(name, len(rows), int(sum(ys)), round(float(lr.intercept_[0]), 4), coef)


def rank_model(session: Session, min_decided: int = MIN_DECIDED) -> RankModel | None:
    """The model, or None while fewer than ``min_decided`` cases are decided at acceptance (or all
    went the same way). Conviction is modelled once ``min_decided`` accepted cases have an outcome."""
    from counterwatch.leads.stage import ELEMENTS

    cases, _leads = _load(session, None)
    checklists = dict(session.execute(select(Lead.lead_id, Lead.checklist)).all())
    parsed = {lid: parse_checklist(cl) for lid, cl in checklists.items()}
    seen = {e for c in cases for e in parsed.get(c.lead_id, {})}
    elements = [e for e in ELEMENTS if e in seen] + sorted(seen - set(ELEMENTS))
    if not elements:
        return None

    def x(c: _CaseRow) -> dict[str, float]:
        items = parsed.get(c.lead_id, {})
        return {e: STATUS_VALUE.get(items.get(e, "missing"), 0.0) for e in elements}

    acc_rows = [(x(c), int(c.accepted)) for c in cases if c.acceptance_decided]
    if len(acc_rows) < min_decided:
        return None
    accept = _fit("accept", acc_rows, elements)
    if accept is None:
        return None
    conv_rows = [(x(c), int(c.status == "convicted")) for c in cases if c.accepted and c.final]
    convict = _fit("convict", conv_rows, elements) if len(conv_rows) >= min_decided else None
    means = {e: statistics.fmean(r[0][e] for r in acc_rows) for e in elements}
    return RankModel(elements, accept, convict, means)


def score_leads(session: Session, model: RankModel | None = None, statuses: tuple[str, ...] = ("open",),
                min_decided: int = MIN_DECIDED, limit: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Leads (open ones by default) ranked by the predicted chance of acceptance and conviction; while
    there is no model, by readiness (``p`` is then None)."""
    model = model if model is not None else rank_model(session, min_decided)
    q = select(Lead).where(Lead.status.in_(statuses)) if statuses else select(Lead)
    out = []
    for lead in session.scalars(q):
        row: dict[str, Any] = {"lead_id": lead.lead_id, "operator_id": lead.operator_id, "status": lead.status,
                               "rule_met": lead.rule_met, "severity": lead.severity, "readiness": lead.readiness,
                               "lead_rank": lead.rank, "p_accept": None, "p_convict": None, "p": None,
                               "drivers": [], "gains": []}  # fmt: skip
        if model is not None:
            row.update(model.score(lead.checklist))
        out.append(row)
    if model is not None:
        out.sort(key=lambda r: (-r["p"], -r["readiness"], r["lead_id"]))
    else:
        out.sort(key=lambda r: (-r["readiness"], r["lead_rank"], r["lead_id"]))
    for i, r in enumerate(out, start=1):
        r["rank"] = i
    return out[:limit] if limit else out
