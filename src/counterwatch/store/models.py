"""Case state: the SQLAlchemy models of everything people decide on.

Batch tables (listings, scores, operators) live in Parquet; this is the small, transactional state
edited through the API: who may act, what rights holders own and complain about, what reviewers
decided, what was done to listings and stores and why, and an append-only audit log. The schema is
created and changed by the Alembic migrations in ``store/migrations`` only; these classes must match
them (a test compares the two).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("admin", "reviewer", "investigator", "liaison", "brand", "seller")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC on the way in and out, whatever the database keeps (SQLite keeps none)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: case state keeps UTC-aware times only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Constraint names are fixed so that migrations can refer to them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


# --- who may act -------------------------------------------------------------------------------


class RightsHolder(Base):
    """A brand owner filing notices. Its tier and status follow its notices' outcomes."""

    __tablename__ = "rights_holders"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: ``standard`` or ``good_faith`` (priority in the queue, optional auto-approval)
    tier: Mapped[str] = mapped_column(String(20), default="standard")
    #: ``active``, ``warned`` (after repeated unfounded notices) or ``suspended`` (notices refused)
    status: Mapped[str] = mapped_column(String(20), default="active")
    suspended_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    brands: Mapped[list[Brand]] = relationship(back_populates="rights_holder")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    #: the brand role's scope
    rights_holder_id: Mapped[int | None] = mapped_column(ForeignKey("rights_holders.id"))
    #: the seller role's scope: the contract's ``stores.seller_id``
    seller_id: Mapped[str | None] = mapped_column(String(100), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is kept, so a leaked database leaks no usable token."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


# --- rights ------------------------------------------------------------------------------------


class Brand(Base):
    __tablename__ = "brands"
    brand_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    rights_holder_id: Mapped[int] = mapped_column(ForeignKey("rights_holders.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    rights_holder: Mapped[RightsHolder] = relationship(back_populates="brands")
    trademarks: Mapped[list[Trademark]] = relationship(back_populates="brand")


class Trademark(Base):
    __tablename__ = "trademarks"
    __table_args__ = (UniqueConstraint("brand_id", "registration_no"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[str] = mapped_column(ForeignKey("brands.brand_id"), index=True)
    registration_no: Mapped[str] = mapped_column(String(100))
    office: Mapped[str] = mapped_column(String(20))
    mark: Mapped[str] = mapped_column(String(200))
    classes: Mapped[list[Any]] = mapped_column(default=list)
    expires: Mapped[dt.date | None] = mapped_column(Date)
    brand: Mapped[Brand] = relationship(back_populates="trademarks")


# --- the marketplace, as far as enforcement touches it -------------------------------------------


class Store(Base):
    __tablename__ = "stores"
    store_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    seller_id: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    operator_id: Mapped[str | None] = mapped_column(String(100), index=True)
    #: ``active``, ``suspended`` or ``closed``
    status: Mapped[str] = mapped_column(String(20), default="active")
    suspended_until: Mapped[dt.datetime | None]
    #: set by a warning action; the policy warns once before it suspends
    warned_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Listing(Base):
    __tablename__ = "listings"
    listing_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.store_id"), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    #: ``active`` or ``removed``
    status: Mapped[str] = mapped_column(String(20), default="active")
    risk: Mapped[float | None] = mapped_column(Float)
    band: Mapped[str | None] = mapped_column(String(10))
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    #: fingerprint of what detection saw, so a rerun of ``enforce`` can tell a changed listing
    scored_digest: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- notices and review --------------------------------------------------------------------------


class Notice(Base):
    __tablename__ = "notices"
    notice_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    rights_holder_id: Mapped[int] = mapped_column(ForeignKey("rights_holders.id"), index=True)
    brand_id: Mapped[str] = mapped_column(ForeignKey("brands.brand_id"))
    listing_id: Mapped[str] = mapped_column(ForeignKey("listings.listing_id"), index=True)
    basis: Mapped[str] = mapped_column(String(20))
    registration_no: Mapped[str] = mapped_column(String(100))
    evidence: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: ``rejected`` (no valid right), ``pending`` (in review), ``upheld`` (taken down),
    #: ``dismissed`` (kept), ``reversed`` (taken down, then the seller's appeal was upheld)
    status: Mapped[str] = mapped_column(String(20), index=True)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime | None]


class ReviewItem(Base):
    """A listing waiting for a person: from detection's review band or from a notice."""

    __tablename__ = "review_items"
    __table_args__ = (Index("ix_review_open", "status", "priority", "risk"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[str] = mapped_column(ForeignKey("listings.listing_id"), index=True)
    #: ``detection`` or ``notice``
    source: Mapped[str] = mapped_column(String(20))
    notice_id: Mapped[str | None] = mapped_column(ForeignKey("notices.notice_id"), unique=True)
    risk: Mapped[float] = mapped_column(Float, default=0.0)
    #: 0 = trusted flagger (good-faith tier), 1 = other notices, 2 = detection
    priority: Mapped[int] = mapped_column(Integer, default=2)
    #: ``open``, ``decided`` or ``withdrawn`` (the listing changed or went before anyone decided)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None]


class Decision(Base):
    """A reviewer's verdict. One per review item, held by a unique key: of two reviewers deciding
    at once exactly one insert succeeds, on every database."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    review_item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), unique=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: ``take_down`` or ``keep``
    outcome: Mapped[str] = mapped_column(String(20))
    reason_code: Mapped[str] = mapped_column(String(50))
    note: Mapped[str] = mapped_column(Text, default="")
    automated: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- what was done -------------------------------------------------------------------------------


class Action(Base):
    __tablename__ = "actions"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: see ``enforce.actions.ACTION_KINDS``
    kind: Mapped[str] = mapped_column(String(30))
    listing_id: Mapped[str | None] = mapped_column(ForeignKey("listings.listing_id"), index=True)
    store_id: Mapped[str | None] = mapped_column(ForeignKey("stores.store_id"), index=True)
    operator_id: Mapped[str | None] = mapped_column(String(100))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    automated_detection: Mapped[bool] = mapped_column(Boolean, default=False)
    automated_decision: Mapped[bool] = mapped_column(Boolean, default=False)
    reason_code: Mapped[str] = mapped_column(String(50))
    note: Mapped[str] = mapped_column(Text, default="")
    review_item_id: Mapped[int | None] = mapped_column(ForeignKey("review_items.id"))
    notice_id: Mapped[str | None] = mapped_column(ForeignKey("notices.notice_id"))
    #: the action this one undoes (a reinstatement points at the takedown or closure)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("actions.id"))
    #: set on an action once something undid it
    reversed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class PenaltyEntry(Base):
    """One violation in the penalty ledger: its points count until ``expires_at`` unless cancelled."""

    __tablename__ = "penalty_ledger"
    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.store_id"), index=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"), index=True)
    violation: Mapped[str] = mapped_column(String(50))
    points: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    cancelled_at: Mapped[dt.datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)


class StatementOfReasons(Base):
    """What DSA Art. 17 requires to be told to the seller for every restriction."""

    __tablename__ = "statements_of_reasons"
    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"), unique=True)
    seller_id: Mapped[str | None] = mapped_column(String(100), index=True)
    restriction: Mapped[str] = mapped_column(Text)
    facts: Mapped[str] = mapped_column(Text)
    automated_detection: Mapped[bool] = mapped_column(Boolean)
    automated_decision: Mapped[bool] = mapped_column(Boolean)
    ground_type: Mapped[str] = mapped_column(String(20))  # ``illegal_content`` or ``terms``
    ground: Mapped[str] = mapped_column(Text)
    redress: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Appeal(Base):
    __tablename__ = "appeals"
    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"), index=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.store_id"), index=True)
    filed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    statement: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: ``open``, ``upheld`` (the action is undone) or ``rejected``
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime | None]


class NotifierReputation(Base):
    """A rights holder's record over the rolling window, as last computed, and the tier it gave."""

    __tablename__ = "notifier_reputation"
    id: Mapped[int] = mapped_column(primary_key=True)
    rights_holder_id: Mapped[int] = mapped_column(ForeignKey("rights_holders.id"), index=True)
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    window_days: Mapped[int] = mapped_column(Integer)
    decided: Mapped[int] = mapped_column(Integer)
    upheld: Mapped[int] = mapped_column(Integer)
    counter_upheld: Mapped[int] = mapped_column(Integer)
    unfounded: Mapped[int] = mapped_column(Integer)
    takedown_rate: Mapped[float | None] = mapped_column(Float)
    counter_notice_rate: Mapped[float | None] = mapped_column(Float)
    tier: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))


class AuditEntry(Base):
    """Append-only: the migrations install triggers that refuse UPDATE and DELETE on every database."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: the log outlives accounts
    actor: Mapped[str] = mapped_column(String(100))  # username or ``system``
    verb: Mapped[str] = mapped_column(String(50))
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(100))
    why: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# --- leads and cases ---------------------------------------------------------------------------


class Lead(Base):
    """A referral-ready lead: an operator whose valued counterfeit business meets a statutory rule."""

    __tablename__ = "leads"
    lead_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    operator_id: Mapped[str] = mapped_column(String(100), index=True)
    jurisdiction: Mapped[str] = mapped_column(String(10))
    rule_set_version: Mapped[str] = mapped_column(String(50))
    rule_met: Mapped[str] = mapped_column(String(50))
    severity: Mapped[str] = mapped_column(String(30))
    currency: Mapped[str] = mapped_column(String(3))
    sales_amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    unsold_value: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    margin: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    readiness: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    automated_only: Mapped[bool] = mapped_column(Boolean, default=False)
    store_ids: Mapped[list[Any]] = mapped_column(default=list)
    checklist: Mapped[list[Any]] = mapped_column(default=list)
    gaps: Mapped[list[Any]] = mapped_column(default=list)
    #: everything else of the lead's row in ``out/leads.parquet`` (brands, period, rules met...)
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: ``open`` (not referred), ``referred`` (a case exists), ``stale`` (no longer meets a rule)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LeadEvidence(Base):
    """One piece of a lead's evidence. ``personal`` marks identity data (names, id numbers, accounts),
    shown only to roles allowed to see personal data."""

    __tablename__ = "lead_evidence"
    __table_args__ = (Index("ix_lead_evidence_lead_kind", "lead_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.lead_id", ondelete="CASCADE"))
    #: ``listing``, ``order``, ``test_buy``, ``notice``, ``link``, ``identity``, ``ship_from``, ``authentication``
    kind: Mapped[str] = mapped_column(String(30))
    ref: Mapped[str] = mapped_column(String(200))
    personal: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Case(Base):
    """A lead referred to an agency, followed to its outcome."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.lead_id"), index=True)
    agency: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(100), default="")
    #: referred, accepted, investigating, raided, prosecuted, convicted, acquitted, dropped
    status: Mapped[str] = mapped_column(String(20), default="referred", index=True)
    referred_on: Mapped[dt.date] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.id")


class CaseEvent(Base):
    """A step of a case, with its date, a note and the figures that apply (arrests, facilities closed,
    units and value seized, sentence, probation)."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    case: Mapped[Case] = relationship(back_populates="events")
