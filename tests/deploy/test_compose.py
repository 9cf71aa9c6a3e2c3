"""docker-compose.yml stays valid and runs the same pinned versions as the local stack."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from aiops.core.paths import PROJECT_ROOT
from aiops.core.settings import Settings

COMPOSE = PROJECT_ROOT / "docker-compose.yml"


def compose_command() -> list[str] | None:
    # Debian's docker-compose validates without an engine; the docker CLI plugin does too where present.
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    return None


@pytest.mark.skipif(compose_command() is None, reason="no docker-compose / docker compose client")
def test_compose_file_is_valid():
    result = subprocess.run([*compose_command(), "-f", str(COMPOSE), "config", "-q"],
                            capture_output=True, text=True, cwd=PROJECT_ROOT, check=False)
    assert result.returncode == 0, result.stderr


def test_compose_runs_the_pinned_versions_and_the_policy_bundle():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    settings = Settings()
    assert services["kafka"]["image"] == f"apache/kafka:{settings.kafka_version}"
    assert services["opa"]["image"] == f"openpolicyagent/opa:{settings.opa_version.lstrip('v')}"
    assert "./policy:/policy:ro" in services["opa"]["volumes"]
    assert {"kafka", "opa", "grafana", "topics-init"} <= set(services)


def test_compose_runs_every_process_prometheus_scrapes():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    scraped = yaml.safe_load((PROJECT_ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    hosts = {target.split(":")[0] for job in scraped["scrape_configs"] for config in job.get("static_configs", [])
             for target in config["targets"]}
    hosts.discard("localhost")  # prometheus itself
    assert hosts <= set(services), f"prometheus scrapes hosts compose does not run: {hosts - set(services)}"
    commands = {name: " ".join(service.get("command", [])) for name, service in services.items()}
    for expected in ("worker", "gatekeeper", "connect alertmanager", "connect otlp", "approvals serve",
                     "memory serve", "feed serve", "console"):
        assert any(command.startswith(expected) for command in commands.values()), expected


def test_dockerfile_copies_every_package_and_data_folder_the_cli_needs():
    import re

    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    include = re.search(r"^include = \[(.*)\]$", pyproject, re.M).group(1)
    packages = [name.strip('" *') for name in include.split(",")]
    for folder in [*packages, "schemas", "policy", "actions", "handbook"]:
        assert f"COPY {folder} ./{folder}" in dockerfile, f"the image lacks {folder}/"
