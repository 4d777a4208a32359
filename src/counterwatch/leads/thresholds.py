"""Statutory thresholds as versioned configuration, and which rule an operator's figures meet.

The rule sets live in ``leads/data/thresholds.toml`` (the default China set, Criminal Law Art. 213
and 214); a workspace adds or overrides rule sets in ``[[leads.rule_set]]`` of its
``counterwatch.toml`` (or a file named by ``leads.thresholds_file``). A rule set is in force from
its date; on a given date the newest one in force for a jurisdiction applies, and a lead records
its version.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from counterwatch.errors import ConfigError

DEFAULT_FILE = Path(__file__).with_name("data") / "thresholds.toml"
Metric = Literal["sales", "unsold", "sales_plus_unsold", "business_volume", "gains"]
SEVERITY_RANK = {"serious": 1, "especially_serious": 2}


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    article: str
    offence: str
    severity: Literal["serious", "especially_serious"] = "serious"
    metric: Metric
    at_least: Decimal = Field(gt=0)
    min_brands: int = Field(1, ge=1)
    #: the rule applies only while sales stay below this (Art. 214: sales below 50,000 with unsold goods)
    max_sales: Decimal | None = None
    repeat_offender: bool = False
    #: the conduct the rule punishes: ``selling`` is what a marketplace sees; ``manufacturing`` (using
    #: the mark on goods, Art. 213) must be evidenced separately (a raid, a test buy from the maker)
    conduct: Literal["selling", "manufacturing"] = "selling"


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jurisdiction: str = Field(min_length=2)
    name: str
    version: str = Field(min_length=1)
    in_force_from: dt.date
    currency: str = Field(min_length=3, max_length=3)
    repeat_window_days: int = Field(730, ge=1)
    rule: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> RuleSet:
        ids = [r.id for r in self.rule]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"rule set {self.version}: duplicate rule ids {', '.join(dupes)}")
        return self


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_set: list[RuleSet]

    def in_force(self, jurisdiction: str, on: dt.date) -> RuleSet | None:
        """The newest rule set of ``jurisdiction`` in force on ``on``."""
        sets = [r for r in self.rule_set if r.jurisdiction == jurisdiction and r.in_force_from <= on]
        return max(sets, key=lambda r: r.in_force_from) if sets else None

    @property
    def jurisdictions(self) -> list[str]:
        return sorted({r.jurisdiction for r in self.rule_set})


def load_thresholds(extra: list[dict] | None = None, path: Path | None = None) -> Thresholds:  # type: ignore[type-arg]
    """The default rule sets, plus those of ``path`` and ``extra`` (a rule set with the same
    jurisdiction and version as a default one replaces it)."""
    data = tomllib.loads(DEFAULT_FILE.read_text(encoding="utf-8"))["rule_set"]
    where = str(DEFAULT_FILE)
    if path is not None:
        try:
            data += tomllib.loads(path.read_text(encoding="utf-8")).get("rule_set", [])
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read thresholds ({exc})") from exc
        where = str(path)
    data += list(extra or [])
    merged: dict[tuple[str, str], dict] = {}  # type: ignore[type-arg]
    for rs in data:
        merged[(rs.get("jurisdiction"), rs.get("version"))] = rs  # type: ignore[index]
    try:
        return Thresholds.model_validate({"rule_set": list(merged.values())})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False))
        raise ConfigError(f"statutory thresholds ({where} or [leads.rule_set]): {problems}") from exc


@dataclass(frozen=True)
class Figures:
    """An operator's figures in the rule set's currency."""

    sales: Decimal
    unsold: Decimal
    brands: int
    repeat_offender: bool = False
    gains: Decimal | None = None  # illegal gains: unknown without cost data
    manufacturing: bool = False  # manufacture of the goods is evidenced

    def metric(self, name: str) -> Decimal | None:
        if name == "sales":
            return self.sales
        if name == "unsold":
            return self.unsold
        if name in ("sales_plus_unsold", "business_volume"):
            return self.sales + self.unsold
        return self.gains


@dataclass(frozen=True)
class Outcome:
    rule: Rule
    value: Decimal
    margin: Decimal  # value - at_least (negative: short by that much)

    @property
    def met(self) -> bool:
        return self.margin >= 0

    @property
    def margin_ratio(self) -> float:
        return float(self.margin / self.rule.at_least)


def assess(figures: Figures, rule_set: RuleSet) -> list[Outcome]:
    """Every applicable rule with its margin, the met ones first (most severe, then widest margin).
    Rules whose metric is unknown (illegal gains without cost data) are left out."""
    out = []
    for rule in rule_set.rule:
        if rule.repeat_offender and not figures.repeat_offender:
            continue
        if rule.conduct == "manufacturing" and not figures.manufacturing:
            continue
        if figures.brands < rule.min_brands:
            continue
        if rule.max_sales is not None and figures.sales >= rule.max_sales:
            continue
        value = figures.metric(rule.metric)
        if value is None:
            continue
        out.append(Outcome(rule, value, value - rule.at_least))
    return sorted(out, key=lambda o: (not o.met, -SEVERITY_RANK[o.rule.severity] if o.met else 0, -o.margin_ratio))
