"""A small generated marketplace, validated, and its detection context, shared by the detection tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from counterwatch.contract import ensure_validated
from counterwatch.detect.context import DetectContext
from counterwatch.synth import generate
from counterwatch.workspace import Workspace


@pytest.fixture(scope="session")
def detect_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("detect") / "ws"
    generate(root, listings=6_000, seed=5)
    ws = Workspace.at(root)
    ensure_validated(ws)
    return ws


@pytest.fixture(scope="session")
def detect_ctx(detect_ws: Workspace) -> DetectContext:
    return DetectContext.build(detect_ws)


def fresh_copy(ws: Workspace, dest: Path) -> Workspace:
    import shutil

    shutil.copytree(ws.root, dest)
    return Workspace.at(dest)
