"""The command line end to end, as a user runs it: the installed console script in a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from counterwatch.cli import app

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def cw(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "counterwatch", *args], capture_output=True, text=True, cwd=cwd, timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )  # fmt: skip


def commands() -> list[str]:
    return sorted(c.name or c.callback.__name__ for c in app.registered_commands)


@pytest.mark.parametrize("command", commands())
def test_every_command_has_help_with_an_example_and_is_documented(command):
    result = cw(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Example:" in result.stdout and f"counterwatch {command}" in result.stdout
    assert f"## `counterwatch {command}`" in DOCS.read_text(), f"docs/cli.md does not document {command}"


def test_generate_validate_run(tmp_path):
    ws = tmp_path / "ws"
    result = cw(
        "generate", "--out", str(ws), "--listings", "3000", "--seed", "3", "--format", "csv", "--bad-rows", "0.01"
    )
    assert result.returncode == 0, result.stderr
    assert "listings" in result.stdout and (ws / "listings.csv").is_file() and (ws / "truth" / "bad_rows.csv").is_file()

    result = cw("validate", str(ws))
    assert result.returncode == 1, result.stderr
    assert re.search(r"listings\s+│\s+listings\.csv\s+│\s+3,000", result.stdout)
    assert "rows quarantined" in result.stdout
    assert (ws / "quarantine" / "listings.jsonl").is_file()

    result = cw("run", str(ws))
    assert result.returncode == 0, result.stderr
    assert "validate" in result.stdout and "quarantined" in result.stdout
    report = json.loads((ws / "out" / "validation.json").read_text())
    assert report["tables"]["listings"]["rows_read"] == 3000


def test_missing_listings_exits_2_naming_it(tmp_path):
    ws = tmp_path / "ws"
    assert cw("generate", "--out", str(ws), "--listings", "500").returncode == 0
    (ws / "listings.parquet").unlink()
    for command in ("validate", "run"):
        result = cw(command, str(ws))
        assert result.returncode == 2
        assert "required table 'listings' is missing" in result.stderr


def test_bad_settings_exit_2_naming_the_key(tmp_path):
    ws = tmp_path / "ws"
    assert cw("init", str(ws)).returncode == 0
    assert "base_currency" in (ws / "counterwatch.toml").read_text()
    assert cw("init", str(ws)).returncode == 2  # refuses to overwrite
    (ws / "counterwatch.toml").write_text('[workspace]\nbase_currency = "XX"\n')
    assert cw("generate", "--out", str(ws), "--listings", "300").returncode == 0
    result = cw("validate", str(ws))
    assert result.returncode == 2 and "workspace.base_currency" in result.stderr


def test_demo_runs_end_to_end(tmp_path):
    result = cw("demo", "--listings", "2000", "--dir", "demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Demo workspace" in result.stdout
    assert (tmp_path / "demo" / "out" / "tables" / "listings.parquet").is_file()
