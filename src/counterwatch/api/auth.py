"""Accounts, passwords (argon2) and API tokens, and the request's actor.

Passwords are hashed with argon2id; they are exchanged once for a bearer token (``POST /auth/token``),
and requests carry the token. Only a token's SHA-256 is stored, so the table leaks nothing usable;
a per-request lookup by that hash is a primary-key-speed index probe, where verifying argon2 on every
request would cost tens of milliseconds by design.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from counterwatch.enforce.service import Actor
from counterwatch.errors import ConflictError, RefusedError
from counterwatch.store.models import ROLES, ApiToken, AuditEntry, RightsHolder, User, utcnow

_hasher = PasswordHasher()
TOKEN_PREFIX = "cw_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(s: Session, username: str, role: str, password: str | None = None, *,
             rights_holder: str | None = None, seller_id: str | None = None, by: str = "system") -> User:  # fmt: skip
    """Create an account. A ``brand`` user is scoped to one rights holder (by name), a ``seller``
    user to one ``seller_id``; other roles to nothing."""
    if role not in ROLES:
        raise RefusedError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if s.execute(select(User.id).where(User.username == username)).first():
        raise ConflictError(f"user {username!r} exists already")
    rh_id = None
    if role == "brand":
        if not rights_holder:
            raise RefusedError("a brand user needs --rights-holder: the rights holder whose notices it files")
        rh = s.execute(select(RightsHolder).where(RightsHolder.name == rights_holder)).scalar()
        if rh is None:
            rh = RightsHolder(name=rights_holder, tier="standard", status="active", created_at=utcnow())
            s.add(rh)
            s.flush()
        rh_id = rh.id
    if role == "seller" and not seller_id:
        raise RefusedError("a seller user needs --seller-id: the seller_id of its stores")
    user = User(username=username, role=role, password_hash=hash_password(password) if password else None,
                rights_holder_id=rh_id, seller_id=seller_id if role == "seller" else None, created_at=utcnow())  # fmt: skip
    s.add(user)
    s.flush()
    s.add(AuditEntry(at=utcnow(), actor_id=None, actor=by, verb="create", entity="user", entity_id=str(user.id),
                     why="", after={"username": username, "role": role, "rights_holder_id": rh_id,
                                    "seller_id": user.seller_id}))  # fmt: skip
    return user


def issue_token(s: Session, user: User, name: str = "") -> str:
    """A new bearer token for ``user``; the plain token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    s.add(ApiToken(user_id=user.id, token_sha256=token_digest(token), name=name, created_at=utcnow()))
    s.flush()
    return token


def actor_for(user: User) -> Actor:
    return Actor(user.id, user.username, user.role, user.rights_holder_id, user.seller_id)


_bearer = HTTPBearer(auto_error=False, description="An API token from `POST /auth/token` or `counterwatch users token`.")


@dataclass(frozen=True)
class Credential:
    """The request's bearer token, as its SHA-256; resolved to an actor inside the request's own
    transaction (``deps.unit``), so a request costs one connection and one commit, not two."""

    digest: str


def unauthorized() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid bearer token is required",
                         headers={"WWW-Authenticate": "Bearer"})  # fmt: skip


async def bearer(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Credential:
    # async although it awaits nothing: FastAPI runs a plain ``def`` dependency in a worker thread,
    # and that hand-off cost more than a SHA-256 on every request
    if creds is None or not creds.credentials.startswith(TOKEN_PREFIX):
        raise unauthorized()
    return Credential(token_digest(creds.credentials))


# built once: every request runs it, and building the expression costs more than running it. On the
# tables, not the mapped classes, and run on the session's connection: the ORM's result handling
# cost as much CPU again as the query (0.15 ms a request), for five plain columns.
_users, _tokens = User.__table__, ApiToken.__table__
_RESOLVE = (
    select(_users.c.id, _users.c.username, _users.c.role, _users.c.rights_holder_id, _users.c.seller_id)
    .join_from(_users, _tokens, _tokens.c.user_id == _users.c.id)
    .where(_tokens.c.token_sha256 == bindparam("digest"), _tokens.c.revoked_at.is_(None), _users.c.active.is_(True))
)


def resolve(s: Session, credential: Credential) -> Actor:
    """The active user holding the unrevoked token, as an actor; 401 otherwise. Runs in the
    request's own transaction (``s.connection()`` is the session's)."""
    row = s.connection().execute(_RESOLVE, {"digest": credential.digest}).first()
    if row is None:
        raise unauthorized()
    return Actor(*row)


CurrentActor = Annotated[Credential, Depends(bearer)]
