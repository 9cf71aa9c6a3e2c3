"""`aiops mcp` under test: a real memory service with the handbook indexed, unique topics on the real broker
holding an incident, a proposal and a decision, and the server reached with the SDK's own client over stdio
(the client launches `aiops mcp`) or streamable HTTP (`aiops mcp --transport http` on a free port)."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from aiops.core.avro import codec_for
from aiops.core.settings import Settings
from aiops.core.topics import create_topics, delete_prefixed_topics
from aiops.demo.local_services import free_port
from aiops.memory.client import MemoryClient
from tests import samples
from tests.kafka_io import produce
from tests.processes import AIOPS, running, start_memory_service

TRANSPORTS = ("stdio", "http")


@dataclass(frozen=True)
class McpWorld:
    settings: Settings  # prefixed, pointing at the memory service
    env: dict[str, str]
    incident: dict[str, Any]
    proposal: dict[str, Any]
    decision: dict[str, Any]


@pytest.fixture(scope="session")
def memory_service(tmp_path_factory, handbook) -> Iterator[str]:
    service = start_memory_service(tmp_path_factory.mktemp("mcp-memory"))
    try:
        with MemoryClient(service.url) as client:
            client.upsert([document.to_record() for document in handbook])
        yield service.url
    finally:
        service.stop()


@pytest.fixture(scope="session")
def world(settings, memory_service) -> Iterator[McpWorld]:
    prefix = f"mcp-{uuid.uuid4().hex[:8]}."
    world_settings = Settings(kafka_bootstrap=settings.kafka_bootstrap, topic_prefix=prefix,
                              memory_service_url=memory_service, default_partitions=1)
    create_topics(world_settings)
    now = datetime.now(UTC).replace(microsecond=0)
    incident = {**samples.incident(), "id": f"inc-{uuid.uuid4().hex[:12]}", "updated_at": now}
    proposal = {**samples.proposal(), "id": f"prop-{uuid.uuid4().hex[:12]}", "incident_id": incident["id"],
                "created_at": now, "expires_at": now + timedelta(hours=1)}
    decision = {**samples.decision(), "proposal_id": proposal["id"], "evaluated_at": now}
    for name, record, key in (("Incident", incident, incident["id"]), ("Proposal", proposal, proposal["id"]),
                              ("Decision", decision, proposal["id"])):
        topic = world_settings.topic(f"aiops.{name.lower()}s")
        value = codec_for(name, topic, world_settings).encode(record)
        produce(settings.kafka_bootstrap, topic, [(key.encode(), value)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
    env.update({"AIOPS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "AIOPS_TOPIC_PREFIX": prefix,
                "AIOPS_MEMORY_SERVICE_URL": memory_service})
    try:
        yield McpWorld(world_settings, env, incident, proposal, decision)
    finally:
        delete_prefixed_topics(world_settings.kafka_bootstrap, prefix)


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@contextlib.asynccontextmanager
async def http_server(env: dict[str, str], log: Path, *args: str) -> AsyncIterator[str]:
    port = free_port()
    with running([AIOPS, "mcp", "--transport", "http", "--port", str(port), *args], log, lambda: _port_open(port),
                 env=env, timeout_s=60):
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.fixture
def connect(world, tmp_path) -> Callable[[str], contextlib.AbstractAsyncContextManager[Client]]:
    """connect(transport): the SDK's Client, connected to `aiops mcp` over that transport."""

    @contextlib.asynccontextmanager
    async def connected(transport: str) -> AsyncIterator[Client]:
        if transport == "stdio":
            params = StdioServerParameters(command=AIOPS, args=["mcp"], env=world.env)
            async with Client(params) as client:
                yield client
        else:
            async with http_server(world.env, tmp_path / "mcp-http.log") as url, Client(url) as client:
                yield client

    return connected
