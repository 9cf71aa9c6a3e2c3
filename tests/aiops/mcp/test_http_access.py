"""Who may use `aiops mcp --transport http`: with AIOPS_MCP_TOKEN set, only a client sending that bearer token; with
no token, the server refuses to listen beyond the loopback interface."""

from __future__ import annotations

import subprocess

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from aiops.demo.local_services import free_port
from tests.aiops.mcp.conftest import http_server
from tests.processes import AIOPS

pytestmark = pytest.mark.integration

TOKEN = "mcp-test-token-4b1d"  # noqa: S105 - a test's own token
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "0"}}}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def test_with_a_token_only_a_client_that_sends_it_is_served(world, tmp_path):
    env = {**world.env, "AIOPS_MCP_TOKEN": TOKEN}
    async with http_server(env, tmp_path / "mcp.log") as url:
        async with httpx.AsyncClient(timeout=10) as http:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                            {"Authorization": TOKEN}):
                refused = await http.post(url, json=INITIALIZE, headers={**ACCEPT, **headers})
                assert refused.status_code == 401, (headers, refused.text)
                assert refused.headers["www-authenticate"].startswith("Bearer")
                assert "bearer token" in refused.json()["error"]
            served = await http.post(url, json=INITIALIZE, headers={**ACCEPT, "Authorization": f"bearer {TOKEN}"})
            assert served.status_code == 200, served.text

        # The SDK's own client, configured as an MCP client's config would be (a header with the token).
        transport = streamable_http_client(url, http_client=httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=httpx2.Timeout(30, read=300)))
        async with Client(transport) as client:
            tools = await client.list_tools()
            assert "propose_action" in {tool.name for tool in tools.tools}


def test_without_a_token_it_will_not_listen_beyond_loopback(world, tmp_path):
    result = subprocess.run([AIOPS, "mcp", "--transport", "http", "--host", "0.0.0.0", "--port", str(free_port())],
                            capture_output=True, text=True, timeout=60, check=False, env=world.env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "refusing to serve MCP on 0.0.0.0 without a token" in result.stderr
    assert "AIOPS_MCP_TOKEN" in result.stderr


async def test_without_a_token_loopback_is_served_as_before(world, tmp_path):
    async with http_server(world.env, tmp_path / "mcp.log", "--host", "127.0.0.1") as url:
        async with httpx.AsyncClient(timeout=10) as http:
            served = await http.post(url, json=INITIALIZE, headers=ACCEPT)
            assert served.status_code == 200, served.text
