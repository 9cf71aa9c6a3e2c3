"""The shop's labelled fault scenarios as regression cases: every fault type found, top-1, on every service.

A fast subset (one service per fault type) runs the pipeline's stages in process; the whole set, and a run
through the real pipeline (`aiops eval rca` with a real worker on the broker), are marked slow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aiops.core.settings import Settings
from aiops.demo import faults
from aiops.eval import recordings
from aiops.eval.inprocess import InProcessPipeline
from aiops.eval.score import score_case

FAST = ("exception-payments-api", "return-inventory-api", "cpu_contention-orders-api", "network_delay-payments-api")
AIOPS = str(Path(sys.executable).with_name("aiops"))


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("faults")


def run(folder: Path, name: str):
    faults.write(folder, only=[name])
    case = next(c for c in recordings.load(folder) if name in c.case_id)
    return case, score_case(case, InProcessPipeline(Settings()).run(case))


def test_scenarios_are_deterministic_and_labelled(tmp_path):
    first = faults.recording(faults.Fault("exception", "payments-api"), seed=7)
    assert first == faults.recording(faults.Fault("exception", "payments-api"), seed=7)
    header = json.loads(first[0])
    assert header["label"] == {"root_cause_service": "payments-api", "fault_type": "exception",
                               "fault_at": faults.FAULT_AT_S}
    assert header["warmup_until"] == faults.WARMUP_S
    topics = {json.loads(line)["topic"] for line in first[1:]}
    assert topics == {"otlp_spans", "aiops.logs.raw", "otlp_metrics", "aiops.alerts.raw"}
    kinds = {kind for kind, _ in faults.SCENARIOS}
    assert kinds == {"exception", "return", "cpu_contention", "network_delay"}
    assert all(len({s for k, s in faults.SCENARIOS if k == kind}) >= 3 for kind in kinds)


@pytest.mark.parametrize("name", FAST)
def test_each_fault_type_is_found_top1(scenario_dir, name):
    case, result = run(scenario_dir, name)
    assert result.opened and result.top1, (result.named, result.candidates, result.why)
    assert result.false_incidents == 0 and result.evidence


def test_the_fault_free_shop_opens_no_incident(scenario_dir):
    _, result = run(scenario_dir, "fault-free-1")
    assert result.false_incidents == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", [faults.scenario_name(faults.Fault(k, s))[6:] for k, s in faults.SCENARIOS
                                  if f"{k}-{s}" not in FAST])
def test_every_scenario_is_found_top1(scenario_dir, name):
    _, result = run(scenario_dir, name)
    assert result.opened and result.top1, (result.named, result.candidates, result.why)


@pytest.mark.slow
@pytest.mark.integration
def test_a_scenario_through_the_real_pipeline(services, tmp_path):
    faults.write(tmp_path, only=["network_delay-orders-api", "fault-free-2"])
    env = {"AIOPS_KAFKA_BOOTSTRAP": services.kafka_bootstrap, "PATH": str(Path(AIOPS).parent)}
    done = subprocess.run([AIOPS, "eval", "rca", str(tmp_path), "--json"], capture_output=True, text=True,
                          timeout=600, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert (report["cases"], report["opened"], report["top1"], report["top3"]) == (1, 1, 1, 1), report
    assert report["false_incidents"] == 0 and report["mode"] == "pipeline"
    row = next(r for r in report["rows"] if r["root_cause"])
    assert row["named"] == "orders-api" and row["detect_s"] is not None and row["evidence"]
