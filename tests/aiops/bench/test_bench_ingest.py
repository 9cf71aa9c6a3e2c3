"""`aiops bench ingest` runs on the real broker and reports its numbers against the baseline it measured."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.kafka_io import topics_starting
from tests.processes import AIOPS

pytestmark = pytest.mark.integration


def test_bench_ingest_reports_normalize_rate_against_the_raw_consumer(services, tmp_path):
    before = topics_starting(services.kafka_bootstrap, "bench-")
    result = subprocess.run([AIOPS, "bench", "ingest", "--records", "2000", "--json"], capture_output=True,
                            text=True, timeout=300, check=False,
                            env={"PATH": "/usr/bin:/bin", "AIOPS_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
                                 "AIOPS_STATE_DIR": str(tmp_path), "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert topics_starting(services.kafka_bootstrap, "bench-") <= before, "the bench left its topics on the broker"
    numbers = json.loads(result.stdout.strip().splitlines()[-1])
    assert numbers["records"] == 2000
    assert numbers["baseline_consume_per_s"] > 0 and numbers["normalize_per_s"] > 0
    assert numbers["ratio"] == pytest.approx(numbers["normalize_per_s"] / numbers["baseline_consume_per_s"], rel=0.01)
    assert list(tmp_path.glob("bench-*.log")), "the worker's log is kept for inspection"
