"""Linking stores into operators: what a shared value is worth, clustering, outputs, recidivism."""

from __future__ import annotations

import shutil

import polars as pl
import pytest

from counterwatch.config import LinkSettings, load_settings
from counterwatch.contract import ensure_validated
from counterwatch.link.evaluate import compare, evaluate_link
from counterwatch.link.evidence import pair_weights, values_frame
from counterwatch.link.normalize import normalize_identifiers
from counterwatch.link.operators import cluster
from counterwatch.link.recidivism import RecidivismIndex
from counterwatch.link.stage import IDENTIFIERS, LINKS, OPERATORS, link
from counterwatch.synth import generate
from counterwatch.workspace import Workspace

CFG = LinkSettings()


def operators_of(rows: list[tuple[str, str, str]], stores: list[str], cfg: LinkSettings = CFG) -> dict[str, str]:
    """store -> operator for identifier rows (store_id, kind, value), all stores in China."""
    ids = pl.DataFrame(rows, schema=["store_id", "kind", "value"], orient="row").with_columns(country=pl.lit("CN"))
    values = values_frame(normalize_identifiers(ids), None, cfg)
    pairs, _ = pair_weights(values, cfg)
    ops, _ = cluster(stores, pairs.filter(pl.col("weight") >= cfg.threshold), cfg.threshold, cfg.max_operator_stores)
    return dict(ops.select("store_id", "operator_id").iter_rows())


def test_an_account_shared_by_two_stores_links_them_in_any_format():
    ops = operators_of(
        [("A", "bank_account", "6222 0212 3456 7890 123"), ("B", "bank_account", "6222021234567890123"),
         ("C", "phone", "13800138001")],
        ["A", "B", "C"],
    )  # fmt: skip
    assert ops["A"] == ops["B"] == "OP-A"
    assert ops["C"] == "OP-C"


def test_a_chain_of_single_shared_values_is_one_operator():
    ops = operators_of(
        [("A", "phone", "+86 138 0013 8001"), ("B", "phone", "13800138001"),
         ("B", "email", "Chain.Shop@Gmail.com"), ("C", "email", "chainshop+2@gmail.com"),
         ("C", "device_id", "3F2504E0-4F89-11D3-9A0C-0305E82C3301"),
         ("D", "device_id", "3f2504e04f8911d39a0c0305e82c3301")],
        ["A", "B", "C", "D"],
    )  # fmt: skip
    assert len(set(ops.values())) == 1


def test_a_value_many_strangers_share_links_none_of_them():
    """A fulfilment warehouse and a courier's hotline used by 40 unrelated stores, two of which share both."""
    stores = [f"S{i:02d}" for i in range(40)]
    rows = [(s, "warehouse", "浙江省金华市义乌市北苑街道春华路1088号 菜鸟义乌中心仓") for s in stores]
    rows += [(s, "phone", "400-811-1111") for s in stores[:30]]
    rows += [(s, "phone", f"1390000{i:04d}") for i, s in enumerate(stores)]  # each store's own phone
    ops = operators_of(rows, stores)
    assert len(set(ops.values())) == 40


def test_a_common_name_alone_does_not_link():
    ops = operators_of([("A", "contact_name", "王伟"), ("B", "contact_name", "王伟")], ["A", "B"])
    assert ops["A"] != ops["B"]


def test_placeholders_are_never_evidence():
    ops = operators_of(
        [("A", "phone", "00000000000"), ("B", "phone", "00000000000"), ("A", "email", "test@test.com"),
         ("B", "email", "test@test.com"), ("A", "bank_account", "n/a"), ("B", "bank_account", "n/a")],
        ["A", "B"],
    )  # fmt: skip
    assert ops["A"] != ops["B"]


def test_an_operator_too_large_is_split_at_its_weakest_links():
    """Two tight groups of 4 stores joined by one link just above the threshold: with at most 5
    stores per operator, the weak bridge is cut and both groups stay whole."""
    strong = [("A1", "A2"), ("A2", "A3"), ("A3", "A4"), ("B1", "B2"), ("B2", "B3"), ("B3", "B4")]
    links = pl.DataFrame(
        [(a, b, 30.0) for a, b in strong] + [("A4", "B1", 9.5)], schema=["store_a", "store_b", "weight"], orient="row"
    )
    stores = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"]
    ops, kept = cluster(stores, links, 9.0, max_stores=5)
    by = dict(ops.select("store_id", "operator_id").iter_rows())
    assert {by[s] for s in stores[:4]} == {"OP-A1"} and {by[s] for s in stores[4:]} == {"OP-B1"}
    assert kept.height == 6
    whole, _ = cluster(stores, links, 9.0, max_stores=8)
    assert whole["operator_id"].n_unique() == 1


