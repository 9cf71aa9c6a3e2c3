"""The trust ladder end to end, on the real broker and a real OPA serving the bundle: approved executions earn
a promotion, two policy owners approve it, the next proposal runs without approval, a harmful outcome demotes
the action at once, and the one after that waits for approval again. `aiops trust report` shows the history.

The bundle's defaults stay the issue's (20 executions over 14 days); this test lowers them in its private
OPA's data to 3 executions over 0 days, the way an operator would ship a different rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from aiops.core.avro import codec_for
from aiops.gatekeeper.keys import KeyStore
from aiops.trust.service import TrustService
from tests.aiops.gatekeeper.conftest import opa_binary, running_harness
from tests.aiops.gatekeeper.harness import Harness, TopicReader, aiops, params, unique

pytestmark = pytest.mark.integration
__all__ = ["opa_binary"]  # the gatekeeper tests' fixture, used here too

RULE = {"min_approved_executions": 3, "min_helpful_percent": 90, "max_harmful": 0, "min_days": 0}
KEYS = {"alice": ["sre"], "olivia": ["policy-owners"], "oscar": ["policy-owners"]}


def snapshot(incident_id: str, service: str, *, status: str = "open", severity: str = "error",
             services: list[str] | None = None, version: int = 1) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": incident_id, "version": version, "status": status, "title": f"{service} failing",
        "severity": severity, "services": services or [service],
        "root_cause": {"service": service, "reason": "test", "candidates": []}, "alerts": [],
        "window_start": now - timedelta(minutes=5), "window_end": now, "updated_at": now,
    }


async def send_incident(h: Harness, record: dict[str, Any]) -> None:
    await h.producer.send_and_wait(h.settings.topic("aiops.incidents"),
                                   h.codec("Incident", "aiops.incidents").encode(record), key=record["id"].encode())


async def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout_s}s")
        await asyncio.sleep(0.2)


async def incident_and_proposal(h: Harness) -> tuple[dict[str, Any], dict[str, Any]]:
    """An open incident, then a restart proposed for it (the incident as it was is the outcome's baseline)."""
    pid = unique()
    parameters = params("restart_deployment")
    incident = snapshot(f"inc-{pid}", parameters["deployment"])
    await send_incident(h, incident)
    return incident, await h.propose("restart_deployment", parameters, proposal_id=pid)


async def test_promotion_autonomy_and_demotion(services, tmp_path, opa_binary):
    store = KeyStore(tmp_path / "keys")
    keys = {name: store.create(name, groups) for name, groups in KEYS.items()}
    approvers: dict = {}
    for key in keys.values():
        approvers.update(key.policy_entry())
    async with running_harness(services, tmp_path, opa_binary, keys, approvers,
                               bundle_data={"autonomy": {"rule": RULE, "grants": {}}},
                               trust_outcome_window_s=120.0, trust_grant_check_s=0.5) as h:
        trust = TrustService(h.settings)
        task = asyncio.create_task(trust.run())
        outcomes = await TopicReader(h.settings.kafka_bootstrap, h.settings.topic("aiops.outcomes"),
                                     codec_for("Outcome", h.settings.topic("aiops.outcomes"), h.settings)).start()
        proposals = await TopicReader(h.settings.kafka_bootstrap, h.settings.topic("aiops.proposals"),
                                      codec_for("Proposal", h.settings.topic("aiops.proposals"), h.settings)).start()
        try:
            await asyncio.wait_for(trust.ready.wait(), 60)
            # 1. Three approved restarts, each followed by its incident resolving: three helpful outcomes.
            for _ in range(RULE["min_approved_executions"]):
                incident, proposal = await incident_and_proposal(h)
                first = await h.decision(proposal["id"], "proposal")
                assert first["allow"] is False and "state_changing action needs 1 approval, has 0" in first["reasons"]
                await h.approve("alice", proposal)
                await h.execution(proposal["id"], "succeeded")
                await send_incident(h, {**snapshot(incident["id"], proposal["parameters"]["deployment"],
                                                   status="resolved", version=2)})
                outcome = await outcomes.wait(lambda r, pid=proposal["id"]: r["proposal_id"] == pid, 30,
                                              "outcome")
                assert outcome["verdict"] == "helpful", outcome
                assert "resolved" in outcome["evidence"][0]

            # 2. The record meets the rule: a policy-change proposal with the evidence, for two policy owners.
            promotion = await proposals.wait(lambda r: r["action"] == "promote_autonomy", 30, "promotion proposal")
            assert promotion["parameters"]["subject_action"] == "restart_deployment"
            assert (promotion["parameters"]["environment"], promotion["parameters"]["namespace"]) == ("prod", "shop")
            evidence = json.loads(promotion["parameters"]["evidence"])
            assert evidence["approved_executions"] == 3 and evidence["helpful"] == 3 and evidence["harmful"] == 0
            denied = await h.decision(promotion["id"], "proposal")
            assert "destructive action needs 2 approvals from distinct people, has 0" in denied["reasons"]
            await h.approve("alice", promotion)  # an SRE is not a policy owner: does not count
            not_owner = await h.decision(promotion["id"], "approval")
            assert not_owner["allow"] is False
            assert any("not in a group allowed to approve promote_autonomy (policy-owners)" in (a["reason"] or "")
                       for a in not_owner["approvals_considered"])
            await h.approve("olivia", promotion)
            one = await h.decision(promotion["id"], "approval", nth=2)
            assert one["allow"] is False
            await h.approve("oscar", promotion)
            allowed = await h.decision(promotion["id"], "approval", nth=3)
            assert allowed["allow"] is True, allowed["reasons"]
            applied = await h.execution(promotion["id"], "succeeded")
            assert applied["executor"] == "opa-data"
            grant = h.opa.data("autonomy/grants/restart_deployment/prod/shop")
            assert grant["autonomous"] is True and grant["proposal_id"] == promotion["id"]
            assert grant["evidence"]["helpful"] == 3
            assert json.loads(applied["response"])["grant"]["proposal_id"] == promotion["id"]

            # 3. The next restart in prod/shop runs without approval.
            incident, autonomous = await incident_and_proposal(h)
            decision = await h.decision(autonomous["id"], "proposal")
            assert decision["allow"] is True, decision["reasons"]
            assert decision["approvals_considered"] == [] and decision["autonomy_grant"] == promotion["id"]
            await h.execution(autonomous["id"], "succeeded")

            # 4. Its incident spreads and gets worse: harmful, and the action is demoted at once.
            await send_incident(h, snapshot(incident["id"], autonomous["parameters"]["deployment"], severity="critical",
                                            services=[autonomous["parameters"]["deployment"], "web-frontend"],
                                            version=2))
            harmful = await outcomes.wait(lambda r: r["proposal_id"] == autonomous["id"], 30, "harmful outcome")
            assert harmful["verdict"] == "harmful"
            assert any("new: web-frontend" in e for e in harmful["evidence"])
            assert any("severity error -> critical" in e for e in harmful["evidence"])
            demotion = await h.decisions.wait(lambda r: r["trigger"] == "demotion", 30, "demotion decision")
            assert demotion["proposal_id"] == promotion["id"] and demotion["allow"] is False
            assert any("1 harmful outcome(s) since the grant" in r for r in demotion["reasons"])
            assert h.opa.data("autonomy/grants/restart_deployment/prod/shop")["autonomous"] is False
            # OPA loses what its data API was given (a restart): the demotion on record is written again.
            request = urllib.request.Request(f"{h.opa.url}/v1/data/autonomy/grants/restart_deployment",
                                             method="DELETE")
            with urllib.request.urlopen(request, timeout=5) as deleted:  # noqa: S310 - loopback
                assert deleted.status == 204
            await wait_until(lambda: (h.opa.data("autonomy/grants/restart_deployment/prod/shop") or {}).get(
                "autonomous") is False, 30, "the demotion written again")

            # 5. The one after that waits for approval again.
            _, gated = await incident_and_proposal(h)
            again = await h.decision(gated["id"], "proposal")
            assert again["allow"] is False
            assert "state_changing action needs 1 approval, has 0" in again["reasons"]
            assert again["autonomy_grant"] is None
            h.assert_not_executed(gated["id"])
            assert REGISTRY.get_sample_value("aiops_outcomes_total",
                                             {"action": "restart_deployment", "verdict": "harmful"}) >= 1
            assert REGISTRY.get_sample_value("aiops_autonomy_changes_total",
                                             {"action": "restart_deployment", "change": "demoted"}) >= 1

            # 6. `aiops trust report` reads the history from the topics.
            env = {**os.environ, "AIOPS_KAFKA_BOOTSTRAP": h.settings.kafka_bootstrap,
                   "AIOPS_TOPIC_PREFIX": h.settings.topic_prefix}
            done = await asyncio.to_thread(aiops, ["trust", "report", "--json"], env)
            assert done.returncode == 0, done.stderr
            [record] = [r for r in json.loads(done.stdout) if r["action"] == "restart_deployment"]
            assert record["state"] == "demoted"
            assert (record["approved_executions"], record["autonomous_executions"]) == (3, 1)
            assert (record["helpful"], record["no_effect"], record["harmful"]) == (3, 0, 1)
            assert record["grant"]["proposal_id"] == promotion["id"]
            assert sorted(record["grant"]["approvers"]) == sorted([keys["olivia"].kid, keys["oscar"].kid])
            assert record["median_approval_s"] is not None
            table = await asyncio.to_thread(aiops, ["trust", "report"], {**env, "COLUMNS": "240"})
            assert table.returncode == 0 and "demoted" in table.stdout and "restart_deployment" in table.stdout
        finally:
            trust.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)
            await outcomes.stop()
            await proposals.stop()
