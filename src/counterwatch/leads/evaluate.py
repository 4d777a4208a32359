"""Leads against the generator's ground truth: do the operators truly above the threshold get a lead,
and do leads go to operators truly below it?

A lead belongs to the true operator running most of its confirmed stores (``truth/stores.csv``).
"Truly above" is ``truth/operators.csv``'s ``counterfeit_sales_cny`` at or above the sales threshold
of the rule set in force (Art. 214: RMB 50,000), converted into the base currency.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from counterwatch.config import Settings
from counterwatch.leads.stage import LEADS, _thresholds
from counterwatch.workspace import Workspace


def evaluate_leads(ws: Workspace, settings: Settings, today: dt.date | None = None) -> dict[str, Any] | None:
    """Coverage and purity of ``out/leads.parquet``; None without truth or leads."""
    ops_truth, stores_truth, leads_path = ws.truth / "operators.csv", ws.truth / "stores.csv", ws.out / LEADS
    if not (ops_truth.is_file() and stores_truth.is_file() and leads_path.is_file()):
        return None
    rule_set = _thresholds(ws, settings).in_force(settings.leads.default_jurisdiction, today or dt.date.today())
    if rule_set is None:
        return None
    threshold = float(min(r.at_least for r in rule_set.rule if r.metric == "sales" and not r.repeat_offender))
    truth = pl.read_csv(ops_truth, schema_overrides={"operator_id": pl.String})
    store_op = pl.read_csv(stores_truth, columns=["store_id", "operator_id"], schema_overrides={"operator_id": pl.String})
    leads = pl.read_parquet(leads_path, columns=["lead_id", "confirmed_store_ids", "sales_amount"])
    owner = (leads.explode("confirmed_store_ids").rename({"confirmed_store_ids": "store_id"})
             .join(store_op, on="store_id", how="left")
             .group_by("lead_id", "operator_id").len()
             .sort(["lead_id", "len"], descending=[False, True]).group_by("lead_id", maintain_order=True).first()
             .select("lead_id", true_operator="operator_id"))  # fmt: skip
    sales = truth.select(true_operator="operator_id", true_sales="counterfeit_sales_cny")
    judged = owner.join(sales, on="true_operator", how="left").with_columns(pl.col("true_sales").fill_null(0.0))
    above = truth.filter(pl.col("counterfeit_sales_cny") >= threshold)["operator_id"]
    found = set(judged["true_operator"].drop_nulls().to_list())
    missed = sorted(set(above.to_list()) - found)
    below = judged.filter(pl.col("true_sales") < threshold)
    return {
        "threshold": threshold,
        "rule_set": rule_set.version,
        "operators_truly_above": above.len(),
        "with_a_lead": above.len() - len(missed),
        "coverage": (above.len() - len(missed)) / above.len() if above.len() else None,
        "missed": missed,
        "leads": leads.height,
        "leads_truly_below": below.height,
        "share_truly_below": below.height / leads.height if leads.height else None,
        "below": below.select("lead_id", "true_operator", "true_sales").to_dicts(),
    }