def test_pairwise_and_bcubed_against_truth():
    truth = pl.DataFrame({"store_id": list("abcde"), "operator_id": ["X", "X", "X", "Y", "Z"]})
    predicted = pl.DataFrame({"store_id": list("abcde"), "operator_id": ["P", "P", "Q", "Q", "R"]})
    m = compare(predicted, truth)
    # pairs: true {ab, ac, bc}; predicted {ab, cd}; shared {ab}
    assert m["pairwise"]["precision"] == pytest.approx(1 / 2) and m["pairwise"]["recall"] == pytest.approx(1 / 3)
    # B-cubed precision per store: a 1, b 1, c 1/2, d 1/2, e 1; recall: a 2/3, b 2/3, c 1/3, d 1, e 1
    assert m["bcubed"]["precision"] == pytest.approx((1 + 1 + 0.5 + 0.5 + 1) / 5)
    assert m["bcubed"]["recall"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 + 1) / 5)


@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    root = tmp_path_factory.mktemp("link") / "ws"
    generate(root, listings=30_000, seed=11, bad_rows=0.002)
    ws = Workspace.at(root)
    ensure_validated(ws)
    return ws, link(ws)


def test_link_writes_every_store_and_every_identifier_row(linked):
    ws, result = linked
    operators = pl.read_parquet(ws.out / OPERATORS)
    stores = pl.read_parquet(ws.tables_dir / "stores.parquet")
    assert sorted(operators["store_id"]) == sorted(stores["store_id"])
    assert operators["confidence"].is_between(0.5, 1.0).all()
    ids = pl.read_parquet(ws.out / IDENTIFIERS)
    assert ids.height == pl.read_parquet(ws.tables_dir / "store_identifiers.parquet").height  # nothing dropped
    unusable = ids.filter(~pl.col("usable"))
    assert unusable.height == result.unusable > 0
    assert unusable["reason"].is_not_null().all() and unusable["key"].is_null().all()
    assert ids.filter(pl.col("usable"))["reason"].is_null().all()
    links = pl.read_parquet(ws.out / LINKS)
    assert links.height == result.links > 0
    assert (links["weight"] >= load_settings(ws.root).link.threshold).all()
    assert links["evidence"].list.len().min() >= 1
    assert links["evidence"].explode().str.contains(r" shared by \d+ stores").all()


def test_link_finds_the_operators_of_the_generated_marketplace(linked):
    ws, _ = linked
    m = evaluate_link(ws)
    assert m is not None
    assert m["bcubed"]["f1"] >= 0.97, m
    assert m["legit_single_store_operators_merged"]["pairs"] <= 1, m


def test_operator_ids_are_stable_across_reruns(linked, tmp_path):
    ws, _ = linked
    again = Workspace.at(shutil.copytree(ws.root, tmp_path / "again"))
    link(again)
    assert pl.read_parquet(again.out / OPERATORS).equals(pl.read_parquet(ws.out / OPERATORS))
    assert pl.read_parquet(again.out / LINKS).equals(pl.read_parquet(ws.out / LINKS))


def test_recidivism_finds_the_operator_of_a_known_identifier_in_another_format(linked):
    ws, _ = linked
    operators = pl.read_parquet(ws.out / OPERATORS)
    ids = pl.read_parquet(ws.out / IDENTIFIERS).join(operators, on="store_id")
    # a bank account of a multi-store operator, shared by no other operator
    target = (
        ids.filter((pl.col("kind") == "bank_account") & pl.col("usable") & (pl.col("operator_stores") > 1))
        .filter(pl.col("shared_by") == 1)
        .sort("store_id")
        .row(0, named=True)
    )
    index = RecidivismIndex.for_workspace(ws)
    spaced = " ".join(target["key"].split(":", 1)[1][i : i + 4] for i in range(0, 19, 4))
    result = index.check({"country": "CN", "identifiers": [
        {"kind": "bank_account", "value": spaced}, {"kind": "phone", "value": "n/a"}]})  # fmt: skip
    assert [m.operator_id for m in result.matches] == [target["operator_id"]]
    assert result.matches[0].evidence and "acct" in result.matches[0].evidence[0]
    assert result.unusable == [{"kind": "phone", "value": "n/a", "reason": result.unusable[0]["reason"]}]
    nobody = index.check({"country": "CN", "identifiers": [{"kind": "phone", "value": "+86 139 1234 5678"}]})
    assert nobody.matches == []


def test_two_weak_values_of_one_family_do_not_add_up_to_a_link():
    """Three strangers behind one office's IPv4 and IPv6 exits: each value is weak, the family counts once."""
    rows = [(s, "ip", v) for s in ("S1", "S2", "S3") for v in ("58.20.1.7", "2400:da00::1")]
    ops = operators_of(rows, ["S1", "S2", "S3"])
    assert len(set(ops.values())) == 3


def test_evidence_names_an_ipv6_value_whole():
    ids = pl.DataFrame(
        [("A", "ip", "2400:da00::1"), ("B", "ip", "2400:DA00:0::1"), ("A", "phone", "13800138001"),
         ("B", "phone", "13800138001")], schema=["store_id", "kind", "value"], orient="row",
    ).with_columns(country=pl.lit("CN"))  # fmt: skip
    from counterwatch.link.evidence import evidence_expr

    pairs, _ = pair_weights(values_frame(normalize_identifiers(ids), None, CFG), CFG)
    text = pairs.with_columns(evidence_expr(CFG.cohesion_min_stores))["evidence"][0].to_list()
    assert any(t.startswith("ip 2400:da00::1 shared by 2 stores") for t in text), text
