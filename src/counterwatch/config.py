"""``counterwatch.toml`` → typed settings. Every setting has a default that works.

Later stages add their sections here (score bands, penalty policy, statutory
thresholds); each is a pydantic model so a bad value is reported with its key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import pycountry
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from counterwatch.errors import ConfigError

CONFIG_FILE = "counterwatch.toml"


class WorkspaceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_currency: str = "CNY"

    @field_validator("base_currency")
    @classmethod
    def _iso_4217(cls, value: str) -> str:
        code = value.strip().upper()
        if pycountry.currencies.get(alpha_3=code) is None:
            raise ValueError(f"'{value}' is not an ISO 4217 currency code")
        return code


class DetectSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    block_at: float = Field(0.9, ge=0, le=1)
    review_at: float = Field(0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> DetectSettings:
        if self.review_at > self.block_at:
            raise ValueError(f"review_at ({self.review_at}) must not exceed block_at ({self.block_at})")
        return self


#: Bits of evidence an identifier kind gives a pair of stores when the two are the only ones
#: sharing the value (tuned on the generator; docs/linking.md). Each further store sharing the same
#: value takes log2 of the sharers away: a warehouse shared by 300 stores says nothing.
DEFAULT_LINK_WEIGHTS: dict[str, float] = {
    "id_number": 14.0, "business_license": 13.0, "bank_account": 13.0, "payment_account": 12.0, "email": 12.0,
    "phone": 12.0, "device_id": 11.0, "address": 10.0, "return_address": 9.0, "warehouse": 6.0, "ip": 9.0,
    "contact_name": 3.0, "photo": 7.0,
}  # fmt: skip


class LinkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: per identifier kind (and "photo"): bits for a value shared by exactly two stores
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_LINK_WEIGHTS))
    #: bits a pair of stores needs to be linked (the sum over everything they share)
    threshold: float = Field(9.0, gt=0)
    #: a shared value counts only while it still gives at least this many bits (this also bounds the
    #: pairs a popular value would generate)
    min_value_bits: float = Field(1.0, ge=0)
    #: a value shared by 3+ stores keeps its full bits only when at least this share of the pairs
    #: sharing it also share a value of another family (decoys share nothing else)
    cohesion_full: float = Field(0.5, gt=0, le=1)
    #: values shared by fewer stores keep their bits whatever their cohesion (too few pairs to judge;
    #: a chain operator's value passed along three stores shares nothing else)
    cohesion_min_stores: int = Field(5, ge=3)
    #: an operator larger than this is split by raising the threshold inside it until it is not: the
    #: guard against a chain of weak links gluing strangers together
    max_operator_stores: int = Field(500, ge=2)
    #: photos of two stores' listings within this Hamming distance (of 64 bits) are the same photo
    photo_distance: int = Field(2, ge=0, le=12)

    @field_validator("weights")
    @classmethod
    def _families(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(DEFAULT_LINK_WEIGHTS))
        if unknown:
            raise ValueError(f"unknown identifier kind{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                             f"use {', '.join(DEFAULT_LINK_WEIGHTS)}")  # fmt: skip
        return {**DEFAULT_LINK_WEIGHTS, **value}


class Violation(BaseModel):
    """A kind of violation: the points it adds to a store and for how long they count."""

    model_config = ConfigDict(extra="forbid")

    points: int = Field(ge=0)
    counts_for_days: int = Field(365, ge=1)


class PenaltyStep(BaseModel):
    """What happens to a store whose active points reach ``at_points``."""

    model_config = ConfigDict(extra="forbid")

    at_points: int = Field(ge=1)
    action: Literal["warn", "suspend", "close"]
    #: for ``suspend``: how long the store stays suspended
    suspend_days: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _days(self) -> PenaltyStep:
        if self.action == "suspend" and self.suspend_days is None:
            raise ValueError(f"the suspend step at {self.at_points} points needs suspend_days")
        return self


def _default_violations() -> dict[str, Violation]:
    return {
        "counterfeit": Violation(points=12, counts_for_days=365),
        "trademark_misuse": Violation(points=4, counts_for_days=180),
        "misleading_listing": Violation(points=2, counts_for_days=90),
    }


def _default_steps() -> list[PenaltyStep]:
    return [
        PenaltyStep(at_points=12, action="warn"),
        PenaltyStep(at_points=24, action="suspend", suspend_days=14),
        PenaltyStep(at_points=36, action="close"),
    ]


class PenaltyPolicy(BaseModel):
    """The penalty policy: versioned, so every ledger entry says under which rules it was counted."""

    model_config = ConfigDict(extra="forbid")

    version: str = "default-2026-11"
    #: the take-down reason codes and what each counts (a reason code without points is refused)
    violations: dict[str, Violation] = Field(default_factory=_default_violations)
    #: violations of one store within this many days of the first count once (the heaviest of them),
    #: so a burst found in one sweep is one violation, not many
    group_window_days: float = Field(3.0, ge=0)
    steps: list[PenaltyStep] = Field(default_factory=_default_steps)
    #: a store is warned at least once before it is suspended or closed
    warn_before_suspend: bool = True
    #: automated takedowns (detection's block band) add points too; off means only a person's
    #: decision does
    automated_takedowns_count: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> PenaltyPolicy:
        levels = [s.at_points for s in self.steps]
        if levels != sorted(set(levels)):
            raise ValueError(f"steps must have strictly increasing at_points, got {levels}")
        return self


class ReputationSettings(BaseModel):
    """Notifier reputation over a rolling window (the good-faith tier, warnings, suspension)."""

    model_config = ConfigDict(extra="forbid")

    window_days: int = Field(90, ge=1)
    #: decided notices a rights holder needs in the window before its rates are judged
    min_decided: int = Field(20, ge=1)
    good_faith_takedown_rate: float = Field(0.90, ge=0, le=1)
    good_faith_max_counter_rate: float = Field(0.05, ge=0, le=1)
    #: good-faith notices are taken down without waiting for a reviewer (still appealable)
    good_faith_auto_approve: bool = False
    #: unfounded notices (rejected, dismissed, or reversed on appeal) in the window that earn a
    #: warning, and then a suspension, when they are also at least ``abuse_share`` of the decided ones
    warn_after_unfounded: int = Field(10, ge=1)
    suspend_after_unfounded: int = Field(20, ge=1)
    abuse_share: float = Field(0.5, ge=0, le=1)
    suspend_days: int = Field(30, ge=1)


class EnforceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: days a seller has to appeal a restriction (DSA Art. 20: at least six months)
    appeal_window_days: int = Field(183, ge=1)
    #: the block band is taken down without a person (automated detection and decision)
    auto_takedown: bool = True
    policy: PenaltyPolicy = PenaltyPolicy()
    reputation: ReputationSettings = ReputationSettings()


class LeadsSettings(BaseModel):
    """What counts as confirmed counterfeit, and which statutory thresholds apply."""

    model_config = ConfigDict(extra="forbid")

    #: confirmations counted: ``test_buy``, ``review`` (a person's takedown), ``notice_upheld``,
    #: ``block`` (detection's block band at or above ``block_min_risk``; marked automated)
    confirmed_by: list[Literal["test_buy", "review", "notice_upheld", "block"]] = Field(
        default_factory=lambda: ["test_buy", "review", "notice_upheld", "block"], min_length=1)  # fmt: skip
    #: the ``block`` band counts only at or above this risk (default: ``detect.block_at``)
    block_min_risk: float | None = Field(None, ge=0, le=1)
    #: the jurisdiction of an operator whose stores' country has no rule set
    default_jurisdiction: str = "CN"
    #: count the sellers' declared stock as unsold goods for the thresholds (off: declared stock is
    #: what a seller typed, not goods on hand; it is valued and shown, and verifying it is a gap)
    count_declared_stock: bool = False
    #: more rule sets, in a TOML file of ``[[rule_set]]`` tables (see docs/leads.md)
    thresholds_file: str | None = None
    #: or inline: ``[[leads.rule_set]]`` tables
    rule_set: list[dict] = Field(default_factory=list)  # type: ignore[type-arg]
    #: roles that see personal data in leads and dossiers (contact names, id numbers, accounts);
    #: every other role gets "[personal data withheld]" in their place
    personal_data_roles: list[str] = Field(default_factory=lambda: ["admin", "investigator", "liaison"])


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workspace: WorkspaceSettings = WorkspaceSettings()
    detect: DetectSettings = DetectSettings()
    link: LinkSettings = LinkSettings()
    enforce: EnforceSettings = EnforceSettings()
    leads: LeadsSettings = LeadsSettings()


DEFAULT_TOML = """\
# counterwatch settings for this workspace. Every key is optional: delete a line
# and its default applies. Documented in docs/configuration.md.

