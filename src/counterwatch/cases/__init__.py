"""Cases from referral to conviction, and the funnel that shows where leads leak.

``lifecycle`` refers a lead to an agency and follows its case through
``referred → accepted → investigating → raided → prosecuted → convicted | acquitted | dropped``;
``funnel`` counts how far leads get, how long each stage takes, and (with enough outcomes) ranks new
leads by their chance of being accepted and convicted. See docs/cases.md.
"""

from counterwatch.cases.lifecycle import (
    FINAL,
    STATUSES,
    TRANSITIONS,
    FieldError,
    FigureError,
    Figures,
    IllegalTransition,
    advance,
    refer,
)

__all__ = ["FINAL", "STATUSES", "TRANSITIONS", "FieldError", "FigureError", "Figures", "IllegalTransition", "advance", "refer"]
