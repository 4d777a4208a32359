"""Time to action: from a notice's or review item's arrival to its decision."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from counterwatch.store.models import Notice, ReviewItem, utcnow


def _summary(rows: list[tuple[dt.datetime, dt.datetime | None]], now: dt.datetime) -> dict[str, Any]:
    secs = np.array([(d - a).total_seconds() for a, d in rows if d is not None], dtype=np.float64)
    waiting = [(now - a).total_seconds() for a, d in rows if d is None]
    return {
        "arrived": len(rows),
        "decided": int(secs.size),
        "open": len(waiting),
        "median_hours": float(np.median(secs) / 3600) if secs.size else None,
        "p95_hours": float(np.percentile(secs, 95) / 3600) if secs.size else None,
        "within_24h": float((secs <= 86400).mean()) if secs.size else None,
        "oldest_open_hours": max(waiting) / 3600 if waiting else None,
    }


def time_to_action(session: Session, since: dt.datetime | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """Median and 95th percentile hours from arrival to decision, for notices and review items."""
    now = now or utcnow()
    nq = select(Notice.received_at, Notice.decided_at)
    rq = select(ReviewItem.created_at, ReviewItem.decided_at).where(ReviewItem.status != "withdrawn")
    if since is not None:
        nq, rq = nq.where(Notice.received_at >= since), rq.where(ReviewItem.created_at >= since)
    return {
        "notices": _summary([tuple(r) for r in session.execute(nq)], now),  # type: ignore[misc]
        "review_items": _summary([tuple(r) for r in session.execute(rq)], now),  # type: ignore[misc]
    }
