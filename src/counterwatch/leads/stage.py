"""The leads stage: each operator's valuation against its jurisdiction's thresholds, as ranked leads.

``counterwatch leads WORKSPACE`` writes ``out/leads.parquet``: one row per operator that meets a rule
of the statutory thresholds in force, with the rule, the margin, the figures and what they stand on,
a readiness checklist and score, and the gaps with the action that would fill each.

Declared stock is not goods on hand: a marketplace's ``stock`` is what the seller typed. Unsold goods
are valued and shown, but rules on unsold goods count them only when ``leads.count_declared_stock``
is on (off by default); otherwise the lead lists "verify the stock" as a gap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from counterwatch.config import Settings
from counterwatch.contract import read_brands, read_table
from counterwatch.contract.reader import find_table_file
from counterwatch.errors import ConfigError
from counterwatch.leads.thresholds import Figures, Thresholds, assess, load_thresholds
from counterwatch.leads.valuation import Valuation, value_operators
from counterwatch.workspace import Workspace, atomic_path

LEADS = "leads.parquet"
#: the readiness elements a prosecutor needs, with their weight in the readiness score
ELEMENTS = {"threshold": 0.25, "confirmation": 0.25, "trademark": 0.15, "sales_records": 0.15,
            "identity": 0.1, "links": 0.1}  # fmt: skip
STATUS_SCORE = {"present": 1.0, "weak": 0.5, "missing": 0.0}
IDENTITY_KINDS = ("id_number", "business_license", "bank_account", "payment_account")


@dataclass
class LeadsResult:
    operators_valued: int
    leads: int
    by_rule: dict[str, int]
    path: Path
    #: what recording the leads in the case database did (None without a database)
    recorded: Any = None


def _thresholds(ws: Workspace, settings: Settings) -> Thresholds:
    cfg = settings.leads
    path = None
    if cfg.thresholds_file:
        path = Path(cfg.thresholds_file)
        if not path.is_absolute():
            path = ws.root / path
    return load_thresholds(cfg.rule_set, path)


def _jurisdictions(ws: Workspace, valuation: Valuation) -> dict[str, str]:
    """Operator -> country its stores are registered in (the most common one)."""
    stores = pl.from_arrow(read_table(ws, "stores", ["store_id", "country"]))
    ops = valuation.listings.select("store_id", "operator_id").unique()
    counted = ops.join(stores, on="store_id").group_by("operator_id", "country").len()  # type: ignore[arg-type]
    best = counted.sort(["operator_id", "len", "country"], descending=[False, True, False]).group_by(
        "operator_id", maintain_order=True).first()  # fmt: skip
    return dict(best.select("operator_id", "country").iter_rows())


def _rate_into_base(ws: Workspace, base: str, currency: str) -> Decimal:
    if currency == base:
        return Decimal(1)
    if find_table_file(ws, "fx_rates", required=False) is not None:
        for cur, rate in pl.from_arrow(read_table(ws, "fx_rates", ["currency", "to_base"])).iter_rows():  # type: ignore[union-attr]
            if cur == currency:
                return Decimal(str(rate))
    raise ConfigError(f"thresholds are stated in {currency} but fx_rates has no rate from {currency} into the "
                      f"base currency {base}: add one, or state the rule set in {base}")  # fmt: skip


def _trademark_status(ws: Workspace, as_of: dt.date) -> dict[str, str]:
    """Brand -> ``present`` (a registered mark valid on ``as_of``), ``weak`` (only expired marks), ``missing``."""
    out = {}
    for b in read_brands(ws):
        if any(t.expires >= as_of for t in b.trademarks):
            out[b.brand_id] = "present"
        else:
            out[b.brand_id] = "weak" if b.trademarks else "missing"
    return out


def _identities(ws: Workspace) -> pl.DataFrame:
    if find_table_file(ws, "store_identifiers", required=False) is None:
        return pl.DataFrame(schema={"store_id": pl.String, "identified": pl.Boolean})
    ids = pl.from_arrow(read_table(ws, "store_identifiers", ["store_id", "kind"]))
    return ids.group_by("store_id").agg(identified=pl.col("kind").is_in(list(IDENTITY_KINDS)).any())  # type: ignore[union-attr]


def _operator_stores(ws: Workspace) -> pl.DataFrame:
    path = ws.out / "operators.parquet"
    if path.exists():
        return pl.read_parquet(path, columns=["store_id", "operator_id", "confidence"])
    return pl.DataFrame(schema={"store_id": pl.String, "operator_id": pl.String, "confidence": pl.Float64})


def build_leads(ws: Workspace, settings: Settings, db_url: str | None = None,
                progress: Callable[[str], None] | None = None, today: dt.date | None = None,
                record: bool = True) -> LeadsResult:  # fmt: skip
    """Value every operator, check it against its thresholds, and write the ranked leads.

    With ``db_url`` the people's decisions in the case database count as confirmations and, unless
    ``record`` is false, the leads are recorded there with their evidence (``leads.record``)."""
    say = progress or (lambda _m: None)
    say("leads: valuing operators")
    v = value_operators(ws, settings, db_url)
    thresholds = _thresholds(ws, settings)
    today = today or dt.date.today()
    country = _jurisdictions(ws, v)
    tm_status = _trademark_status(ws, today)
    identified = dict(_identities(ws).iter_rows())
    op_stores = _operator_stores(ws)
    stores_of = {op: sorted(g["store_id"].to_list()) for (op,), g in op_stores.group_by("operator_id")}
    confidence = {op: float(g["confidence"].min()) for (op,), g in op_stores.group_by("operator_id")}
    unconfirmed = {r["operator_id"]: r for r in v.unconfirmed.iter_rows(named=True)}
    quarantined = {r["operator_id"]: r for r in v.quarantined.iter_rows(named=True)}
    bases = {op: dict(g.group_by("basis").len().iter_rows()) for (op,), g in v.listings.group_by("operator_id")}
    say(f"leads: {v.operators.height:,} operators with confirmed listings against the thresholds")
    rows: list[dict[str, Any]] = []
    rate_cache: dict[str, Decimal] = {}
    for op in v.operators.iter_rows(named=True):
        oid = op["operator_id"]
        juris = country.get(oid) or settings.leads.default_jurisdiction
        rule_set = thresholds.in_force(juris, today)
        if rule_set is None:
            juris = settings.leads.default_jurisdiction
            rule_set = thresholds.in_force(juris, today)
        if rule_set is None:
            raise ConfigError(f"no statutory thresholds in force for {juris} on {today}: add a rule set")
        rate = rate_cache.setdefault(rule_set.currency, _rate_into_base(ws, v.base_currency, rule_set.currency))
        sales, unsold = Decimal(op["sales_amount"]), Decimal(op["unsold_value"])
        counted_unsold = unsold if settings.leads.count_declared_stock else Decimal(0)
        # the figures in the rule set's currency
        figures = Figures(sales / rate, counted_unsold / rate, int(op["brands"]))
        outcomes = assess(figures, rule_set)
        met = [o for o in outcomes if o.met]
        if not met:
            continue
        best = met[0]
        checklist, gaps = _readiness(op, best.margin_ratio, bases.get(oid, {}), tm_status, identified,
                                     stores_of.get(oid, [oid]), confidence.get(oid, 1.0), unconfirmed.get(oid),
                                     quarantined.get(oid), unsold, settings, v.listings.filter(pl.col("operator_id") == oid))  # fmt: skip
        readiness = round(sum(ELEMENTS[k] * STATUS_SCORE[s] for k, s in checklist.items()), 3)
        rows.append({
            "lead_id": f"LEAD-{oid}",
            "operator_id": oid,
            "store_ids": stores_of.get(oid, [oid]),
            "confirmed_store_ids": sorted(op["confirmed_store_ids"]),
            "jurisdiction": juris,
            "rule_set_version": rule_set.version,
            "sales_amount": sales,
            "unsold_value": unsold,
            "unsold_counted": settings.leads.count_declared_stock,
            "currency": v.base_currency,
            "rule_met": best.rule.id,
            "rule_article": best.rule.article,
            "rule_offence": best.rule.offence,
            "severity": best.rule.severity,
            "threshold": best.rule.at_least * rate,
            "margin": (best.margin * rate).quantize(Decimal("0.01")),
            "margin_ratio": round(best.margin_ratio, 4),
            "rules_met": [o.rule.id for o in met],
            "brands": int(op["brands"]),
            "brand_ids": sorted(op["brand_ids"] or []),
            "listings_confirmed": int(op["listings_confirmed"]),
            "automated_only": int(op["listings_automated_only"]) == int(op["listings_confirmed"]),
            "orders": int(op["orders"]),
            "period_start": op["period_start"],
            "period_end": op["period_end"],
            "readiness": readiness,
            "checklist": [f"{k}: {s}" for k, s in checklist.items()],
            "gaps": gaps,
        })  # fmt: skip
    leads = _ranked(rows)
    with atomic_path(ws.out / LEADS) as tmp:
        leads.write_parquet(tmp)
    by_rule = dict(leads.group_by("rule_met").len().iter_rows()) if leads.height else {}
    say(f"leads: {leads.height:,} leads")
    recorded = None
    if db_url and record:
        from counterwatch.leads.record import record_leads
        from counterwatch.store.db import open_database

        db = open_database(db_url)
        try:
            recorded = record_leads(ws, settings, db, progress, valuation=v)
        finally:
            db.dispose()
    return LeadsResult(v.operators.height, leads.height, by_rule, ws.out / LEADS, recorded)


def _readiness(op: dict[str, Any], margin_ratio: float, bases: dict[str, int], tm_status: dict[str, str],
               identified: dict[str, bool], stores: list[str], confidence: float, unconfirmed: dict[str, Any] | None,
               quarantined: dict[str, Any] | None, unsold: Decimal, settings: Settings,
               listings: pl.DataFrame) -> tuple[dict[str, str], list[str]]:  # fmt: skip
    """The prosecutor's checklist, each element present, weak or missing, and the actions that fill gaps."""
    gaps: list[str] = []
    checklist: dict[str, str] = {}
    checklist["threshold"] = "present" if margin_ratio >= 0.2 else "weak"
    if margin_ratio < 0.2:
        gaps.append(f"the threshold is met by only {margin_ratio:.0%}: confirm more of the operator's listings")
    people = sum(n for b, n in bases.items() if b != "block")
    strong = bases.get("test_buy", 0) + bases.get("notice_upheld", 0)
    checklist["confirmation"] = "present" if strong else "weak" if people else "missing"
    if not strong:
        top = (listings.filter(pl.col("basis") == "block").sort(["sales", "listing_id"], descending=[True, False])
               .head(3)["listing_id"].to_list())  # fmt: skip
        gaps.append("counterfeit status rests on " + ("reviewers" if people else "automated detection only")
                    + "; test-buy " + ", ".join(f"listing {x}" for x in top) + " or ask the right holder to authenticate")
    marks = [tm_status.get(b, "missing") for b in op["brand_ids"] or []]
    checklist["trademark"] = ("present" if marks and all(m == "present" for m in marks)
                              else "weak" if any(m == "present" for m in marks) else "missing")  # fmt: skip
    if checklist["trademark"] != "present":
        gaps.append("a trademark relied on is unregistered or expired here: ask the right holder for a valid registration")
    checklist["sales_records"] = "present" if op["orders"] else "missing"
    if quarantined:
        checklist["sales_records"] = "weak"
        gaps.append(f"{quarantined['orders']} orders of confirmed listings failed validation "
                    f"({'; '.join(sorted(quarantined['reasons']))[:200]}): correct them in the export to count them")  # fmt: skip
    if unconfirmed:
        gaps.append(f"{unconfirmed['orders']} orders worth {unconfirmed['amount']} on flagged but unconfirmed listings "
                    f"({', '.join(sorted(unconfirmed['listing_ids'])[:3])}): review them to count them")  # fmt: skip
    if unsold > 0 and not settings.leads.count_declared_stock:
        gaps.append(f"declared stock worth {unsold} is not counted: verify the goods on hand (a raid or inventory) to count it")
    ided = [identified.get(s, False) for s in stores]
    checklist["identity"] = "present" if ided and all(ided) else "weak" if any(ided) else "missing"
    if checklist["identity"] != "present":
        missing = [s for s, ok in zip(stores, ided, strict=True) if not ok][:3]
        gaps.append("no identity document or account for store " + ", ".join(missing) + ": request the seller's KYC records")
    checklist["links"] = "present" if len(stores) == 1 or confidence >= 0.8 else "weak"
    if checklist["links"] == "weak":
        gaps.append(f"the weakest link between the operator's stores has confidence {confidence:.2f}: corroborate it")
    return checklist, gaps