[workspace]
# Amounts in every table are converted to this ISO 4217 currency with fx_rates
# (amount_in_base = amount * to_base). Statutory thresholds are stated in it.
base_currency = "CNY"

[detect]
# A listing's risk (0..1) decides its band: block at or above block_at, review at or above
# review_at, allow below. Enforcement takes blocked listings down and queues reviews.
block_at = 0.9
review_at = 0.5

[link]
# Stores are linked into one operator when what they share adds up to `threshold` bits. A value
# shared by exactly two stores gives its family's weight; each doubling of the stores sharing it
# takes one bit away (a fulfilment warehouse used by hundreds of stores gives nothing).
threshold = 9.0
min_value_bits = 1.0
cohesion_full = 0.5
cohesion_min_stores = 5
max_operator_stores = 500
photo_distance = 2

[link.weights]
# Per identifier kind. A value written as two kinds (one store's address, another's warehouse)
# counts at the weaker kind's weight.
id_number = 14.0
business_license = 13.0
bank_account = 13.0
payment_account = 12.0
email = 12.0
phone = 12.0
device_id = 11.0
address = 10.0
return_address = 9.0
warehouse = 6.0        # fulfilment warehouses are shared by design
ip = 9.0               # offices and carriers share exit addresses: popular ones fade by frequency
contact_name = 3.0     # common names are shared by strangers
photo = 7.0            # the same product photo in two stores' listings (official shots are shared widely)

