"""Exactly once across crashes: SIGKILL a real `aiops gatekeeper` process at random points while it works
through 24 approved actions, restarting it each time; platform-ctl must see each action exactly once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from aiops.core.avro import codec_for
from aiops.core.topics import create_topics, delete_prefixed_topics
from tests.aiops.gatekeeper.conftest import prefixed_settings, wait_for_leaders
from tests.aiops.gatekeeper.doubles import OpaServer, PlatformCtlServer
from tests.aiops.gatekeeper.harness import Harness, TopicReader, params

pytestmark = pytest.mark.integration

SEED = 20261127
RUNS = 12  # each run is killed with SIGKILL; a last run finishes what is left
ACTIONS_PER_RUN = 2


def start_gatekeeper(env: dict[str, str], log: Path) -> subprocess.Popen:
    aiops = Path(sys.executable).with_name("aiops")
    return subprocess.Popen([str(aiops), "gatekeeper", "--loglevel", "info"], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


async def test_sigkill_at_random_points_never_runs_an_action_twice(
        services, tmp_path, opa_binary, approver_keys, bundle_approvers):
    rng = random.Random(SEED)
    prefix = f"t-{uuid.uuid4().hex[:8]}."
    opa = OpaServer(opa_binary, prefixed_settings(services, prefix).policy_dir, tmp_path, bundle_approvers)
    opa.start()
    # A slow platform-ctl (150 ms per action) so that kills land while calls are in flight.
    with PlatformCtlServer(post_delay_s=0.15) as platform:
        settings = prefixed_settings(services, prefix, opa_url=opa.url, platform_ctl_url=platform.url)
        await asyncio.to_thread(create_topics, settings)
        await asyncio.to_thread(wait_for_leaders, settings)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
        env.update({"AIOPS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "AIOPS_TOPIC_PREFIX": prefix,
                    "AIOPS_DEFAULT_PARTITIONS": "1", "AIOPS_OPA_URL": opa.url,
                    "AIOPS_PLATFORM_CTL_URL": platform.url, "AIOPS_GATEKEEPER_INSTANCE_ID": "crash-test",
                    "AIOPS_GATEKEEPER_RETRY_INITIAL_S": "0.5", "AIOPS_GATEKEEPER_RETRY_MAX_S": "2",
                    "AIOPS_GATEKEEPER_METRICS_PORT": "0"})
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await producer.start()
        executions = await TopicReader(settings.kafka_bootstrap, settings.topic("aiops.executions"),
                                       codec_for("Execution", settings.topic("aiops.executions"), settings)).start()
        harness = Harness(settings, opa, platform, approver_keys, producer, executions, executions)
        log = tmp_path / "gatekeeper.log"
        proposals: list[dict] = []
        kills = 0
        try:
            for run in range(RUNS):
                # New approved work arrives before every run, so every run has something in flight.
                for _ in range(ACTIONS_PER_RUN):
                    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
                    await harness.approve("alice", proposal)
                    proposals.append(proposal)
                process = start_gatekeeper(env, log)
                if run % 2 == 0:
                    await asyncio.sleep(rng.uniform(0.5, 2.5))  # anywhere: start-up, restore, deciding, calling
                else:
                    seen = len(platform.posts())
                    await asyncio.to_thread(platform.wait_for_post, seen, 15)
                    await asyncio.sleep(rng.uniform(0.0, 0.3))  # during or just after an executor call
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
                kills += 1
            final = start_gatekeeper(env, log)
            try:
                for proposal in proposals:
                    await harness.execution(proposal["id"], "succeeded", timeout_s=90)
            finally:
                final.send_signal(signal.SIGTERM)
                try:
                    final.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    final.kill()
                    final.wait(timeout=10)
        finally:
            await executions.stop()
            await producer.stop()
            opa.stop()
            await asyncio.to_thread(delete_prefixed_topics, settings.kafka_bootstrap, prefix)

        posts = Counter(call.idempotency_key for call in platform.posts())
        keys = {p["idempotency_key"] for p in proposals}
        print(f"\ncrash test: {kills} SIGKILLs, {len(proposals)} approved actions, platform-ctl saw "
              f"{sum(posts.values())} POSTs for {len(posts)} keys and {len(platform.gets())} status lookups")
        assert kills >= 10 and len(proposals) >= 20
        assert platform.gets(), "no kill landed between 'started' and its result: the crash window was not hit"
        assert set(posts) == keys
        assert all(count == 1 for count in posts.values()), {k: c for k, c in posts.items() if c != 1}
        for proposal in proposals:
            records = executions.of(proposal["id"])
            assert {e["status"] for e in records} == {"started", "succeeded"}, records
