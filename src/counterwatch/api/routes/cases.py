"""Leads referred to agencies and their cases to the outcome; the funnel (liaison, admin; investigator reads)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from counterwatch.api import schemas as sc
from counterwatch.api.auth import CurrentActor
from counterwatch.api.deps import run, unit
from counterwatch.cases import funnel as fn
from counterwatch.cases import lifecycle as lc
from counterwatch.enforce.service import Enforcement

router = APIRouter(tags=["cases"])

Status = Literal["referred", "accepted", "investigating", "raided", "prosecuted", "convicted", "acquitted", "dropped"]
Step = Literal["accepted", "investigating", "raided", "prosecuted", "convicted", "acquitted", "dropped"]
CaseId = Annotated[int, Path(ge=1, le=sc.MAX_INT)]
LeadId = Annotated[str, Path(min_length=1, max_length=120)]


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lead_id: str = Field(min_length=1, max_length=120)
    agency: str = Field(min_length=1, max_length=200, pattern=r"\S")
    region: str = Field(min_length=1, max_length=20, pattern=r"\S")
    on: dt.date
    reference: str = Field("", max_length=100)
    note: str = sc.Text


class CaseEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Step
    on: dt.date
    note: str = sc.Text
    figures: lc.Figures = Field(default_factory=lc.Figures)


class CaseEventOut(sc.Out):
    id: int
    status: str
    on: dt.date
    note: str
    figures: dict[str, Any]
    recorded_by: int | None
    recorded_at: dt.datetime


class CaseOut(sc.Out):
    id: int
    lead_id: str
    agency: str
    region: str
    reference: str
    status: str
    referred_on: dt.date
    updated_at: dt.datetime
    #: the states that may follow (empty once final)
    next: list[str]
    events: list[CaseEventOut]

    @classmethod
    def of(cls, case: Any) -> CaseOut:
        return cls.model_validate({**{k: getattr(case, k) for k in ("id", "lead_id", "agency", "region", "reference",
                                                                   "status", "referred_on", "updated_at")},
                                   "next": list(lc.TRANSITIONS[case.status]),
                                   "events": [CaseEventOut.model_validate(e) for e in case.events]})  # fmt: skip


class TransitionError(BaseModel):
    """409: an illegal transition names the case's state, the step asked for and the allowed next
    states; other clashes (a date before the last step) carry the reason only."""

    detail: str
    error: str = "illegal_transition"
    current: str | None = None
    requested: str | None = None
    allowed: list[str] | None = None


class LeadScore(BaseModel):
    rank: int
    lead_id: str
    operator_id: str
    status: str
    rule_met: str
    severity: str
    readiness: float
    lead_rank: int
    p_accept: float | None
    p_convict: float | None
    p: float | None
    drivers: list[dict[str, Any]]
    gains: list[dict[str, Any]]


class EvidenceOut(sc.Out):
    id: int
    kind: str
    ref: str
    personal: bool
    data: dict[str, Any]


class LeadOut(sc.Out):
    lead_id: str
    operator_id: str
    jurisdiction: str
    rule_set_version: str
    rule_met: str
    severity: str
    currency: str
    sales_amount: str
    unsold_value: str
    margin: str
    readiness: float
    rank: int
    automated_only: bool
    store_ids: list[Any]
    checklist: list[Any]
    gaps: list[Any]
    figures: dict[str, Any]
    status: str
    evidence: list[EvidenceOut]
    #: personal evidence items not shown to this role
    personal_withheld: int
    case_ids: list[int]


def _unprocessable(exc: lc.FieldError) -> RequestValidationError:
    loc = ("body", *exc.field.split("."))
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": str(exc), "input": None}])


@router.post("/cases", response_model=CaseOut, status_code=201,
             responses={409: {"description": "the lead was referred already, or is stale"}})  # fmt: skip
async def refer(body: ReferralIn, request: Request, actor: CurrentActor) -> CaseOut:
    """Refer a lead to an agency (liaison, admin): a new case in state `referred`."""

    def work(svc: Enforcement) -> CaseOut:
        case = lc.refer(svc.s, svc.actor, body.lead_id, body.agency, body.region, body.on, body.reference, body.note)
        return CaseOut.of(case)

    try:
        return await run(request, actor, work)
    except lc.FieldError as exc:
        raise _unprocessable(exc) from exc


@router.post("/cases/{case_id}/events", response_model=CaseOut, status_code=201,
             responses={409: {"model": TransitionError,
                              "description": "a step the lifecycle does not allow (names the allowed next states), "
                                             "or a date before the case's last step"}})  # fmt: skip
async def advance(case_id: CaseId, body: CaseEventIn, request: Request, actor: CurrentActor) -> CaseOut | JSONResponse:
    """Record the next step of a case (liaison, admin) with its date, a note and the figures that apply:
    `investigating` (arrests), `raided` (arrests, facilities_closed, units_seized, value_seized),
    `convicted` (sentence_months, probation_months, fine). The chain is
    `referred → accepted → investigating → raided → prosecuted → convicted | acquitted`, and `dropped`
    may follow any state that is not final."""

    def work(svc: Enforcement) -> CaseOut:
        lc.advance(svc.s, svc.actor, case_id, body.status, body.on, body.note, body.figures)
        return CaseOut.of(lc.get_case(svc.s, svc.actor, case_id))

    try:
        return await run(request, actor, work)
    except lc.IllegalTransition as exc:
        out = TransitionError(detail=str(exc), current=exc.current, requested=exc.requested, allowed=list(exc.allowed))
        return JSONResponse(out.model_dump(), status_code=409)
    except lc.FieldError as exc:
        raise _unprocessable(exc) from exc


@router.get("/cases", response_model=list[CaseOut])
def list_cases(request: Request, actor: CurrentActor, status: Status | None = None,
               agency: str | None = Query(None, max_length=200), region: str | None = Query(None, max_length=20),
               lead_id: str | None = Query(None, max_length=120),
               limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=sc.MAX_INT)) -> list[CaseOut]:  # fmt: skip
    with unit(request, actor) as svc:
        return [CaseOut.of(c) for c in lc.list_cases(svc.s, svc.actor, status, agency, region, lead_id, limit, offset)]


@router.get("/cases/{case_id}", response_model=CaseOut)
async def get_case(case_id: CaseId, request: Request, actor: CurrentActor) -> CaseOut:
    return await run(request, actor, lambda svc: CaseOut.of(lc.get_case(svc.s, svc.actor, case_id)))


@router.get("/leads", response_model=list[LeadScore])
def list_leads(request: Request, actor: CurrentActor,
               status: Literal["open", "referred", "stale", "all"] = "open",
               limit: int = Query(100, ge=1, le=1000)) -> list[LeadScore]:  # fmt: skip
    """Leads ranked by their predicted chance of being accepted and convicted (once enough cases are
    decided; by readiness before), with the checklist elements that drive it and what each gap costs."""
    with unit(request, actor) as svc:
        lc.require(svc.actor, lc.READERS, "lead", "*")
        statuses = ("open", "referred", "stale") if status == "all" else (status,)
        return [LeadScore.model_validate(r) for r in fn.score_leads(svc.s, statuses=statuses, limit=limit)]


@router.get("/leads/{lead_id}", response_model=LeadOut)
async def get_lead(lead_id: LeadId, request: Request, actor: CurrentActor) -> LeadOut:
    """A lead with its evidence; personal evidence (identity data) only for the roles allowed to see it
    (`leads.personal_data_roles`), and each showing is audited."""

    def work(svc: Enforcement) -> LeadOut:
        lead = lc.get_lead(svc.s, svc.actor, lead_id)
        evidence, withheld = lc.lead_evidence(svc.s, svc.actor, lead, svc.settings)
        cases = [c.id for c in lc.list_cases(svc.s, svc.actor, lead_id=lead_id)]
        data = {k: getattr(lead, k) for k in LeadOut.model_fields if hasattr(lead, k)}
        for k in ("sales_amount", "unsold_value", "margin"):
            data[k] = f"{data[k]:.2f}"
        data.update(evidence=[EvidenceOut.model_validate(e) for e in evidence], personal_withheld=withheld,
                    case_ids=cases)  # fmt: skip
        return LeadOut.model_validate(data)

    return await run(request, actor, work)


@router.get("/funnel", response_model=dict[str, Any])
def get_funnel(request: Request, actor: CurrentActor, since: dt.date | None = None,
               model: bool = Query(True, description="Include the rank model's coefficients.")) -> dict[str, Any]:  # fmt: skip
    """Leads → referred → accepted → investigating → raided → prosecuted → convicted, with rates (decided
    cases only), median days per stage, figures, and the breakdown by agency, region, rule and readiness
    band; with enough decided cases, the rank model's coefficients per checklist element."""
    with unit(request, actor) as svc:
        lc.require(svc.actor, lc.READERS, "funnel", "*")
        out = fn.funnel(svc.s, since)
        if model:
            m = fn.rank_model(svc.s)
            out["model"] = None if m is None else {"coefficients": m.coefficients(), "intercepts": {
                "accept": m.accept.intercept, **({"convict": m.convict.intercept} if m.convict else {})},
                "cases": {"accept": m.accept.n, **({"convict": m.convict.n} if m.convict else {})}}  # fmt: skip
        return out
