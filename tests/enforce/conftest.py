"""A small case database for the enforcement tests, on SQLite and PostgreSQL alike (``db_url``).

``world`` migrates an empty database and seeds it through the service itself where the service can
(rights holders, brands, trademarks) and directly where batch stages would (users, stores,
listings). ``Clock`` is the injectable ``now``: tests move it to place decisions at exact times.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from counterwatch.config import Settings
from counterwatch.enforce.service import Actor, Enforcement, NoticeIn
from counterwatch.store.db import Database, open_database
from counterwatch.store.models import Listing, ReviewItem, Store, User

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Clock:
    """A mutable ``now``: ``clock()`` is the time, ``clock.advance(days=1)`` moves it on."""

    def __init__(self, at: dt.datetime = T0) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> dt.datetime:
        self.at += dt.timedelta(**delta)
        return self.at


@dataclass
class World:
    db: Database
    settings: Settings
    clock: Clock
    admin: Actor
    rev1: Actor
    rev2: Actor
    brand_a: Actor  # Acme Holdings: brand ACME, trademark TM-ACME (valid), TM-OLD (expired)
    brand_b: Actor  # Other Corp: brand OTHER, trademark TM-OTHER
    seller_1: Actor  # owns store S1 (listings L1..L40)
    seller_2: Actor  # owns store S2 (listings M1..M40)
    rh_a: int = 0
    rh_b: int = 0
    notice_seq: list[int] = field(default_factory=lambda: [0])

    @contextmanager
    def svc(self, actor: Actor, settings: Settings | None = None) -> Iterator[Enforcement]:
        """One unit of work as ``actor`` at the clock's time (committed on success)."""
        with self.db.session() as s:
            yield Enforcement(s, settings or self.settings, actor, now=self.clock)

    def notice(self, listing_id: str, *, brand: str = "ACME", registration_no: str = "TM-ACME",
               basis: str = "trademark", actor: Actor | None = None, settings: Settings | None = None) -> str:  # fmt: skip
        """File a notice in its own transaction; returns its id."""
        self.notice_seq[0] += 1
        nid = f"N{self.notice_seq[0]}"
        with self.svc(actor or (self.brand_a if brand == "ACME" else self.brand_b), settings) as svc:
            svc.file_notice(NoticeIn(nid, brand, listing_id, basis, registration_no, evidence="test purchase"))
        return nid

    def item_for(self, notice_id: str) -> int:
        with self.db.session() as s:
            return s.scalars(select(ReviewItem.id).where(ReviewItem.notice_id == notice_id)).one()

    def count(self, model: type, *where: object) -> int:
        with self.db.session() as s:
            return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _user(s, username: str, role: str, **scope: object) -> Actor:  # type: ignore[no-untyped-def]
    u = User(username=username, role=role, **scope)
    s.add(u)
    s.flush()
    return Actor(u.id, username, role, rights_holder_id=u.rights_holder_id, seller_id=u.seller_id)


def build_world(url: str, settings: Settings | None = None) -> World:
    settings = settings or Settings()
    clock = Clock()
    db = open_database(url)
    with db.session() as s:
        admin = _user(s, "admin", "admin")
        rev1 = _user(s, "rev1", "reviewer")
        rev2 = _user(s, "rev2", "reviewer")
        seller_1 = _user(s, "seller1", "seller", seller_id="U1")
        seller_2 = _user(s, "seller2", "seller", seller_id="U2")
        for sid, seller, prefix in (("S1", "U1", "L"), ("S2", "U2", "M")):
            s.add(Store(store_id=sid, seller_id=seller, name=f"Store {sid}", status="active", updated_at=clock()))
            s.flush()
            for i in range(1, 41):
                s.add(Listing(listing_id=f"{prefix}{i}", store_id=sid, title=f"ACME runner {prefix}{i}",
                              status="active", risk=round(0.5 + i / 100, 2), band="review", reasons=["brand in title"],
                              updated_at=clock()))  # fmt: skip
    with db.session() as s:
        svc = Enforcement(s, settings, admin, now=clock)
        rh_a = svc.create_rights_holder("Acme Holdings").id
        rh_b = svc.create_rights_holder("Other Corp").id
        svc.register_brand("ACME", "Acme", rh_a)
        svc.register_brand("OTHER", "Other", rh_b)
        svc.add_trademark("ACME", "TM-ACME", "EUIPO", "ACME", [25], expires=dt.date(2031, 1, 1))
        svc.add_trademark("ACME", "TM-OLD", "CNIPA", "ACME", [25], expires=dt.date(2025, 12, 31))
        svc.add_trademark("OTHER", "TM-OTHER", "USPTO", "OTHER", [18], expires=None)
        brand_a = _user(s, "acme", "brand", rights_holder_id=rh_a)
        brand_b = _user(s, "other", "brand", rights_holder_id=rh_b)
    return World(db, settings, clock, admin, rev1, rev2, brand_a, brand_b, seller_1, seller_2, rh_a, rh_b)


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    w = build_world(db_url)
    yield w
    w.db.dispose()
