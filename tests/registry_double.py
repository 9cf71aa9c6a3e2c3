"""A real HTTP server speaking the subset of the Confluent Schema Registry REST API the codec uses.

Confluent's registry is not available from the registries this project can reach, so tests run this
instead; the code under test talks to it through confluent-kafka's own SchemaRegistryClient.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


class RegistryDouble:
    def __init__(self) -> None:
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}
        self.requests: list[str] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _reply(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802 - http.server naming
                path = urlparse(self.path).path
                registry.requests.append(f"POST {path}")
                parts = [unquote(p) for p in path.strip("/").split("/")]
                if len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
                    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                    self._reply(200, {"id": registry.register(parts[1], body["schema"])})
                else:
                    self._reply(404, {"error_code": 404, "message": "not found"})

            def do_GET(self):  # noqa: N802
                path = urlparse(self.path).path
                registry.requests.append(f"GET {path}")
                parts = path.strip("/").split("/")
                if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and int(parts[2]) in registry.schemas:
                    self._reply(200, {"schema": registry.schemas[int(parts[2])]})
                else:
                    self._reply(404, {"error_code": 40403, "message": "Schema not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def register(self, subject: str, schema: str) -> int:
        existing = [i for i, known in self.schemas.items() if json.loads(known) == json.loads(schema)]
        schema_id = existing[0] if existing else len(self.schemas) + 1
        self.schemas[schema_id] = schema
        self.subjects.setdefault(subject, []).append(schema_id)
        return schema_id

    def __enter__(self) -> RegistryDouble:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
