"""A real HTTP proxy in front of OPA that can hold the gate's decision queries until told to let them through:
it freezes one gatekeeper instance at the moment it asks OPA, so a test can take its partition away."""

from __future__ import annotations

import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DECISION_PATH = "/v1/data/aiops/gate/decision"


class OpaProxy:
    def __init__(self, opa_url: str):
        self.opa_url = opa_url.rstrip("/")
        self.holding = False
        self.release = threading.Event()
        self.held = threading.Condition()
        self.held_count = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else None
                if method == "POST" and self.path.startswith(DECISION_PATH) and proxy.holding:
                    with proxy.held:
                        proxy.held_count += 1
                        proxy.held.notify_all()
                    proxy.release.wait()
                request = urllib.request.Request(f"{proxy.opa_url}{self.path}", data=body, method=method,
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
                    data = response.read()
                    status = response.status
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self) -> None:  # noqa: N802
                self._forward("POST")

            def do_GET(self) -> None:  # noqa: N802
                self._forward("GET")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for_held(self, count: int, timeout_s: float) -> bool:
        with self.held:
            return self.held.wait_for(lambda: self.held_count >= count, timeout_s)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
