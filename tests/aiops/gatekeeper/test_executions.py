"""Executors with honest outcomes, against the real gatekeeper: calls run concurrently across targets and in
order per target, each call has a timeout, and a call whose outcome is unknown is looked up by idempotency key,
or recorded `outcome_unknown` with an escalation Decision when the executor cannot be asked; never sent again
blindly."""

from __future__ import annotations

import pytest

from tests.aiops.gatekeeper.conftest import running_harness
from tests.aiops.gatekeeper.harness import params, unique

pytestmark = pytest.mark.integration


async def test_a_slow_target_does_not_hold_up_another(harness):
    slow, fast = unique("slow"), unique("fast")
    harness.platform.delays[slow] = 3.0
    first = await harness.propose("collect_diagnostics", params("collect_diagnostics", service=slow))
    await harness.execution(first["id"], "started")
    second = await harness.propose("collect_diagnostics", params("collect_diagnostics", service=fast))
    quick = await harness.execution(second["id"], "succeeded", timeout_s=10)
    late = await harness.execution(first["id"], "succeeded", timeout_s=20)
    assert quick["finished_at"] < late["finished_at"], "the fast target waited for the slow one"


async def test_actions_on_one_target_run_one_after_the_other_in_order(harness):
    target = unique("same")
    harness.platform.delays[target] = 1.5
    first = await harness.propose("collect_diagnostics", params("collect_diagnostics", service=target))
    second = await harness.propose("get_pod_logs", params("get_pod_logs", service=target))
    one = await harness.execution(first["id"], "succeeded", timeout_s=20)
    two = await harness.execution(second["id"], "succeeded", timeout_s=20)
    [post_one] = harness.platform.posts(first["id"])
    [post_two] = harness.platform.posts(second["id"])
    assert post_two.at >= post_one.at + 1.5, "the second call went out before the first one was answered"
    assert one["finished_at"] <= two["started_at"] or post_two.at > post_one.at


@pytest.fixture(scope="module")
async def impatient(services, tmp_path_factory, opa_binary, approver_keys, bundle_approvers):
    """Executor calls time out after 1.5 s; the webhook has no status URL."""
    async with running_harness(services, tmp_path_factory.mktemp("impatient"), opa_binary, approver_keys,
                               bundle_approvers, executor_timeout_s=1.5, gatekeeper_retry_initial_s=0.3) as h:
        yield h


async def test_a_timed_out_call_is_looked_up_by_idempotency_key_not_sent_again(impatient):
    target = unique("sluggish")
    impatient.platform.delays[target] = 4.0  # platform-ctl runs it, but answers after the timeout
    proposal = await impatient.propose("collect_diagnostics", params("collect_diagnostics", service=target))
    done = await impatient.execution(proposal["id"], "succeeded", timeout_s=30)
    assert "reconciled by idempotency key" in done["error"]
    assert len(impatient.platform.posts(proposal["id"])) == 1
    assert [g.idempotency_key for g in impatient.platform.gets()].count(proposal["idempotency_key"]) >= 1


async def test_a_webhook_call_of_unknown_outcome_is_escalated_not_resent(impatient):
    flag = params("toggle_feature_flag")
    impatient.platform.delays[flag["service"]] = 4.0
    proposal = await impatient.propose("toggle_feature_flag", flag)
    await impatient.approve("bob", proposal)
    unknown = await impatient.execution(proposal["id"], "outcome_unknown", timeout_s=30)
    assert "cannot look an operation up by idempotency key" in unknown["error"]
    escalation = await impatient.decision(proposal["id"], "escalation")
    assert escalation["allow"] is False
    assert "is unknown" in escalation["reasons"][0] and "A person must check the target" in escalation["reasons"][0]
    assert len(impatient.platform.posts(proposal["id"])) == 1


@pytest.fixture(scope="module")
async def with_status(services, tmp_path_factory, opa_binary, approver_keys, bundle_approvers):
    """The webhook can be asked by idempotency key; calls time out after 1.5 s."""
    async with running_harness(services, tmp_path_factory.mktemp("status"), opa_binary, approver_keys,
                               bundle_approvers, webhook_status=True, executor_timeout_s=1.5,
                               gatekeeper_retry_initial_s=0.3) as h:
        yield h


async def test_a_webhook_with_a_status_url_is_reconciled(with_status):
    flag = params("toggle_feature_flag")
    with_status.platform.delays[flag["service"]] = 4.0
    proposal = await with_status.propose("toggle_feature_flag", flag)
    await with_status.approve("bob", proposal)
    done = await with_status.execution(proposal["id"], "succeeded", timeout_s=30)
    assert "reconciled by idempotency key" in done["error"]
    assert len(with_status.platform.posts(proposal["id"])) == 1
