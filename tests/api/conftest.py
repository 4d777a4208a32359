"""Fixtures for the API tests: a seeded multi-tenant case database behind a TestClient, on SQLite and
PostgreSQL alike (``db_url``), and a small workspace that was run once per session (for
``POST /listings/score`` and ``POST /stores/check``).

Every tenant's objects carry a marker string in their ids or text (``MARKERS``), so a test can scan
any response body for another tenant's data.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from counterwatch.api.app import create_app
from counterwatch.api.auth import actor_for, add_user, issue_token
from counterwatch.config import Settings
from counterwatch.enforce.service import SYSTEM, Enforcement, NoticeIn
from counterwatch.store.db import Database, open_database
from counterwatch.store.models import (
    Action,
    AuditEntry,
    Listing,
    ReviewItem,
    StatementOfReasons,
    Store,
    User,
)

PASSWORD = "correct horse battery staple"

# --- tenants -------------------------------------------------------------------------------------
#: rights holders: key -> (name, brand id, trademark registration number)
HOLDERS = {
    "rha": ("Acme Holdings QXRHA", "ACME-QXRHA", "TM-QXRHA"),
    "rhb": ("Other Corp QXRHB", "OTHER-QXRHB", "TM-QXRHB"),
    "rhc": ("Third Ltd QXRHC", "THIRD-QXRHC", "TM-QXRHC"),
}
#: sellers: key -> (seller_id, store id, listing id prefix); "sel4" has no user account
SELLERS = {
    "sel1": ("U-QXSEL1", "S-QXSEL1", "L-QXSEL1-"),
    "sel2": ("U-QXSEL2", "S-QXSEL2", "L-QXSEL2-"),
    "sel3": ("U-QXSEL3", "S-QXSEL3", "L-QXSEL3-"),
    "sel4": ("U-QXSEL4", "S-QXSEL4", "L-QXSEL4-"),
}
#: the string that marks every object of a tenant (ids, names, evidence, titles)
MARKERS = {key: "QX" + key.upper() for key in [*HOLDERS, *SELLERS]}
#: users: username -> (role, tenant key or None)
USERS = {
    "admin": ("admin", None),
    "rev1": ("reviewer", None),
    "rev2": ("reviewer", None),
    "inv": ("investigator", None),
    "liaison": ("liaison", None),
    "acme": ("brand", "rha"),
    "acme2": ("brand", "rha"),
    "other": ("brand", "rhb"),
    "third": ("brand", "rhc"),
    "seller1": ("seller", "sel1"),
    "seller1b": ("seller", "sel1"),
    "seller2": ("seller", "sel2"),
    "seller3": ("seller", "sel3"),
}
WITH_PASSWORD = ("acme", "seller1", "rev2")
STAFF_USERS = ("admin", "rev1", "rev2", "inv", "liaison")
LISTINGS_PER_STORE = 8


@dataclass
class Seeded:
    """What ``seed`` made: tokens per user, and per tenant the ids of its objects."""

    db: Database
    tokens: dict[str, str]
    user_ids: dict[str, int]
    rh_ids: dict[str, int]
    #: tenant key -> kind -> ids (kinds: notice, brand, rights_holder, store, listing, action,
    #: statement, appeal, review_item)
    objects: dict[str, dict[str, list[object]]] = field(default_factory=dict)

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def count(self, model: type, *where: object) -> int:
        with self.db.session() as s:
            return s.scalar(select(func.count()).select_from(model).where(*where)) or 0

    def denied(self, username: str | None = None) -> int:
        where = [AuditEntry.verb == "denied"] + ([AuditEntry.actor == username] if username else [])
        return self.count(AuditEntry, *where)


def seed(db: Database, settings: Settings | None = None) -> Seeded:
    """Three rights holders, four sellers (three with accounts), staff; notices from each holder on
    each seller's listings, some decided (takedowns with statements), appeals, an open queue."""
    settings = settings or Settings()
    now = dt.datetime.now(dt.UTC)
    tokens: dict[str, str] = {}
    user_ids: dict[str, int] = {}
    objects: dict[str, dict[str, list[object]]] = {k: {} for k in [*HOLDERS, *SELLERS]}

    def add(tenant: str, kind: str, value: object) -> None:
        objects[tenant].setdefault(kind, []).append(value)

    with db.session() as s:
        svc = Enforcement(s, settings, SYSTEM)
        rh_ids = {}
        for key, (name, brand_id, reg) in HOLDERS.items():
            rh = svc.create_rights_holder(name)
            rh_ids[key] = rh.id
            svc.register_brand(brand_id, f"Brand {MARKERS[key]}", rh.id)
            svc.add_trademark(brand_id, reg, "EUIPO", f"MARK {MARKERS[key]}", [25], dt.date(2040, 1, 1))
            add(key, "rights_holder", rh.id)
            add(key, "brand", brand_id)
        for key, (seller_id, store_id, prefix) in SELLERS.items():
            s.add(Store(store_id=store_id, seller_id=seller_id, name=f"Store {MARKERS[key]}", status="active",
                        operator_id=f"OP-{MARKERS[key]}", updated_at=now))
            s.flush()
            add(key, "store", store_id)
            for i in range(1, LISTINGS_PER_STORE + 1):
                s.add(Listing(listing_id=f"{prefix}{i}", store_id=store_id, title=f"Runner {MARKERS[key]} #{i}",
                              status="active", risk=0.6, band="review", reasons=["brand in title"], updated_at=now))
                add(key, "listing", f"{prefix}{i}")
        s.flush()
        for username, (role, tenant) in USERS.items():
            kw = {}
            if role == "brand":
                kw["rights_holder"] = HOLDERS[tenant][0]  # type: ignore[index]
            if role == "seller":
                kw["seller_id"] = SELLERS[tenant][0]  # type: ignore[index]
            # argon2 is slow by design: only the users that sign in with a password get one
            user = add_user(s, username, role, PASSWORD if username in WITH_PASSWORD else None, **kw)
            user_ids[username] = user.id
            tokens[username] = issue_token(s, user, "tests")

    rev1 = _actor(db, "rev1")
    # each holder notices listings 1..3 of sel1..sel3 (its own listing numbers to avoid clashes):
    # holder rha -> listing 1, rhb -> listing 2, rhc -> listing 3 of every seller, and listing 4 of sel4
    for h_index, (hkey, (_name, brand_id, reg)) in enumerate(HOLDERS.items(), start=1):
        for skey, (_sid, _store, prefix) in SELLERS.items():
            listing_id = f"{prefix}{h_index}"
            nid = f"N-{MARKERS[hkey]}-{MARKERS[skey]}"
            with db.session() as s:
                Enforcement(s, settings, SYSTEM).file_notice(
                    NoticeIn(nid, brand_id, listing_id, "trademark", reg, evidence=f"test purchase {MARKERS[hkey]}"))
            add(hkey, "notice", nid)
            with db.session() as s:
                item = s.scalars(select(ReviewItem.id).where(ReviewItem.notice_id == nid)).one()
            add(hkey, "review_item", item)
            # decide the notices on sel1 and sel2 (take down); leave sel3's and sel4's open
            if skey in ("sel1", "sel2"):
                with db.session() as s:
                    Enforcement(s, settings, rev1).decide(item, "take_down", "counterfeit", f"confirmed {MARKERS[hkey]}")
    with db.session() as s:
        for act in s.scalars(select(Action).order_by(Action.id)):
            skey = next(k for k, v in SELLERS.items() if v[1] == act.store_id)
            add(skey, "action", act.id)
        for st in s.scalars(select(StatementOfReasons).order_by(StatementOfReasons.id)):
            skey = next(k for k, v in SELLERS.items() if v[0] == st.seller_id)
            add(skey, "statement", st.id)
        takedowns = {a.store_id: a.id for a in s.scalars(select(Action).where(Action.kind == "take_down")
                                                            .order_by(Action.id.desc()))}
    # each of sel1 and sel2 appeals its first takedown
    for skey, username in (("sel1", "seller1"), ("sel2", "seller2")):
        with db.session() as s:
            ap = Enforcement(s, settings, _actor(db, username)).file_appeal(
                takedowns[SELLERS[skey][1]], f"genuine goods {MARKERS[skey]}")
            add(skey, "appeal", ap.id)
    return Seeded(db, tokens, user_ids, rh_ids, objects)


