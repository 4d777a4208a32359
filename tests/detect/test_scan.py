"""Scanning a workspace end to end, as a user runs it: one row per valid listing, risk, band, reasons."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import polars as pl
import pyarrow.parquet as pq
import pytest

from counterwatch.detect.scan import scan
from tests.detect.conftest import fresh_copy


def with_small_row_groups(ws, rows: int = 1_000):
    """``ws`` with its validated listings in row groups of ``rows``: with ``TASK_ROWS`` lowered, a
    small workspace is scanned by the process pool (at 6,000 listings it would be one task, in-process)."""
    from counterwatch.contract import ensure_validated

    ensure_validated(ws)  # a copy is validated again (its files' identities changed), then rewritten
    path = ws.tables_dir / "listings.parquet"
    pq.write_table(pq.read_table(path), path, row_group_size=rows)
    return ws


@pytest.fixture(scope="module")
def scanned(detect_ws, tmp_path_factory):
    ws = fresh_copy(detect_ws, tmp_path_factory.mktemp("scan") / "ws")
    result = scan(ws, workers=2)
    return ws, result


def test_one_row_per_valid_listing_with_risk_band_and_reasons(scanned):
    ws, result = scanned
    scores = pl.read_parquet(ws.out / "scores.parquet")
    valid = pq.read_metadata(ws.tables_dir / "listings.parquet").num_rows
    assert scores.height == valid == result.listings
    assert scores["listing_id"].n_unique() == valid
    assert scores.columns[:5] == ["listing_id", "store_id", "risk", "band", "reasons"]
    assert scores["risk"].is_between(0, 1).all()
    assert set(scores["band"].unique()) <= {"block", "review", "allow"}
    blocked = scores.filter(pl.col("band") == "block")
    assert blocked.height > 0 and (blocked["reasons"].list.len() > 0).all()
    for column in ("brand_id", "counterfeit_terms", "price_ratio", "photo_confirmed", "relist_similarity"):
        assert column in scores.columns


def test_built_in_weights_already_rank_counterfeits_first(scanned):
    from sklearn.metrics import roc_auc_score

    ws, _ = scanned
    scores = pl.read_parquet(ws.out / "scores.parquet", columns=["listing_id", "risk"])
    truth = pl.read_csv(ws.truth / "listings.csv", infer_schema_length=0)
    df = scores.join(truth, on="listing_id")
    assert roc_auc_score(df["is_counterfeit"] == "true", df["risk"]) > 0.97


def test_rescanning_gives_the_same_scores(scanned, tmp_path):
    ws, _ = scanned
    first = pl.read_parquet(ws.out / "scores.parquet")
    scan(ws, workers=1)
    again = pl.read_parquet(ws.out / "scores.parquet")
    assert first.equals(again)


def test_reasons_name_the_evidence(scanned):
    ws, _ = scanned
    scores = pl.read_parquet(ws.out / "scores.parquet")
    text = scores.filter(pl.col("band") == "block")["reasons"].explode()
    assert text.str.contains("counterfeit vocabulary").any()
    assert text.str.contains(r"price CNY \d+ is \d+ % of the '").any()


def cw(*args):
    return subprocess.run([sys.executable, "-m", "counterwatch", *args], capture_output=True, text=True,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}, timeout=600)  # fmt: skip


def test_train_then_evaluate_through_the_cli(detect_ws, tmp_path):
    ws = fresh_copy(detect_ws, tmp_path / "ws")
    r = cw("train", str(ws.root))
    assert r.returncode == 0, r.stderr
    assert "trained on" in r.stdout and (ws.root / "models" / "detect-model.json").is_file()
    card = json.loads((ws.root / "models" / "detect-model.json").read_text())
    assert card["features"] and card["metrics"]["labels"] > 0 and 0 < card["prior"]["population"] < 1
    assert card["trees"] == "detect-model.trees.npz" and (ws.root / "models" / card["trees"]).is_file()
    _trained_trees_score_as_the_model_without_sklearn(ws)
    r = cw("evaluate", str(ws.root), "--json")
    assert r.returncode == 0, r.stderr
    ev = json.loads((ws.out / "evaluation.json").read_text())
    assert ev["overall"]["roc_auc"] > 0.98
    assert ev["overall"]["block+review recall"] > 0.9
    assert set(ev["by_tactic"]) >= {"vocab_en", "vocab_zh", "obfuscated_brand", "no_text_tell"}


_SCORE_WITHOUT_SKLEARN = """
import sys
from pathlib import Path
import polars as pl
from counterwatch.detect.scorer import Scorer
from counterwatch.workspace import Workspace

