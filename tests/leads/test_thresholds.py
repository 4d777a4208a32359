"""Statutory thresholds: the PRC rules at their edges, versions in force by date, other jurisdictions
by configuration alone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from counterwatch.errors import ConfigError
from counterwatch.leads.thresholds import Figures, assess, load_thresholds

TODAY = dt.date(2026, 11, 28)
CN = load_thresholds().in_force("CN", TODAY)


def met(sales: str, unsold: str = "0", brands: int = 1, **kw: object) -> list[str]:
    assert CN is not None
    return [o.rule.id for o in assess(Figures(Decimal(sales), Decimal(unsold), brands, **kw), CN) if o.met]  # type: ignore[arg-type]


def test_art_214_sales_threshold_is_inclusive_to_the_cent():
    assert met("50000.00")[0] == "CN-214-sales"
    assert met("49999.99") == []


def test_unsold_goods_alone_or_with_sales_below_the_threshold():
    assert set(met("0", "150000")) == {"CN-214-unsold", "CN-214-sales-plus-unsold"}
    assert met("0", "149999.99") == []
    assert met("40000", "110000") == ["CN-214-sales-plus-unsold"]
    assert "CN-214-sales-plus-unsold" not in met("60000", "110000")  # only while sales stay below 50,000


def test_especially_serious_ranks_first():
    assert met("250000")[0] == "CN-214-especially-serious"
    assert met("249999.99")[0] == "CN-214-sales"


def test_art_213_applies_only_once_manufacture_is_evidenced():
    assert not any(r.startswith("CN-213") for r in met("45000", "10000", brands=2))
    assert met("45000", "10000", brands=2, manufacturing=True)[0] == "CN-213-volume-two-marks"
    assert "CN-213-volume-two-marks" not in met("25000", "10000", brands=1, manufacturing=True)


def test_a_newer_version_applies_from_its_date_and_a_new_jurisdiction_needs_only_configuration():
    extra = [
        {"jurisdiction": "CN", "name": "hypothetical revision", "version": "CN-2027", "in_force_from": dt.date(2027, 1, 1),
         "currency": "CNY", "rule": [{"id": "CN-214-sales", "article": "Art. 214", "offence": "selling",
                                      "metric": "sales", "at_least": 60000}]},
        {"jurisdiction": "XX", "name": "Example", "version": "XX-1", "in_force_from": dt.date(2020, 1, 1),
         "currency": "USD", "rule": [{"id": "XX-sales", "article": "s. 1", "offence": "trafficking",
                                      "metric": "sales", "at_least": 10000},
                                     {"id": "XX-repeat", "article": "s. 2", "offence": "trafficking again",
                                      "metric": "sales", "at_least": 2000, "repeat_offender": True}]},
    ]  # fmt: skip
    t = load_thresholds(extra)
    assert t.in_force("CN", TODAY).version == "CN-2022-05-15"  # type: ignore[union-attr]
    assert t.in_force("CN", dt.date(2027, 1, 1)).version == "CN-2027"  # type: ignore[union-attr]
    xx = t.in_force("XX", TODAY)
    assert xx is not None and t.in_force("XX", dt.date(2019, 12, 31)) is None
    assert [o.rule.id for o in assess(Figures(Decimal(3000), Decimal(0), 1), xx) if o.met] == []
    assert [o.rule.id for o in assess(Figures(Decimal(3000), Decimal(0), 1, repeat_offender=True), xx) if o.met] == ["XX-repeat"]


def test_a_malformed_rule_set_names_the_problem():
    with pytest.raises(ConfigError, match="metric"):
        load_thresholds([{"jurisdiction": "XX", "name": "x", "version": "v", "in_force_from": dt.date(2020, 1, 1),
                          "currency": "USD", "rule": [{"id": "a", "article": "a", "offence": "o", "metric": "profit",
                                                       "at_least": 1}]}])  # fmt: skip


@given(st.decimals(min_value=0, max_value=10**7, places=2), st.decimals(min_value=0, max_value=10**7, places=2),
       st.integers(min_value=1, max_value=5))
def test_margins_say_exactly_how_far_above_or_below(sales: Decimal, unsold: Decimal, brands: int):
    assert CN is not None
    for o in assess(Figures(sales, unsold, brands), CN):
        assert o.margin == o.value - o.rule.at_least
        assert o.met == (o.value >= o.rule.at_least)
    outcomes = assess(Figures(sales, unsold, brands), CN)
    # the met ones come first, and more sales never meet fewer rules
    assert [o.met for o in outcomes] == sorted((o.met for o in outcomes), reverse=True)
    more = assess(Figures(sales + 1000, unsold, brands), CN)
    assert {o.rule.id for o in outcomes if o.met} - {"CN-214-sales-plus-unsold"} <= {o.rule.id for o in more if o.met}
