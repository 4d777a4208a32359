"""What goes over the wire: request bodies (validated, 422 naming the field) and responses."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: the largest id or offset the databases hold (PostgreSQL ``integer``); beyond it a query would fail
MAX_INT = 2**31 - 1
Id = Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")
Text = Field(default="", max_length=10_000)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- auth and accounts ---------------------------------------------------------------------------


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    role: str


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Literal["admin", "reviewer", "investigator", "liaison", "brand", "seller"]
    password: str | None = Field(None, min_length=8, max_length=1000)
    rights_holder: str | None = Field(None, min_length=1, max_length=200)
    seller_id: str | None = Field(None, min_length=1, max_length=100)


class UserOut(Out):
    id: int
    username: str
    role: str
    rights_holder_id: int | None
    seller_id: str | None
    active: bool


class Me(BaseModel):
    username: str
    role: str
    rights_holder_id: int | None
    seller_id: str | None


# --- rights ----------------------------------------------------------------------------------------


class RightsHolderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class RightsHolderOut(Out):
    id: int
    name: str
    tier: str
    status: str
    suspended_until: dt.datetime | None


class BrandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    brand_id: str = Id
    name: str = Field(min_length=1, max_length=200)
    #: admins name the rights holder; a brand user registers for its own
    rights_holder_id: int | None = Field(None, ge=1, le=MAX_INT)


class BrandOut(Out):
    brand_id: str
    name: str
    rights_holder_id: int


class TrademarkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    registration_no: str = Id
    office: str = Field(min_length=1, max_length=20)
    mark: str = Field(min_length=1, max_length=200)
    classes: list[int] = Field(default_factory=list, max_length=45)
    expires: dt.date | None = None


class TrademarkOut(Out):
    id: int
    brand_id: str
    registration_no: str
    office: str
    mark: str
    classes: list[int]
    expires: dt.date | None


# --- notices and review ----------------------------------------------------------------------------


class NoticeIn(BaseModel):
    """One notice, in the contract's ``notices`` shape."""

    model_config = ConfigDict(extra="forbid")
    notice_id: str = Id
    brand_id: str = Id
    listing_id: str = Id
    basis: Literal["trademark", "copyright", "design", "patent"]
    registration_no: str = Field(min_length=1, max_length=100)
    evidence: str = Text
    submitted_at: dt.datetime | None = None


class NoticeOut(Out):
    notice_id: str
    brand_id: str
    listing_id: str
    basis: str
    registration_no: str
    evidence: str
    submitted_at: dt.datetime
    received_at: dt.datetime
    status: str
    rejection_reason: str | None
    decided_at: dt.datetime | None


class RowError(BaseModel):
    table: str = "notices"
    row: int  # 1-based data row (the header is row 0)
    column: str | None
    notice_id: str | None
    message: str


class BulkReport(BaseModel):
    rows: int
    accepted: int
    rejected_by_rule: int  # recorded, but rejected for an unknown or expired right
    errors: list[RowError]
    notices: list[NoticeOut]


class ReviewItemOut(Out):
    id: int
    listing_id: str
    source: str
    notice_id: str | None
    risk: float
    priority: int
    status: str
    created_at: dt.datetime
    decided_at: dt.datetime | None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["take_down", "keep"]
    reason_code: str = Field(min_length=1, max_length=50)
    note: str = Text


class DecisionOut(Out):
    id: int
    review_item_id: int
    reviewer_id: int | None
    outcome: str
    reason_code: str
    note: str
    automated: bool
    decided_at: dt.datetime


# --- marketplace objects and actions -----------------------------------------------------------


class StoreOut(Out):
    store_id: str
    seller_id: str
    name: str
    operator_id: str | None
    status: str
    suspended_until: dt.datetime | None
    warned_at: dt.datetime | None


class StoreDetail(StoreOut):
    active_points: int


class ListingOut(Out):
    listing_id: str
    store_id: str
    title: str
    status: str
    risk: float | None
    band: str | None
    reasons: list[str]


