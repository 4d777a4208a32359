"""The reviewers' queue and their decisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from counterwatch.api import schemas as sc
from counterwatch.api.auth import CurrentActor
from counterwatch.api.deps import run, unit

router = APIRouter(tags=["review"])


@router.get("/review/queue", response_model=list[sc.ReviewItemOut])
def queue(request: Request, actor: CurrentActor, limit: int = Query(50, ge=1, le=500),
          offset: int = Query(0, ge=0, le=sc.MAX_INT)) -> list[sc.ReviewItemOut]:  # fmt: skip
    """Open items: trusted flaggers' notices first, then other notices, then detection; riskiest, then oldest."""
    with unit(request, actor) as svc:
        return [sc.ReviewItemOut.model_validate(i) for i in svc.queue(limit, offset)]


@router.get("/review/items/{item_id}", response_model=sc.ReviewItemOut)
async def item(item_id: Annotated[int, Path(ge=1, le=sc.MAX_INT)], request: Request,
               actor: CurrentActor) -> sc.ReviewItemOut:
    return await run(request, actor, lambda svc: sc.ReviewItemOut.model_validate(svc.review_item(item_id)))


@router.post("/review/items/{item_id}/decision", response_model=sc.DecisionOut, status_code=201,
             responses={409: {"description": "decided already (by whom and when), or the reason code does not fit"}})  # fmt: skip
async def decide(item_id: Annotated[int, Path(ge=1, le=sc.MAX_INT)], body: sc.DecisionIn, request: Request, actor: CurrentActor) -> sc.DecisionOut:
    """Take down or keep, with a reason code. Of two reviewers deciding one item, one wins; the other gets 409."""
    return await run(request, actor, lambda svc: sc.DecisionOut.model_validate(
        svc.decide(item_id, body.outcome, body.reason_code, body.note)))