ws = Workspace.at(Path(sys.argv[1]))
scorer = Scorer.for_workspace(ws)
risk = scorer.risk(pl.read_parquet(ws.out / "scores.parquet"))
pl.DataFrame({"risk": risk}).write_parquet(sys.argv[2])
print(scorer.model is None, scorer.trees is not None, "sklearn" in sys.modules)
"""


def _trained_trees_score_as_the_model_without_sklearn(ws) -> None:
    """A scan scores with the trained trees saved as arrays: the same probabilities as scikit-learn's
    ``predict_proba`` (to the bit), without importing scikit-learn (2.3 s in every scan process)."""
    import joblib

    from counterwatch.detect.scorer import feature_matrix

    out = ws.root / "risk.parquet"
    r = subprocess.run([sys.executable, "-c", _SCORE_WITHOUT_SKLEARN, str(ws.root), str(out)], capture_output=True,
                       text=True, check=True, timeout=600)  # fmt: skip
    assert r.stdout.split() == ["True", "True", "False"]
    card = json.loads((ws.root / "models" / "detect-model.json").read_text())
    model = joblib.load(ws.root / "models" / "detect-model.joblib")
    scores = pl.read_parquet(ws.out / "scores.parquet")
    p = model.predict_proba(feature_matrix(scores, card["features"]))[:, 1]
    from counterwatch.detect.scorer import shift_prior

    want = shift_prior(p, card["prior"]["labels"], card["prior"]["population"])
    assert pl.read_parquet(out)["risk"].to_numpy().tolist() == want.tolist()
    assert scores["risk"].to_numpy().tolist() == want.tolist()  # what train's rescore wrote


def test_evaluate_without_truth_says_so(detect_ws, tmp_path):
    ws = fresh_copy(detect_ws, tmp_path / "ws")
    import shutil

    shutil.rmtree(ws.truth)
    r = cw("evaluate", str(ws.root))
    assert r.returncode == 2 and "no ground truth" in r.stderr


def test_a_registry_without_brands_and_no_optional_tables_still_scans(detect_ws, tmp_path):
    """Every listing is scored from what there is: no brands, no labels, no orders, one currency."""
    ws = fresh_copy(detect_ws, tmp_path / "ws")
    for name in ("labels", "notices", "orders", "store_identifiers", "fx_rates"):
        (ws.root / f"{name}.parquet").unlink()
    listings = pl.read_parquet(ws.root / "listings.parquet")
    listings.filter(pl.col("currency") == "CNY").write_parquet(ws.root / "listings.parquet")
    (ws.root / "brands.json").write_text("[]")
    r = cw("run", str(ws.root))
    assert r.returncode == 0, r.stderr
    scores = pl.read_parquet(ws.out / "scores.parquet")
    assert scores.height == listings.filter(pl.col("currency") == "CNY").height
    assert scores["brand_id"].null_count() == scores.height


def test_store_age_is_the_stores_and_no_join_leftovers(scanned):
    ws, _ = scanned
    scores = pl.read_parquet(ws.out / "scores.parquet", columns=["store_id", "store_age_days"])
    assert not [c for c in pl.read_parquet_schema(ws.out / "scores.parquet") if c.endswith("_right")]
    stores = pl.read_parquet(ws.tables_dir / "stores.parquet", columns=["store_id", "created_at"])
    latest = pl.read_parquet(ws.tables_dir / "listings.parquet", columns=["created_at"])["created_at"].max()
    got = scores.unique("store_id").join(stores, on="store_id")
    expected = (pl.lit(latest) - got["created_at"]).dt.total_days()
    assert got["store_age_days"].to_list() == got.select(expected).to_series().to_list()


def test_a_workspace_whose_listings_are_all_invalid_says_so(detect_ws, tmp_path):
    """Every listing quarantined (here: a currency without a rate): a clear error, not a crash."""
    ws = fresh_copy(detect_ws, tmp_path / "ws")
    listings = pl.read_parquet(ws.root / "listings.parquet")
    listings.with_columns(pl.lit("XXX").alias("currency")).write_parquet(ws.root / "listings.parquet")
    r = cw("scan", str(ws.root))
    assert r.returncode != 0
    assert "no valid listings to score" in r.stderr and "'listings'" in r.stderr


def test_scored_parts_whose_schemas_differ_are_still_joined(tmp_path):
    """A part whose column is all nulls of another type is re-encoded, not refused."""
    from counterwatch.detect.scan import reencode_scores

    pl.DataFrame({"listing_id": ["a"], "relist_of": ["x"]}).write_parquet(tmp_path / "p0.parquet")
    pl.DataFrame({"listing_id": ["b"], "relist_of": [None]}, schema={"listing_id": pl.String, "relist_of": pl.Null}
                 ).write_parquet(tmp_path / "p1.parquet")  # fmt: skip
    reencode_scores([str(tmp_path / "p0.parquet"), str(tmp_path / "p1.parquet")], tmp_path / "out.parquet")
    assert pl.read_parquet(tmp_path / "out.parquet").to_dicts() == [
        {"listing_id": "a", "relist_of": "x"},
        {"listing_id": "b", "relist_of": None},
    ]


def test_the_process_pool_gives_the_in_process_scores(scanned, tmp_path, monkeypatch):
    """Several tasks over two workers (indexes built while the workers start, waited for, parts joined
    in order): the same rows, in the same order, as one process scanning everything."""
    from counterwatch.detect import scan as scan_module

    ws, _ = scanned
    alone = pl.read_parquet(ws.out / "scores.parquet")
    pooled = with_small_row_groups(fresh_copy(ws, tmp_path / "ws"))
    monkeypatch.setattr(scan_module, "TASK_ROWS", 2_000)
    result = scan(pooled, workers=2)
    assert result.listings == alone.height
    assert pq.ParquetFile(pooled.out / "scores.parquet").metadata.num_row_groups > 1
    assert pl.read_parquet(pooled.out / "scores.parquet").equals(alone)


def test_scores_are_re_encoded_when_a_part_cannot_be_copied(scanned, tmp_path, monkeypatch):
    """Parts are copied into the scores as pass 2 yields them; should one be refused (a schema typed
    otherwise), the scan re-encodes all of them instead, with the same rows."""
    from counterwatch.detect import scan as scan_module
    from counterwatch.parquetcat import Concatenation, SchemaMismatch

    ws, _ = scanned
    alone = pl.read_parquet(ws.out / "scores.parquet")
    appended = []

    class Refusing(Concatenation):
        def append(self, path):
            appended.append(path)
            if len(appended) == 2:
                raise SchemaMismatch(f"{path} has another schema than the parts before it")
            super().append(path)

    pooled = with_small_row_groups(fresh_copy(ws, tmp_path / "ws"))
    monkeypatch.setattr(scan_module, "TASK_ROWS", 2_000)
    monkeypatch.setattr(scan_module, "Concatenation", Refusing)
    scan(pooled, workers=2)
    assert len(appended) == 2  # no part copied after the refusal
    assert pl.read_parquet(pooled.out / "scores.parquet").equals(alone)


_MAIN_SCRIPT = """
import sys
from pathlib import Path

