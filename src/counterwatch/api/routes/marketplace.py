"""Stores, listings, actions on them and the statements of reasons that go with each restriction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from sqlalchemy import select

from counterwatch.api import schemas as sc
from counterwatch.api.auth import CurrentActor
from counterwatch.api.deps import run, unit
from counterwatch.enforce.service import Enforcement
from counterwatch.store.models import Action

router = APIRouter(tags=["marketplace"])


@router.get("/stores/{store_id}", response_model=sc.StoreDetail)
async def get_store(store_id: str, request: Request, actor: CurrentActor) -> sc.StoreDetail:
    """A store with its active penalty points: staff see any, a seller its own."""

    def work(svc: Enforcement) -> sc.StoreDetail:
        st = svc.store(store_id)
        return sc.StoreDetail.model_validate({**sc.StoreOut.model_validate(st).model_dump(), "active_points": svc.points(st)})

    return await run(request, actor, work)


@router.get("/listings", response_model=list[sc.ListingOut])
def list_listings(request: Request, actor: CurrentActor, store_id: str | None = Query(None, max_length=100),
                  status: str | None = Query(None, pattern="^(active|removed)$"),
                  limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=sc.MAX_INT)) -> list[sc.ListingOut]:  # fmt: skip
    with unit(request, actor) as svc:
        return [sc.ListingOut.model_validate(li) for li in svc.listings(store_id, status, limit, offset)]


@router.get("/listings/{listing_id}", response_model=sc.ListingOut)
async def get_listing(listing_id: str, request: Request, actor: CurrentActor) -> sc.ListingOut:
    return await run(request, actor, lambda svc: sc.ListingOut.model_validate(svc.listing(listing_id)))


@router.post("/actions", response_model=list[sc.ActionOut], status_code=201,
             responses={409: {"description": "the action clashes with the current state or a rule"}})  # fmt: skip
async def act(body: sc.ActionIn, request: Request, actor: CurrentActor) -> list[sc.ActionOut]:
    """A person's action; each restriction comes with a statement of reasons. Returns every action
    taken (closing an operator closes each of its stores; points may trigger a policy step)."""

    def need(field: str) -> str:
        value = getattr(body, field)
        if value is None:
            raise HTTPException(422, [{"loc": ["body", field], "msg": f"{body.kind} needs {field}", "type": "missing"}])
        return value  # type: ignore[no-any-return]

    def work(svc: Enforcement) -> list[sc.ActionOut]:
        if body.kind == "take_down":
            acts = [svc.take_down(need("listing_id"), body.reason_code or "counterfeit", body.note)]
        elif body.kind == "warn":
            acts = [svc.warn_store(need("store_id"), body.note)]
        elif body.kind == "add_points":
            acts = [svc.add_points(need("store_id"), need("violation"), body.note)]
        elif body.kind == "suspend_store":
            acts = [svc.suspend_store(need("store_id"), int(need("days")), body.note)]
        elif body.kind == "close_store":
            acts = [svc.close_store(need("store_id"), body.note)]
        else:
            acts = svc.close_operator(need("operator_id"), body.note)
        first_id = acts[0].id if acts else None
        svc.s.flush()
        if first_id is not None:  # the policy steps the action set off come back with it
            acts = list(svc.s.scalars(select(Action).where(Action.id >= first_id, Action.actor_id == svc.actor.user_id)
                                      .order_by(Action.id)))  # fmt: skip
        return [sc.ActionOut.model_validate(a) for a in acts]

    return await run(request, actor, work)


@router.post("/actions/{action_id}/reinstate", response_model=sc.ActionOut, status_code=201)
async def reinstate(action_id: Annotated[int, Path(ge=1, le=sc.MAX_INT)], body: sc.ReinstateIn, request: Request, actor: CurrentActor) -> sc.ActionOut:
    """Undo a takedown, suspension or closure: the points it added are cancelled."""
    return await run(request, actor, lambda svc: sc.ActionOut.model_validate(svc.reinstate(action_id, body.note)))


@router.get("/actions", response_model=list[sc.ActionOut])
def list_actions(request: Request, actor: CurrentActor, store_id: str | None = Query(None, max_length=100),
                 limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=sc.MAX_INT)) -> list[sc.ActionOut]:  # fmt: skip
    with unit(request, actor) as svc:
        return [sc.ActionOut.model_validate(a) for a in svc.actions(store_id, limit, offset)]


@router.get("/actions/{action_id}", response_model=sc.ActionOut)
async def get_action(action_id: Annotated[int, Path(ge=1, le=sc.MAX_INT)], request: Request, actor: CurrentActor) -> sc.ActionOut:
    return await run(request, actor, lambda svc: sc.ActionOut.model_validate(svc.action(action_id)))


@router.get("/statements", response_model=list[sc.StatementOut])
def list_statements(request: Request, actor: CurrentActor, limit: int = Query(100, ge=1, le=1000),
                    offset: int = Query(0, ge=0, le=sc.MAX_INT)) -> list[sc.StatementOut]:  # fmt: skip
    """Statements of reasons (DSA Art. 17): a seller sees those addressed to it."""
    with unit(request, actor) as svc:
        return [sc.StatementOut.model_validate(st) for st in svc.statements(limit, offset)]


@router.get("/statements/{statement_id}", response_model=sc.StatementOut)
async def get_statement(statement_id: Annotated[int, Path(ge=1, le=sc.MAX_INT)], request: Request, actor: CurrentActor) -> sc.StatementOut:
    return await run(request, actor, lambda svc: sc.StatementOut.model_validate(svc.statement(statement_id)))