class ActionIn(BaseModel):
    """A person's action. ``take_down`` needs ``listing_id``; store actions need ``store_id``;
    ``close_operator`` needs ``operator_id``; ``add_points`` needs ``violation``; ``suspend_store`` ``days``."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["take_down", "warn", "add_points", "suspend_store", "close_store", "close_operator"]
    listing_id: str | None = Field(None, min_length=1, max_length=100)
    store_id: str | None = Field(None, min_length=1, max_length=100)
    operator_id: str | None = Field(None, min_length=1, max_length=100)
    reason_code: str | None = Field(None, min_length=1, max_length=50)
    violation: str | None = Field(None, min_length=1, max_length=50)
    days: int | None = Field(None, ge=1, le=3650)
    note: str = Text


class ReinstateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=10_000)


class ActionOut(Out):
    id: int
    kind: str
    listing_id: str | None
    store_id: str | None
    operator_id: str | None
    automated_detection: bool
    automated_decision: bool
    reason_code: str
    note: str
    notice_id: str | None
    reverses_id: int | None
    reversed_at: dt.datetime | None
    created_at: dt.datetime


class StatementOut(Out):
    id: int
    action_id: int
    restriction: str
    facts: str
    automated_detection: bool
    automated_decision: bool
    ground_type: str
    ground: str
    redress: str
    created_at: dt.datetime


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action_id: int = Field(ge=1, le=MAX_INT)
    statement: str = Field(min_length=1, max_length=10_000)


class AppealDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upheld: bool
    note: str = Field(min_length=1, max_length=10_000)


class AppealOut(Out):
    id: int
    action_id: int
    store_id: str
    statement: str
    filed_at: dt.datetime
    status: str
    decision_note: str | None
    decided_at: dt.datetime | None


class ReputationOut(BaseModel):
    rights_holder_id: int
    name: str
    tier: str
    status: str
    window_days: int
    decided: int
    upheld: int
    counter_upheld: int
    unfounded: int
    takedown_rate: float | None
    counter_notice_rate: float | None


class AuditOut(Out):
    id: int
    at: dt.datetime
    actor: str
    verb: str
    entity: str
    entity_id: str
    why: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class TimingPart(BaseModel):
    arrived: int
    decided: int
    open: int
    median_hours: float | None
    p95_hours: float | None
    within_24h: float | None
    oldest_open_hours: float | None


class TimingOut(BaseModel):
    notices: TimingPart
    review_items: TimingPart


# --- detection and linking at the door -----------------------------------------------------------


class ListingIn(BaseModel):
    """A listing in the contract's shape, as a seller creates it."""

    model_config = ConfigDict(extra="forbid")
    listing_id: str = Id
    store_id: str = Id
    title: str = Field(max_length=2000)
    description: str = Field("", max_length=20_000)
    category: str = Field("", max_length=300)
    brand: str | None = Field(None, max_length=200)
    price: float = Field(ge=0, le=1e12, allow_inf_nan=False)
    currency: str = Field(min_length=3, max_length=3)
    stock: int = Field(0, ge=0, le=10**9)
    created_at: dt.datetime | None = None
    image_hashes: list[str] = Field(default_factory=list, max_length=50)


class ScoreOut(BaseModel):
    listing_id: str
    risk: float
    band: str
    reasons: list[str]
    signals: dict[str, Any]


class IdentifierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["phone", "email", "id_number", "business_license", "bank_account", "payment_account",
                  "address", "return_address", "warehouse", "device_id", "ip", "contact_name"]  # fmt: skip
    value: str = Field(min_length=1, max_length=500)


class StoreCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    country: str = Field(min_length=2, max_length=2)
    identifiers: list[IdentifierIn] = Field(min_length=1, max_length=200)


class OperatorMatchOut(BaseModel):
    operator_id: str
    weight: float
    store_id: str
    evidence: list[str]


class StoreCheckOut(BaseModel):
    matches: list[OperatorMatchOut]
    unusable: list[dict[str, Any]]
