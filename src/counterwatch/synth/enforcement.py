"""What rights holders and the marketplace already know: notices and labelled outcomes.

Notices mostly hit counterfeits, but a few hit genuine resellers, pre-owned and
clearance goods (a rights holder overreaching); some cite a lapsed trademark. Labels
are a few percent of listings, skewed towards suspicious ones as real review queues
are: notice outcomes (``notice_upheld`` for counterfeits, ``appeal_upheld`` for the
wrongly accused), test buys and reviews. Labels tell the truth.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from counterwatch.contract.schema import NOTICE_BASES
from counterwatch.synth.clock import seconds_before
from counterwatch.synth.config import SynthConfig
from counterwatch.synth.listings import CF, HN, ORDINARY, Listings
from counterwatch.synth.text import choose, join_parts, numbered, strs

EVIDENCE = (
    "Test purchase confirmed counterfeit; order ref ", "Listing uses our registered mark without authorization, case ",
    "侵犯注册商标专用权，投诉编号 ", "Photos copied from our official website, see https://brand-protection.example/case/",
    "鉴定报告编号 ", "Product not manufactured by the rights holder; ref ",
)  # fmt: skip


def build_notices(rng: np.random.Generator, cfg: SynthConfig, listings: Listings, brands: list[dict]) -> pl.DataFrame:
    n = len(listings.cls)
    cf = np.flatnonzero(listings.counterfeit & (rng.random(n) < cfg.notice_share))
    suspect = (listings.cls == HN["reseller"]) | (listings.cls == HN["pre_owned"]) | (listings.cls == HN["clearance"])
    suspect |= listings.cls == HN["authorized"]
    wrong_pool = np.flatnonzero(suspect)
    k_wrong = min(len(wrong_pool), round(n * cfg.wrong_notice_share))
    rows = np.concatenate([cf, rng.choice(wrong_pool, k_wrong, replace=False)])
    m = len(rows)
    brand = listings.brand[rows]
    marks = [[t["registration_no"] for t in b["trademarks"]] for b in brands]
    counts = np.array([len(x) for x in marks])
    flat = np.array([r for x in marks for r in x], dtype=object)
    reg = flat[(np.cumsum(counts) - counts)[brand] + (rng.random(m) * counts[brand]).astype(np.int64)]
    after = (rng.random(m) * listings.created_seconds[rows]).astype(np.int64)
    evidence = join_parts([choose(rng, m, EVIDENCE), strs(rng.integers(10**5, 10**6, m).astype(str))], sep="")
    chrono = np.argsort(-after, kind="stable")
    return pl.DataFrame(
        {
            "notice_id": strs(numbered("N", np.arange(1, m + 1), 7)),
            "brand_id": strs(np.array([b["brand_id"] for b in brands], dtype=object)[brand][chrono]),
            "listing_id": listings.table["listing_id"].gather(rows[chrono]),
            "basis": strs(choose(rng, m, NOTICE_BASES, p=[0.85, 0.08, 0.05, 0.02])[chrono]),
            "registration_no": strs(reg[chrono]),
            "evidence": evidence.gather(chrono),
            "submitted_at": seconds_before(cfg.reference_date, after[chrono]),
        }
    )


def build_labels(rng: np.random.Generator, cfg: SynthConfig, listings: Listings, notices: pl.DataFrame) -> pl.DataFrame:
    n = len(listings.cls)
    noticed = notices["listing_id"].str.slice(1).cast(pl.Int64).to_numpy() - 1  # L0000001 is row 0
    noticed_at = (cfg.reference_date - notices["submitted_at"]).dt.total_seconds().to_numpy().astype(np.int64)
    decided = rng.random(len(noticed)) < 0.4  # outcomes known for some notices
    n_rows, n_before = noticed[decided], noticed_at[decided]
    n_rows, first = np.unique(n_rows, return_index=True)
    n_before = n_before[first]
    n_source = np.where(listings.counterfeit[n_rows], "notice_upheld", "appeal_upheld")

    want = max(round(n * cfg.label_share) - len(n_rows), 0)
    w = np.select([listings.cls == CF, listings.cls == ORDINARY], [3.0, 0.5], 2.0)
    w[n_rows] = 0.0
    others = rng.choice(n, size=min(want, int((w > 0).sum())), replace=False, p=w / w.sum())
    o_source = choose(rng, len(others), ("test_buy", "review"), p=[0.3, 0.7])
    rows = np.concatenate([n_rows, others])
    before = np.concatenate([n_before, listings.created_seconds[others]])
    decided_before = (rng.random(len(rows)) * before).astype(np.int64)
    order = np.argsort(-decided_before, kind="stable")
    return pl.DataFrame(
        {
            "listing_id": listings.table["listing_id"].gather(rows[order]),
            "label": strs(np.where(listings.counterfeit[rows], "counterfeit", "genuine")[order]),
            "source": strs(np.concatenate([n_source, o_source])[order]),
            "decided_at": seconds_before(cfg.reference_date, decided_before[order]),
        }
    )
