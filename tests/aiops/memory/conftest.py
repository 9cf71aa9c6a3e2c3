"""Fixtures for the memory tests: the sample handbook, stores in temporary directories, free ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops.core.paths import PROJECT_ROOT
from tests.processes import free_port

HANDBOOK = PROJECT_ROOT / "handbook"
# Filled by the retrieval test, printed at the end of the run.
RETRIEVAL_REPORT: dict[str, float] = {}


# The sample handbook and a store with it indexed are shared fixtures in tests/conftest.py.


@pytest.fixture
def memory_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """AIOPS_* variables for a private state directory and a memory service port nobody listens on (yet)."""
    env = {"AIOPS_STATE_DIR": str(tmp_path / "state"), "AIOPS_MEMORY_PORT": str(free_port()), "COLUMNS": "200"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AIOPS_MEMORY_URI", raising=False)
    monkeypatch.delenv("AIOPS_MEMORY_SERVICE_URL", raising=False)
    monkeypatch.delenv("AIOPS_EMBEDDING_MODEL", raising=False)
    return env


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if RETRIEVAL_REPORT:
        terminalreporter.write_line(
            f"memory retrieval: {RETRIEVAL_REPORT['found']:.0f}/{RETRIEVAL_REPORT['total']:.0f} postmortems in the "
            f"top 3 (hit rate {RETRIEVAL_REPORT['hit_rate']:.0%}), mean rank {RETRIEVAL_REPORT['mean_rank']:.2f}")
