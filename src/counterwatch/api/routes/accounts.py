"""Signing in, accounts, rights holders and their brands, reputation, audit and timing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from sqlalchemy import select

from counterwatch.api import schemas as sc
from counterwatch.api.auth import CurrentActor, actor_for, add_user, issue_token, verify_password
from counterwatch.api.deps import run, unit
from counterwatch.enforce.service import Enforcement
from counterwatch.enforce.timing import time_to_action
from counterwatch.errors import NotFoundError
from counterwatch.store.models import AuditEntry, RightsHolder, User

router = APIRouter()


@router.post("/auth/token", response_model=sc.TokenOut, tags=["auth"],
             responses={401: {"description": "wrong username or password"}})  # fmt: skip
def token(body: sc.TokenRequest, request: Request) -> sc.TokenOut:
    """Exchange a username and password for a bearer token."""
    with request.app.state.db.session() as s:
        user = s.execute(select(User).where(User.username == body.username, User.active.is_(True))).scalar()
        if user is not None and verify_password(user.password_hash, body.password):
            return sc.TokenOut(access_token=issue_token(s, user, "login"), role=user.role)
    # the failed attempt is audited in its own transaction (raising inside the one above rolled it back)
    with request.app.state.db.session() as s:
        s.add(AuditEntry(actor_id=None, actor=body.username[:100], verb="login_failed", entity="user",
                         entity_id=body.username[:100], why=""))  # fmt: skip
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password",
                        headers={"WWW-Authenticate": "Bearer"})  # fmt: skip


@router.get("/me", response_model=sc.Me, tags=["auth"])
async def me(request: Request, actor: CurrentActor) -> sc.Me:
    a = await run(request, actor, lambda svc: svc.actor)
    return sc.Me(username=a.username, role=a.role, rights_holder_id=a.rights_holder_id, seller_id=a.seller_id)


@router.post("/users", response_model=sc.UserOut, status_code=201, tags=["admin"])
def create_user(body: sc.UserIn, request: Request, actor: CurrentActor) -> sc.UserOut:
    with unit(request, actor) as svc:
        svc._require("admin")
        user = add_user(svc.s, body.username, body.role, body.password, rights_holder=body.rights_holder,
                        seller_id=body.seller_id, by=svc.actor.username)  # fmt: skip
        return sc.UserOut.model_validate(user)


@router.post("/rights-holders", response_model=sc.RightsHolderOut, status_code=201, tags=["rights"])
async def create_rights_holder(body: sc.RightsHolderIn, request: Request, actor: CurrentActor) -> sc.RightsHolderOut:
    return await run(request, actor, lambda svc: sc.RightsHolderOut.model_validate(svc.create_rights_holder(body.name)))


@router.get("/rights-holders/{rights_holder_id}/reputation", response_model=sc.ReputationOut, tags=["rights"])
async def reputation(rights_holder_id: Annotated[int, Path(ge=1, le=sc.MAX_INT)], request: Request, actor: CurrentActor) -> sc.ReputationOut:
    """A notifier's record over the rolling window: staff see any, a brand user its own."""

    def work(svc: Enforcement) -> sc.ReputationOut:
        rh = svc.s.get(RightsHolder, rights_holder_id)
        own = svc.actor.role == "brand" and svc.actor.rights_holder_id == rights_holder_id
        if rh is None or not (own or svc.actor.role in ("admin", "reviewer", "investigator", "liaison")):
            raise NotFoundError(f"rights holder {rights_holder_id} not found", denied=rh is not None,
                                entity="rights_holder", entity_id=str(rights_holder_id))  # fmt: skip
        rep = svc.reputation(rh)
        return sc.ReputationOut(rights_holder_id=rh.id, name=rh.name, tier=rh.tier, status=rh.status,
                                window_days=rep["window_days"], decided=rep["decided"], upheld=rep["upheld"],
                                counter_upheld=rep["counter_upheld"], unfounded=rep["unfounded"],
                                takedown_rate=rep["takedown_rate"], counter_notice_rate=rep["counter_notice_rate"])  # fmt: skip

    return await run(request, actor, work)


@router.post("/brands", response_model=sc.BrandOut, status_code=201, tags=["rights"])
async def register_brand(body: sc.BrandIn, request: Request, actor: CurrentActor) -> sc.BrandOut:
    return await run(request, actor, lambda svc: sc.BrandOut.model_validate(
        svc.register_brand(body.brand_id, body.name, body.rights_holder_id)))


@router.get("/brands/{brand_id}", response_model=sc.BrandOut, tags=["rights"])
async def get_brand(brand_id: str, request: Request, actor: CurrentActor) -> sc.BrandOut:
    return await run(request, actor, lambda svc: sc.BrandOut.model_validate(svc.brand(brand_id)))


@router.post("/brands/{brand_id}/trademarks", response_model=sc.TrademarkOut, status_code=201, tags=["rights"])
async def add_trademark(brand_id: str, body: sc.TrademarkIn, request: Request, actor: CurrentActor) -> sc.TrademarkOut:
    return await run(request, actor, lambda svc: sc.TrademarkOut.model_validate(
        svc.add_trademark(brand_id, body.registration_no, body.office, body.mark, body.classes, body.expires)))


@router.get("/brands/{brand_id}/trademarks", response_model=list[sc.TrademarkOut], tags=["rights"])
async def list_trademarks(brand_id: str, request: Request, actor: CurrentActor) -> list[sc.TrademarkOut]:
    return await run(request, actor,
                     lambda svc: [sc.TrademarkOut.model_validate(t) for t in svc.brand(brand_id).trademarks])


@router.get("/audit", response_model=list[sc.AuditOut], tags=["admin"])
def audit(request: Request, actor: CurrentActor, entity: str | None = Query(None, max_length=50),
          entity_id: str | None = Query(None, max_length=100), limit: int = Query(100, ge=1, le=1000),
          offset: int = Query(0, ge=0, le=sc.MAX_INT)) -> list[sc.AuditOut]:  # fmt: skip
    """The append-only audit log (admins)."""
    with unit(request, actor) as svc:
        return [sc.AuditOut.model_validate(e) for e in svc.audit_log(entity, entity_id, limit, offset)]


@router.get("/stats/time-to-action", response_model=sc.TimingOut, tags=["admin"])
def timing(request: Request, actor: CurrentActor) -> sc.TimingOut:
    """Median and 95th percentile hours from a notice's or review item's arrival to its decision."""
    with unit(request, actor) as svc:
        svc._require("admin", "reviewer", "investigator", "liaison")
        return sc.TimingOut.model_validate(time_to_action(svc.s))


__all__ = ["actor_for", "router"]
