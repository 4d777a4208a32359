"""The penalty policy as pure functions: a store's active points, and the step they call for.

Kept free of the database so the rules can be read, tested and explained on their own: the service
feeds in the ledger rows and applies what comes out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from counterwatch.config import PenaltyPolicy

SEVERITY = {"active": 0, "warned": 1, "suspended": 2, "closed": 3}


@dataclass(frozen=True)
class LedgerRow:
    occurred_at: dt.datetime
    expires_at: dt.datetime
    points: int
    cancelled: bool = False


def active_points(rows: Iterable[LedgerRow], at: dt.datetime, policy: PenaltyPolicy) -> int:
    """Points that count at ``at``: uncancelled, unexpired, and each group of violations that fall
    within ``group_window_days`` of the group's first counting once, at its heaviest."""
    live = sorted((r for r in rows if not r.cancelled and r.occurred_at <= at < r.expires_at),
                  key=lambda r: r.occurred_at)  # fmt: skip
    window = dt.timedelta(days=policy.group_window_days)
    total = 0
    group_start: dt.datetime | None = None
    group_max = 0
    for r in live:
        if group_start is None or r.occurred_at - group_start > window:
            total += group_max
            group_start, group_max = r.occurred_at, r.points
        else:
            group_max = max(group_max, r.points)
    return total + group_max


@dataclass(frozen=True)
class Step:
    """What the policy asks for: ``action`` is ``warn``, ``suspend`` or ``close``; ``at_points`` the step."""

    action: str
    at_points: int
    suspend_days: int | None
    why: str


def step_for(points: int, store_status: str, warned: bool, policy: PenaltyPolicy) -> Step | None:
    """The step a store with ``points`` must be moved to, or None when its state already suffices.

    A store is never moved to a milder state by points (reinstatement is its own action), and with
    ``warn_before_suspend`` a store without a warning on record is warned first.
    """
    reached = [s for s in policy.steps if points >= s.at_points]
    if not reached:
        return None
    step = reached[-1]
    target = {"warn": "warned", "suspend": "suspended", "close": "closed"}[step.action]
    current = SEVERITY.get(store_status, 0)
    if step.action == "warn":
        if warned or current >= SEVERITY["warned"]:
            return None
        return Step("warn", step.at_points, None, f"{points} active penalty points reach the warning step at {step.at_points}")
    if current >= SEVERITY[target]:
        return None
    if policy.warn_before_suspend and not warned:
        return Step("warn", step.at_points, None,
                    f"{points} active penalty points reach the {step.action} step at {step.at_points}; "
                    "the policy warns a store once before it suspends or closes it")  # fmt: skip
    return Step(step.action, step.at_points, step.suspend_days,
                f"{points} active penalty points reach the {step.action} step at {step.at_points}")  # fmt: skip
