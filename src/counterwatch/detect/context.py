"""Everything the per-listing work needs, built once per scan and shipped to workers.

The context holds no per-listing state: scoring a batch is a pure function of the batch and
the context, so the local process pool and Spark's ``mapInArrow`` can run the same code.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from counterwatch.config import Settings, load_settings
from counterwatch.contract import ensure_validated, read_brands, read_table
from counterwatch.detect.catalog import BrandCatalog
from counterwatch.detect.vocabulary import PhraseClass, load_vocabulary
from counterwatch.workspace import Workspace


def latest_labels(labels: pl.DataFrame) -> pl.DataFrame:
    """One label per listing: the latest decision wins (ties keep the later row of the table)."""
    return labels.sort("decided_at", maintain_order=True).group_by("listing_id", maintain_order=True).last()


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))


def _latest_created(path) -> dt.datetime | None:  # type: ignore[no-untyped-def]
    """The latest ``created_at`` of the listings: from row-group statistics, else by reading the column."""
    meta = pq.ParquetFile(path).metadata
    column = meta.schema.names.index("created_at")
    stats = [meta.row_group(g).column(column).statistics for g in range(meta.num_row_groups)]
    if stats and all(s is not None and s.has_min_max and s.null_count is not None for s in stats):
        logical = json.loads(meta.schema.column(column).logical_type.to_json())
        micros = {"milliseconds": 1000, "microseconds": 1}.get(logical.get("timeUnit", ""))
        if logical.get("Type") == "Timestamp" and logical.get("isAdjustedToUTC") and micros:
            # From the raw integers: pyarrow's conversion of timestamp statistics imports pandas (0.3 s).
            return _EPOCH + dt.timedelta(microseconds=max(s.max_raw for s in stats) * micros)
        return max(s.max for s in stats)
    import pyarrow.compute as pc  # here: importing it costs every scan worker 0.07 s

    return pc.max(pq.read_table(path, columns=["created_at"]).column("created_at")).as_py()


PHOTO_INDEX_FAST_MAX = 50_000  # confirmed-counterfeit photos indexed in the fast, memory-hungry layout


@dataclass
class DetectContext:
    base_currency: str
    fx: dict[str, float]
    catalog: BrandCatalog
    vocabulary: dict[str, PhraseClass]
    reference_time: dt.datetime
    #: listing ids confirmed counterfeit by a label, with their row in the indexes below
    confirmed_ids: list[str] = field(default_factory=list)
    photo_index: object | None = None  # HammingIndex over confirmed counterfeits' photos
    text_index: object | None = None  # TextIndex over confirmed counterfeits' titles
    #: the text views' per-character tables (``normalize.view_tables``), shipped to the scan's workers
    #: so they need not build them; None: each process builds its own at first use
    view_tables: object | None = None
    #: the confirmed listings (id, title, photos) until their indexes are built; never shipped
    confirmed_rows: pl.DataFrame | None = field(default=None, repr=False, compare=False)
    #: per signal, what its one-listing twin compiled (``Signal.prepare``); built on first use, never shipped
    _prepared: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        # automata are rebuilt where needed, and the listings behind the indexes are not shipped
        return {**self.__dict__, "_prepared": {}, "confirmed_rows": None}

    def prepared(self, signal: Any) -> Any:
        """``signal.prepare(self)``, once per context."""
        return self.once(signal.name, lambda: signal.prepare(self))

    def confirmed_series(self) -> pl.Series:
        """``confirmed_ids`` as a column, then a null (the row a gather takes for "none")."""
        return self.once("confirmed_ids", lambda: pl.Series([*self.confirmed_ids, None], dtype=pl.String))

    def once(self, key: str, build: Any) -> Any:
        """``build()``, once per context and process (never shipped): what a signal derives from the
        context alone, kept for the next batch or listing."""
        if key not in self._prepared:
            self._prepared[key] = build()
        return self._prepared[key]

    @classmethod
    def build(cls, ws: Workspace, settings: Settings | None = None, *, indexes: bool = True) -> DetectContext:
        """The context of a workspace. With ``indexes=False`` the photo and text indexes are left for
        a later ``build_indexes()`` (the scan builds them while its workers start on the text signals)."""
        settings = settings or load_settings(ws.root)
        base = settings.workspace.base_currency
        fx_table = read_table(ws, "fx_rates")
        fx = dict(zip(fx_table["currency"].to_pylist(), fx_table["to_base"].to_pylist(), strict=True))
        fx[base] = 1.0
        catalog = BrandCatalog.build(read_brands(ws), fx, base)
        labels = read_table(ws, "labels")
        # Only the labelled listings are read whole (Polars pushes the filter into the scan); the
        # latest listing time comes from the Parquet statistics when every row group has them.
        path = ws.tables_dir / "listings.parquet"
        ensure_validated(ws)
        labelled = (
            pl.scan_parquet(path)
            .filter(pl.col("listing_id").is_in(pl.Series(labels.column("listing_id").to_pylist(), dtype=pl.String)
                                               .unique().implode()))
            .select("listing_id", "title", "image_hashes")
            .collect()
            .to_arrow()
        )  # fmt: skip
        latest = _latest_created(path)
        ctx = cls(base, fx, catalog, load_vocabulary(), latest or dt.datetime.now(dt.UTC))
        ctx.attach_confirmed(labelled, labels, indexes=indexes)
        return ctx

    def attach_confirmed(self, listings, labels, *, indexes: bool = True) -> None:  # type: ignore[no-untyped-def]
        """The listings labelled counterfeit (the latest label per listing wins), and unless told
        otherwise the indexes of their photos and titles."""
        lab = pl.from_arrow(labels)
        if lab.height == 0:
            return
        confirmed = latest_labels(lab).filter(pl.col("label") == "counterfeit")["listing_id"]
        rows = pl.from_arrow(listings).filter(pl.col("listing_id").is_in(confirmed.implode()))
        self.confirmed_ids = rows["listing_id"].to_list()
        self.confirmed_rows = rows
        self._prepared.clear()  # what was derived from the confirmed listings before them
        if indexes:
            self.build_indexes()

    def build_indexes(self, rows: pl.DataFrame | None = None) -> None:
        """Index the photos and titles of the confirmed counterfeits: ``rows`` (listing_id, title,
        image_hashes), by default ``attach_confirmed``'s."""
        rows = self.confirmed_rows if rows is None else rows
        self.confirmed_rows = None
        self.build_photo_index(rows)
        self.build_text_index(rows)

    def build_photo_index(self, rows: pl.DataFrame | None) -> None:
        """The photo index of the confirmed counterfeits ``rows`` (listing_id, title, image_hashes)."""
        if rows is None or rows.height == 0:
            return
        from counterwatch.detect.index.hamming import HammingIndex, degenerate_mask, flatten_hash_lists

        # Parsed without the compiled kernel: in the scan this runs in the main process, which would
        # otherwise pay numba's start-up (about a second of CPU) for a few thousand hashes.
        row, hashes, valid = flatten_hash_lists(rows["image_hashes"], compiled=False)
        keep = valid & ~degenerate_mask(hashes)
        if keep.any():
            # Every worker holds a copy of the index. Up to ~50k photos the fastest layout (about 80 MB
            # at 28k) is worth it; beyond, four unexpanded substrings take an eighth of the memory and
            # a tenth of the build time for about twice the query time, so memory stays flat.
            substrings = None if keep.sum() <= PHOTO_INDEX_FAST_MAX else 4
            self.photo_index = HammingIndex.build(hashes[keep], row[keep].astype(np.int64), substrings=substrings)

    def build_text_index(self, rows: pl.DataFrame | None) -> None:
        """The index of the titles of the confirmed counterfeits ``rows`` (listing_id, title, image_hashes)."""
        if rows is None or rows.height == 0:
            return
        from counterwatch.detect.index.minhash import TextIndex
        from counterwatch.detect.normalize import plain_expr

        titles = rows.select(plain_expr(pl.col("title")))["title"]
        # Plain views, as the re-listing signal queries (``_title_plain``): NFKC and lower case are not redone.
        self.text_index = TextIndex.build(titles, np.arange(rows.height, dtype=np.int64), plain=True)
