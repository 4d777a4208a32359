"""The funnel on a simulated year of outcomes: ~2,000 synthetic leads, acceptance and conviction
probabilities that rise with readiness. The funnel's rates per readiness band reproduce the
simulated probabilities within three standard errors, its counts equal the simulation's truth, and
the rank model finds the elements that readiness weighs most (threshold, confirmation) positive.
The simulation runs once per database (SQLite, PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from typer.testing import CliRunner

from counterwatch.cases.funnel import BANDS, band, funnel, rank_model, score_leads
from counterwatch.store.db import Database, open_database
from counterwatch.synth.outcomes import insert_synthetic_leads, simulate_outcomes

N_LEADS = 2_000
SEED = 7
START = dt.date(2023, 1, 1)


def p_accept(readiness: float) -> float:
    return 0.05 + 0.9 * readiness


def p_convict(readiness: float) -> float:
    return 0.2 + 0.7 * readiness


def _within(observed: int, ps: list[float], k: float = 3.0) -> tuple[bool, str]:
    n = len(ps)
    expected = sum(ps)
    se = math.sqrt(sum(p * (1 - p) for p in ps))
    return abs(observed - expected) <= k * se, f"observed {observed / n:.4f}, expected {expected / n:.4f} ± {se / n:.4f} (n={n})"


def _every_lead_is_referred_and_decided(db: Database, truth: list[dict[str, Any]]) -> None:
    assert len(truth) == N_LEADS and all(t["final"] in ("convicted", "acquitted", "dropped") for t in truth)
    with db.session() as s:
        f = funnel(s)
    sm = f["summary"]
    assert f["leads"] == N_LEADS and f["leads_open"] == 0 and sm["referred"] == N_LEADS and sm["open"] == 0
    assert sm["accepted"] == sum(t["accepted"] for t in truth)
    assert sm["convicted"] == sum(t["convicted"] for t in truth)
    assert sm["dropped"] == N_LEADS - sm["accepted"]
    # the strict chain: every accepted case went through each stage
    reached = {st["stage"]: st["reached"] for st in f["stages"]}
    assert reached["accepted"] == reached["investigating"] == reached["raided"] == reached["prosecuted"]
    assert f["dropped_at"] == {"referred": sm["dropped"]}
    # times in stage fall inside the simulated delays; outcomes within the year plus the chain
    days = {st["stage"]: st["median_days"] for st in f["stages"]}
    assert 2 <= days["accepted"] <= 20 and 14 <= days["investigating"] <= 120 and 30 <= days["raided"] <= 150
    assert 60 <= days["prosecuted"] <= 240
    assert f["figures"]["arrests"] > sm["accepted"] and f["figures"]["median_sentence_months"] is not None
    assert set(f["by_agency"]) and sum(r["referred"] for r in f["by_region"].values()) == N_LEADS
    assert sum(r["referred"] for r in f["by_rule"].values()) == N_LEADS


def _funnel_reproduces_the_simulated_probabilities_per_band(db: Database, truth: list[dict[str, Any]]) -> None:
    with db.session() as s:
        by_band = funnel(s)["by_readiness"]
    problems = []
    for label, _lo, _hi in BANDS:
        rows = [t for t in truth if band(t["readiness"]) == label]
        assert len(rows) >= 150, label  # enough leads in each band for the comparison to mean something
        got = by_band[label]
        ok, why = _within(got["accepted"], [t["p_accept"] for t in rows])
        if not ok:
            problems.append(f"acceptance {label}: {why}")
        accepted = [t for t in rows if t["accepted"]]
        ok, why = _within(got["convicted"], [t["p_convict"] for t in accepted])
        if not ok:
            problems.append(f"conviction {label}: {why}")
        assert got["acceptance_rate"] == round(got["accepted"] / len(rows), 4)
        assert got["conviction_rate"] == round(got["convicted"] / len(accepted), 4)
    assert not problems, problems
    # better-evidenced leads convert more
    rates = [by_band[b[0]]["overall_rate"] for b in BANDS]
    assert rates == sorted(rates)


def _rank_model_weighs_threshold_and_confirmation(db: Database, truth: list[dict[str, Any]]) -> None:
    with db.session() as s:
        model = rank_model(s)
        assert model is not None and model.convict is not None
        coef = model.coefficients()
        for target in ("accept", "convict"):
            assert coef[target]["threshold"] > 0 and coef[target]["confirmation"] > 0, coef
        # the elements readiness weighs most (0.25) count more than those it weighs least (0.10)
        assert min(coef["accept"]["threshold"], coef["accept"]["confirmation"]) > coef["accept"]["links"]
        good = model.score(["threshold: present", "confirmation: present", "trademark: present",
                            "sales_records: present", "identity: present", "links: present"])  # fmt: skip
        poor = model.score(["threshold: weak", "confirmation: missing", "trademark: missing",
                            "sales_records: missing", "identity: missing", "links: weak"])  # fmt: skip
        assert good["p"] > poor["p"] and good["gains"] == []
        assert {g["element"] for g in poor["gains"][:2]} <= {"threshold", "confirmation", "sales_records", "trademark"}
        # every lead is referred, so there is nothing open to rank; referred leads are ranked by p
        assert score_leads(s, model) == []
        ranked = score_leads(s, model, statuses=("referred",), limit=50)
        assert [r["p"] for r in ranked] == sorted((r["p"] for r in ranked), reverse=True)


def _rank_model_waits_for_enough_outcomes(db: Database, truth: list[dict[str, Any]]) -> None:
    with db.session() as s:
        assert rank_model(s, min_decided=N_LEADS + 1) is None  # (fitted with the default 50 above)


def test_simulated_year(db_url: str) -> None:
    """One simulation per database (the checks share it: it is the slow part)."""
    db = open_database(db_url)
    try:
        insert_synthetic_leads(db, N_LEADS, seed=1)
        truth = simulate_outcomes(db, None, SEED, p_accept, p_convict, start_date=START)
        _every_lead_is_referred_and_decided(db, truth)
        _funnel_reproduces_the_simulated_probabilities_per_band(db, truth)
        _rank_model_weighs_threshold_and_confirmation(db, truth)
        _rank_model_waits_for_enough_outcomes(db, truth)
    finally:
        db.dispose()


def test_simulation_is_deterministic_per_seed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    runs = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        db = open_database(f"sqlite:///{tmp_path}/{name}.db")
        insert_synthetic_leads(db, 150, seed=2)
        runs.append(simulate_outcomes(db, None, seed, p_accept, p_convict, start_date=START))
        with db.session() as s:
            runs[-1].append({"funnel": funnel(s)["summary"]})
        db.dispose()
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_funnel_and_case_commands(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import typer

    from counterwatch.cases.cli import case_app, funnel_command

    app = typer.Typer()
    app.add_typer(case_app, name="case")
    app.command("funnel")(funnel_command)
    ws = tmp_path / "ws"
    ws.mkdir()
    db = open_database(f"sqlite:///{ws}/counterwatch.db")
    leads = insert_synthetic_leads(db, 3, seed=4)
    db.dispose()
    run = CliRunner().invoke
    r = run(app, ["case", "refer", str(ws), leads[0], "--agency", "Yiwu PSB", "--region", "CN-ZJ", "--on", "2025-02-01",
                  "--reference", "YW-1"])  # fmt: skip
    assert r.exit_code == 0, r.output
    r = run(app, ["case", "advance", str(ws), "1", "raided", "--on", "2025-02-03"])
    assert r.exit_code == 1 and "raided would skip accepted, investigating" in r.output
    assert "allowed next states are: accepted, dropped" in r.output
    r = run(app, ["case", "advance", str(ws), "1", "accepted", "--on", "2025-02-03", "--arrests", "2"])
    assert r.exit_code == 2 and "arrests does not apply" in r.output
    r = run(app, ["case", "advance", str(ws), "1", "accepted", "--on", "2025-01-03"])
    assert r.exit_code == 1 and "dates cannot go backwards" in r.output
    assert run(app, ["case", "advance", str(ws), "1", "accepted", "--on", "2025-02-05"]).exit_code == 0
    r = run(app, ["case", "advance", str(ws), "1", "investigating", "--on", "2025-02-09", "--arrests", "2",
                  "--as", "nobody"])  # fmt: skip
    assert r.exit_code == 1 and "no active user 'nobody'" in r.output
    r = run(app, ["case", "show", str(ws), "1"])
    assert r.exit_code == 0 and "accepted" in r.output
    assert run(app, ["case", "list", str(ws)]).exit_code == 0
    r = run(app, ["funnel", str(ws), "--json"])
    assert r.exit_code == 0, r.output
    assert '"accepted": 1' in r.output
    r = run(app, ["funnel", str(ws)])
    assert r.exit_code == 0 and "Funnel" in r.output and "not enough decided cases" in r.output
