"""``counterwatch case …`` (refer a lead, record a case's steps, show and list cases) and
``counterwatch funnel``.

Mounted by the main command line::

    from counterwatch.cases.cli import case_app, funnel_command
    app.add_typer(case_app, name="case")
    app.command("funnel")(funnel_command)   # or a wrapper with the same parameters
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from counterwatch.errors import CounterwatchError

console = Console(stderr=False)
err = Console(stderr=True)

case_app = typer.Typer(help="Cases: refer leads to agencies and follow them to conviction.", no_args_is_help=True,
                       rich_markup_mode="markdown")  # fmt: skip

WorkspaceArg = Annotated[Path, typer.Argument(help="Workspace directory (its case database).", show_default=False)]
DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Case database URL (default: $COUNTERWATCH_DB, else sqlite WORKSPACE/counterwatch.db).",
                 show_default=False),
]  # fmt: skip
AsOption = Annotated[
    str | None,
    typer.Option("--as", help="Act as this user (a liaison or admin); default: the system (admin).", show_default=False),
]
OnOption = Annotated[
    dt.datetime | None,
    typer.Option("--on", formats=["%Y-%m-%d"], help="Date of the step (YYYY-MM-DD); default: today.", show_default=False),
]


def _fail(exc: CounterwatchError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def _open(workspace: Path, db: str | None) -> Any:
    from counterwatch.store.db import database_url, open_database
    from counterwatch.workspace import Workspace

    return open_database(database_url(Workspace.at(workspace).root, db))


def _actor(s: Any, username: str | None) -> Any:
    from sqlalchemy import select

    from counterwatch.api.auth import actor_for
    from counterwatch.enforce.service import SYSTEM
    from counterwatch.store.models import User

    if not username:
        return SYSTEM
    user = s.execute(select(User).where(User.username == username, User.active.is_(True))).scalar()
    if user is None:
        raise CounterwatchError(f"no active user {username!r}: create it with `counterwatch users add`")
    return actor_for(user)


def _day(on: dt.datetime | None) -> dt.date:
    return on.date() if on else dt.date.today()


def _case_table(case: Any) -> Table:
    from counterwatch.cases.lifecycle import TRANSITIONS

    nxt = ", ".join(TRANSITIONS[case.status]) or "none (final)"
    t = Table(title=f"Case {case.id}: lead {case.lead_id}, {case.agency} ({case.region}) {case.reference} "
                    f"- {case.status}; next: {nxt}", title_justify="left")  # fmt: skip
    for col in ("date", "status", "figures", "note"):
        t.add_column(col)
    for e in case.events:
        figures = ", ".join(f"{k} {v}" for k, v in (e.figures or {}).items())
        t.add_row(e.on.isoformat(), e.status, figures, (e.note or "")[:80])
    return t


@case_app.command("refer")
def refer_command(
    workspace: WorkspaceArg,
    lead_id: Annotated[str, typer.Argument(help="The lead's id, e.g. LEAD-OP-S000123.")],
    agency: Annotated[str, typer.Option(help="The agency the lead goes to.")],
    region: Annotated[str, typer.Option(help="The agency's region, e.g. CN-ZJ.")],
    on: OnOption = None,
    reference: Annotated[str, typer.Option(help="The agency's reference for the case.")] = "",
    note: Annotated[str, typer.Option(help="A note for the record.")] = "",
    as_user: AsOption = None,
    db: DbOption = None,
) -> None:
    """Refer a lead to an agency: a new case in state `referred`.

    **Example:** `counterwatch case refer ./counterwatch-demo LEAD-OP-S000123 --agency "Yiwu PSB" --region CN-ZJ --on 2026-03-02 --reference YW-2026-114`
    """
    from counterwatch.cases.lifecycle import refer

    try:
        database = _open(workspace, db)
        with database.session() as s:
            case = refer(s, _actor(s, as_user), lead_id, agency, region, _day(on), reference, note)
            console.print(_case_table(case))
    except CounterwatchError as exc:
        raise _fail(exc) from exc


@case_app.command("advance")
def advance_command(
    workspace: WorkspaceArg,
    case_id: Annotated[int, typer.Argument(help="The case's number.", min=1)],
    status: Annotated[str, typer.Argument(help="accepted, investigating, raided, prosecuted, convicted, acquitted "
                                               "or dropped.", show_default=False)],
    on: OnOption = None,
    note: Annotated[str, typer.Option(help="A note for the record.")] = "",
    arrests: Annotated[int | None, typer.Option(min=0, help="Arrests (investigating, raided).")] = None,
    facilities_closed: Annotated[int | None, typer.Option(min=0, help="Facilities closed (raided).")] = None,
    units_seized: Annotated[int | None, typer.Option(min=0, help="Units seized (raided).")] = None,
    value_seized: Annotated[str | None, typer.Option(help="Value seized, base currency (raided).")] = None,
    sentence_months: Annotated[int | None, typer.Option(min=0, help="Sentence in months (convicted).")] = None,
    probation_months: Annotated[int | None, typer.Option(min=0, help="Probation in months (convicted).")] = None,
    fine: Annotated[str | None, typer.Option(help="Fine, base currency (convicted).")] = None,
    as_user: AsOption = None,
    db: DbOption = None,
) -> None:
    """Record the next step of a case with its date, a note and the figures that apply.

    The chain is `referred → accepted → investigating → raided → prosecuted → convicted | acquitted`;
    `dropped` may follow any state that is not final. A skipped step, a step back or a date before the
    case's last step is refused, naming what may follow.

    **Example:** `counterwatch case advance ./counterwatch-demo 12 raided --on 2026-05-14 --arrests 3 --units-seized 4200 --value-seized 1250000`
    """
    from counterwatch.cases.lifecycle import advance, get_case

    figures = {k: v for k, v in {"arrests": arrests, "facilities_closed": facilities_closed,
                                 "units_seized": units_seized, "value_seized": value_seized,
                                 "sentence_months": sentence_months, "probation_months": probation_months,
                                 "fine": fine}.items() if v is not None}  # fmt: skip
    try:
        database = _open(workspace, db)
        with database.session() as s:
            actor = _actor(s, as_user)
            advance(s, actor, case_id, status, _day(on), note, figures)
            console.print(_case_table(get_case(s, actor, case_id)))
    except CounterwatchError as exc:
        raise _fail(exc) from exc


@case_app.command("show")
def show_command(
    workspace: WorkspaceArg,
    case_id: Annotated[int, typer.Argument(help="The case's number.", min=1)],
    as_user: AsOption = None,
    db: DbOption = None,
) -> None:
    """Show a case with every step, its date, figures and note.

    **Example:** `counterwatch case show ./counterwatch-demo 12`
    """
    from counterwatch.cases.lifecycle import get_case

    try:
        database = _open(workspace, db)
        with database.session() as s:
            console.print(_case_table(get_case(s, _actor(s, as_user), case_id)))
    except CounterwatchError as exc:
        raise _fail(exc) from exc


@case_app.command("list")
def list_command(
    workspace: WorkspaceArg,
    status: Annotated[str | None, typer.Option(help="Only cases in this state.")] = None,
    agency: Annotated[str | None, typer.Option(help="Only cases with this agency.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Cases to list.")] = 100,
    as_user: AsOption = None,
    db: DbOption = None,
) -> None:
    """List cases, oldest first.

    **Example:** `counterwatch case list ./counterwatch-demo --status investigating`
    """
    from counterwatch.cases.lifecycle import list_cases

    try:
        database = _open(workspace, db)
        with database.session() as s:
            rows = list_cases(s, _actor(s, as_user), status=status, agency=agency, limit=limit)
            t = Table(title=f"Cases ({len(rows)})", title_justify="left")
            for col in ("case", "lead", "agency", "region", "reference", "referred", "status", "last step"):
                t.add_column(col, justify="right" if col == "case" else "left")
            for c in rows:
                last = c.events[-1].on.isoformat() if c.events else ""
                t.add_row(str(c.id), c.lead_id, c.agency, c.region, c.reference, c.referred_on.isoformat(), c.status, last)
    except CounterwatchError as exc:
        raise _fail(exc) from exc
    console.print(t)


def _pct(x: float | None, se: float | None = None) -> str:
    if x is None:
        return "-"
    return f"{x:.1%}" + (f" ±{se:.1%}" if se else "")


def _breakdown(title: str, rows: dict[str, dict[str, Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("", "referred", "accepted", "convicted", "acquitted", "dropped", "open", "acceptance", "conviction"):
        t.add_column(col, justify="left" if col == "" else "right")
    for name, r in rows.items():
        t.add_row(name, f"{r['referred']:,}", f"{r['accepted']:,}", f"{r['convicted']:,}", f"{r['acquitted']:,}",
                  f"{r['dropped']:,}", f"{r['open']:,}", _pct(r["acceptance_rate"], r["acceptance_se"]),
                  _pct(r["conviction_rate"], r["conviction_se"]))  # fmt: skip
    return t


def funnel_command(
    workspace: WorkspaceArg,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the funnel as JSON.")] = False,
    since: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Only cases referred on or after.")] = None,
) -> None:
    """Where leads leak: leads → referred → accepted → investigating → raided → prosecuted → convicted.

    Rates count decided cases only, with their standard errors; the median days spent in each stage;
    arrests, seizures and sentences; the breakdown by agency, region, rule met and readiness band
    (do better-evidenced leads convert more?). With enough decided cases, a model ranks the open
    leads by their chance of acceptance and conviction, with the evidence elements that drive it.

    **Example:** `counterwatch funnel ./counterwatch-demo`
    """
    from counterwatch.cases.funnel import funnel as compute
    from counterwatch.cases.funnel import rank_model, score_leads

    try:
        database = _open(workspace, db)
        with database.session() as s:
            f = compute(s, since.date() if since else None)
            model = rank_model(s)
            scored = score_leads(s, model, limit=10)
    except CounterwatchError as exc:
        raise _fail(exc) from exc
    if model is not None:
        f["model"] = {"coefficients": model.coefficients()}
    if as_json:
        f["top_open_leads"] = scored
        console.print_json(json.dumps(f, default=str))
        return
    sm = f["summary"]
    console.print(f"{f['leads']:,} leads, {f['leads_open']:,} not referred; {sm['referred']:,} cases: acceptance "
                  f"{_pct(sm['acceptance_rate'], sm['acceptance_se'])}, conviction "
                  f"{_pct(sm['conviction_rate'], sm['conviction_se'])}, overall {_pct(sm['overall_rate'])}; "
                  f"median {f['median_days_to_outcome'] or '-'} days to an outcome", highlight=False)  # fmt: skip
    t = Table(title="Funnel", title_justify="left")
    for col in ("stage", "reached", "from previous", "from referred", "now in it", "dropped here", "median days in it"):
        t.add_column(col, justify="left" if col == "stage" else "right")
    for st in f["stages"]:
        t.add_row(st["stage"], f"{st['reached']:,}", _pct(st["rate_from_previous"]), _pct(st["rate_from_referred"]),
                  f"{st['in_stage_now']:,}", f"{st['dropped_here']:,}",
                  "-" if st["median_days"] is None else f"{st['median_days']:g}")  # fmt: skip
    console.print(t)
    for key, title in (("by_readiness", "By readiness band"), ("by_agency", "By agency"), ("by_region", "By region"),
                       ("by_rule", "By rule met")):  # fmt: skip
        if f[key]:
            console.print(_breakdown(title, f[key]))
    fig = f["figures"]
    console.print("figures: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in fig.items() if v not in (None, 0, "0.00")),
                  highlight=False)  # fmt: skip
    if model is None:
        console.print("rank model: not enough decided cases yet; open leads are ranked by readiness", highlight=False)
    else:
        m = Table(title="Rank model: log-odds per checklist element (present 1, weak 0.5, missing 0)", title_justify="left")
        m.add_column("element")
        m.add_column("acceptance", justify="right")
        m.add_column("conviction", justify="right")
        conv = model.convict.coefficients if model.convict else {}
        for e in model.elements:
            m.add_row(e, f"{model.accept.coefficients[e]:+.2f}", f"{conv[e]:+.2f}" if e in conv else "-")
        console.print(m)
    if scored:
        o = Table(title="Open leads, best chance first", title_justify="left")
        for col in ("rank", "lead", "readiness", "p accept", "p convict", "p", "best gap to fill"):
            o.add_column(col, justify="left" if col in ("lead", "best gap to fill") else "right")
        for r in scored:
            gap = r["gains"][0] if r["gains"] else None
            o.add_row(str(r["rank"]), r["lead_id"], f"{r['readiness']:.2f}", _pct(r["p_accept"]), _pct(r["p_convict"]),
                      _pct(r["p"]), f"{gap['element']} (+{gap['gain']:.1%})" if gap else "-")  # fmt: skip
        console.print(o)
