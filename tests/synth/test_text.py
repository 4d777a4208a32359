"""Brand-name obfuscation: each disguise differs from every name the brand owns, and is of its kind."""

from __future__ import annotations

import numpy as np

from counterwatch.synth.catalogue import CATALOGUE
from counterwatch.synth.config import OBFUSCATIONS
from counterwatch.synth.text import digit_swap, fullwidth, homoglyph, misspell, obfuscation_pools, separate, zero_width


def test_examples() -> None:
    rng = np.random.default_rng(0)
    assert fullwidth("NIKE", rng) in ("ＮＩＫＥ",)
    assert any(c.isdigit() for c in digit_swap("Rolex", rng))
    assert separate("GUCCI", rng).replace(".", "").replace(" ", "").replace("-", "").replace("*", "").replace(
        "_", "").replace("·", "").upper() == "GUCCI"  # fmt: skip
    assert homoglyph("Rolex", rng) != "Rolex" and homoglyph("Rolex", rng).isascii() is False
    assert len(zero_width("Nike", rng)) > 4
    assert misspell("劳力士", rng) != "劳力士"
    assert digit_swap("耐克", rng) is None


def test_pools_cover_every_brand_and_kind() -> None:
    variants, start, count = obfuscation_pools(CATALOGUE, np.random.default_rng(1))
    assert start.shape == (len(CATALOGUE), len(OBFUSCATIONS)) and (count >= 1).all()
    for b, entry in enumerate(CATALOGUE):
        owned = {n.casefold() for n in (entry.name, *entry.aliases)}
        for k in range(len(OBFUSCATIONS)):
            for v in variants[start[b, k] : start[b, k] + count[b, k]]:
                assert v.casefold() not in owned
