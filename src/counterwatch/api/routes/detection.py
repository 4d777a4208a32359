"""Detection and linking at the door: score a listing as it is created, check a store as it opens."""

from __future__ import annotations

import threading
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from counterwatch.api import hot
from counterwatch.api import schemas as sc
from counterwatch.api.auth import CurrentActor
from counterwatch.api.deps import run
from counterwatch.enforce.service import Enforcement
from counterwatch.errors import InputError, NotFoundError
from counterwatch.store.models import Store

router = APIRouter(tags=["detection"])
_lock = threading.Lock()
SCORE_FIELDS = ("listing_id", "risk", "band", "reasons")


def _loaded(request: Request, name: str) -> Any:
    """The workspace's single-listing scorer or recidivism index, built once per process."""
    state = request.app.state
    if state.workspace is None:
        raise InputError("the API was started without a workspace: start it with `counterwatch serve WORKSPACE`")
    if getattr(state, name, None) is None:
        with _lock:
            if getattr(state, name, None) is None:
                if name == "scorer":
                    from counterwatch.detect.single import ListingScorer

                    state.scorer = ListingScorer.for_workspace(state.workspace, state.settings)
                else:
                    from counterwatch.link.recidivism import RecidivismIndex

                    state.recidivism = RecidivismIndex.for_workspace(state.workspace, state.settings)
    return getattr(state, name)


def _may_score(svc: Enforcement, store_id: str) -> None:
    """Staff may score any listing, a seller only one of its own stores'."""
    svc._require("admin", "reviewer", "investigator", "seller")
    if svc.actor.role == "seller":
        st = svc.s.get(Store, store_id)
        if st is None or st.seller_id != svc.actor.seller_id:
            raise NotFoundError(f"store {store_id!r} not found", denied=st is not None,
                                entity="store", entity_id=store_id)  # fmt: skip


@router.post("/listings/score", response_model=sc.ScoreOut,
             responses={503: {"description": "the workspace has no scan yet"}})  # fmt: skip
async def score_listing(body: sc.ListingIn, request: Request, actor: CurrentActor) -> sc.ScoreOut:
    """Score one listing as it is created (the same result as the batch scan would give). A seller
    scores listings of its own stores only."""
    # async on purpose: about a millisecond of CPU and one indexed query, cheaper on the event loop
    # than handed to a thread (the hand-off cost as much as the work; see docs/benchmarks.md)
    # on PostgreSQL the token in one statement (api/hot.py); a seller (its own stores only), a role that
    # may not score (an audited denial) and SQLite go through the whole unit of work
    who = await hot.resolve(request, actor)
    if who is None or who.role not in ("admin", "reviewer", "investigator"):
        await run(request, actor, lambda svc: _may_score(svc, body.store_id))
    row = _loaded(request, "scorer").score(body.model_dump())
    signals = {k: v for k, v in row.items() if k not in SCORE_FIELDS and not hasattr(v, "isoformat")}
    # built as the response_model describes, and sent as is: validating it again costs more than scoring
    payload = {"listing_id": row["listing_id"], "risk": row["risk"], "band": row["band"], "reasons": row["reasons"],
               "signals": signals}  # fmt: skip
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")  # type: ignore[return-value]


@router.post("/stores/check", response_model=sc.StoreCheckOut,
             responses={503: {"description": "the workspace has no link index yet"}})  # fmt: skip
async def check_store(body: sc.StoreCheckIn, request: Request, actor: CurrentActor) -> sc.StoreCheckOut:
    """Does a new store share identifiers with an operator already known? (investigators, reviewers)"""
    await run(request, actor, lambda svc: svc._require("admin", "reviewer", "investigator"))
    result = _loaded(request, "recidivism").check(body.model_dump())
    return sc.StoreCheckOut(matches=[sc.OperatorMatchOut(operator_id=m.operator_id, weight=m.weight, store_id=m.store_id,
                                                         evidence=m.evidence) for m in result.matches],
                            unusable=result.unusable)  # fmt: skip