if __name__ == "__mp_main__":  # a worker running this program again
    Path(sys.argv[2]).touch()
elif __name__ == "__main__":
    from counterwatch.detect import scan as scan_module
    from counterwatch.workspace import Workspace

    scan_module.TASK_ROWS = 2_000
    result = scan_module.scan(Workspace.at(Path(sys.argv[1])), workers=2)
    from numba.core.registry import CPUDispatcher
    from counterwatch.detect import _views_kernels
    from counterwatch.detect.index import _hamming_kernels, _minhash_kernels

    loaded = [name for m in (_views_kernels, _hamming_kernels, _minhash_kernels) for name, k in vars(m).items()
              if isinstance(k, CPUDispatcher) and k.signatures]
    print(result.listings, Path(__file__).name, "kernels-in-main:", *loaded)
"""


def test_the_scans_workers_do_not_run_the_calling_program_again(detect_ws, tmp_path):
    """Workers started by ``multiprocessing`` run the parent's main script again by default; for the
    ``counterwatch`` command that is 0.6–0.7 s of imports per worker before any listing is scored.
    The program's own ``__file__`` is back once the workers are started. And the main process loads
    no compiled kernel (numba's start-up, a second of CPU, is the fork server's alone)."""
    ws = with_small_row_groups(fresh_copy(detect_ws, tmp_path / "ws"))
    script, marker = tmp_path / "program.py", tmp_path / "worker-ran-the-program"
    script.write_text(_MAIN_SCRIPT)
    out = subprocess.run([sys.executable, str(script), str(ws.root), str(marker)], capture_output=True, text=True,
                         check=True, timeout=600)  # fmt: skip
    n_valid = pq.ParquetFile(ws.tables_dir / "listings.parquet").metadata.num_rows
    assert out.stdout.split() == [str(n_valid), "program.py", "kernels-in-main:"]
    assert not marker.exists()


def test_unreadable_trained_trees_are_a_clear_error(tmp_path):
    from counterwatch.detect.scorer import TreeArrays
    from counterwatch.errors import InputError

    bad = tmp_path / "detect-model.trees.npz"
    bad.write_text("junk")
    with pytest.raises(InputError, match=r"detect-model\.trees\.npz cannot be read .*counterwatch train"):
        TreeArrays.load(bad)


def test_the_workers_module_imports_nothing_they_do_not_use():
    """Every scan worker imports ``counterwatch.detect.scan`` before its first task: DuckDB (the main
    process's context step, validation; 0.07 s of CPU per worker) is imported only where it is
    used, as are pandas and scikit-learn; building the reasons' lists (through Arrow, whose
    ``pa.array`` imports pandas: 0.3-0.5 s per worker) imports none of them."""
    code = (
        "import sys, numpy as np, polars as pl, counterwatch.detect.scan\n"
        "from counterwatch.detect.frames import lists_from_counts\n"
        "assert lists_from_counts(pl.Series(['a', 'b']), np.array([2, 0])).to_list() == [['a', 'b'], []]\n"
        "print(sorted(m for m in ('duckdb', 'pandas', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _worker_threads(_: int) -> tuple[list[int], str | None]:
    from threadpoolctl import threadpool_info

    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    return blas, os.environ.get("POLARS_MAX_THREADS")


def test_workers_run_one_blas_thread_and_one_polars_thread():
    """Two workers on two cores: OpenBLAS's per-core threads spin-wait after each matrix product and
    took a tenth of the scan's CPU from the other worker; Polars' would contend the same way."""
    from counterwatch.detect import scan as scan_module

    with scan_module._pool(2) as run:
        seen = list(run(_worker_threads, range(2)))
    for blas, polars in seen:
        assert polars == "1"
        assert blas and all(n == 1 for n in blas)