def _ranked(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = {
        "lead_id": pl.String, "operator_id": pl.String, "store_ids": pl.List(pl.String),
        "confirmed_store_ids": pl.List(pl.String), "jurisdiction": pl.String, "rule_set_version": pl.String,
        "sales_amount": pl.Decimal(18, 2), "unsold_value": pl.Decimal(18, 2), "unsold_counted": pl.Boolean,
        "currency": pl.String, "rule_met": pl.String, "rule_article": pl.String, "rule_offence": pl.String,
        "severity": pl.String, "threshold": pl.Decimal(18, 2), "margin": pl.Decimal(18, 2), "margin_ratio": pl.Float64,
        "rules_met": pl.List(pl.String), "brands": pl.Int64, "brand_ids": pl.List(pl.String),
        "listings_confirmed": pl.Int64, "automated_only": pl.Boolean, "orders": pl.Int64,
        "period_start": pl.Datetime("us", "UTC"), "period_end": pl.Datetime("us", "UTC"), "readiness": pl.Float64,
        "checklist": pl.List(pl.String), "gaps": pl.List(pl.String),
    }  # fmt: skip
    df = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    # the most serious and best-evidenced first; the sales amount breaks ties
    df = df.with_columns(_sev=(pl.col("severity") == "especially_serious").cast(pl.Int8)).sort(
        ["_sev", "readiness", "sales_amount"], descending=True).drop("_sev")  # fmt: skip
    return df.with_columns(rank=pl.int_range(1, df.height + 1, dtype=pl.Int64))
