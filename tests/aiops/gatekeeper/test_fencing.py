"""Fencing, with two real `aiops gatekeeper` processes: the old owner of a partition is frozen (SIGSTOP) while it
waits for OPA's answer on an approval, its session expires, the group rebalances the partition to the second
instance, which decides and executes the action; then the old owner wakes up (SIGCONT) and gets OPA's "allow"
for the same approval. Its transactional producer was fenced when the new owner took the partition, so it
cannot commit "started", and it never calls the executor: the webhook (which does not deduplicate) receives
exactly one call."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from aiops.core.avro import codec_for
from aiops.core.topics import create_topics, delete_prefixed_topics
from tests.aiops.gatekeeper.conftest import prefixed_settings, wait_for_leaders
from tests.aiops.gatekeeper.doubles import OpaServer, PlatformCtlServer
from tests.aiops.gatekeeper.harness import Harness, TopicReader, params
from tests.aiops.gatekeeper.opa_proxy import OpaProxy
from tests.aiops.gatekeeper.test_crash import start_gatekeeper

pytestmark = pytest.mark.integration
SESSION_S = 6


async def wait_for_log(log: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{log.name} does not say {text!r} within {timeout_s}s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGCONT)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


async def test_a_paused_owner_that_wakes_up_late_is_fenced_and_executes_nothing(
        services, tmp_path, opa_binary, approver_keys, bundle_approvers):
    prefix = f"t-{uuid.uuid4().hex[:8]}."
    opa = OpaServer(opa_binary, prefixed_settings(services, prefix).policy_dir, tmp_path, bundle_approvers)
    opa.start()
    proxy = OpaProxy(opa.url)
    with PlatformCtlServer() as platform:
        settings = prefixed_settings(services, prefix, opa_url=opa.url, platform_ctl_url=platform.url)
        await asyncio.to_thread(create_topics, settings)
        await asyncio.to_thread(wait_for_leaders, settings)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
        env.update({"AIOPS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "AIOPS_TOPIC_PREFIX": prefix,
                    "AIOPS_DEFAULT_PARTITIONS": "1", "AIOPS_PLATFORM_CTL_URL": platform.url,
                    "AIOPS_WEBHOOK_URL": f"{platform.url}/hooks/actions", "AIOPS_GATEKEEPER_METRICS_PORT": "0",
                    "AIOPS_GATEKEEPER_SESSION_TIMEOUT_S": str(SESSION_S), "AIOPS_OPA_TIMEOUT_S": "300"})
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await producer.start()
        decisions = await TopicReader(settings.kafka_bootstrap, settings.topic("aiops.decisions"),
                                      codec_for("Decision", settings.topic("aiops.decisions"), settings),
                                      read_committed=True).start()
        executions = await TopicReader(settings.kafka_bootstrap, settings.topic("aiops.executions"),
                                       codec_for("Execution", settings.topic("aiops.executions"), settings),
                                       read_committed=True).start()
        harness = Harness(settings, opa, platform, approver_keys, producer, decisions, executions)
        log_a, log_b = tmp_path / "gatekeeper-a.log", tmp_path / "gatekeeper-b.log"
        a = start_gatekeeper({**env, "AIOPS_OPA_URL": proxy.url, "AIOPS_GATEKEEPER_INSTANCE_ID": "gk-a"}, log_a)
        b = None
        try:
            proposal = await harness.propose("toggle_feature_flag", params("toggle_feature_flag"))
            await harness.decision(proposal["id"], "proposal", timeout_s=60)  # A owns the partition and decides
            proxy.holding = True
            await harness.approve("bob", proposal)
            assert await asyncio.to_thread(proxy.wait_for_held, 1, 30), "A never asked OPA about the approval"
            os.kill(a.pid, signal.SIGSTOP)  # A is frozen while it waits for OPA's answer
            b = start_gatekeeper({**env, "AIOPS_OPA_URL": opa.url, "AIOPS_GATEKEEPER_INSTANCE_ID": "gk-b"}, log_b)
            # A's session expires, the group rebalances, B takes the partition (fencing A) and executes.
            done = await harness.execution(proposal["id"], "succeeded", timeout_s=90)
            await wait_for_log(log_b, "took partition 0", 10)
            os.kill(a.pid, signal.SIGCONT)
            proxy.release.set()  # A now gets OPA's allow for the same approval
            await wait_for_log(log_a, "was taken over by another gatekeeper instance", 60)
            # A is fenced: whatever it tried to write was refused, and it called nothing.
            calls = [c for c in platform.posts() if c.idempotency_key == proposal["idempotency_key"]]
            assert len(calls) == 1, calls
            assert [e["status"] for e in executions.of(proposal["id"])] == ["started", "succeeded"]
            assert {e["id"] for e in executions.of(proposal["id"])} == {done["id"]}
            allows = [d for d in decisions.of(proposal["id"]) if d["allow"]]
            assert len(allows) == 1 and allows[0]["id"] == done["decision_id"]
            assert a.poll() is None and b.poll() is None, "both instances keep running"
            # And the system goes on: a new proposal is decided by whichever instance owns the partition now.
            control = await harness.propose("collect_diagnostics", params("collect_diagnostics"))
            await harness.execution(control["id"], "succeeded", timeout_s=90)
            print(f"\nfencing: A frozen while asking OPA, B took over after the {SESSION_S}s session timeout and "
                  f"executed {proposal['id']}; A woke up, was fenced, and made 0 executor calls")
        finally:
            stop(a)
            if b is not None:
                stop(b)
            await decisions.stop()
            await executions.stop()
            await producer.stop()
            proxy.close()
            opa.stop()
            await asyncio.to_thread(delete_prefixed_topics, settings.kafka_bootstrap, prefix)
