"""Local stand-ins the demo runs (and the gatekeeper tests use): a simulated platform-ctl API (and webhook
receiver) over real HTTP that records every call, and a private OPA serving a copy of the policy bundle with
the demo's approver keys in its data."""

from __future__ import annotations

import json
import random
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port free now, for a process started next. Chosen below the kernel's ephemeral range: a port the kernel
    hands out (`bind(0)`) is also the local end of any outgoing connection made meanwhile (a Kafka client's), and
    on a busy machine one of those took a demo process's port between this check and its bind."""
    low = _ephemeral_low()
    for _ in range(50):
        port = random.randrange(10_000, low) if low > 11_000 else 0  # noqa: S311 (a port, not a secret)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Call:
    method: str
    path: str
    idempotency_key: str | None
    body: dict[str, Any] | None
    at: float = field(default_factory=time.monotonic)


class PlatformCtlServer:
    """platform-ctl as connectors/executors/README.md documents it, recording every call.

    POST /v1/actions/{action}: runs the action once per idempotency key (201 {operation_id, status});
    a key already used gets 409 with the original result. GET /v1/operations/{key}: 200 or 404.
    GET /v1/targets/{environment}/{namespace}/{service} and GET /v1/nodes/{node}: {"pods": n}, from
    `pods` by name (default 3 for a service, 8 for a node); a name in `unreadable` answers 503.
    POST /hooks/actions: a generic webhook receiver (200; it does not deduplicate), which records each call by
    idempotency key for GET /hooks/operations/{key} (200 or 404). A POST whose target service is in `delays`
    answers that many seconds late (after recording it: a slow platform).
    """

    def __init__(self, post_delay_s: float = 0.0, pods: dict[str, int] | None = None):
        self.post_delay_s = post_delay_s
        self.delays: dict[str, float] = {}
        self.hook_calls: dict[str, dict[str, Any]] = {}
        self.pods: dict[str, int] = dict(pods or {})
        self.unreadable: set[str] = set()
        self.calls: list[Call] = []
        self.operations: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.post_seen = threading.Condition(self.lock)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the gatekeeper was killed while waiting: the operation still happened

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"null")
                except json.JSONDecodeError:
                    body = None
                key = self.headers.get("Idempotency-Key")
                status: int
                reply: dict[str, Any]
                with server.lock:
                    server.calls.append(Call("POST", self.path, key, body))
                    server.post_seen.notify_all()
                    if self.path == "/hooks/actions":
                        status, reply = 200, {"received": True, "status": "succeeded"}
                        if key:
                            server.hook_calls.setdefault(key, reply)
                    elif not key or not isinstance(body, dict) or body.get("idempotency_key") != key:
                        status, reply = 400, {"error": "Idempotency-Key header must equal body.idempotency_key"}
                    elif key in server.operations:
                        status, reply = 409, server.operations[key]
                    elif not self.path.startswith("/v1/actions/"):
                        status, reply = 404, {"error": "no such endpoint"}
                    else:
                        action = unquote(self.path.rsplit("/", 1)[1])
                        server.operations[key] = {"operation_id": f"op-{uuid.uuid4().hex[:8]}", "status": "succeeded",
                                                  "action": action, "proposal_id": body.get("proposal_id")}
                        status, reply = 201, server.operations[key]
                target = body.get("target") if isinstance(body, dict) else None
                delay = server.delays.get(str((target or {}).get("service")), server.post_delay_s)
                if delay:
                    time.sleep(delay)
                self._reply(status, reply)

            def do_GET(self) -> None:
                parts = [unquote(part) for part in self.path.split("/")]
                if self.path.startswith(("/v1/targets/", "/v1/nodes/")):
                    with server.lock:
                        server.calls.append(Call("GET", self.path, None, None))
                        name = parts[-1]
                        if name in server.unreadable:
                            self._reply(503, {"error": "inventory unavailable"})
                        else:
                            default = 8 if parts[2] == "nodes" else 3
                            self._reply(200, {"pods": server.pods.get(name, default)})
                    return
                key = parts[-1] if self.path.startswith(("/v1/operations/", "/hooks/operations/")) else None
                with server.lock:
                    server.calls.append(Call("GET", self.path, key, None))
                    known = server.hook_calls if self.path.startswith("/hooks/") else server.operations
                    operation = known.get(key) if key else None
                if operation is None:
                    self._reply(404, {"error": "unknown operation"})
                else:
                    self._reply(200, operation)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> PlatformCtlServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def posts(self, proposal_id: str | None = None) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == "POST"
                    and (proposal_id is None or (c.body or {}).get("proposal_id") == proposal_id)]

    def gets(self) -> list[Call]:
        """Status lookups by idempotency key (footprint reads are not counted here)."""
        with self.lock:
            return [c for c in self.calls if c.method == "GET" and c.path.startswith(("/v1/operations/",
                                                                                      "/hooks/operations/"))]

    def wait_for_post(self, after: int, timeout_s: float) -> bool:
        """Block until more than `after` POSTs were received (or the timeout passes)."""
        deadline = time.monotonic() + timeout_s
        with self.post_seen:
            while sum(1 for c in self.calls if c.method == "POST") <= after:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.post_seen.wait(left)
            return True


class OpaServer:
    """A private OPA serving a copy of policy/ whose data.json names the given approvers, with top-level keys of
    data.aiops replaced by `bundle_data` (decision ids on)."""

    def __init__(self, opa_binary: Path, policy_dir: Path, workdir: Path, approvers: dict[str, Any],
                 bundle_data: dict[str, Any] | None = None):
        self.binary = opa_binary
        self.bundle = workdir / "policy"
        shutil.copytree(policy_dir, self.bundle, ignore=shutil.ignore_patterns("*_test.rego"))
        data_path = self.bundle / "data.json"
        data = json.loads(data_path.read_text())
        data["aiops"]["approvers"] = approvers
        data["aiops"].update(bundle_data or {})  # e.g. lower trust-ladder thresholds for a test
        data_path.write_text(json.dumps(data, indent=2))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "opa.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        # Decision logging (to the console, i.e. our log file) makes OPA hand out decision ids.
        self.process = subprocess.Popen(
            [str(self.binary), "run", "--server", "--addr", f"127.0.0.1:{self.port}", "--log-level", "error",
             "--set", "decision_logs.console=true", "--watch", "--bundle", str(self.bundle)],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"OPA exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health?bundles", timeout=1) as resp:  # noqa: S310 - loopback
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"OPA not healthy within {timeout_s}s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def data(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}/v1/data/{path}", timeout=2) as resp:  # noqa: S310 - loopback
            return json.loads(resp.read()).get("result")
