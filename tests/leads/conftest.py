"""One generated, scanned workspace (3,000 listings, seed 11) for the leads tests: built once per
test process, copied per test so each may write to it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from counterwatch.config import load_settings
from counterwatch.pipeline import STAGES
from counterwatch.synth import generate
from counterwatch.workspace import Workspace


@pytest.fixture(scope="session")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Validated, linked and scanned; no case database yet (enforce and leads are the tests' business)."""
    root = tmp_path_factory.mktemp("leads") / "ws"
    generate(root, listings=3000, seed=11)
    ws, settings = Workspace.at(root), load_settings(root)
    for stage in STAGES:
        if stage.name not in ("enforce", "leads"):
            stage.run(ws, settings, lambda _m: None)
    return root


@pytest.fixture
def ws(scanned: Path, tmp_path: Path) -> Workspace:
    shutil.copytree(scanned, tmp_path / "ws")
    return Workspace.at(tmp_path / "ws")
