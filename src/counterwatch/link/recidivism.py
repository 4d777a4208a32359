"""Recidivism at sign-up: does a new store link to an operator already known?

``RecidivismIndex.for_workspace(ws)`` loads the index the last ``counterwatch link`` wrote
(``out/link-index.parquet``: every usable key with its stores and operators) into a dictionary,
once. ``check(store)`` normalises the new store's identifiers with the same rules as the batch
(``normalize.normalize_one``), looks each key up, and weighs what the new store shares with each
known store as linking does (``evidence.bits`` with the new store counted among the sharers,
the value's cohesion discount from the last run, each family counting its strongest value);
operators with a store at or above the threshold come back strongest first, with the evidence.
Identifiers that identify no one are returned as unusable with their reason, never used. A
dictionary lookup per identifier: well under a millisecond.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from counterwatch.config import LinkSettings, Settings, load_settings
from counterwatch.errors import InputError
from counterwatch.link.evidence import bits
from counterwatch.link.normalize import normalize_one
from counterwatch.link.stage import INDEX
from counterwatch.workspace import Workspace


@dataclass
class OperatorMatch:
    operator_id: str
    weight: float  # bits of the strongest tie to one of its stores
    store_id: str  # that store
    evidence: list[str] = field(default_factory=list)


@dataclass
class RecidivismResult:
    matches: list[OperatorMatch]
    unusable: list[dict[str, Any]]  # identifiers that identify no one, with the reason


@dataclass
class RecidivismIndex:
    settings: LinkSettings
    #: key -> (family, weight, cohesion, [(store_id, operator_id), ...])
    keys: dict[str, tuple[str, float, float | None, list[tuple[str, str]]]]

    @classmethod
    def for_workspace(cls, ws: Workspace, settings: Settings | None = None) -> RecidivismIndex:
        settings = settings or load_settings(ws.root)
        path = ws.out / INDEX
        if not path.is_file():
            raise InputError(f"no link index: run `counterwatch link {ws.root}` first")
        index = pl.read_parquet(path, columns=["key", "family", "weight", "cohesion", "store_id", "operator_id"])
        keys: dict[str, tuple[str, float, float | None, list[tuple[str, str]]]] = {}
        for key, family, weight, cohesion, store_id, operator_id in index.iter_rows():
            keys.setdefault(key, (family, weight, cohesion, []))[3].append((store_id, operator_id))
        return cls(settings.link, keys)

    def check(self, store: dict[str, Any]) -> RecidivismResult:
        """Operators a new store links to. ``store``: ``country`` (ISO 3166-1) and ``identifiers``,
        a list of ``{"kind": ..., "value": ...}`` as in ``store_identifiers``."""
        cfg = self.settings
        per_store: dict[str, dict[str, list[tuple[float, str]]]] = defaultdict(lambda: defaultdict(list))
        operator_of: dict[str, str] = {}
        unusable, seen = [], set()
        for ident in store.get("identifiers") or ():
            key, reason = normalize_one(ident.get("kind"), ident.get("value"), store.get("country"))
            if key is None:
                unusable.append({**ident, "reason": reason})
                continue
            if key in seen or key not in self.keys:
                continue
            seen.add(key)
            family, weight, cohesion, holders = self.keys[key]
            # The new kind may be weaker than those on record (an address given as a warehouse).
            weight = min(weight, cfg.weights.get(ident.get("kind") or "", 0.0))
            n = len(holders) + 1  # the new store shares it too
            b = bits(weight, n)
            if b is None or b < cfg.min_value_bits:
                continue
            if n >= cfg.cohesion_min_stores and cohesion is not None:  # as linking discounted it
                b *= min(1.0, cohesion / cfg.cohesion_full)
            text = f"{key.split(':', 1)[0]} {key.split(':', 1)[1]} shared by {n} stores (+{b:.1f} bits)"
            for store_id, operator_id in holders:
                per_store[store_id][family].append((b, text))
                operator_of[store_id] = operator_id
        best: dict[str, OperatorMatch] = {}
        for store_id, families in per_store.items():
            weight = sum(max(b for b, _ in hits) for hits in families.values())  # a family: its strongest value
            if weight < cfg.threshold:
                continue
            op = operator_of[store_id]
            if op not in best or weight > best[op].weight:
                evidence = [t for _, t in sorted((h for hits in families.values() for h in hits), reverse=True)]
                best[op] = OperatorMatch(op, weight, store_id, evidence)
        return RecidivismResult(sorted(best.values(), key=lambda m: (-m.weight, m.operator_id)), unusable)
