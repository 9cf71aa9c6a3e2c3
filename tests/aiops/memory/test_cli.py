"""`aiops handbook index|search`: a progress bar and a summary, a ranked table, idempotent re-indexing."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.memory.errors import HandbookFormatError
from tests.aiops.memory.conftest import HANDBOOK
from tests.processes import AIOPS


def table_rows(output: str) -> list[list[str]]:
    """The cells of each line of a rich table that starts with a rank."""
    rows = []
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line)]
        cells = [c for c in cells if c] if len(cells) > 1 else line.split()
        if cells and cells[0].isdigit():
            rows.append(cells)
    return rows


def summary(output: str) -> dict[str, tuple[int, int]]:
    """kind -> (indexed, in memory) from the index summary table."""
    found = {}
    for line in output.splitlines():
        match = re.search(r"(note|postmortem|runbook|incident|total)\s*│\s*(\d+)\s*│\s*(\d+)", line)
        if match:
            found[match[1]] = (int(match[2]), int(match[3]))
    return found


def test_index_shows_progress_and_summary_and_reindexing_is_idempotent(memory_env: dict[str, str]) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["handbook", "index", str(HANDBOOK)])
    assert first.exit_code == 0, first.output
    assert re.search(r"indexing .*━+.* 42/42", first.stdout)  # the progress bar, as a non-terminal shows it
    assert "42 documents indexed" in first.stdout
    assert summary(first.stdout) == {"note": (2, 2), "postmortem": (20, 20), "runbook": (20, 20), "total": (42, 42)}
    assert "opening the store" in first.stderr and "directly" in first.stderr

    again = runner.invoke(app, ["handbook", "index", str(HANDBOOK)])
    assert again.exit_code == 0, again.output
    assert summary(again.stdout)["total"] == (42, 42)  # same count: documents are replaced by id


def test_search_prints_a_ranked_table(memory_env: dict[str, str]) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["handbook", "index", str(HANDBOOK)]).exit_code == 0

    result = runner.invoke(app, ["handbook", "search", "PostgresDeadlocksDetected deadlock detected inventory-db",
                                 "--top", "4"])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "rank" in line)
    assert re.search(r"rank\W+score\W+kind\W+id\W+title\W+services", header)
    rows = table_rows(result.stdout)
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]
    scores = [float(r[1]) for r in rows]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    assert {rows[0][3], rows[1][3]} == {"rb-inventory-db-deadlocks",
                                        "pm-2025-03-inventory-api-stock-reservation-deadlocks"}

    only = runner.invoke(app, ["handbook", "search", "deadlock detected inventory-db", "--kind", "postmortem",
                               "--top", "3"])
    assert only.exit_code == 0, only.output
    assert {r[2] for r in table_rows(only.stdout)} == {"postmortem"}

    nothing = runner.invoke(app, ["handbook", "search", "zzzyzzx qqqxv"])
    assert nothing.exit_code == 1 and "no results" in nothing.stdout


def test_malformed_document_stops_indexing_naming_the_file(memory_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "handbook" / "runbooks"
    bad.mkdir(parents=True)
    (bad / "rb-broken.md").write_text("---\nid: rb-broken\nkind: runbook\ntitle: [unclosed\n---\n# x\n")
    result = CliRunner().invoke(app, ["handbook", "index", str(tmp_path / "handbook")])
    assert isinstance(result.exception, HandbookFormatError)
    assert "rb-broken.md: malformed YAML front matter: while parsing a flow sequence (line 4" in str(result.exception)


def test_index_and_search_as_commands(memory_env: dict[str, str], tmp_path: Path) -> None:
    env = {**os.environ, **memory_env}
    index = subprocess.run([AIOPS, "handbook", "index", str(HANDBOOK)], env=env, capture_output=True, text=True,
                           timeout=120, check=False)
    assert index.returncode == 0, index.stderr
    assert re.search(r"indexing .*━+.* 42/42", index.stdout)
    assert summary(index.stdout)["total"] == (42, 42)
    assert "no memory service at http://127.0.0.1:" in index.stderr

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "note-x.md").write_text("no front matter here\n")
    failed = subprocess.run([AIOPS, "handbook", "index", str(broken)], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert failed.returncode == 2
    assert "error:" in failed.stderr and "note-x.md: no YAML front matter" in " ".join(failed.stderr.split())


@pytest.mark.parametrize("args", [["handbook", "--help"], ["memory", "--help"]])
def test_the_commands_are_wired_into_aiops(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0
    assert ("index" in result.output and "search" in result.output) or "serve" in result.output
