"""Fixtures for the cases tests: a migrated case database (SQLite and PostgreSQL via ``db_url``), users
of every role, and synthetic leads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from counterwatch.api.auth import actor_for, add_user, issue_token
from counterwatch.enforce.service import Actor
from counterwatch.store.db import Database, open_database
from counterwatch.store.models import LeadEvidence, User
from counterwatch.synth.outcomes import insert_synthetic_leads

#: username -> (role, extra kwargs of add_user)
USERS = {
    "admin": ("admin", {}),
    "liaison": ("liaison", {}),
    "inv": ("investigator", {}),
    "rev": ("reviewer", {}),
    "acme": ("brand", {"rights_holder": "Acme QXCASES"}),
    "seller": ("seller", {"seller_id": "U-QXCASES"}),
}
DAY = dt.date(2025, 3, 1)


@dataclass
class World:
    db: Database
    actors: dict[str, Actor]
    tokens: dict[str, str]
    leads: list[str]

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def world(db: Database) -> World:
    actors, tokens = {}, {}
    with db.session() as s:
        for name, (role, kw) in USERS.items():
            user = add_user(s, name, role, None, **kw)
            tokens[name] = issue_token(s, user, "tests")
    with db.session() as s:
        for user in s.scalars(select(User)):
            actors[user.username] = actor_for(user)
    leads = insert_synthetic_leads(db, 12, seed=3, prefix="QX")
    with db.session() as s:
        s.add(LeadEvidence(lead_id=leads[0], kind="listing", ref="L-1", personal=False, data={"title": "fake"}))
        s.add(LeadEvidence(lead_id=leads[0], kind="identity", ref="ID-1", personal=True,
                           data={"name": "Zhang San PERSONALQX", "id_number": "330000199001010000"}))
    return World(db, actors, tokens, leads)
