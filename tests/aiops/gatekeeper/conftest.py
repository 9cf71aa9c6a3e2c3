"""Fixtures for the gatekeeper tests: test approver keys, a private OPA, platform-ctl, and a running gatekeeper."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from confluent_kafka.admin import AdminClient

from aiops.core.avro import codec_for
from aiops.core.settings import Settings
from aiops.core.topics import CATALOG, create_topics, delete_prefixed_topics
from aiops.gatekeeper.keys import ApproverKey, KeyStore
from tests.aiops.gatekeeper.doubles import OpaServer, PlatformCtlServer
from tests.aiops.gatekeeper.harness import APPROVERS, UNREGISTERED, Harness, TopicReader


@pytest.fixture(scope="session")
def approver_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ApproverKey]:
    store = KeyStore(tmp_path_factory.mktemp("keys"))
    return {name: store.create(name, groups) for name, groups in APPROVERS.items()}


@pytest.fixture(scope="session")
def bundle_approvers(approver_keys: dict[str, ApproverKey]) -> dict:
    approvers: dict = {}
    for name, key in approver_keys.items():
        if name not in UNREGISTERED:
            approvers.update(key.policy_entry())
    return approvers


@pytest.fixture(scope="session")
def opa_binary() -> Path:
    from aiops.stack import components

    return components.binary(Settings(), "opa")


def prefixed_settings(services, prefix: str, **overrides) -> Settings:
    values = dict(kafka_bootstrap=services.kafka_bootstrap, topic_prefix=prefix, default_partitions=1,
                  gatekeeper_retry_initial_s=0.5, gatekeeper_retry_max_s=2.0, opa_timeout_s=2.0,
                  executor_timeout_s=10.0)
    values.update(overrides)
    return Settings(**values)


def wait_for_leaders(settings: Settings, timeout_s: float = 30.0) -> None:
    """New topics are usable once every partition has a leader."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=10).topics
        mine = {n: t for n, t in topics.items() if n.startswith(settings.topic_prefix)}
        if len(mine) >= len(CATALOG) and all(
                p.leader >= 0 for t in mine.values() for p in t.partitions.values()):
            return
        time.sleep(0.2)
    raise AssertionError(f"topics with prefix {settings.topic_prefix} have no leaders after {timeout_s}s")


@contextlib.asynccontextmanager
async def running_harness(services, tmp_path: Path, opa_binary: Path, approver_keys, bundle_approvers,
                          webhook_status: bool = False, bundle_data: dict | None = None,
                          **overrides) -> AsyncIterator[Harness]:
    """Unique topics, a private OPA, platform-ctl, and an in-process gatekeeper: yields the Harness.

    With `webhook_status`, the webhook executor can look calls up (the simulator's /hooks/operations/{key});
    `bundle_data` replaces top-level keys of the private OPA's data.aiops."""
    from aiops.gatekeeper.service import Gatekeeper

    prefix = f"t-{uuid.uuid4().hex[:8]}."
    opa = OpaServer(opa_binary, Settings().policy_dir, tmp_path, bundle_approvers, bundle_data)
    opa.start()
    with PlatformCtlServer() as platform:
        if webhook_status:
            overrides["webhook_status_url"] = f"{platform.url}/hooks/operations/{{idempotency_key}}"
        settings = prefixed_settings(services, prefix, opa_url=opa.url, platform_ctl_url=platform.url,
                                     webhook_url=f"{platform.url}/hooks/actions", **overrides)
        await asyncio.to_thread(create_topics, settings)
        await asyncio.to_thread(wait_for_leaders, settings)
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await producer.start()
        decisions = await TopicReader(settings.kafka_bootstrap, settings.topic("aiops.decisions"),
                                      codec_for("Decision", settings.topic("aiops.decisions"), settings)).start()
        executions = await TopicReader(settings.kafka_bootstrap, settings.topic("aiops.executions"),
                                       codec_for("Execution", settings.topic("aiops.executions"), settings)).start()
        keeper = Gatekeeper(settings, instance_id="test-gatekeeper")
        task = asyncio.create_task(keeper.run())
        ready = asyncio.create_task(keeper.ready.wait())
        await asyncio.wait({task, ready}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # raises what stopped the gatekeeper
        assert ready.done(), "the gatekeeper did not get its partitions within 60s"
        harness = Harness(settings, opa, platform, approver_keys, producer, decisions, executions)
        harness.keeper = keeper  # type: ignore[attr-defined]
        try:
            yield harness
        finally:
            keeper.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)
            await decisions.stop()
            await executions.stop()
            await producer.stop()
            opa.stop()
            await asyncio.to_thread(delete_prefixed_topics, settings.kafka_bootstrap, prefix)


@pytest.fixture(scope="module")
async def harness(services, tmp_path_factory, opa_binary, approver_keys, bundle_approvers) -> AsyncIterator[Harness]:
    async with running_harness(services, tmp_path_factory.mktemp("gk"), opa_binary, approver_keys,
                               bundle_approvers) as h:
        yield h


@pytest.fixture(scope="module")
def cli_env(harness, tmp_path_factory) -> dict[str, str]:
    """The environment for `aiops` commands that talk to the module's harness, with their own key directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
    env.update({"AIOPS_KAFKA_BOOTSTRAP": harness.settings.kafka_bootstrap,
                "AIOPS_TOPIC_PREFIX": harness.settings.topic_prefix,
                "AIOPS_KEY_DIR": str(tmp_path_factory.mktemp("cli-keys")), "COLUMNS": "200"})
    return env


@pytest.fixture
def platform_ctl() -> Iterator[PlatformCtlServer]:
    with PlatformCtlServer() as server:
        yield server
