"""A lead referred to an agency, and its case followed step by step to the outcome.

The lifecycle is data (``TRANSITIONS``): each state names the states that may follow it. The chain is
strict, ``referred → accepted → investigating → raided → prosecuted → convicted | acquitted``, and a
case may be ``dropped`` from any state that is not final. A skipped step, a step back, a repeat or
any step after a final outcome is refused with an error that names the allowed next states; so is a
date earlier than the case's last step. Each step carries a date, a note, and the figures that apply
to it (``FIGURES_BY_STATUS``): arrests, facilities closed, units and value seized, the sentence,
probation and a fine.

Roles: ``liaison`` and ``admin`` refer and advance; ``investigator`` reads; everyone else is told the
case does not exist (``NotFoundError(denied=True)``, audited by the API). Every change writes an
audit entry with the state before and after, in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from counterwatch.enforce.service import Actor
from counterwatch.errors import ConflictError, CounterwatchError, NotFoundError, RefusedError
from counterwatch.store.models import AuditEntry, Case, CaseEvent, Lead, LeadEvidence, utcnow

#: every state, in the order of the chain (the three outcomes last)
STATUSES = ("referred", "accepted", "investigating", "raided", "prosecuted", "convicted", "acquitted", "dropped")
#: the states a case passes through on its way to court, in order
CHAIN = ("referred", "accepted", "investigating", "raided", "prosecuted")
#: outcomes: nothing follows them
FINAL = ("convicted", "acquitted", "dropped")
#: state -> the states that may follow it
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "referred": ("accepted", "dropped"),
    "accepted": ("investigating", "dropped"),
    "investigating": ("raided", "dropped"),
    "raided": ("prosecuted", "dropped"),
    "prosecuted": ("convicted", "acquitted", "dropped"),
    "convicted": (),
    "acquitted": (),
    "dropped": (),
}
#: state -> the figures a step into it may carry
FIGURES_BY_STATUS: dict[str, tuple[str, ...]] = {
    "referred": (),
    "accepted": (),
    "investigating": ("arrests",),
    "raided": ("arrests", "facilities_closed", "units_seized", "value_seized"),
    "prosecuted": (),
    "convicted": ("sentence_months", "probation_months", "fine"),
    "acquitted": (),
    "dropped": (),
}
#: roles that refer leads and record the steps of cases
ACTORS = ("admin", "liaison")
#: roles that may read leads and cases
READERS = ("admin", "liaison", "investigator")
#: roles that see the personal evidence of a lead when ``leads.personal_data_roles`` is not configured
DEFAULT_PERSONAL_ROLES = ("admin", "investigator", "liaison")


class Figures(BaseModel):
    """What a step achieved. Amounts are in the workspace's base currency; every figure is optional."""

    model_config = ConfigDict(extra="forbid")
    arrests: int | None = Field(None, ge=0, le=100_000)
    facilities_closed: int | None = Field(None, ge=0, le=100_000)
    units_seized: int | None = Field(None, ge=0, le=10**12)
    value_seized: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=2)
    sentence_months: int | None = Field(None, ge=0, le=1_200)
    probation_months: int | None = Field(None, ge=0, le=1_200)
    fine: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=2)

    def given(self) -> dict[str, Any]:
        """The figures set, as JSON (amounts as strings with two decimals, so nothing is rounded)."""
        out: dict[str, Any] = {}
        for k, v in self.model_dump(exclude_none=True).items():
            out[k] = f"{v:.2f}" if isinstance(v, Decimal) else v
        return out


class FieldError(CounterwatchError):
    """A value of the request is malformed or does not apply (the API answers 422 naming ``field``)."""

    exit_code = 2

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# kept for readers of the brief: a figure that does not apply is a FieldError
FigureError = FieldError


