"""Fail closed: no usable OPA answer means no execution, a Decision saying why, and a retry that decides later."""

from __future__ import annotations

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aiops.gatekeeper.policy import PolicyClient, PolicyUnavailable
from tests.aiops.gatekeeper.conftest import running_harness
from tests.aiops.gatekeeper.doubles import free_port
from tests.aiops.gatekeeper.harness import params


class FakeOpa:
    """An HTTP server that answers the decision query badly on purpose: slowly, with nothing, or with junk."""

    def __init__(self, body: bytes, delay_s: float = 0.0, status: int = 200):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return None

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(delay_s)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize(("body", "delay", "status", "reason"), [
    (b"{}", 0.0, 200, "OPA returned no decision (undefined)"),
    (b'{"result": {"allow": "yes", "reasons": []}}', 0.0, 200, "OPA returned a malformed decision"),
    (b'{"result": [true]}', 0.0, 200, "OPA returned a malformed decision"),
    (b'{"result": {"allow": true, "reasons": []}}', 1.5, 200, "OPA timed out after 0.5s"),
    (b'{"code": "internal_error"}', 0.0, 500, "OPA answered HTTP 500"),
], ids=["undefined", "allow-not-bool", "not-an-object", "slow", "http-500"])
async def test_policy_client_fails_closed(body, delay, status, reason):
    fake = FakeOpa(body, delay, status)
    client = PolicyClient(fake.url, timeout_s=0.5)
    try:
        with pytest.raises(PolicyUnavailable) as caught:
            await client.decide({"proposal": {}})
        assert reason in caught.value.reason
    finally:
        await client.close()
        fake.close()


async def test_policy_client_unreachable():
    client = PolicyClient(f"http://127.0.0.1:{free_port()}", timeout_s=1.0)
    try:
        with pytest.raises(PolicyUnavailable) as caught:
            await client.decide({})
        assert caught.value.reason.startswith("OPA unreachable at http://127.0.0.1:")
    finally:
        await client.close()


@pytest.mark.integration
async def test_no_execution_while_opa_is_stopped_then_the_retry_decides(
        services, tmp_path, opa_binary, approver_keys, bundle_approvers):
    async with running_harness(services, tmp_path, opa_binary, approver_keys, bundle_approvers) as harness:
        harness.opa.stop()
        read_only = await harness.propose("collect_diagnostics", params("collect_diagnostics"))
        gated = await harness.propose("restart_deployment", params("restart_deployment"))
        for proposal in (read_only, gated):
            down = await harness.decision(proposal["id"], "proposal")
            assert down["allow"] is False and down["opa_decision_id"] is None
            assert down["reasons"][0].startswith("OPA unreachable at "), down["reasons"]
            assert "no execution without a policy decision" in down["reasons"][1]
        await harness.approve("alice", gated)
        down = await harness.decision(gated["id"], "approval")
        assert down["allow"] is False and down["reasons"][0].startswith("OPA unreachable")
        assert down["approvals_considered"][0]["reason"] == "not evaluated: no policy decision"
        # Retries keep failing closed while OPA is down: nothing ran.
        await harness.decision(read_only["id"], "retry")
        harness.assert_not_executed(read_only["id"])
        harness.assert_not_executed(gated["id"])

        await asyncio.to_thread(harness.opa.start)
        allowed = await harness.decisions.wait(
            lambda d: d["proposal_id"] == read_only["id"] and d["trigger"] == "retry" and d["allow"], 30,
            "the retry's allow")
        assert allowed["opa_decision_id"] and allowed["reasons"] == []
        await harness.execution(read_only["id"], "succeeded")
        approved = await harness.decisions.wait(
            lambda d: d["proposal_id"] == gated["id"] and d["trigger"] == "retry" and d["allow"], 30,
            "the gated retry's allow")
        assert approved["approvals_considered"][0]["counted"] is True
        await harness.execution(gated["id"], "succeeded")
        assert len(harness.platform.posts(read_only["id"])) == 1
        assert len(harness.platform.posts(gated["id"])) == 1
        # Every decision before OPA came back denied.
        for proposal in (read_only, gated):
            history = harness.decisions.of(proposal["id"])
            assert [d["allow"] for d in history].count(True) == 1 and history[-1]["allow"] is True
