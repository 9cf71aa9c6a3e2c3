"""The single-owner rule: `aiops memory serve` owns the Milvus Lite directory, everyone else goes through it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.memory import ownership
from aiops.memory.client import AsyncMemoryClient, MemoryClient
from aiops.memory.documents import MemoryRecord
from aiops.memory.enrich import asimilar_for_incident, similar_for_incident
from aiops.memory.errors import MemoryServiceError, StoreOwnedError
from aiops.memory.service import start
from aiops.memory.store import MemoryStore
from aiops.memory.writeback import awrite_back, write_back
from tests.aiops.memory.conftest import HANDBOOK
from tests.aiops.memory.test_writeback import ACTIONS, smtp_incident
from tests.processes import AIOPS, ServiceProcess, free_port, start_memory_service


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    running = start_memory_service(tmp_path_factory.mktemp("service-state"))
    yield running
    running.stop()


def cli_env(monkeypatch: pytest.MonkeyPatch, service: ServiceProcess) -> None:
    for name in ("AIOPS_STATE_DIR", "AIOPS_MEMORY_PORT", "COLUMNS"):
        monkeypatch.setenv(name, service.env[name])


def test_the_service_owns_the_directory_and_a_second_opener_is_told_who(service: ServiceProcess) -> None:
    with pytest.raises(StoreOwnedError) as refused:
        MemoryStore(str(service.db))
    message = str(refused.value)
    assert f"owned by pid {service.process.pid}" in message
    assert "aiops memory serve" in message and f"serving {service.url}" in message
    assert service.process.poll() is None  # the owner is unharmed
    with MemoryClient(service.url) as client:
        health = client.health()
    assert health["pid"] == service.process.pid and health["uri"] == str(service.db)


def test_the_cli_goes_through_the_service(service: ServiceProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    cli_env(monkeypatch, service)
    runner = CliRunner()
    indexed = runner.invoke(app, ["handbook", "index", str(HANDBOOK)])
    assert indexed.exit_code == 0, indexed.output
    assert f"using the memory service at {service.url}" in indexed.stderr
    found = runner.invoke(app, ["handbook", "search", "alert RedisEvictionsSpike on cart-redis", "--top", "2"])
    assert found.exit_code == 0, found.output
    assert "pm-2025-04-cart-redis-eviction-storm" in found.stdout and "using the memory service" in found.stderr
    with MemoryClient(service.url) as client:
        assert client.count() == 42
        assert client.count_by_kind() == {"postmortem": 20, "runbook": 20, "note": 2}


def test_a_cli_that_misses_the_service_gets_the_owner_not_a_crash(service: ServiceProcess) -> None:
    env = {**service.env, "AIOPS_MEMORY_PORT": str(free_port())}  # looks elsewhere, then opens directly
    result = subprocess.run([AIOPS, "handbook", "search", "deadlock"], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 2
    stderr = " ".join(result.stderr.split())
    assert "opening the store" in stderr
    assert f"error: the memory store {service.db} is owned by pid {service.process.pid}" in stderr
    assert "Traceback" not in result.stderr


def test_agents_write_back_and_enrich_through_the_service(service: ServiceProcess) -> None:
    with MemoryClient(service.url) as client:
        write_back(smtp_incident("inc-00000000000000c1", status="resolved", waited="<DURATION>"), ACTIONS, client)
        similar = similar_for_incident(smtp_incident("inc-00000000000000c2", status="open", waited="<NUM>s"), client)
        assert similar[0]["doc_id"] == "inc-00000000000000c1" and similar[0]["kind"] == "incident"
        with pytest.raises(MemoryServiceError, match="HTTP 400: unknown kind"):
            client.search("x", kinds=["bogus"])


async def test_the_async_client_for_faust_agents(service: ServiceProcess) -> None:
    async with AsyncMemoryClient(service.url) as client:
        await awrite_back(smtp_incident("inc-00000000000000d1", status="resolved", waited="<DURATION>"), ACTIONS,
                          client)
        similar = await asimilar_for_incident(smtp_incident("inc-00000000000000d2", status="open", waited="9s"),
                                              client, top_k=3)
    assert similar[0]["kind"] == "incident" and similar[0]["doc_id"].startswith("inc-00000000000000")


def test_stopping_the_service_flushes_and_frees_the_directory(service: ServiceProcess) -> None:
    with MemoryClient(service.url) as client:
        client.upsert([MemoryRecord(id="note-last-words", kind="note", title="t", text="written just before stop")])
        served = client.count_by_kind()
    assert service.stop() == 0
    assert ownership.read_owner(service.db) is None  # the owner file went with the owner
    with MemoryStore(str(service.db)) as store:  # now a direct opener may own it, and sees everything
        assert store.count_by_kind() == served and served["note"] >= 1


async def test_bad_requests_get_clear_answers(tmp_path: Path) -> None:
    with MemoryStore(str(tmp_path / "milvus.db")) as store:
        runner, url = await start(store, "127.0.0.1", 0)
        try:
            async with httpx.AsyncClient(base_url=url) as http:
                assert (await http.post("/v1/search", content=b"{")).json() == {"error": "the body is not JSON"}
                answer = await http.post("/v1/search", json={"query": "x", "top_k": 0})
                assert answer.status_code == 400 and "top_k" in answer.json()["error"]
                answer = await http.post("/v1/documents", json={"documents": [{"id": "x", "kind": "memo"}]})
                assert answer.status_code == 400 and "documents.0.kind" in answer.json()["error"]
            async with AsyncMemoryClient(url) as client:
                record = MemoryRecord(id="note-x", kind="note", title="x", services=["orders-db"], text="vacuum")
                assert await client.upsert([record]) == 1
                hits = await client.search("vacuum", services=["orders-db"])
                assert [h.doc_id for h in hits] == ["note-x"]
        finally:
            await runner.cleanup()
