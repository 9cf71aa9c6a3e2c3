"""`aiops stack`: status of the running stack, a second stack on other ports restarted quickly from cache,
and the clear errors a user gets when something is missing or in the way."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from aiops.core.errors import StackError
from aiops.core.settings import Settings
from aiops.demo.local_services import free_port
from aiops.stack import components, kafka
from tests.processes import AIOPS

pytestmark = pytest.mark.integration

def run_aiops(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([AIOPS, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, check=False)


def test_status_reports_kafka_and_opa_healthy_with_versions(services, settings):
    result = run_aiops("stack", "status")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 3}
    assert settings.kafka_version in lines["kafka"] and "healthy" in lines["kafka"]
    assert settings.opa_version.lstrip("v") in lines["opa"] and "healthy" in lines["opa"]


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat (Debian package) is installed by .ci/run")
def test_kcat_lists_the_broker(services):
    out = subprocess.run(["kcat", "-L", "-b", services.kafka_bootstrap, "-m", "10"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert "1 brokers:" in out and f"broker 1 at {services.kafka_bootstrap}" in out




def snapshot(directory: Path) -> set[tuple[str, int]]:
    return {(str(p), p.stat().st_size) for p in directory.rglob("*") if p.is_file()}


def test_down_then_up_is_healthy_within_30s_and_downloads_nothing(services, tmp_path):
    """A second stack (own ports and state) sharing the cache: restarting it fetches and builds nothing."""
    env = {"AIOPS_KAFKA_PORT": str(free_port()), "AIOPS_KAFKA_CONTROLLER_PORT": str(free_port()),
           "AIOPS_OPA_PORT": str(free_port()), "AIOPS_STATE_DIR": str(tmp_path / "state")}
    cache = Settings().cache_dir
    try:
        first = run_aiops("stack", "up", env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        before = snapshot(cache)
        assert run_aiops("stack", "down", env=env).returncode == 0
        assert run_aiops("stack", "status", env=env).returncode == 1

        started = time.monotonic()
        again = run_aiops("stack", "up", env=env)
        elapsed = time.monotonic() - started
        assert again.returncode == 0, again.stdout + again.stderr
        assert elapsed < 30, f"stack up took {elapsed:.1f}s"
        assert "fetching" not in again.stdout and "building" not in again.stdout
        assert snapshot(cache) == before
        assert run_aiops("stack", "status", env=env).returncode == 0
    finally:
        run_aiops("stack", "down", env=env)


def test_port_in_use_is_named(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = Settings(kafka_port=port, state_dir=tmp_path)
        with pytest.raises(StackError, match=f"port 127.0.0.1:{port} .*already in use"):
            kafka.start(settings, say=lambda _: None)


def test_missing_java_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no java, no mvn, no go
    settings = Settings(cache_dir=tmp_path / "empty-cache", state_dir=tmp_path / "state")
    with pytest.raises(StackError, match="`java` not found"):
        kafka.start(settings, say=lambda _: None)


def test_missing_go_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    settings = Settings(cache_dir=tmp_path / "empty-cache", state_dir=tmp_path / "state")
    with pytest.raises(StackError, match="`go` not found"):
        components.COMPONENTS[1].start(settings, say=lambda _: None)


def test_broker_that_does_not_come_up_is_reported(tmp_path):
    """A broker that dies at start (corrupt KRaft state here) gives a clear error with its log, exit non-zero."""
    state = tmp_path / "state"
    (state / "kafka" / "data").mkdir(parents=True)
    (state / "kafka" / "data" / "meta.properties").write_text("version=1\ncluster.id=\nnode.id=99\n")
    env = {"AIOPS_KAFKA_PORT": str(free_port()), "AIOPS_KAFKA_CONTROLLER_PORT": str(free_port()),
           "AIOPS_OPA_PORT": str(free_port()), "AIOPS_STATE_DIR": str(state), "AIOPS_STARTUP_TIMEOUT_S": "40"}
    try:
        result = run_aiops("stack", "up", env=env)
        assert result.returncode != 0
        assert "Kafka broker" in result.stderr
    finally:
        run_aiops("stack", "down", env=env)
