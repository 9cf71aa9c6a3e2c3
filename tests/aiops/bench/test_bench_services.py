"""`aiops bench gate`, `memory`, `e2e` and `soak` run against the real services and report against their
baselines (small sizes here; the README has the full runs)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.kafka_io import topics_starting
from tests.processes import AIOPS

pytestmark = pytest.mark.integration


def bench(services, tmp_path, *args: str, timeout: float = 300) -> dict:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")},
           "AIOPS_KAFKA_BOOTSTRAP": services.kafka_bootstrap, "AIOPS_OPA_URL": services.opa_url,
           "AIOPS_STATE_DIR": str(tmp_path)}
    before = topics_starting(services.kafka_bootstrap, "bench-")
    result = subprocess.run([AIOPS, "bench", *args, "--json"], capture_output=True, text=True, timeout=timeout,
                            check=False, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert topics_starting(services.kafka_bootstrap, "bench-") <= before, "the bench left its topics on the broker"
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_bench_gate_times_decisions_against_a_bare_round_trip(services, tmp_path):
    numbers = bench(services, tmp_path, "gate", "--rate", "50", "--seconds", "2")
    assert numbers["decisions"] == 100 and numbers["allowed"] == 100  # read-only queries: the policy allows
    assert 0 < numbers["decision_p50_ms"] <= numbers["decision_p99_ms"]
    assert numbers["baseline_p99_ms"] > 0 and numbers["max_decisions_per_s"] > 0
    assert numbers["ratio"] == pytest.approx(numbers["decision_p99_ms"] / numbers["baseline_p99_ms"], rel=0.01)


def test_bench_memory_times_retrieval_against_a_small_store(services, tmp_path):
    numbers = bench(services, tmp_path, "memory", "--docs", "300", "--queries", "20")
    assert numbers["docs"] == 300 and numbers["baseline_docs"] == 50
    assert 0 < numbers["top5_p50_ms"] <= numbers["top5_p99_ms"] and numbers["insert_docs_per_s"] > 0


@pytest.mark.slow
def test_bench_e2e_sees_a_proposal_for_every_alert(services, tmp_path):
    # With the evidence agents in a worker of their own (the soak below runs the one-worker layout).
    numbers = bench(services, tmp_path, "e2e", "--alerts", "3", "--lines-per-s", "500", "--spans-per-s", "100",
                    "--evidence-worker", timeout=600)
    assert numbers["evidence_worker"] is True
    assert numbers["proposals"] == numbers["alerts"] == 8  # 3 under load, 5 idle
    assert 0 < numbers["alert_to_proposal_p50_ms"] <= numbers["alert_to_proposal_p99_ms"]
    assert numbers["load_lines_per_s"] > 300
    hops = numbers["hops_under_load"]  # every alert's way through the stages, from the records' create times
    assert list(hops) == ["bridge", "normalize", "forward", "correlate", "triage"]
    assert all(0 <= h["p50_ms"] <= h["p99_ms"] for h in hops.values())
    assert hops["correlate"]["p50_ms"] > 0 and hops["triage"]["p50_ms"] > 0  # each writes a record of its own


@pytest.mark.slow
def test_bench_soak_samples_memory_and_lag(services, tmp_path):
    numbers = bench(services, tmp_path, "soak", "--minutes", "0.5", "--lines-per-s", "500", "--spans-per-s", "100",
                    timeout=600)
    assert set(numbers["rss_start_mb"]) == {"worker", "condense-logs", "condense-spans"}
    assert numbers["samples"] and all(set(s["lag"]) == {"aiops-condense-logs", "aiops-condense-spans",
                                                         "aiops-streams"} for s in numbers["samples"])
