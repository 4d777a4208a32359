"""The reason codes reviewers and the system decide with, and the grounds they rest on.

A take-down reason is also a violation kind of the penalty policy (``[enforce.policy.violations]``);
a keep reason closes a review without restricting anything. The grounds are the text a statement
of reasons cites (DSA Art. 17(3)(d)/(e)).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    code: str
    outcome: str  # ``take_down`` or ``keep``
    label: str
    ground_type: str  # ``illegal_content`` or ``terms`` (incompatible with the terms of service)
    ground: str


TERMS = "Marketplace terms of service, section 3 (prohibited and infringing items)"

REASONS: dict[str, Reason] = {r.code: r for r in (
    Reason("counterfeit", "take_down", "goods bearing a counterfeit trademark", "illegal_content",
           "Sale of goods bearing a counterfeit of a registered trademark (trademark law of the place of "
           "sale, e.g. PRC Trademark Law art. 57, EU Trade Mark Regulation 2017/1001 art. 9); " + TERMS),
    Reason("trademark_misuse", "take_down", "unauthorised use of a brand's trademark in the listing",
           "illegal_content",
           "Use of a registered trademark in the course of trade without the holder's consent; " + TERMS),
    Reason("misleading_listing", "take_down", "misleading statements about brand or origin", "terms", TERMS),
    Reason("genuine", "keep", "the goods are genuine", "none", ""),
    Reason("authorized_seller", "keep", "the store is authorised by the brand", "none", ""),
    Reason("descriptive_use", "keep", "the brand is named only to describe compatibility or use", "none", ""),
    Reason("insufficient_evidence", "keep", "the evidence does not show an infringement", "none", ""),
)}  # fmt: skip

TAKE_DOWN = tuple(code for code, r in REASONS.items() if r.outcome == "take_down")
KEEP = tuple(code for code, r in REASONS.items() if r.outcome == "keep")
#: what the system says when it acts on a restriction decided by the penalty policy or a person on a store
STORE_GROUNDS = "Repeated infringements under the marketplace's penalty policy; " + TERMS
