"""Unit tests: action hash, tokens, keys, the action catalog (and its agreement with the policy), ledger
entries, policy input, and the executors against the platform-ctl test server."""

from __future__ import annotations

import base64
import json
import stat
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from aiops.core.catalog import ActionCatalog, RiskClass, validate
from aiops.core.errors import CatalogError, InvalidAction
from aiops.core.paths import PROJECT_ROOT
from aiops.core.settings import Settings
from aiops.gatekeeper.binding import action_hash, canonical_action
from aiops.gatekeeper.errors import KeyStoreError, TokenError
from aiops.gatekeeper.keys import KeyStore, add_to_policy_data
from aiops.gatekeeper.ledger import ApprovalEntry, ExecutionEntry, ProposalState, RetryEntry
from aiops.gatekeeper.records import decode_approval, policy_input
from aiops.gatekeeper.times import from_ms, rfc3339
from aiops.gatekeeper.tokens import inspect, sign_approval
from connectors.errors import ExecutorError, OutcomeUnknown
from connectors.executors import ExecutionRequest
from connectors.executors.dry_run import DryRunExecutor
from connectors.executors.platform_ctl import PlatformCtlExecutor
from connectors.executors.webhook import WebhookExecutor
from streams.output_records import Proposal
from tests.aiops.gatekeeper.doubles import free_port

POLICY_DATA = json.loads((PROJECT_ROOT / "policy" / "data.json").read_text())["aiops"]


# --- action hash ---------------------------------------------------------------------------------

def test_action_hash_is_sha256_over_canonical_json():
    assert canonical_action("restart_deployment", {"replicas": 3, "deployment": "api"}) == \
        '{"action":"restart_deployment","parameters":{"deployment":"api","replicas":3}}'
    # A fixed vector: signers written in other languages must get the same hex.
    assert action_hash("restart_deployment", {"replicas": 3, "deployment": "api"}) == \
        "66a21e5e315a32a12b9c24a5812be959992a063c2568ec7d5744511312b42933"


def test_action_hash_changes_with_any_parameter_or_type():
    base = action_hash("scale_deployment", {"replicas": 3})
    assert action_hash("scale_deployment", {"replicas": 4}) != base
    assert action_hash("scale_deployment", {"replicas": "3"}) != base
    assert action_hash("scale_deployment", {"replicas": 3.0}) != base
    assert action_hash("restart_deployment", {"replicas": 3}) != base
    assert action_hash("scale_deployment", {"replicas": 3, "x": None}) != base
    assert canonical_action("a", {"name": "café"}).isascii()


# --- tokens --------------------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path) -> KeyStore:
    return KeyStore(tmp_path / "keys")


def test_signed_token_is_es256_with_raw_signature_and_verifies(store):
    key = store.create("alice", ["sre"])
    token = sign_approval(key.load_private_key(), key.kid, proposal_id="P1", action_hash="ab" * 32,
                          decision="approve", subject="alice", ttl_s=600, now=1_800_000_000)
    info = inspect(token)
    assert info.header == {"alg": "ES256", "kid": key.kid, "typ": "JWT"}
    assert info.claims["proposal_id"] == "P1" and info.claims["exp"] == 1_800_000_600 and info.jti
    signature = token.split(".")[2]
    assert len(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))) == 64
    public = serialization.load_pem_public_key(key.public_key.encode())
    claims = jwt.decode(token, public, algorithms=["ES256"], options={"verify_exp": False, "verify_iat": False})
    assert claims["action_hash"] == "ab" * 32 and claims["sub"] == "alice"


@pytest.mark.parametrize(("token", "reason"), [
    (None, "non-empty string"),
    ("a.b", "compact JWS"),
    ("e30.e30.", "compact JWS"),
    ("!!!.e30.sig", "not JSON"),
])
def test_inspect_rejects_malformed_tokens(token, reason):
    with pytest.raises(TokenError, match=reason):
        inspect(token)


