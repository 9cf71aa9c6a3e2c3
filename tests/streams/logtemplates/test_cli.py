"""`aiops logs mine FILE`: CSV LineId,TemplateId,Template over the sample log, in-process and as a command."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.core.paths import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "handbook" / "samples" / "orders-api.log"
POOL_TIMEOUT = "timeout acquiring connection from pool"


def rows(output: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(output)))


def check_sample_rows(table: list[list[str]]) -> None:
    lines = SAMPLE.read_text().splitlines()
    assert table[0] == ["LineId", "TemplateId", "Template"]
    assert [int(r[0]) for r in table[1:]] == list(range(1, len(lines) + 1))
    by_line = {int(r[0]): (r[1], r[2]) for r in table[1:]}
    pool = {by_line[i + 1] for i, line in enumerate(lines) if POOL_TIMEOUT in line}
    assert pool == {("8", "timeout acquiring connection from pool (pool=orders-db, waited=<DURATION>)")}
    created = {by_line[i + 1] for i, line in enumerate(lines) if "Created order" in line}
    assert created == {("1", "Created order <UUID> for customer <NUM> with <NUM> items (total <NUM> EUR)")}
    # Early lines show the final, generalised template (two passes): every circuit breaker change is one.
    breaker = {by_line[i + 1] for i, line in enumerate(lines) if "circuit breaker" in line}
    assert breaker == {("10", "circuit breaker orders-db changed state from <*> to <*>")}
    assert len({template_id for template_id, _ in by_line.values()}) == 11


def test_mine_prints_one_csv_row_per_line():
    result = CliRunner().invoke(app, ["logs", "mine", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    check_sample_rows(rows(result.stdout))


def test_mine_runs_as_the_aiops_command():
    aiops = Path(sys.executable).parent / "aiops"
    if not aiops.exists():
        pytest.skip(f"no aiops script beside {sys.executable}")
    done = subprocess.run([str(aiops), "logs", "mine", "handbook/samples/orders-api.log"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    check_sample_rows(rows(done.stdout))
    assert done.stderr.strip() == "64 lines, 11 templates"


def test_mine_json_lines_and_whole_lines(tmp_path):
    records = [{"time": "2025-09-16T14:01:06Z", "level": "error", "msg": f"timeout after {5000 + i}ms"}
               for i in range(3)]
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\nnot json at all\n")
    result = CliRunner().invoke(app, ["logs", "mine", "--json", str(path)])
    assert result.exit_code == 0, result.output
    assert rows(result.stdout)[1:] == [[str(i), "1", "timeout after <DURATION>"] for i in (1, 2, 3)] + [
        ["4", "2", "not json at all"]]

    result = CliRunner().invoke(app, ["logs", "mine", "--whole-line", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    first = rows(result.stdout)[1][2]
    assert first.startswith("<TIMESTAMP> ")


def test_mine_needs_an_existing_file(tmp_path):
    result = CliRunner().invoke(app, ["logs", "mine", str(tmp_path / "missing.log")])
    assert result.exit_code != 0
