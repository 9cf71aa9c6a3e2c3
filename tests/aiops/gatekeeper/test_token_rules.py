"""Approval token lifetime and clock skew, end to end: the bundle's limits decide, and the Decision says why."""

from __future__ import annotations

import time

import pytest

from tests.aiops.gatekeeper.harness import params

pytestmark = pytest.mark.integration


async def test_a_token_signed_for_a_year_authorises_nothing(harness):
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    await harness.decision(proposal["id"], "proposal")
    await harness.approve("alice", proposal, ttl_s=365 * 86400)
    verdict = await harness.decision(proposal["id"], "approval")
    assert verdict["allow"] is False
    [considered] = verdict["approvals_considered"]
    assert considered["counted"] is False
    assert "token lifetime 31536000s (exp - iat) exceeds the maximum of 3600s" in considered["reason"]
    assert "approval 0: token lifetime 31536000s (exp - iat) exceeds the maximum of 3600s" in verdict["reasons"]
    harness.assert_not_executed(proposal["id"])


async def test_a_token_issued_in_the_future_authorises_nothing(harness):
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    await harness.decision(proposal["id"], "proposal")
    await harness.approve("alice", proposal, now=time.time() + 3600, ttl_s=600)
    verdict = await harness.decision(proposal["id"], "approval")
    assert verdict["allow"] is False
    assert ("approval 0: token issued in the future (iat is more than the allowed clock skew of 60s ahead)"
            in verdict["reasons"])
    harness.assert_not_executed(proposal["id"])


async def test_a_token_within_the_limits_counts(harness):
    # The longest lifetime the bundle allows, issued by a clock 30 s ahead (inside the 60 s skew).
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    await harness.decision(proposal["id"], "proposal")
    await harness.approve("alice", proposal, now=time.time() + 30, ttl_s=3600)
    verdict = await harness.decision(proposal["id"], "approval")
    assert verdict["allow"] is True, verdict["reasons"]
    await harness.execution(proposal["id"], "succeeded")