def test_inspect_requires_kid_claims_and_no_aud(store):
    key = store.create("alice", ["sre"])
    private = key.load_private_key()
    no_kid = jwt.encode({"proposal_id": "P"}, private, algorithm="ES256")
    with pytest.raises(TokenError, match="no kid"):
        inspect(no_kid)
    missing = jwt.encode({"proposal_id": "P", "decision": "approve"}, private, algorithm="ES256",
                         headers={"kid": key.kid})
    with pytest.raises(TokenError, match="claim 'action_hash'"):
        inspect(missing)
    with_aud = sign_approval(private, key.kid, proposal_id="P", action_hash="h", decision="approve",
                             subject="a", extra_claims={"aud": "x"})
    with pytest.raises(TokenError, match="aud"):
        inspect(with_aud)
    with pytest.raises(TokenError, match="decision"):
        sign_approval(private, key.kid, proposal_id="P", action_hash="h", decision="maybe", subject="a")


# --- keys ----------------------------------------------------------------------------------------

def test_key_create_is_private_and_prints_the_policy_entry(store, tmp_path):
    key = store.create("alice", ["sre", " platform "])
    assert stat.S_IMODE(key.private_path.stat().st_mode) == 0o600
    assert key.kid.startswith("alice-") and len(key.kid) == len("alice-") + 12
    entry = key.policy_entry()[key.kid]
    assert entry["name"] == "alice" and entry["groups"] == ["sre", "platform"]
    assert entry["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    with pytest.raises(KeyStoreError, match="already exists"):
        store.create("alice", ["sre"])
    assert store.create("alice", ["sre"], force=True).kid != key.kid
    with pytest.raises(KeyStoreError, match="letters, digits"):
        store.create("../evil", ["sre"])
    with pytest.raises(KeyStoreError, match="at least one group"):
        store.create("bob", [" "])
    policy_dir = tmp_path / "policy"
    policy_dir.mkdir()
    (policy_dir / "data.json").write_text(json.dumps({"aiops": {"approvers": {}, "limits": {"x": 1}}}))
    add_to_policy_data(store.get("alice"), policy_dir)
    data = json.loads((policy_dir / "data.json").read_text())
    assert list(data["aiops"]["approvers"]) == [store.get("alice").kid] and data["aiops"]["limits"] == {"x": 1}


def test_default_key_selection(store):
    with pytest.raises(KeyStoreError, match="no signing key"):
        store.default(None)
    store.create("alice", ["sre"])
    assert store.default(None).name == "alice"
    store.create("bob", ["sre"])
    with pytest.raises(KeyStoreError, match="several keys"):
        store.default(None)
    assert store.default("bob").name == "bob"
    with pytest.raises(KeyStoreError, match="no key named 'carol'"):
        store.default("carol")


# --- catalog -------------------------------------------------------------------------------------

def test_catalog_and_policy_agree_on_actions_and_risk_classes():
    catalog = ActionCatalog.load()
    assert {name: spec.risk_class.value for name, spec in catalog.actions.items()} == \
        {name: entry["risk_class"] for name, entry in POLICY_DATA["actions"].items()}
    assert set(catalog.actions) == set(POLICY_DATA["allowlist"])


def test_settings_point_at_the_shipped_catalog():
    assert Settings().action_catalog == PROJECT_ROOT / "actions" / "catalog.yaml"
    assert set(ActionCatalog.for_settings(Settings()).actions) == set(POLICY_DATA["actions"])


def test_validate_returns_target_blast_radius_and_executor():
    action = validate("scale_deployment", {"environment": "prod", "namespace": "shop", "deployment": "api",
                                           "replicas": 7})
    assert action.target.as_dict() == {"environment": "prod", "namespace": "shop", "service": "api"}
    # Without asking the executor, the catalog's worst case (raised to the replicas asked for).
    assert (action.blast_radius, action.risk_class, action.executor.value) == (50, RiskClass.state_changing,
                                                                                "platform-ctl")
    assert validate("scale_deployment", {"environment": "prod", "namespace": "shop", "deployment": "api",
                                         "replicas": 70}).blast_radius == 70
    restart = validate("restart_deployment", {"environment": "prod", "namespace": "shop", "deployment": "api"})
    assert restart.blast_radius == 50
    assert validate("purge_queue", {"environment": "dev", "namespace": "q", "queue": "jobs"}).blast_radius == 1
    assert validate("toggle_feature_flag", {"environment": "dev", "namespace": "q", "service": "web",
                                            "flag": "f", "enabled": True}).executor.value == "webhook"


def test_validate_lists_every_problem():
    with pytest.raises(InvalidAction) as caught:
        validate("scale_deployment", {"environment": "prod", "deployment": 3, "replicas": True, "shell": "rm"})
    problems = caught.value.problems
    assert "unknown parameter 'shell' (allowed: deployment, environment, namespace, replicas)" in problems
    assert "missing required parameter 'namespace' (name)" in problems
    assert "parameter 'deployment' must be a string, got int" in problems
    assert "parameter 'replicas' must be an integer, got bool" in problems
    with pytest.raises(InvalidAction, match="must be between 0 and 1000"):
        validate("scale_deployment", {"environment": "p", "namespace": "n", "deployment": "d", "replicas": 5000})
    with pytest.raises(InvalidAction, match="not in the action catalog"):
        validate("rm_rf", {})
    with pytest.raises(InvalidAction, match="must be a Kubernetes name"):
        validate("purge_queue", {"environment": "p", "namespace": "n", "queue": " "})


def test_malformed_catalog_names_action_and_field(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text("""
version: 1
actions:
  restart:
    description: x
    risk_class: risky
    executor: platform-ctl
    parameters: {environment: {kind: name}, namespace: {kind: name}}
    target: {environment: {param: environment}, namespace: {param: namespace}, service: {param: nope}}
    blast_radius: {fixed: 1}
""")
    with pytest.raises(CatalogError) as caught:
        ActionCatalog.load(path)
    assert "actions.restart.risk_class" in str(caught.value)
    path.write_text(path.read_text().replace("risky", "read_only"))
    with pytest.raises(CatalogError, match="target.service reads parameter 'nope'"):
        ActionCatalog.load(path)
    with pytest.raises(CatalogError, match="cannot read"):
        ActionCatalog.load(tmp_path / "missing.yaml")


# --- ledger and records --------------------------------------------------------------------------

def proposal(**overrides: Any) -> Proposal:
    return Proposal.model_validate({
        "id": "P1", "incident_id": "I1", "action": "restart_deployment",
        "parameters": {"deployment": "a", "replicas": 3, "force": False, "ratio": 0.5, "note": None},
        "risk_class": "read_only", "target": {"environment": "prod", "namespace": "n", "service": "a"},
        "blast_radius": 3, "rationale": "r", "evidence": [{"kind": "alert", "ref": "fp"}], "confidence": 0.4,
        "proposer": {"kind": "llm", "name": "m", "version": "1"}, "requested_by": None,
        "created_at": from_ms(1_795_689_000_000), "expires_at": from_ms(1_795_692_600_123),
        "idempotency_key": "I1:P1", **overrides})


def test_ledger_entry_round_trips():
    state = ProposalState("P1", 2, proposal=proposal(), status="executing",
                          approvals=[ApprovalEntry("P1", "approve", "t", "cli", 1, jti="j1")],
                          retry=RetryEntry(1, 10, "OPA unreachable"),
                          execution=ExecutionEntry("e", "d", "k", "platform-ctl", 1, "started", 3, "{}"))
    assert ProposalState.from_json(state.to_json()) == state
    assert state.seen_jtis() == {"j1"}
    # The ledger keeps the proposal as JSON with epoch-millisecond times, exactly.
    shown = json.loads(state.to_json())["proposal"]
    assert shown["expires_at"] == 1_795_692_600_123 and shown["parameters"]["replicas"] == 3
    assert ProposalState.from_json(state.to_json()).expires_at_ms == 1_795_692_600_123


def test_policy_input_follows_the_policy_contract():
    document = policy_input(proposal(), action_hash="h", target={"environment": "prod", "namespace": "n",
                                                                "service": "a"},
                            blast_radius=3, approvals=[ApprovalEntry("P1", "approve", "t", "cli", 1_795_689_000_000)],
                            now_ns=7, recent_executions=2)
    assert document["proposal"]["expires_at"] == "2026-11-26T11:30:00.123Z"
    assert document["proposal"]["created_at"] == rfc3339(1_795_689_000_000) == "2026-11-26T10:30:00.000Z"
    assert document["approvals"] == [{"proposal_id": "P1", "decision": "approve", "token": "t", "source": "cli",
                                      "time": "2026-11-26T10:30:00.000Z"}]
    assert document["context"] == {"recent_executions_for_target": 2} and document["now_ns"] == 7
    assert document["proposal"]["blast_radius"] == 3 and document["proposal"]["action_hash"] == "h"


def test_json_approvals_are_read_against_the_same_schema():
    codec = None  # JSON never reaches the Avro codec
    approval = decode_approval(json.dumps({"proposal_id": "P", "decision": "reject", "token": "t",
                                           "source": "chat", "time": "2026-11-26T10:30:00Z"}).encode(), codec)
    assert approval["time"] == 1_795_689_000_000 and approval["comment"] is None
    from aiops.core.errors import SerializationError
    with pytest.raises(SerializationError, match="unknown"):
        decode_approval(b'{"proposal_id": "P", "decision": "approve", "token": "t", "source": "s", "time": 1, '
                        b'"groups": ["admin"]}', codec)
    with pytest.raises(SerializationError, match="'decision'"):
        decode_approval(b'{"proposal_id": "P", "decision": "yes", "token": "t", "source": "s", "time": 1}', codec)


# --- executors -----------------------------------------------------------------------------------

def request(key: str = "k-1") -> ExecutionRequest:
    return ExecutionRequest(key, "P1", "restart_deployment", {"environment": "prod", "namespace": "n",
                                                               "service": "a"}, {"deployment": "a"})


async def test_platform_ctl_executor_speaks_the_documented_api(platform_ctl):
    executor = PlatformCtlExecutor(Settings(platform_ctl_url=platform_ctl.url))
    try:
        first = await executor.execute(request())
        assert first.status == "succeeded" and first.operation_id
        again = await executor.execute(request())
        assert again.status == "skipped_duplicate" and again.operation_id == first.operation_id
        found = await executor.status("k-1")
        assert found is not None and found.status == "succeeded" and found.operation_id == first.operation_id
        assert await executor.status("never-sent") is None
    finally:
        await executor.close()
    [call, _] = platform_ctl.posts()
    assert call.path == "/v1/actions/restart_deployment" and call.idempotency_key == "k-1"
    assert call.body == {"idempotency_key": "k-1", "proposal_id": "P1", "action": "restart_deployment",
                         "target": {"environment": "prod", "namespace": "n", "service": "a"},
                         "parameters": {"deployment": "a"}}


async def test_executor_errors_say_whether_the_action_may_have_run():
    unconfigured = PlatformCtlExecutor(Settings(platform_ctl_url=None))
    with pytest.raises(ExecutorError, match="AIOPS_PLATFORM_CTL_URL"):
        await unconfigured.execute(request())
    refused = PlatformCtlExecutor(Settings(platform_ctl_url=f"http://127.0.0.1:{free_port()}"))
    try:
        with pytest.raises(ExecutorError, match="cannot connect"):
            await refused.execute(request())
        with pytest.raises(OutcomeUnknown):
            await refused.status("k")  # cannot tell: the gatekeeper will ask again later
    finally:
        await refused.close()
    webhook = WebhookExecutor(Settings(webhook_url=None))
    with pytest.raises(ExecutorError, match="AIOPS_WEBHOOK_URL"):
        await webhook.execute(request())
    with pytest.raises(OutcomeUnknown):
        await webhook.status("k")


async def test_webhook_and_dry_run_executors(platform_ctl):
    webhook = WebhookExecutor(Settings(webhook_url=f"{platform_ctl.url}/hooks/actions"))
    try:
        assert (await webhook.execute(request("w-1"))).status == "succeeded"
    finally:
        await webhook.close()
    [call] = platform_ctl.posts()
    assert call.idempotency_key == "w-1" and call.body["action"] == "restart_deployment"
    dry = DryRunExecutor()
    result = await dry.execute(request("d-1"))
    assert result.status == "succeeded" and json.loads(result.response)["would_run"]["idempotency_key"] == "d-1"
    assert dry.calls == [request("d-1")] and await dry.status("d-1") is None


def test_executor_readme_documents_the_request_format():
    readme = (PROJECT_ROOT / "connectors" / "executors" / "README.md").read_text()
    for needle in ("POST {base}/v1/actions/{action}", "Idempotency-Key", "GET {base}/v1/operations/{idempotency_key}",
                   "409"):
        assert needle in readme
