"""`aiops demo --approve-as alice` end to end, with every process's metrics endpoint (worker, gatekeeper,
Alertmanager bridge, OTLP receiver) scraped while it runs:
the incident names orders-db, the approval leads to an allow decision and one execution, and every metric
the dashboards query is exported and moves. The triage uses an LLM (a local OpenAI-compatible server that
answers well for the cascade and badly for the noise), so the LLM token and fallback metrics move too."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.request
from collections import defaultdict

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aiops.core import metrics
from tests.aiops.triage.llm_double import LlmDouble, completion
from tests.kafka_io import topics_starting
from tests.processes import AIOPS, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CASCADE_ANSWER = {"proposals": [
    {"action": "collect_diagnostics", "parameters": {"environment": "prod", "namespace": "shop",
                                                     "service": "orders-db"},
     "rationale": "see who holds the connections", "confidence": 0.7, "evidence": []},
    {"action": "restart_deployment", "parameters": {"environment": "prod", "namespace": "shop",
                                                    "deployment": "orders-api"},
     "rationale": "reset the pools once the blocker is gone", "confidence": 0.6, "evidence": []}]}


def llm_script(body):
    prompt = json.dumps(body["messages"])
    if "recommendation-api" in prompt:
        return 200, completion("{not json"), 0  # a bad answer: the reasoner falls back
    return 200, completion(json.dumps(CASCADE_ANSWER)), 0


class Scraper:
    """Scrapes /metrics endpoints every half second and keeps, per metric, every value seen."""

    def __init__(self, urls: list[str]):
        self.urls = urls
        self.seen: dict[str, list[float]] = defaultdict(list)
        self.by_url: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            for url in self.urls:
                try:
                    with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback
                        text = resp.read().decode()
                except OSError:
                    continue
                for family in text_string_to_metric_families(text):
                    for sample in family.samples:
                        if sample.name.startswith("aiops_"):
                            self.seen[sample.name].append(sample.value)
                            self.by_url[url][sample.name].append(sample.value)
            time.sleep(0.5)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)


def sample_names(metric) -> list[str]:
    """The sample names a metric exports (a counter adds _total, a histogram _count/_sum/_bucket)."""
    name = metric._name
    kind = metric._type
    if kind == "counter":
        return [f"{name}_total"]
    if kind == "histogram":
        return [f"{name}_count"]
    return [name]


def test_demo_runs_end_to_end_and_every_dashboard_metric_moves(services, tmp_path):
    llm = LlmDouble(llm_script)
    ports = {name: free_port() for name in ("WORKER", "GATEKEEPER", "ALERTMANAGER_BRIDGE", "OTLP_RECEIVER")}
    env = {**os.environ, "AIOPS_LLM_BASE_URL": llm.base_url, "AIOPS_LLM_API_KEY": "test-key",
           "AIOPS_LLM_MODEL": "test-model", "AIOPS_STATE_DIR": str(tmp_path), "COLUMNS": "160",
           **{f"AIOPS_{name}_METRICS_PORT": str(port) for name, port in ports.items()}}
    urls = {name: f"http://127.0.0.1:{port}/metrics" for name, port in ports.items()}
    scraper = Scraper(list(urls.values()))
    try:
        result = subprocess.run([AIOPS, "demo", "--approve-as", "alice", "--speed", "20", "--timeout", "240"],
                                env=env, capture_output=True, text=True, timeout=300, check=False)
    finally:
        scraper.stop()
        llm.close()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "demo finished" in output
    assert "Likely root cause: orders-db" in output
    assert "approved" in output and "as alice" in output
    assert "decision: allow (approval" in output
    assert "platform-ctl simulator received" in output and "restart_deployment" in output
    assert len(llm.requests) >= 2
    # The run's topics are gone afterwards (--keep-topics would keep them).
    prefix = re.search(r"topics prefixed\s+(demo-[0-9-]+\.)", output)
    assert prefix, output[:3000] + output[-3000:]
    assert "deleted the run's topics" in output
    assert topics_starting(services.kafka_bootstrap, prefix.group(1)) == set()

    exported = [m for m in vars(metrics).values() if hasattr(m, "_name") and hasattr(m, "_type")]
    assert len(exported) == 22
    # Move only when a read-only follower meets a record it cannot decode, or a consumer a record batch it cannot
    # read, which the demo's topics never hold (tests/aiops/core/test_deadletter.py and
    # tests/streams/ingest/test_compression.py count them); the gate-health counters move only when something goes
    # wrong (junk approvals, a refused write, a takeover, an unknown outcome: tests/aiops/gatekeeper moves them).
    # The trust ladder's metrics come from `aiops trust run`, which the demo does not start (one approved action
    # earns nothing): tests/aiops/trust/test_ladder_end_to_end.py moves them.
    quiet = {metrics.RECORDS_SKIPPED, metrics.FETCH_FAILURES, metrics.APPROVALS_DROPPED, metrics.PRODUCE_FAILURES,
             metrics.FENCED, metrics.ESCALATIONS, metrics.OUTCOMES, metrics.AUTONOMY_CHANGES,
             metrics.AUTONOMY_SELECTORS}
    exported = [m for m in exported if m not in quiet]
    for metric in exported:
        for name in sample_names(metric):
            values = scraper.seen.get(name)
            assert values, f"{name} was never exported by the worker or the gatekeeper"
            assert max(values) > 0, f"{name} never moved (always {values[0]})"
    # Every process of the demo served its metrics, and the bridges handed records to Kafka.
    for process, url in urls.items():
        assert scraper.by_url[url], f"the {process} metrics endpoint was never scraped"
    for bridge in ("ALERTMANAGER_BRIDGE", "OTLP_RECEIVER"):
        assert max(scraper.by_url[urls[bridge]]["aiops_records_out_total"]) > 0, bridge
