"""The command line: one command per stage, plus ``run`` (every stage), ``generate``, ``init`` and ``demo``."""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from counterwatch import __version__
from counterwatch.config import DEFAULT_TOML, load_settings
from counterwatch.contract.validate import ValidationReport, validate_workspace
from counterwatch.errors import CounterwatchError, InputError
from counterwatch.pipeline import STAGES, run_pipeline
from counterwatch.workspace import FORMATS, Workspace, write_text_atomic

app = typer.Typer(
    name="counterwatch",
    help="Anti-counterfeiting for online marketplaces: detect, enforce, link operators, build leads, report.\n\n"
    "Start with:  counterwatch demo",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console(stderr=False)
err = Console(stderr=True)

WorkspaceArg = Annotated[
    Path, typer.Argument(help="Workspace directory holding the marketplace export.", show_default=False)
]


def _version(value: bool) -> None:
    if value:
        console.print(f"counterwatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    pass


def _fail(exc: CounterwatchError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def _spinner() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True)


def print_validation(report: ValidationReport, max_reasons: int | None = None) -> None:
    """Counts per table, then counts per table and reason (the ``max_reasons`` most common), then warnings."""
    t = Table(title="Input tables", title_justify="left")
    t.add_column("table", no_wrap=True)
    t.add_column("file", overflow="fold")
    for col in ("read", "valid", "quarantined"):
        t.add_column(col, justify="right")
    for rep in report.tables.values():
        if rep.file is None:
            t.add_row(rep.table, "[dim]absent (optional)[/]", "", "", "")
            continue
        q = f"[red]{rep.rows_quarantined:,}[/]" if rep.rows_quarantined else "0"
        t.add_row(rep.table, rep.file, f"{rep.rows_read:,}", f"{rep.rows_valid:,}", q)
    console.print(t)
    reasons = [(rep.table, code, n) for rep in report.tables.values() for code, n in rep.reasons.items()]
    if reasons:
        r = Table(title="Quarantined rows by reason (a row may have several)", title_justify="left")
        r.add_column("table")
        r.add_column("reason")
        r.add_column("rows", justify="right")
        shown = sorted(reasons, key=lambda x: -x[2])[:max_reasons] if max_reasons else reasons
        for table, code, n in shown:
            r.add_row(table, code, f"{n:,}")
        console.print(r)
        if len(shown) < len(reasons):
            console.print(
                f"… and {len(reasons) - len(shown)} more reasons: `counterwatch validate {report.workspace}` lists all",
                highlight=False,
            )
    for rep in report.tables.values():
        for w in rep.warnings:
            console.print(f"[yellow]warning:[/] {w}", highlight=False)
    if report.rows_quarantined:
        console.print(
            f"{report.rows_quarantined:,} rows quarantined: see {Path(report.workspace) / 'quarantine'}/<table>.jsonl "
            "(row_number, id, row, reasons)",
            highlight=False,
        )
    else:
        console.print("[green]Every row is valid.[/]")


@app.command()
def validate(workspace: WorkspaceArg) -> None:
    """Check every input table against the data contract; quarantine bad rows with their reasons.

    Valid rows are written to `WORKSPACE/out/tables/` for the later stages; each bad row goes to
    `WORKSPACE/quarantine/<table>.jsonl`. Exit code 0: every row valid; 1: rows were quarantined;
    2: a required table or column is missing or a file cannot be parsed; 3: an internal error.

    **Example:** `counterwatch validate ./counterwatch-demo`
    """
    ws = Workspace.at(workspace)
    try:
        settings = load_settings(ws.root)
        with _spinner() as progress:
            task = progress.add_task("validating")
            report = validate_workspace(ws, settings, lambda msg: progress.update(task, description=msg))
    except CounterwatchError as exc:
        raise _fail(exc) from exc
    print_validation(report)
    raise typer.Exit(report.exit_code)


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the workspace into.")],
    listings: Annotated[int, typer.Option(min=1, help="Number of listings.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help=f"Table format: {', '.join(FORMATS)}.")] = "parquet",
    bad_rows: Annotated[
        float,
        typer.Option(min=0.0, max=0.5, help="Fraction of rows to corrupt on purpose (listed in truth/bad_rows.csv)."),
    ] = 0.0,
) -> None:
    """Generate a synthetic marketplace with ground truth (for the demo, tests and benchmarks).

    Writes every table of the data contract plus `truth/` (which listings are counterfeit and by
    which tactic, which operator runs each store, which rows were corrupted).

    **Example:** `counterwatch generate --out ./ws --listings 100000 --seed 7 --format csv --bad-rows 0.01`
    """
    from counterwatch.synth import generate as synth_generate

    if fmt not in FORMATS:
        err.print(f"[bold red]error:[/] --format must be one of {', '.join(FORMATS)}, not '{fmt}'")
        raise typer.Exit(2)
    start = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
        console=err, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("generating", total=1.0)
        result = synth_generate(
            out, listings=listings, seed=seed, fmt=fmt, bad_rows=bad_rows,
            progress=lambda step, frac: progress.update(task, description=step, completed=frac),
        )  # fmt: skip
    console.print(f"Generated {out} in {time.perf_counter() - start:.1f} s", highlight=False)
    t = Table()
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in result.counts.items():
        t.add_row(name, f"{n:,}")
    console.print(t)


@app.command()
def init(
    workspace: WorkspaceArg,
    force: Annotated[bool, typer.Option(help="Overwrite an existing counterwatch.toml.")] = False,
) -> None:
    """Write a commented default `counterwatch.toml` into a workspace.

    **Example:** `counterwatch init ./ws`
    """
    ws = Workspace.at(workspace)
    if ws.config_path.exists() and not force:
        err.print(f"[bold red]error:[/] {ws.config_path} exists; pass --force to overwrite it")
        raise typer.Exit(2)
    ws.root.mkdir(parents=True, exist_ok=True)
    write_text_atomic(ws.config_path, DEFAULT_TOML)
    console.print(f"wrote {ws.config_path}", highlight=False)


def _run(ws: Workspace) -> None:
    settings = load_settings(ws.root)
    with _spinner() as progress:
        task = progress.add_task("starting")
        results = run_pipeline(
            ws, settings,
            progress=lambda msg: progress.update(task, description=msg),
            on_stage=lambda stage: progress.update(task, description=stage.name),
        )  # fmt: skip
    t = Table(title=f"counterwatch run {ws.root}", title_justify="left")
    t.add_column("stage")
    t.add_column("result")
    t.add_column("outputs")
    t.add_column("seconds", justify="right")
    for r in results:
        t.add_row(r.stage, r.summary, " ".join(r.outputs), f"{r.seconds:.1f}")
    console.print(t)
    for r in results:
        if isinstance(r.details, ValidationReport):
            print_validation(r.details, max_reasons=10)


@app.command()
def run(workspace: WorkspaceArg) -> None:
    """Run every pipeline stage in order over a workspace; rerunning after a stop is safe.

    Stages today: {stages}. A run over a workspace with bad rows finishes for the good rows,
    reports how many went to quarantine and exits 0; a missing required table or column exits 2.

    **Example:** `counterwatch run ./counterwatch-demo`
    """
    try:
        _run(Workspace.at(workspace))
    except CounterwatchError as exc:
        raise _fail(exc) from exc


run.__doc__ = (run.__doc__ or "").replace("{stages}", ", ".join(s.name for s in STAGES))


@app.command()
def demo(
    listings: Annotated[int, typer.Option(min=100, help="Listings in the generated marketplace.")] = 20_000,
    directory: Annotated[Path, typer.Option("--dir", help="Where to put the demo workspace.")] = Path(
        "counterwatch-demo"
    ),
    seed: Annotated[int, typer.Option(help="Random seed of the generated marketplace.")] = 42,
) -> None:
    """Generate a synthetic marketplace, run the whole pipeline over it, train the risk model on its
    labels and compare the scores with its ground truth.

    **Example:** `counterwatch demo --listings 20000`
    """
    generate(out=directory, listings=listings, seed=seed, fmt="parquet", bad_rows=0.002)
    ws = Workspace.at(directory)
    (ws.root / "models" / "detect-model.joblib").unlink(missing_ok=True)  # a model from an earlier demo
    for old in ws.root.glob("counterwatch.db*"):  # and the case state of an earlier demo
        old.unlink()
    try:
        _run(ws)
    except CounterwatchError as exc:
        raise _fail(exc) from exc
    try:
        _train_and_report(ws)
        enforce(workspace=directory, db=None)  # the trained model's bands into the case state
        leads(workspace=directory, db=None, top=5)  # and the leads they confirm
    except CounterwatchError as exc:  # a small demo may have too few labels: the built-in weights stay
        console.print(f"[yellow]not trained:[/] {exc}", highlight=False)
    evaluate(workspace=directory, as_json=False)
    prog = sys.argv[0] if Path(sys.argv[0]).name == "counterwatch" else "counterwatch"
    console.print(
        f"\nDemo workspace: {ws.root}\n  inputs: *.parquet, brands.json   ground truth: truth/\n"
        f"  outputs: {ws.out} (scores.parquet: risk, band, reasons)   quarantined rows: {ws.quarantine}\n"
        f"Point counterwatch at your own export the same way: {prog} run PATH",
        highlight=False,
    )


def _bands_table(title: str, bands: dict[str, int]) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("band")
    t.add_column("listings", justify="right")
    t.add_column("share", justify="right")
    total = sum(bands.values()) or 1
    for band in ("block", "review", "allow"):
        t.add_row(band, f"{bands.get(band, 0):,}", f"{bands.get(band, 0) / total:.1%}")
    return t


@app.command()
def scan(
    workspace: WorkspaceArg,
    workers: Annotated[int, typer.Option(min=0, help="Processes for the signals (0: one per core).")] = 0,
) -> None:
    """Score every valid listing for counterfeit risk, with reasons, into `out/scores.parquet`.

    Each listing gets `risk` (0..1), `band` (block, review or allow, by the thresholds in
    `counterwatch.toml`), `reasons` (sentences naming the evidence) and one column per signal.
    Uses the model `counterwatch train` fitted when there is one, else built-in weights.

    **Example:** `counterwatch scan ./counterwatch-demo --workers 2`
    """
    from counterwatch.detect.scan import scan as run_scan

    ws = Workspace.at(workspace)
    try:
        settings = load_settings(ws.root)
        start = time.perf_counter()
        with _spinner() as progress:
            task = progress.add_task("scanning")
            result = run_scan(ws, settings, lambda m: progress.update(task, description=m), workers or None)
        seconds = time.perf_counter() - start
    except CounterwatchError as exc:
        raise _fail(exc) from exc
    console.print(_bands_table(f"Scored {result.listings:,} listings with model {result.model}", result.bands))
    console.print(f"{result.path} ({seconds:.1f} s, {result.listings / max(seconds, 1e-9):,.0f} listings/s)",
                  highlight=False)  # fmt: skip


@app.command()
def link(workspace: WorkspaceArg) -> None:
    """Find the operators behind the stores from what the stores share, with the evidence.

    Normalises every store identifier (phones to E.164, e-mails, accounts, addresses, devices,
    IPs, names; placeholders and unparseable values are kept as unusable with a reason), weighs
    each shared value by its kind and by how many stores share it, and clusters the links.
    Writes `out/operators.parquet` (store_id, operator_id, confidence), `out/operator_links.parquet`
    (store_a, store_b, weight, evidence) and `out/identifiers.parquet`.

    **Example:** `counterwatch link ./counterwatch-demo`
    """
    from counterwatch.link.stage import link as run_link

    ws = Workspace.at(workspace)
    try:
        start = time.perf_counter()
        with _spinner() as progress:
            task = progress.add_task("linking")
            r = run_link(ws, load_settings(ws.root), lambda m: progress.update(task, description=m))
        seconds = time.perf_counter() - start
    except CounterwatchError as exc:
        raise _fail(exc) from exc
    console.print(
        f"{r.stores:,} stores -> {r.operators:,} operators ({r.multi_store_operators:,} with several stores, "
        f"largest {r.largest:,}); {r.links:,} links; {r.unusable:,} identifiers unusable ({seconds:.1f} s)",
        highlight=False,
    )
    for reason, n in r.unusable_reasons.items():
        console.print(f"  unusable: {reason}: {n:,}", highlight=False)


DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Case database URL (default: $COUNTERWATCH_DB, else sqlite WORKSPACE/counterwatch.db), "
                              "e.g. postgresql+psycopg://user@host/counterwatch.", show_default=False),
]  # fmt: skip


@app.command()
def enforce(workspace: WorkspaceArg, db: DbOption = None) -> None:
    """Turn the scan into action in the case database: take down the `block` band, queue the `review` band.

    Imports the brand registry (rights holders, brands, trademarks), the stores with their operators
    and every listing with its score; files the workspace's `notices` (a notice relying on an unknown
    or expired trademark is recorded as rejected, with the reason); takes blocked listings down with a
    statement of reasons and penalty points; queues listings for review. Rerunning it creates nothing
    twice: only listings that are new or changed since the last run are acted on.

    **Example:** `counterwatch enforce ./counterwatch-demo --db postgresql+psycopg://cw@localhost/cw`
    """
    from counterwatch.enforce.stage import enforce as run_enforce
    from counterwatch.enforce.timing import time_to_action
    from counterwatch.store.db import database_url, open_database

    ws = Workspace.at(workspace)
    if not (ws.out / "scores.parquet").exists():  # before opening: a failed first run leaves no empty database
        raise _fail(InputError(f"{ws.out / 'scores.parquet'} is missing: run `counterwatch scan {ws.root}` first"))
    try:
        database = open_database(database_url(ws.root, db))
        with _spinner() as progress:
            task = progress.add_task("enforcing")
            r = run_enforce(ws, load_settings(ws.root), database, lambda m: progress.update(task, description=m))
        with database.session() as s:
            timing = time_to_action(s)
    except CounterwatchError as exc:
        raise _fail(exc) from exc
    console.print(
        f"{r.listings_added:,} listings added, {r.listings_changed:,} changed; {r.takedowns:,} taken down, "
        f"{r.review_items:,} queued for review, {r.withdrawn:,} withdrawn from review; "
        f"{r.notices_filed:,} notices filed ({r.notices_rejected:,} rejected for their right)", highlight=False)  # fmt: skip
    if r.store_actions:
        console.print("  actions: " + ", ".join(f"{k} {v:,}" for k, v in sorted(r.store_actions.items())), highlight=False)
    n = timing["notices"]
    if n["decided"]:
        console.print(f"  notices decided: {n['decided']:,} of {n['arrived']:,}; time to action median "
                      f"{n['median_hours']:.1f} h, p95 {n['p95_hours']:.1f} h, within 24 h {n['within_24h']:.1%}",
                      highlight=False)  # fmt: skip
    console.print(f"  case database: {database.engine.url.render_as_string(hide_password=True)}", highlight=False)


@app.command()
def leads(
    workspace: WorkspaceArg,
    db: DbOption = None,
    top: Annotated[int, typer.Option(min=0, help="Leads to print.")] = 10,
) -> None:
    """Value each operator's counterfeit sales, check its jurisdiction's statutory thresholds, and rank the leads.

    Sales of confirmed-counterfeit listings (a test buy, a reviewer, an upheld notice, or the block
    band: `[leads].confirmed_by`), unsold goods valued at the marked price, the average sale price or
    the reference price, brands and period, per operator from linking. Each operator meeting a rule
    (default: PRC Criminal Law Art. 214, sales >= RMB 50,000) becomes a lead with its margin, a
    readiness checklist and the gaps with the action that fills each. Writes `out/leads.parquet`.

    **Example:** `counterwatch leads ./counterwatch-demo --top 5`
    """
    from counterwatch.leads.stage import build_leads
    from counterwatch.store.db import DB_FILE, database_url

    ws = Workspace.at(workspace)
    url = database_url(ws.root, db) if (db or (ws.root / DB_FILE).exists() or os.environ.get("COUNTERWATCH_DB")) else None
    try:
        with _spinner() as progress:
            task = progress.add_task("leads")
            r = build_leads(ws, load_settings(ws.root), url, lambda m: progress.update(task, description=m))
    except CounterwatchError as exc:
        raise _fail(exc) from exc
    import polars as pl

    console.print(f"{r.operators_valued:,} operators with confirmed counterfeit listings valued; {r.leads:,} leads "
                  f"({', '.join(f'{k} {v:,}' for k, v in sorted(r.by_rule.items())) or 'none'}) -> {r.path}",
                  highlight=False)  # fmt: skip
    if top and r.leads:
        df = pl.read_parquet(r.path).head(top)
        t = Table(title="Leads, best first", title_justify="left")
        for col in ("rank", "lead", "stores", "rule met", "sales", "margin", "readiness", "first gap"):
            t.add_column(col, justify="right" if col in ("rank", "stores", "sales", "margin", "readiness") else "left")
        for x in df.iter_rows(named=True):
            t.add_row(str(x["rank"]), x["lead_id"], str(len(x["store_ids"])), x["rule_met"], f"{x['sales_amount']:,}",
                      f"{x['margin']:,}", f"{x['readiness']:.2f}", (x["gaps"] or ["-"])[0][:70])  # fmt: skip
        console.print(t)


@app.command()
def dossier(
    workspace: WorkspaceArg,
    lead_id: Annotated[str, typer.Argument(help="A lead id from out/leads.parquet, e.g. LEAD-OP-S000123.")],
    role: Annotated[str, typer.Option(help="Whose copy: personal data only for [leads].personal_data_roles.")] = "investigator",
    db: DbOption = None,
) -> None:
    """Render a lead's referral dossier: a PDF and a JSON bundle with the same content.

    Summary, valuation table, the rule met with its margin and rule-set version, readiness checklist
    and gaps, the evidence by kind, the store network, ship-from regions and a timeline. Identities
    only for roles allowed to see personal data. Written to `WORKSPACE/out/dossiers/`.

    **Example:** `counterwatch dossier ./counterwatch-demo LEAD-OP-S000123 --role investigator`
    """
    from counterwatch.leads.dossier import dossier_command

    try:
        pdf, js = dossier_command(workspace, lead_id, role, db)
    except CounterwatchError as exc:
        raise _fail(exc) from exc
    console.print(f"{pdf}\n{js}", highlight=False)


@app.command()
def serve(
    workspace: WorkspaceArg,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    db: DbOption = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
) -> None:
    """Start the API (OpenAPI description at /docs and /openapi.json).

    Create accounts first with `counterwatch users add`; clients exchange a password for a token at
    `POST /auth/token` and send `Authorization: Bearer <token>`.

    **Example:** `counterwatch serve ./counterwatch-demo --port 8000`
    """
    import uvicorn

    from counterwatch.store.db import database_url, open_database

    ws = Workspace.at(workspace)
    url = database_url(ws.root, db)
    try:
        open_database(url).dispose()  # migrate once, before the workers start
    except CounterwatchError as exc:
        raise _fail(exc) from exc
    os.environ["COUNTERWATCH_SERVE_WORKSPACE"] = str(ws.root)
    os.environ["COUNTERWATCH_SERVE_DB"] = url
    console.print(f"counterwatch API on http://{host}:{port}  (docs: http://{host}:{port}/docs)", highlight=False)
    uvicorn.run("counterwatch.api.serve:app", host=host, port=port, workers=workers, log_level="warning", access_log=False,
                factory=False)  # fmt: skip


from counterwatch.cases.cli import case_app, funnel_command

app.add_typer(case_app, name="case")
app.command("funnel")(funnel_command)

users = typer.Typer(help="Accounts of the API: add users and issue tokens.", no_args_is_help=True)
app.add_typer(users, name="users")


@users.command("add")
def users_add(
    workspace: WorkspaceArg,
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="admin, reviewer, investigator, liaison, brand or seller.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    rights_holder: Annotated[str | None, typer.Option(help="For a brand user: its rights holder's name.")] = None,
    seller_id: Annotated[str | None, typer.Option(help="For a seller user: the seller_id of its stores.")] = None,
    token: Annotated[bool, typer.Option("--token", help="Also issue an API token and print it (once).")] = False,
    db: DbOption = None,
) -> None:
    """Create an API account (the password is hashed with argon2; it is never stored).

    **Example:** `printf '%s' "$PW" | counterwatch users add ./counterwatch-demo alice --role reviewer --password-stdin`
    """
    from counterwatch.api.auth import add_user, issue_token
    from counterwatch.store.db import database_url, open_database

    password = sys.stdin.read().rstrip("\n") if password_stdin else None
    if password_stdin and len(password or "") < 8:
        raise _fail(CounterwatchError("the password must have at least 8 characters"))
    try:
        database = open_database(database_url(Workspace.at(workspace).root, db))
        with database.session() as s:
            user = add_user(s, username, role, password, rights_holder=rights_holder, seller_id=seller_id)
            issued = issue_token(s, user, "cli") if token else None
    except CounterwatchError as exc:
        raise _fail(exc) from exc
    console.print(f"user {username} ({role}) created", highlight=False)
    if issued:
        console.print(issued, highlight=False)


@users.command("token")
def users_token(
    workspace: WorkspaceArg,
    username: Annotated[str, typer.Argument(help="Login name.")],
    db: DbOption = None,
) -> None:
    """Issue a new API token for a user and print it (it is shown once; only its hash is kept).

    **Example:** `counterwatch users token ./counterwatch-demo alice`
    """
    from sqlalchemy import select

    from counterwatch.api.auth import issue_token
    from counterwatch.store.db import database_url, open_database
    from counterwatch.store.models import User

    try:
        database = open_database(database_url(Workspace.at(workspace).root, db))
        with database.session() as s:
            user = s.execute(select(User).where(User.username == username)).scalar()
            if user is None:
                raise CounterwatchError(f"no user {username!r}: create it with `counterwatch users add`")
            issued = issue_token(s, user, "cli")
    except CounterwatchError as exc:
        raise _fail(exc) from exc
    console.print(issued, highlight=False)


@app.command()
def operator(
    workspace: WorkspaceArg,
    operator_id: Annotated[str, typer.Argument(help="An operator id from out/operators.parquet, e.g. OP-S000123.")],
) -> None:
    """Show one operator: its stores, the evidence graph that ties them, and its listings' scores.

    **Example:** `counterwatch operator ./counterwatch-demo OP-S000123`
    """
    from counterwatch.link.report import operator_report

    try:
        console.print(operator_report(Workspace.at(workspace), operator_id), highlight=False)
    except CounterwatchError as exc:
        raise _fail(exc) from exc


@app.command()
def train(workspace: WorkspaceArg) -> None:
    """Fit the risk model on the workspace's `labels`, save it in `models/`, and rescore.

    Features come from the last scan (run first if needed). The model card
    (`models/detect-model.json`) records its version, features and cross-validated metrics.

    **Example:** `counterwatch train ./counterwatch-demo`
    """
    try:
        _train_and_report(Workspace.at(workspace))
    except CounterwatchError as exc:
        raise _fail(exc) from exc


def _train_and_report(ws: Workspace) -> None:
    from counterwatch.detect.train import train as run_train

    with _spinner() as progress:
        task = progress.add_task("training")
        card, result = run_train(ws, None, lambda m: progress.update(task, description=m))
    m = card["metrics"]
    console.print(
        f"Model {card['version']} trained on {m['labels']:,} labels ({m['counterfeit']:,} counterfeit); "
        f"cross-validated ROC AUC {m.get('cv_roc_auc', float('nan')):.4f}, "
        f"average precision {m.get('cv_average_precision', float('nan')):.4f}",
        highlight=False,
    )
    console.print(_bands_table("Rescored", result.bands))


@app.command()
def evaluate(
    workspace: WorkspaceArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Compare the scores with the ground truth in `truth/` (generated workspaces have it).

    Precision, recall and F1 of `block` and of `block`+`review`, ROC AUC, average precision,
    recall per counterfeit tactic and false-positive rate per hard-negative kind; after `link`,
    pairwise and B-cubed precision, recall and F1 of the operators and the legitimate stores
    wrongly merged; after `leads`, the share of operators truly above the sales threshold with a lead
    and the share of leads truly below it. Also written to `out/evaluation.json`.

    **Example:** `counterwatch evaluate ./counterwatch-demo`
    """
    import json

    from counterwatch.contract.writer import write_json
    from counterwatch.detect.evaluate import evaluate as run_evaluate

    ws = Workspace.at(workspace)
    try:
        ev = run_evaluate(ws)
    except CounterwatchError as exc:
        raise _fail(exc) from exc
    from counterwatch.link.evaluate import evaluate_link

    linked = evaluate_link(ws)
    from counterwatch.leads.evaluate import evaluate_leads

    try:
        leads_ev = evaluate_leads(ws, load_settings(ws.root))
    except CounterwatchError as exc:
        raise _fail(exc) from exc
    write_json(ev.to_json() | {"link": linked, "leads": leads_ev}, ws.out / "evaluation.json")
    if as_json:
        console.print_json(json.dumps(ev.to_json() | {"link": linked, "leads": leads_ev}, default=str))
        return
    t = Table(title=f"Detection against truth/ ({ev.listings:,} listings, {ev.counterfeit:,} counterfeit)",
              title_justify="left")  # fmt: skip
    t.add_column("figure")
    t.add_column("all listings", justify="right")
    t.add_column("unlabelled only", justify="right")
    for key, value in ev.overall.items():
        fmt = "{:,}" if "flagged" in key else "{:.4f}"
        t.add_row(key, fmt.format(value), fmt.format(ev.unlabelled.get(key, float("nan"))))
    console.print(t)
    console.print(_rates_table("Recall per counterfeit tactic", "tactic", ev.by_tactic, "recall"))
    console.print(_rates_table("False-positive rate per kind of genuine listing", "kind", ev.by_hard_negative, "fpr"))
    if linked is not None:
        _print_link_evaluation(linked)
    if leads_ev is not None:
        cov = "n/a" if leads_ev["coverage"] is None else f"{leads_ev['coverage']:.1%}"
        below = "n/a" if leads_ev["share_truly_below"] is None else f"{leads_ev['share_truly_below']:.1%}"
        console.print(f"Leads against truth/operators.csv (threshold {leads_ev['threshold']:,.0f}, {leads_ev['rule_set']}): "
                      f"{leads_ev['with_a_lead']} of {leads_ev['operators_truly_above']} operators truly above it have a "
                      f"lead ({cov}); {leads_ev['leads_truly_below']} of {leads_ev['leads']} leads are truly below it "
                      f"({below})", highlight=False)  # fmt: skip


def _print_link_evaluation(m: dict) -> None:  # type: ignore[type-arg]
    t = Table(title=f"Operators against truth/stores.csv ({m['stores']:,} stores, {m['true_operators']:,} true "
                    f"operators, {m['predicted_operators']:,} found)", title_justify="left")  # fmt: skip
    for col in ("", "precision", "recall", "F1"):
        t.add_column(col, justify="left" if not col else "right")
    for name in ("pairwise", "bcubed"):
        v = m[name]
        t.add_row(name, f"{v['precision']:.4f}", f"{v['recall']:.4f}", f"{v['f1']:.4f}")
    console.print(t)
    merged = m.get("legit_single_store_operators_merged")
    if merged is not None:
        console.print(f"legitimate single-store operators merged: {merged['pairs']:,} pairs in "
                      f"{merged['operators']:,} operators ({merged['with_a_decoy']:,} touching a decoy)",
                      highlight=False)  # fmt: skip


def _rates_table(title: str, first: str, rows: dict[str, dict[str, float]], rate: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col in (first, "listings", "block", "block+review"):
        t.add_column(col, justify="left" if col == first else "right")
    for name, v in rows.items():
        t.add_row(name, f"{v['listings']:,}", f"{v[f'{rate} block']:.4f}", f"{v[f'{rate} block+review']:.4f}")
    return t


def main() -> None:
    """Entry point of the ``counterwatch`` console script."""
    try:
        app()
    except CounterwatchError as exc:  # a stage raised outside a command's own handler
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug, not bad input: exit 3 so that 1 keeps meaning "rows were quarantined"
        if os.environ.get("COUNTERWATCH_DEBUG"):
            traceback.print_exc()
        first = (str(exc).splitlines() or [""])[0][:200]
        err.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {first} (a bug in counterwatch; "
            "set COUNTERWATCH_DEBUG=1 for the traceback)",
            highlight=False,
            soft_wrap=True,
            markup=True,
        )
        sys.exit(3)
