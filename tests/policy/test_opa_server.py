"""The real OPA server, serving the policy bundle, evaluated through opa-python-client."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from opa_client.opa import OpaClient

pytestmark = pytest.mark.integration

NOW_NS = 1_764_151_200_000_000_000  # 2025-11-26T10:00:00Z


def proposal_input(action: str) -> dict:
    return {
        "now_ns": NOW_NS,
        "proposal": {
            "id": "prop-opa-1", "incident_id": "inc-1", "action": action,
            "parameters": {"environment": "prod", "service": "orders-db", "namespace": "shop"},
            "action_hash": "00" * 32,
            "risk_class": "read_only", "blast_radius": 1,
            "target": {"environment": "prod", "namespace": "shop", "service": "orders-db"},
            "proposer": {"kind": "reasoner", "name": "runbook-reasoner", "version": "1"},
            "requested_by": None,
            "created_at": "2025-11-26T09:55:00Z", "expires_at": "2025-11-26T11:00:00Z",
        },
        "approvals": [],
        "context": {"recent_executions_for_target": 0},
    }


@pytest.fixture
def opa(services):
    url = urlparse(services.opa_url)
    client = OpaClient(host=url.hostname, port=url.port, timeout=5)
    yield client
    client.close_connection()


def test_read_only_action_is_allowed_without_approval(opa):
    result = opa.query_rule(input_data=proposal_input("collect_diagnostics"),
                            package_path="aiops.gate", rule_name="decision")
    decision = result["result"]
    assert decision["allow"] is True, decision["reasons"]
    assert decision["required_approvals"] == 0
    assert decision["policy_revision"]


def test_state_changing_action_without_approval_is_denied_with_reason(opa):
    body = proposal_input("restart_deployment")
    body["proposal"]["parameters"] = {"namespace": "shop", "deployment": "orders-api"}
    decision = opa.query_rule(input_data=body, package_path="aiops.gate", rule_name="decision")["result"]
    assert decision["allow"] is False
    assert any("approval" in reason for reason in decision["reasons"]), decision["reasons"]


def test_unknown_action_and_empty_input_are_denied(opa):
    decision = opa.query_rule(input_data=proposal_input("delete_namespace"),
                              package_path="aiops.gate", rule_name="decision")["result"]
    assert decision["allow"] is False and decision["reasons"]
    empty = opa.query_rule(input_data={}, package_path="aiops.gate", rule_name="decision")["result"]
    assert empty["allow"] is False and empty["reasons"]
