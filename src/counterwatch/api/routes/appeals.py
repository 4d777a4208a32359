"""Sellers' appeals (the internal complaint system, DSA Art. 20) and their handling by another person."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from counterwatch.api import schemas as sc
from counterwatch.api.auth import CurrentActor
from counterwatch.api.deps import run, unit

router = APIRouter(tags=["appeals"])


@router.post("/appeals", response_model=sc.AppealOut, status_code=201,
             responses={409: {"description": "window closed, appealed already, or nothing to appeal"}})  # fmt: skip
async def file_appeal(body: sc.AppealIn, request: Request, actor: CurrentActor) -> sc.AppealOut:
    """Appeal a takedown, warning, points, suspension or closure of one's own store."""
    return await run(request, actor,
                     lambda svc: sc.AppealOut.model_validate(svc.file_appeal(body.action_id, body.statement)))


@router.get("/appeals", response_model=list[sc.AppealOut])
def list_appeals(request: Request, actor: CurrentActor,
                 status: str | None = Query(None, pattern="^(open|upheld|rejected)$"),
                 limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=sc.MAX_INT)) -> list[sc.AppealOut]:  # fmt: skip
    with unit(request, actor) as svc:
        return [sc.AppealOut.model_validate(a) for a in svc.appeals(status, limit, offset)]


@router.get("/appeals/{appeal_id}", response_model=sc.AppealOut)
async def get_appeal(appeal_id: Annotated[int, Path(ge=1, le=sc.MAX_INT)], request: Request, actor: CurrentActor) -> sc.AppealOut:
    return await run(request, actor, lambda svc: sc.AppealOut.model_validate(svc.appeal(appeal_id)))


@router.post("/appeals/{appeal_id}/decision", response_model=sc.AppealOut)
async def decide_appeal(appeal_id: Annotated[int, Path(ge=1, le=sc.MAX_INT)], body: sc.AppealDecisionIn, request: Request, actor: CurrentActor) -> sc.AppealOut:
    """Uphold (the action is undone, its points cancelled, the notifier's record marked) or reject.
    Someone other than the person who decided the action must handle it."""
    return await run(request, actor, lambda svc: sc.AppealOut.model_validate(
        svc.decide_appeal(appeal_id, body.upheld, body.note)))
