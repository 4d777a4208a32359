"""``enforce`` over a generated workspace: it acts once on what detection found, creates nothing
twice when rerun, acts again only on listings that changed, and lets a person's decision stand."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select, text

from counterwatch.config import Settings, load_settings
from counterwatch.enforce.service import Enforcement
from counterwatch.enforce.stage import EnforceResult, enforce
from counterwatch.pipeline import STAGES, run_pipeline
from counterwatch.store.db import DB_ENV, Database, open_database
from counterwatch.store.models import Action, Base, Listing, Notice, ReviewItem, StatementOfReasons
from counterwatch.synth import generate
from counterwatch.workspace import Workspace

LISTINGS = 400
SEED = 7
ZERO = EnforceResult().as_dict()


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated workspace with the stages before ``enforce`` (validate, link, scan) run once."""
    root = tmp_path_factory.mktemp("enforce-stage") / "ws"
    generate(root, listings=LISTINGS, seed=SEED)
    ws, settings = Workspace.at(root), load_settings(root)
    for stage in STAGES:
        if stage.name != "enforce":
            stage.run(ws, settings, lambda _m: None)
    return root


@pytest.fixture
def ws(scanned: Path, tmp_path: Path) -> Workspace:
    dest = tmp_path / "ws"
    shutil.copytree(scanned, dest)
    return Workspace.at(dest)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.dispose()


def table_counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t.name: conn.execute(text(f"SELECT COUNT(*) FROM {t.name}")).scalar_one() for t in Base.metadata.sorted_tables}


def scores(ws: Workspace) -> pl.DataFrame:
    return pl.read_parquet(ws.out / "scores.parquet")


def set_score(ws: Workspace, listing_id: str, risk: float, band: str) -> None:
    df = scores(ws)
    df = df.with_columns(
        risk=pl.when(pl.col("listing_id") == listing_id).then(pl.lit(risk)).otherwise(pl.col("risk")),
        band=pl.when(pl.col("listing_id") == listing_id).then(pl.lit(band)).otherwise(pl.col("band")),
    )
    df.write_parquet(ws.out / "scores.parquet")


def set_title(ws: Workspace, listing_id: str, title: str) -> None:
    """Edit the input listings file, as a new export would: validation reruns on the next read."""
    path = ws.root / "listings.parquet"
    table = pq.read_table(path)
    titles = [title if lid == listing_id else t for lid, t in
              zip(table.column("listing_id").to_pylist(), table.column("title").to_pylist(), strict=False)]  # fmt: skip
    pq.write_table(table.set_column(table.schema.get_field_index("title"), "title", [titles]), path)