[enforce]
# Sellers may appeal a restriction for this many days (DSA Art. 20 asks for at least six months).
appeal_window_days = 183
# Detection's block band is taken down without a person; its review band is queued for one.
auto_takedown = true

[enforce.policy]
# The penalty policy. Each take-down reason code is a violation with points that count for a while;
# a store's active points decide the steps below. Change `version` when you change the rules.
version = "default-2026-11"
group_window_days = 3.0          # violations within 3 days of the first count once
warn_before_suspend = true
automated_takedowns_count = true

[enforce.policy.violations]
counterfeit = { points = 12, counts_for_days = 365 }
trademark_misuse = { points = 4, counts_for_days = 180 }
misleading_listing = { points = 2, counts_for_days = 90 }

[[enforce.policy.steps]]
at_points = 12
action = "warn"

[[enforce.policy.steps]]
at_points = 24
action = "suspend"
suspend_days = 14

[[enforce.policy.steps]]
at_points = 36
action = "close"                 # three serious violations within a year close the store

[enforce.reputation]
# Rights holders' notices over a rolling window decide their tier and, on abuse, their status.
window_days = 90
min_decided = 20
good_faith_takedown_rate = 0.90
good_faith_max_counter_rate = 0.05
good_faith_auto_approve = false
warn_after_unfounded = 10
suspend_after_unfounded = 20
abuse_share = 0.5
suspend_days = 30

[leads]
# What counts as confirmed counterfeit when operators' sales are valued: a test buy, a reviewer's
# takedown, an upheld notice, and detection's block band (leads resting only on it are marked
# automated, which lowers their readiness). Statutory thresholds: docs/leads.md.
confirmed_by = ["test_buy", "review", "notice_upheld", "block"]
default_jurisdiction = "CN"
count_declared_stock = false     # declared stock is valued and shown, but counted only once verified
# Roles that see personal data (contact names, id numbers, accounts) in leads and dossiers; others
# get "[personal data withheld]". Roles: admin, reviewer, investigator, liaison, brand, seller.
personal_data_roles = ["admin", "investigator", "liaison"]
"""


def load_settings(root: Path) -> Settings:
    """Settings of the workspace at ``root``: its ``counterwatch.toml`` over the defaults."""
    path = root / CONFIG_FILE
    if not path.is_file():
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise ConfigError(f"{path}: {problems}") from exc