class IllegalTransition(ConflictError):
    """A step the lifecycle does not allow from the case's state; ``allowed`` names the ones it does."""

    def __init__(self, message: str, *, case_id: int, current: str, requested: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.case_id = case_id
        self.current = current
        self.requested = requested
        self.allowed = allowed


def transition_problem(case_id: int, current: str, requested: str) -> IllegalTransition | None:
    """Why ``current → requested`` is not allowed (an error to raise), or None when it is."""
    allowed = TRANSITIONS[current]
    if requested in allowed:
        return None
    nxt = ", ".join(allowed)
    if not allowed:
        why = f"case {case_id} is {current}, a final outcome: no step can follow it"
    elif requested == current:
        why = f"case {case_id} is {current} already; the allowed next states are: {nxt}"
    elif requested in CHAIN and CHAIN.index(requested) < CHAIN.index(current):
        why = f"case {case_id} is {current}: it cannot go back to {requested}; the allowed next states are: {nxt}"
    else:
        # a skip: name the steps in between
        end = CHAIN.index("prosecuted") + 1 if requested in FINAL else CHAIN.index(requested)
        skipped = CHAIN[CHAIN.index(current) + 1 : end]
        why = (f"case {case_id} is {current}: {requested} would skip {', '.join(skipped)}; "
               f"the allowed next states are: {nxt}")  # fmt: skip
    return IllegalTransition(why, case_id=case_id, current=current, requested=requested, allowed=allowed)


# --- scope and audit -------------------------------------------------------------------------------


def _require(actor: Actor, roles: tuple[str, ...], entity: str, key: object) -> None:
    if actor.role not in roles:
        # a role without the capability learns nothing more than a stranger would
        raise NotFoundError(f"{entity} {key!r} not found", denied=True, entity=entity, entity_id=str(key))


def _audit(s: Session, actor: Actor, verb: str, entity: str, entity_id: object, why: str = "",
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           at: dt.datetime | None = None) -> None:  # fmt: skip
    s.add(AuditEntry(at=at or utcnow(), actor_id=actor.user_id, actor=actor.username, verb=verb, entity=entity,
                     entity_id=str(entity_id), why=why, before=before, after=after))  # fmt: skip


def _text(field: str, value: str, max_length: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise FieldError(field, f"{field} is required")
    if len(value) > max_length:
        raise FieldError(field, f"{field} is longer than {max_length} characters")
    if "\x00" in value:
        raise FieldError(field, f"{field} holds a NUL character")
    return value


def _date(field: str, on: dt.date, today: dt.date | None) -> dt.date:
    if isinstance(on, dt.datetime):
        on = on.date()
    if not isinstance(on, dt.date):
        raise FieldError(field, f"{field} must be a date (YYYY-MM-DD), not {on!r}")
    today = today or dt.date.today()
    if on > today:
        raise FieldError(field, f"{field} {on.isoformat()} is in the future (today is {today.isoformat()})")
    return on


def _bulk(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 1000):
        session.execute(insert(model), rows[start : start + 1000])


def case_state(case: Case) -> dict[str, Any]:
    return {"lead_id": case.lead_id, "agency": case.agency, "region": case.region, "reference": case.reference,
            "status": case.status, "referred_on": case.referred_on.isoformat()}  # fmt: skip


# --- refer and advance -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Referral:
    """One lead to refer: to ``agency`` in ``region`` on ``on``, with the agency's ``reference``."""

    lead_id: str
    agency: str
    region: str
    on: dt.date
    reference: str = ""
    note: str = ""


def refer(session: Session, actor: Actor, lead_id: str, agency: str, region: str, on: dt.date,
          reference: str = "", note: str = "", *, today: dt.date | None = None,
          now: dt.datetime | None = None) -> Case:  # fmt: skip
    """Refer ``lead_id`` to ``agency`` in ``region`` on ``on``: a new case in state ``referred``.

    A lead is referred once (``ConflictError`` naming its case); a stale lead (one that no longer
    meets a rule) is refused."""
    return refer_many(session, actor, [Referral(lead_id, agency, region, on, reference, note)],
                      today=today, now=now)[0]  # fmt: skip


def refer_many(session: Session, actor: Actor, referrals: Sequence[Referral], *, today: dt.date | None = None,
               now: dt.datetime | None = None, lock: bool = True) -> list[Case]:  # fmt: skip
    """``refer`` for several leads in one flush (the simulation refers thousands); all or nothing.
    ``lock=False`` when the caller holds the leads already (one transaction of its own)."""
    _require(actor, ACTORS, "lead", referrals[0].lead_id if referrals else "*")
    now = now or utcnow()
    clean = []
    for r in referrals:
        clean.append(Referral(r.lead_id, _text("agency", r.agency, 200), _text("region", r.region, 20), _date("on", r.on, today),
                              _text("reference", r.reference, 100, required=False),
                              _text("note", r.note, 10_000, required=False)))  # fmt: skip
    ids = [r.lead_id for r in clean]
    if len(set(ids)) != len(ids):
        raise ConflictError("a lead is referred twice in one request")
    # the lead rows are locked (PostgreSQL) so two liaisons referring one at once cannot both succeed;
    # SQLite serialises writers already (BEGIN IMMEDIATE, see store.db)
    q = select(Lead).where(Lead.lead_id.in_(ids))
    leads = {x.lead_id: x for x in session.scalars(q.with_for_update() if lock else q)}
    for lid in ids:
        if lid not in leads:
            raise NotFoundError(f"lead {lid!r} not found", entity="lead", entity_id=lid)
    # no autoflush: a case of a lead pending in this session has set lead.status already
    with session.no_autoflush:
        existing = dict(session.execute(select(Case.lead_id, func.min(Case.id)).where(Case.lead_id.in_(ids))
                                        .group_by(Case.lead_id)).all())  # fmt: skip
    cases = []
    for r in clean:
        lead = leads[r.lead_id]
        if r.lead_id in existing or lead.status == "referred":
            case_no = existing.get(r.lead_id)
            raise ConflictError(f"lead {r.lead_id} was referred already" + (f" (case {case_no})" if case_no else ""))
        if lead.status == "stale":
            raise RefusedError(f"lead {r.lead_id} is stale: it no longer meets a statutory rule; rebuild the leads first")
        case = Case(lead_id=r.lead_id, agency=r.agency, region=r.region, reference=r.reference, status="referred",
                    referred_on=r.on, updated_at=now)  # fmt: skip
        session.add(case)
        cases.append(case)
    session.flush()  # the cases' ids
    events: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    who = {"at": now, "actor_id": actor.user_id, "actor": actor.username, "verb": "refer"}
    for r, case in zip(clean, cases, strict=True):
        lead = leads[r.lead_id]
        events.append({"case_id": case.id, "status": "referred", "on": r.on, "note": r.note, "figures": {},
                       "recorded_by": actor.user_id, "recorded_at": now})  # fmt: skip
        audits.append({**who, "entity": "case", "entity_id": str(case.id), "why": r.note, "before": None,
                       "after": case_state(case)})  # fmt: skip
        audits.append({**who, "entity": "lead", "entity_id": r.lead_id, "why": f"referred to {r.agency} as case {case.id}",
                       "before": {"status": lead.status}, "after": {"status": "referred", "case_id": case.id}})  # fmt: skip
        lead.status = "referred"
        lead.updated_at = now
    _bulk(session, CaseEvent, events)
    _bulk(session, AuditEntry, audits)
    for case in cases:
        session.expire(case, ["events"])  # loaded with the referral event when read
    return cases


def parse_figures(status: str, figures: Figures | dict[str, Any] | None) -> dict[str, Any]:
    """The figures of a step into ``status``, validated, as JSON; a figure that does not apply to the
    step, a negative or malformed one, is a ``FieldError`` naming it."""
    if figures is None:
        return {}
    if isinstance(figures, dict):
        try:
            figures = Figures.model_validate(figures)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = ".".join(str(x) for x in first["loc"]) or "figures"
            raise FieldError(f"figures.{name}", f"figure {name}: {first['msg']}") from exc
    given = figures.given()
    allowed = FIGURES_BY_STATUS[status]
    for name in given:
        if name not in allowed:
            applies = ", ".join(allowed) if allowed else "no figures"
            raise FieldError(f"figures.{name}", f"figure {name} does not apply to a step to {status} "
                                                f"(it takes {applies})")  # fmt: skip
    return given


def advance(session: Session, actor: Actor, case_id: int, status: str, on: dt.date, note: str = "",
            figures: Figures | dict[str, Any] | None = None, *, today: dt.date | None = None,
            now: dt.datetime | None = None) -> CaseEvent:  # fmt: skip
    """Record the next step of case ``case_id``: its new ``status`` on ``on``, with a note and figures.

    Refused: an unknown status (``FieldError``), a step the lifecycle does not allow
    (``IllegalTransition``, naming the allowed next states), a date before the case's last step or in
    the future, a figure that does not apply to the step."""
    _require(actor, ACTORS, "case", case_id)
    case = session.get(Case, case_id, with_for_update=True)  # one writer per case at a time
    if case is None:
        raise NotFoundError(f"case {case_id!r} not found", entity="case", entity_id=str(case_id))
    event = advance_case(session, actor, case, status, on, note, figures, today=today, now=now)
    session.flush()  # the event's id, for the caller
    return event


def check_step(case_id: int, current: str, last: dt.date, status: str, on: dt.date, note: str = "",
               figures: Figures | dict[str, Any] | None = None, today: dt.date | None = None,
               ) -> tuple[dt.date, str, dict[str, Any]]:  # fmt: skip
    """The rules of one step, from state ``current`` whose last step was on ``last``: the date, note
    and figures as recorded, or the error that refuses it (see ``advance``)."""
    if status not in TRANSITIONS:
        raise FieldError("status", f"unknown status {status!r}: one of {', '.join(STATUSES)}")
    problem = transition_problem(case_id, current, status)
    if problem is not None:
        raise problem
    given = parse_figures(status, figures)
    note = _text("note", note, 10_000, required=False)
    on = _date("on", on, today)
    if on < last:
        raise RefusedError(f"case {case_id}: {status} on {on.isoformat()} is before its last step "
                           f"({current} on {last.isoformat()}); dates cannot go backwards")  # fmt: skip
    return on, note, given


def _last_date(case: Case) -> dt.date:
    return max([case.referred_on, *(e.on for e in case.events)])


def advance_case(session: Session, actor: Actor, case: Case, status: str, on: dt.date, note: str = "",
                 figures: Figures | dict[str, Any] | None = None, *, today: dt.date | None = None,
                 now: dt.datetime | None = None) -> CaseEvent:  # fmt: skip
    """``advance`` on a case already loaded (and locked) by the caller."""
    _require(actor, ACTORS, "case", case.id)
    last = _last_date(case)
    on, note, given = check_step(case.id, case.status, last, status, on, note, figures, today)
    now = now or utcnow()
    before = {"status": case.status, "on": last.isoformat()}
    event = CaseEvent(status=status, on=on, note=note, figures=given, recorded_by=actor.user_id, recorded_at=now)
    case.events.append(event)
    case.status = status
    case.updated_at = now
    _audit(session, actor, "advance", "case", case.id, note, before,
           {"status": status, "on": on.isoformat(), "figures": given}, now)  # fmt: skip
    return event


#: one step of ``advance_many``: status, date, note, figures
Step = tuple[str, dt.date, str, "Figures | dict[str, Any] | None"]


def advance_many(session: Session, actor: Actor, plans: Sequence[tuple[Case, Sequence[Step]]], *,
                 today: dt.date | None = None, now: dt.datetime | None = None) -> None:  # fmt: skip
    """Several steps of several cases under the same rules as ``advance`` (``check_step``), written
    with two bulk inserts (the simulation records thousands). All or nothing: every step is checked
    before anything is written. The cases' ``events`` collections are expired (reloaded when read)."""
    _require(actor, ACTORS, "case", plans[0][0].id if plans else "*")
    now = now or utcnow()
    events: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    finals: list[tuple[Case, str]] = []
    # each case's last step in one query (not one lazy load of its events per case)
    ids = [case.id for case, _steps in plans]
    lasts: dict[int, dt.date] = {}
    for start in range(0, len(ids), 1000):
        q = (select(CaseEvent.case_id, func.max(CaseEvent.on)).where(CaseEvent.case_id.in_(ids[start : start + 1000]))
             .group_by(CaseEvent.case_id))  # fmt: skip
        lasts.update(dict(session.execute(q).all()))
    for case, steps in plans:
        current, last = case.status, max(case.referred_on, lasts.get(case.id, case.referred_on))
        for status, on, note, figures in steps:
            on, note, given = check_step(case.id, current, last, status, on, note, figures, today)
            events.append({"case_id": case.id, "status": status, "on": on, "note": note, "figures": given,
                           "recorded_by": actor.user_id, "recorded_at": now})  # fmt: skip
            audits.append({"at": now, "actor_id": actor.user_id, "actor": actor.username, "verb": "advance",
                           "entity": "case", "entity_id": str(case.id), "why": note,
                           "before": {"status": current, "on": last.isoformat()},
                           "after": {"status": status, "on": on.isoformat(), "figures": given}})  # fmt: skip
            current, last = status, on
        finals.append((case, current))
    for case, status in finals:
        case.status = status
        case.updated_at = now
    session.flush()
    _bulk(session, CaseEvent, events)
    _bulk(session, AuditEntry, audits)
    for case, _status in finals:
        session.expire(case, ["events"])


# --- reading ---------------------------------------------------------------------------------------


def get_case(session: Session, actor: Actor, case_id: int) -> Case:
    _require(actor, READERS, "case", case_id)
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError(f"case {case_id!r} not found", entity="case", entity_id=str(case_id))
    return case


def list_cases(session: Session, actor: Actor, status: str | None = None, agency: str | None = None,
               region: str | None = None, lead_id: str | None = None, limit: int = 100,
               offset: int = 0) -> list[Case]:  # fmt: skip
    _require(actor, READERS, "case", "*")
    q = select(Case)
    if status:
        q = q.where(Case.status == status)
    if agency:
        q = q.where(Case.agency == agency)
    if region:
        q = q.where(Case.region == region)
    if lead_id:
        q = q.where(Case.lead_id == lead_id)
    return list(session.scalars(q.order_by(Case.id).limit(limit).offset(offset)))


def get_lead(session: Session, actor: Actor, lead_id: str) -> Lead:
    _require(actor, READERS, "lead", lead_id)
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFoundError(f"lead {lead_id!r} not found", entity="lead", entity_id=lead_id)
    return lead


def personal_roles(settings: Any) -> tuple[str, ...]:
    """Roles that see a lead's personal evidence: ``leads.personal_data_roles`` when configured."""
    roles = getattr(getattr(settings, "leads", None), "personal_data_roles", None)
    return tuple(roles) if roles is not None else DEFAULT_PERSONAL_ROLES


def lead_evidence(session: Session, actor: Actor, lead: Lead, settings: Any) -> tuple[list[LeadEvidence], int]:
    """The lead's evidence the actor may see, and how many personal items were withheld. Showing
    personal evidence is audited (who saw whose identity data, when)."""
    rows = list(session.scalars(select(LeadEvidence).where(LeadEvidence.lead_id == lead.lead_id)
                                .order_by(LeadEvidence.id)))  # fmt: skip
    if actor.role in personal_roles(settings):
        personal = [e.id for e in rows if e.personal]
        if personal:
            _audit(session, actor, "read_personal", "lead", lead.lead_id, "personal evidence shown",
                   after={"evidence_ids": personal[:200], "count": len(personal)})  # fmt: skip
        return rows, 0
    shown = [e for e in rows if not e.personal]
    return shown, len(rows) - len(shown)


#: the scope check, for callers outside this module (the API's list endpoints)
require = _require
