"""The bundled scenario through normalize → correlate → triage with the memory service: the incident is
enriched with similar past incidents, the runbook reasoner proposes the right actions, and a resolved
incident is written back to memory."""

from __future__ import annotations

import json

import pytest

from aiops.core.avro import SchemaSet, SingleObjectCodec
from aiops.core.paths import PROJECT_ROOT
from aiops.demo.replay import DEFAULT_SCENARIO, load, replay
from aiops.memory.client import MemoryClient
from aiops.memory.documents import load_handbook
from tests.kafka_io import TopicReader, produce
from tests.processes import WorkerProcess, start_memory_service

pytestmark = pytest.mark.integration
SCHEMAS = SchemaSet.load(PROJECT_ROOT / "schemas")


@pytest.fixture
def memory_service(tmp_path):
    state = tmp_path / "memory-state"
    state.mkdir()
    service = start_memory_service(state)
    with MemoryClient(service.url) as client:
        client.upsert([doc.to_record() for doc in load_handbook(PROJECT_ROOT / "handbook")])
    yield service
    service.stop()


def latest(reader: TopicReader, codec: SingleObjectCodec) -> dict[str, dict]:
    state: dict[str, dict] = {}
    for record in reader.records:
        if record.value is not None:
            incident = codec.decode(record.value)
            if incident["version"] >= state.get(incident["id"], {"version": -1})["version"]:
                state[incident["id"]] = incident
    return state


def resolve_all(worker: WorkerProcess, incident: dict) -> None:
    """Alertmanager resolves every alert of the incident (webhook payloads on aiops.alerts.raw)."""
    scenario = [json.loads(line) for line in DEFAULT_SCENARIO.read_text().splitlines()[1:]]
    payloads = {}
    for line in scenario:
        if line["topic"] == "aiops.alerts.raw":
            alert = line["value"]["alerts"][0]
            payloads[alert["fingerprint"]] = line["value"]
    resolved = []
    for ref in incident["alerts"]:
        payload = json.loads(json.dumps(payloads[ref["fingerprint"]]))
        alert = payload["alerts"][0]
        alert["startsAt"] = ref["starts_at"].isoformat().replace("+00:00", "Z")
        alert["endsAt"] = incident["window_end"].isoformat().replace("+00:00", "Z")
        alert["status"] = payload["status"] = "resolved"
        resolved.append((alert["fingerprint"].encode(), json.dumps(payload).encode()))
    produce(worker.settings.kafka_bootstrap, worker.topic("aiops.alerts.raw"), resolved)


def test_scenario_to_enriched_incident_proposals_and_write_back(services, memory_service, tmp_path):
    worker = WorkerProcess(services.kafka_bootstrap, ["normalize", "correlate", "triage"], tmp_path, env={
        "AIOPS_INCIDENT_SNAPSHOT_INTERVAL_S": "0.5", "AIOPS_INCIDENT_QUIET_PERIOD_S": "4",
        "AIOPS_MEMORY_SERVICE_URL": memory_service.url})
    worker.start()
    incidents = TopicReader(services.kafka_bootstrap, worker.topic("aiops.incidents"))
    proposals = TopicReader(services.kafka_bootstrap, worker.topic("aiops.proposals"))
    incident_codec = SingleObjectCodec(SCHEMAS["Incident"])
    proposal_codec = SingleObjectCodec(SCHEMAS["Proposal"])
    try:
        replay(load(DEFAULT_SCENARIO), worker.settings, speed=40)

        def cascade() -> dict | None:
            return next((i for i in latest(incidents, incident_codec).values()
                         if i["root_cause"]["service"] == "orders-db" and len(i["alerts"]) == 4
                         and i["similar_incidents"]), None)

        incidents.wait_until(lambda _: cascade() is not None, 90, "the enriched cascade incident",
                             diagnostics=worker.logs)
        incident = cascade()
        top3 = [s["doc_id"] for s in incident["similar_incidents"][:3]]
        assert "pm-2025-09-orders-db-migration-lock-connection-exhaustion" in top3, incident["similar_incidents"]

        proposals.wait_until(lambda recs: len(recs) >= 2, 60, "two proposals", diagnostics=worker.logs)
        made = [proposal_codec.decode(r.value) for r in proposals.records]
        by_action = {p["action"]: p for p in made if p["incident_id"] == incident["id"]}
        assert by_action["collect_diagnostics"]["target"]["service"] == "orders-db"
        assert by_action["restart_deployment"]["target"] == {"environment": "prod", "namespace": "shop",
                                                             "service": "orders-api"}
        assert by_action["restart_deployment"]["risk_class"] == "state_changing"
        assert by_action["collect_diagnostics"]["proposer"]["name"] == "runbook-reasoner"
        refs = {e["ref"] for e in by_action["restart_deployment"]["evidence"]}
        assert "rb-orders-db-connection-exhaustion" in refs

        resolve_all(worker, incident)
        incidents.wait_until(lambda _: latest(incidents, incident_codec)[incident["id"]]["status"] == "resolved",
                             60, "the incident to resolve", diagnostics=worker.logs)
        with MemoryClient(memory_service.url) as client:
            def written_back() -> bool:
                hits = client.search("orders-db connection pool orders-api restart", top_k=10, kinds=["incident"])
                return any(hit.doc_id == incident["id"] for hit in hits)

            proposals.wait_until(lambda _: written_back(), 30, "the write-back of the resolved incident")
    finally:
        incidents.close()
        proposals.close()
        worker.stop()
