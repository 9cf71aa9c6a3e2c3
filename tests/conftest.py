"""Session-scoped real services and per-test unique topics and consumer groups.

The broker and OPA come from the local stack when it runs; otherwise from testcontainers when a Docker engine
answers (AIOPS_TEST_CONTAINERS=1 forces that, =0 forbids it); otherwise the local stack is started here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from aiops.core.settings import Settings


@dataclass(frozen=True)
class Services:
    kafka_bootstrap: str
    opa_url: str


def _docker_engine_answers() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    return subprocess.run([docker, "info"], capture_output=True, check=False, timeout=20).returncode == 0


def _containers() -> Iterator[Services]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.kafka import KafkaContainer

    settings = Settings()
    with KafkaContainer(f"apache/kafka:{settings.kafka_version}").with_kraft() as kafka_c, \
            DockerContainer(f"openpolicyagent/opa:{settings.opa_version.lstrip('v')}") \
            .with_volume_mapping(str(settings.policy_dir), "/policy", "ro") \
            .with_command("run --server --addr 0.0.0.0:8181 --bundle /policy") \
            .with_exposed_ports(8181) as opa_c:
        wait_for_logs(opa_c, "Initializing server", timeout=60)
        yield Services(kafka_c.get_bootstrap_server(),
                       f"http://{opa_c.get_container_host_ip()}:{opa_c.get_exposed_port(8181)}")


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    from aiops.stack import components

    settings = Settings()
    stack_running = all(row.healthy for row in components.status(settings))
    wanted = os.environ.get("AIOPS_TEST_CONTAINERS")  # "1": containers; "0": never; unset: when no stack runs
    if wanted == "1" or (wanted is None and not stack_running and _docker_engine_answers()):
        yield from _containers()
        return
    started = not stack_running
    if started:
        components.up(settings)
    yield Services(settings.kafka_bootstrap, settings.opa_url)
    if started:
        components.down(settings)


@pytest.fixture(scope="session")
def settings(services: Services) -> Settings:
    """Settings pointing at the test services (a fresh object: nothing reads the environment later)."""
    return Settings(kafka_bootstrap=services.kafka_bootstrap, opa_url=services.opa_url)


@pytest.fixture(scope="session")
def admin(services: Services) -> AdminClient:
    return AdminClient({"bootstrap.servers": services.kafka_bootstrap})


@pytest.fixture
def new_topic(admin: AdminClient) -> Iterator[Callable[..., str]]:
    """Factory: a uuid-named topic for this test only, deleted afterwards."""
    created: list[str] = []

    def make(prefix: str = "test", partitions: int = 1, config: dict[str, str] | None = None) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:12]}"
        futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                                config=config or {})], operation_timeout=30)
        futures[name].result(timeout=30)
        created.append(name)
        return name

    yield make
    if created:
        for future in admin.delete_topics(created, operation_timeout=30).values():
            try:
                future.result(timeout=30)
            except Exception:  # a topic that is already gone is fine
                pass


@pytest.fixture
def new_group() -> Callable[[], str]:
    """Factory: a uuid-named consumer group for this test only."""
    return lambda: f"test-group-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def handbook():
    """The sample ops handbook (handbook/), parsed."""
    from aiops.core.paths import PROJECT_ROOT
    from aiops.memory.documents import load_handbook

    return load_handbook(PROJECT_ROOT / "handbook")


@pytest.fixture(scope="session")
def postmortems(handbook):
    return [document for document in handbook if document.kind == "postmortem"]


@pytest.fixture(scope="session")
def handbook_store(tmp_path_factory, handbook):
    """One Milvus Lite store with the sample handbook indexed (read-only for the tests that share it)."""
    from aiops.memory.store import MemoryStore

    with MemoryStore(str(tmp_path_factory.mktemp("memory") / "milvus.db")) as store:
        store.upsert([document.to_record() for document in handbook])
        yield store
