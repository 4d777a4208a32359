"""Every share and rate of the synthetic marketplace, with defaults that give a realistic mix."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

#: Counterfeit tactics. A counterfeit listing uses exactly one (its main textual tell, or none).
TACTICS = (
    "vocab_en",  # replica, 1:1, AAA, mirror quality ...
    "vocab_zh",  # 高仿, 复刻, 原单, A货, 莆田 ...
    "obfuscated_brand",  # N1ke, G.U.C.C.I, ＮＩＫＥ, Cyrillic homoglyphs, zero-width chars, Rollex
    "brandless_keywords",  # "Air Jordan 1 retro high OG" with no brand at all
    "dupe",  # "dupe", "inspired by", 平替
    "no_text_tell",  # a clean, even "100% authentic" title: only price, photos and store tell
)
#: Genuine listings that look suspicious.
HARD_NEGATIVES = ("authorized", "reseller", "pre_owned", "accessory", "clearance", "guide")
#: Ways of disguising a brand name (the ``obfuscated_brand`` tactic).
OBFUSCATIONS = ("digit_swap", "separator", "fullwidth", "homoglyph", "zero_width", "misspelling")


@dataclass
class SynthConfig:
    """Knobs of the generator. Shares are fractions; each share map is normalised when used."""

    reference_date: datetime = datetime(2026, 10, 1, tzinfo=UTC)  # fixed: output is deterministic
    counterfeit_share: float = 0.12  # of listings
    tactic_shares: dict[str, float] = field(
        default_factory=lambda: {
            "vocab_en": 0.16, "vocab_zh": 0.16, "obfuscated_brand": 0.20,
            "brandless_keywords": 0.14, "dupe": 0.10, "no_text_tell": 0.24,
        }
    )  # fmt: skip
    obfuscation_shares: dict[str, float] = field(
        default_factory=lambda: {
            "digit_swap": 0.2, "separator": 0.2, "fullwidth": 0.1,
            "homoglyph": 0.15, "zero_width": 0.1, "misspelling": 0.25,
        }
    )  # fmt: skip
    hard_negative_share: float = 0.18  # of genuine listings; the rest are ordinary goods
    hard_negative_shares: dict[str, float] = field(
        default_factory=lambda: {
            "authorized": 0.30, "reseller": 0.20, "pre_owned": 0.15,
            "accessory": 0.20, "clearance": 0.10, "guide": 0.05,
        }
    )  # fmt: skip
    cover_share: float = 0.15  # counterfeit stores also sell ordinary genuine goods, as cover
    premium_fake_share: float = 0.12  # counterfeits priced close to genuine (no price tell)
    photo_reuse_share: float = 0.7  # counterfeit listings whose photos come from the operator's pool
    official_photo_share: float = 0.5  # authorized/reseller listings using the brand's official photos
    description_empty_share: float = 0.2
    tell_in_description_share: float = 0.3  # vocab tactics: the tell sits in the description, not the title

    listings_per_store: float = 25.0  # mean for legitimate stores; heavy-tailed
    counterfeit_listings_per_store: float = 12.0  # counterfeiters spread stock over many small stores
    counterfeit_stores_per_operator_alpha: float = 1.6  # Pareto tail: most 1-3, a few dozens+
    max_stores_per_operator: int = 150
    legit_multi_store_share: float = 0.06  # legit operators running 2-4 stores
    chain_operator_share: float = 0.35  # counterfeit operators tied only by chains of identifiers
    hub_share_probability: float = 0.45  # hub operators: chance a store reuses an operator identifier
    shared_seller_account_share: float = 0.15  # counterfeit operators opening all stores from one account
    decoy_store_share: float = 0.15  # legit stores touching a decoy identifier
    decoy_counterfeit_store_share: float = 0.05  # counterfeit stores touching one too
    placeholder_share: float = 0.05  # stores with a placeholder identifier (000000, n/a, test@test.com)

    orders_per_listing: float = 1.5  # mean for genuine listings; heavy-tailed
    threshold_cny: float = 50_000.0  # PRC criminal threshold for counterfeit sales
    far_above_share: float = 0.04  # counterfeit operators far above the threshold
    just_above_share: float = 0.04
    just_below_share: float = 0.05

    notice_share: float = 0.15  # counterfeit listings complained about
    wrong_notice_share: float = 0.004  # genuine (mostly hard-negative) listings wrongly complained about
    label_share: float = 0.03  # listings with a known outcome
