"""Rights holders' notices: one at a time or in bulk (CSV in the contract's ``notices`` shape)."""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter, File, HTTPException, Query, Request, Response, UploadFile
from pydantic import ValidationError

from counterwatch.api import hot
from counterwatch.api import schemas as sc
from counterwatch.api.auth import CurrentActor
from counterwatch.api.deps import run, unit
from counterwatch.enforce.service import NoticeIn
from counterwatch.errors import ConflictError, CounterwatchError, NotFoundError, RefusedError

router = APIRouter(tags=["notices"])

MAX_BULK_ROWS = 10_000
MAX_BULK_BYTES = 20 * 1024 * 1024
COLUMNS = ("notice_id", "brand_id", "listing_id", "basis", "registration_no", "evidence", "submitted_at")
REQUIRED = ("notice_id", "brand_id", "listing_id", "basis", "registration_no")


def _to_service(n: sc.NoticeIn) -> NoticeIn:
    return NoticeIn(n.notice_id, n.brand_id, n.listing_id, n.basis, n.registration_no, n.evidence, n.submitted_at)


@router.post("/notices", response_model=sc.NoticeOut, status_code=201,
             responses={404: {"description": "unknown brand or listing"}, 409: {"description": "duplicate id, or notifier suspended"}})  # fmt: skip
async def file_notice(body: sc.NoticeIn, request: Request, actor: CurrentActor) -> sc.NoticeOut:
    """File one notice. A notice relying on an unknown or expired trademark is recorded with status
    ``rejected`` and the reason; a valid one goes to review."""
    # async on purpose: a few milliseconds of CPU and a handful of indexed statements. Handed to a
    # thread, the GIL hand-offs cost more than the work (153 against 200 requests/s sustained in
    # bench/bench_api.py); on PostgreSQL the statements and the commit await the async driver.
    notice = _to_service(body)
    # on PostgreSQL the common case in two pipelined round trips (api/hot.py); anything else, and
    # SQLite, through the whole workflow
    out = await hot.file_notice(request, actor, notice, sc.NoticeOut.model_validate)
    if out is None:
        out = await run(request, actor, lambda svc: sc.NoticeOut.model_validate(svc.file_notice(notice)))
    # serialised once, here: returning the model would have FastAPI validate it a second time
    return Response(out.model_dump_json(), status_code=201, media_type="application/json")  # type: ignore[return-value]


def _column_of(exc: CounterwatchError) -> str | None:
    if isinstance(exc, NotFoundError):
        return {"listing": "listing_id", "brand": "brand_id"}.get(exc.entity)
    if isinstance(exc, ConflictError):
        return "notice_id"
    if isinstance(exc, RefusedError) and "basis" in str(exc):
        return "basis"
    return None


@router.post("/notices/bulk", response_model=sc.BulkReport,
             responses={400: {"description": "the file is not a CSV with the notices columns"}})  # fmt: skip
def file_notices_bulk(request: Request, actor: CurrentActor,
                      file: UploadFile = File(description="CSV, UTF-8, header row, the contract's notices columns")) -> sc.BulkReport:  # fmt: skip
    """File many notices from one CSV. Good rows are accepted, bad rows come back with their row
    number, column and reason; each row is its own savepoint, so a bad row leaves no trace."""
    data = file.file.read(MAX_BULK_BYTES + 1)
    if len(data) > MAX_BULK_BYTES:
        raise HTTPException(400, f"the file is larger than {MAX_BULK_BYTES // (1024 * 1024)} MB; split it")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"the file is not UTF-8 (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise HTTPException(400, f"the CSV lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                                 f"expected {', '.join(COLUMNS)}")  # fmt: skip
    errors: list[sc.RowError] = []
    filed: list[sc.NoticeOut] = []
    rows = 0
    with unit(request, actor) as svc:
        for rows, raw in enumerate(reader, start=1):
            if rows > MAX_BULK_ROWS:
                raise HTTPException(400, f"more than {MAX_BULK_ROWS:,} rows; split the file")
            nid = (raw.get("notice_id") or "").strip() or None
            if None in raw:  # more fields than the header has
                errors.append(sc.RowError(row=rows, column=None, notice_id=nid, message="more fields than the header"))
                continue
            values = {k: (v.strip() if isinstance(v, str) else v) for k, v in raw.items() if k in COLUMNS}
            values = {k: v for k, v in values.items() if v not in ("", None) or k in REQUIRED}
            try:
                body = sc.NoticeIn.model_validate(values)
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    col = str(err["loc"][0]) if err["loc"] else None
                    errors.append(sc.RowError(row=rows, column=col, notice_id=nid, message=err["msg"]))
                continue
            try:
                with svc.s.begin_nested():
                    filed.append(sc.NoticeOut.model_validate(svc.file_notice(_to_service(body))))
            except CounterwatchError as exc:
                if isinstance(exc, NotFoundError) and exc.denied:  # outside the caller's scope: audited
                    svc.audit("denied", exc.entity or "unknown", exc.entity_id[:100],
                              why=f"POST /notices/bulk row {rows} outside the {svc.actor.role}'s scope")  # fmt: skip
                errors.append(sc.RowError(row=rows, column=_column_of(exc), notice_id=nid, message=str(exc)))
        return sc.BulkReport(rows=rows, accepted=len(filed), errors=errors, notices=filed,
                             rejected_by_rule=sum(n.status == "rejected" for n in filed))  # fmt: skip


@router.get("/notices", response_model=list[sc.NoticeOut])
def list_notices(request: Request, actor: CurrentActor,
                 status: str | None = Query(None, pattern="^(rejected|pending|upheld|dismissed|reversed)$"),
                 limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=sc.MAX_INT)) -> list[sc.NoticeOut]:  # fmt: skip
    """Notices: a brand user sees its own rights holder's only."""
    with unit(request, actor) as svc:
        return [sc.NoticeOut.model_validate(n) for n in svc.notices(status, limit, offset)]


@router.get("/notices/{notice_id}", response_model=sc.NoticeOut)
async def get_notice(notice_id: str, request: Request, actor: CurrentActor) -> sc.NoticeOut:
    return await run(request, actor, lambda svc: sc.NoticeOut.model_validate(svc.notice(notice_id)))