def test_enforce_acts_on_the_bands_and_a_rerun_creates_nothing(ws: Workspace, db: Database, db_url: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # the pipeline enforces into the database $COUNTERWATCH_DB names (and builds leads after it)
    monkeypatch.setenv(DB_ENV, db_url)
    settings = load_settings(ws.root)
    run = run_pipeline(ws, settings)
    assert [r.stage for r in run] == ["validate", "link", "scan", "enforce", "leads"]
    first = next(r.details for r in run if r.stage == "enforce")
    assert not (ws.root / "counterwatch.db").exists()  # it went where the variable says
    sc = scores(ws)
    bands = dict(zip(*sc.group_by("band").len().to_dict(as_series=False).values(), strict=False))
    assert first.listings_added == LISTINGS and first.listings_changed == 0
    assert first.takedowns == bands["block"] > 0
    assert first.review_items > 0 and first.notices_filed > 0 and first.stores_added > 0
    with db.session() as s:
        removed = set(s.scalars(select(Listing.listing_id).where(Listing.status == "removed")))
        assert removed == set(sc.filter(pl.col("band") == "block")["listing_id"])
        queued = set(s.scalars(select(ReviewItem.listing_id).where(ReviewItem.source == "detection")))
        assert queued <= set(sc.filter(pl.col("band") == "review")["listing_id"])
        # every automated takedown says so in its statement of reasons (DSA Art. 17(3)(c))
        auto = s.execute(select(StatementOfReasons.automated_detection, StatementOfReasons.automated_decision)
                         .join(Action, Action.id == StatementOfReasons.action_id)
                         .where(Action.kind == "take_down")).all()  # fmt: skip
        assert len(auto) == first.takedowns
        assert sorted(set(map(tuple, auto))) == [(True, True)]
        mirrored = {lid: band for lid, band in s.execute(select(Listing.listing_id, Listing.band))}
        assert mirrored == dict(zip(sc["listing_id"], sc["band"], strict=False))
    counts = table_counts(db)
    assert counts["notices"] == first.notices_filed and counts["listings"] == LISTINGS

    # again, directly and through the stage: nothing new anywhere, the audit log included
    assert enforce(ws, settings, db).as_dict() == ZERO
    stage = next(st for st in STAGES if st.name == "enforce")
    assert stage.run(ws, settings, lambda _m: None).details.as_dict() == ZERO
    assert table_counts(db) == counts


def test_a_changed_score_is_acted_on_and_nothing_else(ws: Workspace, db: Database) -> None:
    settings = Settings()
    enforce(ws, settings, db)
    sc = scores(ws)
    target = sc.filter(pl.col("band") == "allow")["listing_id"][0]
    counts = table_counts(db)
    set_score(ws, target, 0.97, "block")
    r = enforce(ws, settings, db)
    assert (r.listings_added, r.listings_changed, r.takedowns, r.review_items, r.notices_filed) == (0, 1, 1, 0, 0)
    with db.session() as s:
        assert s.get(Listing, target).status == "removed" and s.get(Listing, target).band == "block"
        new_actions = s.scalars(select(Action).order_by(Action.id).offset(counts["actions"])).all()
        assert {a.listing_id for a in new_actions if a.kind == "take_down"} == {target}
        assert all(a.listing_id in (target, None) for a in new_actions)
    assert table_counts(db)["listings"] == counts["listings"]
    assert enforce(ws, settings, db).as_dict() == ZERO


def test_a_changed_title_requeues_a_listing_a_reviewer_kept(ws: Workspace, db: Database) -> None:
    settings = Settings()
    enforce(ws, settings, db)
    with db.session() as s:
        item = s.scalars(select(ReviewItem).where(ReviewItem.source == "detection", ReviewItem.status == "open")
                         .order_by(ReviewItem.id)).first()  # fmt: skip
        assert item is not None
        kept, other = item.listing_id, None
        svc = Enforcement(s, settings, _reviewer(s))
        svc.decide(item.id, "keep", "genuine", "checked the photos")
        other_item = s.scalars(select(ReviewItem).where(ReviewItem.source == "detection", ReviewItem.status == "open")
                               .order_by(ReviewItem.id)).first()  # fmt: skip
        if other_item is not None:
            other = other_item.listing_id
            svc.decide(other_item.id, "keep", "genuine", "checked too")
    # unchanged: the reviewer's keep stands, nothing is queued again
    assert enforce(ws, settings, db).as_dict() == ZERO
    with db.session() as s:
        assert len(s.scalars(select(ReviewItem).where(ReviewItem.listing_id == kept)).all()) == 1

    set_title(ws, kept, "BRAND NEW replica edition, 1:1 mirror quality")
    r = enforce(ws, settings, db)
    assert (r.listings_changed, r.review_items, r.takedowns) == (1, 1, 0)
    with db.session() as s:
        assert s.get(Listing, kept).title == "BRAND NEW replica edition, 1:1 mirror quality"
        items = s.scalars(select(ReviewItem).where(ReviewItem.listing_id == kept).order_by(ReviewItem.id)).all()
        assert [i.status for i in items] == ["decided", "open"]
        if other is not None:  # the other kept listing did not change: still one item, decided
            assert [i.status for i in s.scalars(select(ReviewItem).where(ReviewItem.listing_id == other))] == ["decided"]


def test_a_reinstated_takedown_is_not_taken_down_again_while_unchanged(ws: Workspace, db: Database) -> None:
    settings = Settings()
    enforce(ws, settings, db)
    with db.session() as s:
        act = s.scalars(select(Action).where(Action.kind == "take_down").order_by(Action.id)).first()
        Enforcement(s, settings, _reviewer(s)).reinstate(act.id, "reviewer: the goods are genuine")
        lid = act.listing_id
    assert enforce(ws, settings, db).as_dict() == ZERO
    with db.session() as s:
        assert s.get(Listing, lid).status == "active"
        assert len(s.scalars(select(Action).where(Action.kind == "take_down", Action.listing_id == lid)).all()) == 1
    # detection sees it change: it is taken down again
    set_title(ws, lid, "new title, same fake")
    r = enforce(ws, settings, db)
    assert (r.listings_changed, r.takedowns) == (1, 1)
    with db.session() as s:
        assert s.get(Listing, lid).status == "removed"


def test_a_queued_listing_that_falls_to_allow_is_withdrawn(ws: Workspace, db: Database) -> None:
    settings = Settings()
    enforce(ws, settings, db)
    with db.session() as s:
        item = s.scalars(select(ReviewItem).where(ReviewItem.source == "detection", ReviewItem.status == "open")
                         .order_by(ReviewItem.id)).first()  # fmt: skip
    set_score(ws, item.listing_id, 0.1, "allow")
    r = enforce(ws, settings, db)
    assert (r.listings_changed, r.withdrawn, r.review_items, r.takedowns) == (1, 1, 0, 0)
    with db.session() as s:
        assert s.get(ReviewItem, item.id).status == "withdrawn"
        assert s.get(Listing, item.listing_id).status == "active"
        notices = s.scalar(select(func.count()).select_from(Notice))
    assert enforce(ws, settings, db).as_dict() == ZERO
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Notice)) == notices


def _reviewer(s) -> object:  # type: ignore[no-untyped-def]
    from counterwatch.enforce.service import Actor
    from counterwatch.store.models import User

    u = User(username="reviewer", role="reviewer")
    s.add(u)
    s.flush()
    return Actor(u.id, u.username, u.role)