def _actor(db: Database, username: str):  # type: ignore[no-untyped-def]
    with db.session() as s:
        return actor_for(s.scalars(select(User).where(User.username == username)).one())


def client_for(db: Database, workspace: Path | None = None, settings: Settings | None = None) -> TestClient:
    # raise_server_exceptions=False: a server error must come back as a 500 the tests can see
    return TestClient(create_app(db, workspace, settings), raise_server_exceptions=False)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def seeded(db: Database) -> Seeded:
    return seed(db)


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    with client_for(seeded.db) as c:
        yield c


# --- a workspace that was run, shared by the xdist workers ------------------------------------------


@pytest.fixture(scope="session")
def run_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated 2,000-listing workspace after `counterwatch run` (scan, link index, enforce into its
    own SQLite file). Built once per test session: the xdist workers share it under a file lock."""
    from counterwatch.config import load_settings
    from counterwatch.pipeline import run_pipeline
    from counterwatch.synth import generate
    from counterwatch.workspace import Workspace

    shared = tmp_path_factory.getbasetemp().parent  # the same directory for every xdist worker
    root = shared / "api-workspace"
    done = shared / "api-workspace.done"
    with open(shared / "api-workspace.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                shutil.rmtree(root, ignore_errors=True)
                generate(root, listings=2_000, seed=11)
                ws = Workspace.at(root)
                run_pipeline(ws, load_settings(ws.root))
                done.write_text("ok")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return root
