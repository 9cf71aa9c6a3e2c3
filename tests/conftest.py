"""Session-scoped real services, the test kinds, and the shared toolkit.

The broker and OPA come from the local stack when it runs; otherwise from testcontainers when a Docker engine
answers (AIOPS_TEST_CONTAINERS=1 forces that, =0 forbids it); otherwise the local stack is started here.
Kafka factory fixtures (topics, groups, producers, readers) come from tests/kafka_io.py, real processes
(workers, bridges, the memory service) from tests/processes.py. A test that uses the real services is marked
`integration` whether it says so or not; `-m "not integration"` runs what needs no broker and no OPA.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from aiops.core.settings import Settings

pytest_plugins = ["tests.kafka_io", "tests.processes"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "services" in getattr(item, "fixturenames", ()) and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)


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
