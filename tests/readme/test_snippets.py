"""The README's copy-paste snippets work as written: Alertmanager's receiver (checked by amtool, then a real
Alertmanager fires through it into the bridge), Grafana's contact point (Grafana's own settings names, the
bridge's path and credentials), the Collector's exporter (the Collector's own `validate`), and the MCP client
configurations (the SDK's client launches or reaches `aiops mcp` exactly as configured)."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from datetime import UTC, datetime
from urllib.parse import urlparse

import httpx2
import pytest
import yaml
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from aiops.core.paths import PROJECT_ROOT
from aiops.core.settings import Settings
from aiops.demo.local_services import free_port
from aiops.stack import components
from tests.aiops.mcp.conftest import http_server
from tests.kafka_io import TopicReader
from tests.processes import AIOPS, bridge_env, running
from tests.streams.ingest import samples

pytestmark = pytest.mark.integration

README = (PROJECT_ROOT / "README.md").read_text()
MCP_TOOLS = {"search_handbook", "get_incident", "list_incidents", "list_proposals", "get_decision", "propose_action"}
# The webhook contact point's settings Grafana reads (grafana/alerting receivers/webhook/v1/config.go).
GRAFANA_WEBHOOK_SETTINGS = {"url", "httpMethod", "maxAlerts", "authorization_scheme", "authorization_credentials",
                            "username", "password", "title", "message", "tlsConfig", "hmacConfig", "headers",
                            "payload"}


def snippet(name: str) -> str:
    found = re.search(rf"<!-- snippet: {re.escape(name)} -->\n```\w+\n(.*?)```", README, re.S)
    assert found, f"README has no snippet {name!r}"
    return found.group(1)


def test_alertmanager_snippet_delivers_through_a_real_alertmanager(settings, normalize_worker, tmp_path):
    config = yaml.safe_load(snippet("alertmanager"))
    [receiver] = config["receivers"]
    [webhook] = receiver["webhook_configs"]
    defaults = Settings()
    assert webhook["url"] == f"http://{defaults.alertmanager_bridge_host}:{defaults.alertmanager_bridge_port}/webhook"
    token = webhook["http_config"]["authorization"]["credentials"]
    amtool = components.binary(settings, "amtool")
    (tmp_path / "as-written.yml").write_text(snippet("alertmanager"))
    checked = subprocess.run([str(amtool), "check-config", str(tmp_path / "as-written.yml")], capture_output=True,
                             text=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # As written, except where the test's bridge listens, and a short group_wait so the test is quick.
    bridge_port, am_port = free_port(), free_port()
    webhook["url"] = f"http://127.0.0.1:{bridge_port}/webhook"
    config["route"]["group_wait"] = "1s"
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    name = f"ReadmeSnippet{uuid.uuid4().hex[:8]}"
    env = bridge_env(settings.kafka_bootstrap, normalize_worker.prefix, connect_bearer_token=token)
    am_url = f"http://127.0.0.1:{am_port}"
    with running([AIOPS, "connect", "alertmanager", "--port", str(bridge_port)], tmp_path / "bridge.log",
                 f"http://127.0.0.1:{bridge_port}/healthz", env=env), \
            running([str(components.binary(settings, "alertmanager")), f"--config.file={tmp_path / 'alertmanager.yml'}",
                     f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{am_port}",
                     "--cluster.listen-address=", "--log.level=warn"], tmp_path / "alertmanager.log",
                    f"{am_url}/-/ready"):
        added = subprocess.run([str(amtool), f"--alertmanager.url={am_url}", "alert", "add", f"alertname={name}",
                                "service=checkout", f"--start={datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"],
                               capture_output=True, text=True, timeout=30, check=False)
        assert added.returncode == 0, added.stderr
        with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts.raw")) as raw:
            raw.wait_until(lambda rs: any(name.encode() in (r.value or b"") for r in rs), 60, "the alert",
                         diagnostics=lambda: (tmp_path / "bridge.log").read_text()[-2000:])


async def test_grafana_snippet_names_grafanas_settings_and_the_bridge_accepts_it(settings, normalize_worker):
    from tests.connectors.test_alertmanager_bridge import bridge, bridge_settings, post

    provisioning = yaml.safe_load(snippet("grafana"))
    assert provisioning["apiVersion"] == 1
    [contact_point] = provisioning["contactPoints"]
    [receiver] = contact_point["receivers"]
    assert receiver["type"] == "webhook" and set(receiver["settings"]) <= GRAFANA_WEBHOOK_SETTINGS
    url = urlparse(receiver["settings"]["url"])
    defaults = Settings()
    assert (url.hostname, url.port, url.path) == (defaults.alertmanager_bridge_host,
                                                 defaults.alertmanager_bridge_port, "/grafana")
    assert receiver["settings"]["httpMethod"] == "POST"
    header = f"{receiver['settings']['authorization_scheme']} {receiver['settings']['authorization_credentials']}"
    secured = bridge_settings(settings, normalize_worker.prefix,
                              connect_bearer_token=receiver["settings"]["authorization_credentials"])
    async with bridge(secured) as bridge_url:  # what Grafana would send, with the header it would set
        status, answer = await post(bridge_url, samples.grafana_payload(), {"Authorization": header}, path=url.path)
    assert (status, answer["records"]) == (200, 1)


def test_collector_snippet_is_valid_for_the_collector(settings, tmp_path):
    exporting = yaml.safe_load(snippet("otelcol"))
    config = {**exporting, "receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:0"}}}},
              "service": {"pipelines": {signal: {"receivers": ["otlp"], "processors": ["batch"],
                                                 "exporters": ["kafka"]} for signal in ("logs", "traces")}}}
    (tmp_path / "otelcol.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run([str(components.binary(settings, "otelcol")), "validate",
                             f"--config={tmp_path / 'otelcol.yaml'}"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert exporting["exporters"]["kafka"]["producer"]["compression"] in ("gzip", "snappy", "lz4", "zstd")


async def test_mcp_stdio_snippet_launches_the_server(world):
    [server] = json.loads(snippet("mcp-stdio"))["mcpServers"].values()
    assert server["command"] == "aiops"
    env = {**world.env, **server["env"]}
    # As written, pointed at this test's broker, topics and memory service.
    env.update({k: world.env[k] for k in ("AIOPS_KAFKA_BOOTSTRAP", "AIOPS_TOPIC_PREFIX", "AIOPS_MEMORY_SERVICE_URL")})
    async with Client(StdioServerParameters(command=AIOPS, args=server["args"], env=env)) as client:
        assert {tool.name for tool in (await client.list_tools()).tools} == MCP_TOOLS


async def test_mcp_http_snippet_reaches_the_server(world, tmp_path):
    [server] = json.loads(snippet("mcp-http"))["mcpServers"].values()
    url = urlparse(server["url"])
    defaults = Settings()
    assert server["type"] == "http" and (url.hostname, url.port, url.path) == (defaults.mcp_host, defaults.mcp_port,
                                                                               "/mcp")
    async with http_server(world.env, tmp_path / "mcp.log") as served:
        assert urlparse(served).path == url.path
        async with Client(served) as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == MCP_TOOLS


async def test_mcp_http_token_snippet_is_what_the_guarded_server_wants(world, tmp_path):
    [server] = json.loads(snippet("mcp-http-token"))["mcpServers"].values()
    assert server["type"] == "http" and urlparse(server["url"]).path == "/mcp"
    scheme, _, placeholder = server["headers"]["Authorization"].partition(" ")
    assert scheme == "Bearer" and "AIOPS_MCP_TOKEN" in placeholder
    token = "snippet-token-9c2e"  # noqa: S105 - the test's own
    async with http_server({**world.env, "AIOPS_MCP_TOKEN": token}, tmp_path / "mcp.log") as served:
        headers = {name: value.replace(placeholder, token) for name, value in server["headers"].items()}
        transport = streamable_http_client(served, http_client=httpx2.AsyncClient(headers=headers,
                                                                                  timeout=httpx2.Timeout(30, read=300)))
        async with Client(transport) as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == MCP_TOOLS
