"""The stages of ``counterwatch run``, in order. A stage reads what earlier stages wrote and
writes its own outputs under ``WORKSPACE/out/`` atomically, so a stopped run can be run again.

Adding a stage is one function and one line in ``STAGES``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from counterwatch.config import Settings
from counterwatch.contract import validate_workspace
from counterwatch.workspace import Workspace


@dataclass
class StageResult:
    stage: str
    summary: str  # one line for the person running it
    outputs: list[str] = field(default_factory=list)  # paths relative to the workspace
    seconds: float = 0.0
    details: object = None


@dataclass(frozen=True)
class Stage:
    name: str
    help: str
    run: Callable[[Workspace, Settings, Callable[[str], None]], StageResult]


def run_validate(ws: Workspace, settings: Settings, progress: Callable[[str], None]) -> StageResult:
    report = validate_workspace(ws, settings, progress)
    valid = sum(t.rows_valid for t in report.tables.values())
    summary = f"{valid:,} valid rows"
    if report.rows_quarantined:
        summary += f", {report.rows_quarantined:,} quarantined (see quarantine/)"
    return StageResult("validate", summary, ["out/tables/", "out/validation.json"], details=report)


def run_link(ws: Workspace, settings: Settings, progress: Callable[[str], None]) -> StageResult:
    from counterwatch.link.stage import link

    r = link(ws, settings, progress)
    summary = f"{r.stores:,} stores -> {r.operators:,} operators ({r.multi_store_operators:,} with several stores)"
    return StageResult("link", summary, ["out/operators.parquet", "out/operator_links.parquet"], details=r)


def run_scan(ws: Workspace, settings: Settings, progress: Callable[[str], None]) -> StageResult:
    from counterwatch.detect.scan import scan

    result = scan(ws, settings, progress)
    b = result.bands
    summary = f"{result.listings:,} listings: {b['block']:,} block, {b['review']:,} review, {b['allow']:,} allow"
    return StageResult("scan", summary + f" (model {result.model})", ["out/scores.parquet"], details=result)


def run_enforce(ws: Workspace, settings: Settings, progress: Callable[[str], None]) -> StageResult:
    from counterwatch.enforce.stage import enforce
    from counterwatch.store.db import database_url, open_database

    db = open_database(database_url(ws.root))
    try:
        r = enforce(ws, settings, db, progress)
    finally:
        db.dispose()
    summary = (f"{r.takedowns:,} taken down, {r.review_items:,} queued for review, {r.notices_filed:,} notices filed "
               f"({r.notices_rejected:,} rejected), {sum(r.store_actions.get(k, 0) for k in ('warn', 'suspend_store', 'close_store')):,} store actions")  # fmt: skip
    return StageResult("enforce", summary, ["counterwatch.db"], details=r)


def run_leads(ws: Workspace, settings: Settings, progress: Callable[[str], None]) -> StageResult:
    import os

    from counterwatch.contract.reader import find_table_file
    from counterwatch.leads.stage import build_leads
    from counterwatch.store.db import DB_ENV, DB_FILE, database_url

    if find_table_file(ws, "orders", required=False) is None:
        return StageResult("leads", "no orders table: no sales to value, no leads")
    # the case database when there is one (enforce made it, or $COUNTERWATCH_DB names it); none is made here
    url = database_url(ws.root) if os.environ.get(DB_ENV) or (ws.root / DB_FILE).exists() else None
    r = build_leads(ws, settings, url, progress)
    return StageResult("leads", f"{r.operators_valued:,} operators valued, {r.leads:,} leads", ["out/leads.parquet"],
                       details=r)  # fmt: skip


STAGES: list[Stage] = [
    Stage("validate", "check every input table; valid rows to out/tables/, bad rows to quarantine/", run_validate),
    Stage("link", "find the operators behind the stores from the identifiers they share", run_link),
    Stage("scan", "score every listing for counterfeit risk with reasons", run_scan),
    Stage("enforce", "take the block band down, queue the review band, file notices, apply the penalty policy",
          run_enforce),
    Stage("leads", "value operators' counterfeit sales against statutory thresholds; rank the leads", run_leads),
]


def run_pipeline(
    ws: Workspace,
    settings: Settings,
    progress: Callable[[str], None] | None = None,
    on_stage: Callable[[Stage], None] | None = None,
) -> list[StageResult]:
    """Run every stage in order; each result carries its wall time."""
    results = []
    for stage in STAGES:
        if on_stage:
            on_stage(stage)
        start = time.perf_counter()
        result = stage.run(ws, settings, progress or (lambda _msg: None))
        result.seconds = time.perf_counter() - start
        results.append(result)
    return results
