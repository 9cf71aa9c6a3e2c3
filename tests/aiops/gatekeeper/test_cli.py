"""`aiops keys create` -> `aiops approve --yes`, end to end: the CLI's approval makes the gatekeeper execute."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.aiops.gatekeeper.harness import aiops, params

pytestmark = pytest.mark.integration


async def wait_for_approver(harness, kid: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if kid in (await asyncio.to_thread(harness.opa.data, "aiops/approvers") or {}):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"OPA did not load approver {kid} from {harness.opa.bundle}")


async def test_keys_create_then_approve_yes_makes_the_gatekeeper_execute(harness, cli_env):
    created = await asyncio.to_thread(
        aiops, ["keys", "create", "dana", "--groups", "sre,platform", "--policy-dir", str(harness.opa.bundle)],
        cli_env)
    assert created.returncode == 0, created.stderr
    key_dir = Path(cli_env["AIOPS_KEY_DIR"])
    meta = json.loads((key_dir / "dana.json").read_text())
    kid = meta["kid"]
    assert stat.S_IMODE((key_dir / "dana.key.pem").stat().st_mode) == 0o600
    assert "-----BEGIN PUBLIC KEY-----" in created.stdout and f'"{kid}": {{' in created.stdout
    bundle_entry = json.loads((harness.opa.bundle / "data.json").read_text())["aiops"]["approvers"][kid]
    assert bundle_entry == {"name": "dana", "groups": ["sre", "platform"], "public_key": meta["public_key"]}
    await wait_for_approver(harness, kid)

    listed = await asyncio.to_thread(aiops, ["keys", "list"], cli_env)
    assert listed.returncode == 0 and kid in listed.stdout

    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    await harness.decision(proposal["id"], "proposal")
    approved = await asyncio.to_thread(
        aiops, ["approve", proposal["id"], "--key", "dana", "--yes", "--comment", "pool exhausted"], cli_env)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    shown = approved.stdout
    for expected in ("restart_deployment", proposal["parameters"]["deployment"], "prod / shop /",
                     "state_changing", "alert: fp-1", "a test alert", "0.90", "reasoner runbook-reasoner v1",
                     "approved " + proposal["id"] + " as dana"):
        assert expected in shown, (expected, shown)

    decision = await harness.decision(proposal["id"], "approval")
    assert decision["allow"] is True, decision["reasons"]
    assert decision["approvals_considered"] == [
        {"decision": "approve", "source": "cli", "approver": kid, "counted": True, "reason": None}]
    await harness.execution(proposal["id"], "succeeded")
    assert len(harness.platform.posts(proposal["id"])) == 1


async def test_reject_is_a_veto(harness, cli_env):
    proposal = await harness.propose("scale_deployment", params("scale_deployment"))
    await harness.decision(proposal["id"], "proposal")
    rejected = await asyncio.to_thread(aiops, ["reject", proposal["id"], "--key", "dana", "--yes"], cli_env)
    assert rejected.returncode == 0, rejected.stdout + rejected.stderr
    await harness.approve("alice", proposal)
    decision = await harness.decision(proposal["id"], "approval", nth=2)
    assert decision["allow"] is False and "dana rejected this action" in " ".join(decision["reasons"])
    harness.assert_not_executed(proposal["id"])


async def test_approve_needs_confirmation_and_an_existing_proposal(harness, cli_env):
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    declined = await asyncio.to_thread(
        subprocess.run, [str(Path(sys.executable).with_name("aiops")), "approve", proposal["id"], "--key", "dana"],
        env=cli_env, input="n\n", capture_output=True, text=True, timeout=60, check=False)
    assert declined.returncode == 1 and "nothing sent" in declined.stdout
    missing = await asyncio.to_thread(aiops, ["approve", "no-such-proposal", "--key", "dana", "--yes",
                                              "--timeout", "10"], cli_env)
    assert missing.returncode == 2 and "no proposal with id 'no-such-proposal'" in missing.stderr
    nokey = await asyncio.to_thread(aiops, ["approve", proposal["id"], "--key", "zed", "--yes"], cli_env)
    assert nokey.returncode == 2 and "no key named 'zed'" in nokey.stderr
    await asyncio.sleep(0)
    assert [a for a in harness.decisions.of(proposal["id"]) if a["trigger"] == "approval"] == []
