"""`aiops bench logs` and `aiops bench spans` run on the real broker and report their rate against the
consume-only baseline measured in the same run."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.kafka_io import topics_starting
from tests.processes import AIOPS

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("stage", "flag", "count", "unit"), [("logs", "--lines", 3000, "lines_per_s"),
                                                              ("spans", "--spans", 3000, "spans_per_s")])
def test_bench_condense_reports_its_rate_against_the_consume_only_loop(services, tmp_path, stage, flag, count, unit):
    before = topics_starting(services.kafka_bootstrap, "bench-")
    result = subprocess.run([AIOPS, "bench", stage, flag, str(count), "--json"], capture_output=True, text=True,
                            timeout=300, check=False,
                            env={"PATH": "/usr/bin:/bin", "AIOPS_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
                                 "AIOPS_STATE_DIR": str(tmp_path), "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert topics_starting(services.kafka_bootstrap, "bench-") <= before, "the bench left its topics on the broker"
    numbers = json.loads(result.stdout.strip().splitlines()[-1])
    assert numbers["inputs"] >= count and numbers["dead_letters"] == 0
    assert numbers["baseline_per_s"] > 0 and numbers[unit] > 0
    assert numbers["ratio"] == pytest.approx(numbers[unit] / numbers["baseline_per_s"], rel=0.01)
    assert 0 < numbers["records_out"] < numbers["inputs"]  # condensed: fewer records out than lines or spans in
