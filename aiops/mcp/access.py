"""Who may talk to `aiops mcp --transport http`: a bearer token (AIOPS_MCP_TOKEN) in front of the MCP app.

Why: an MCP client can read every incident and propose actions, and read-only actions run without a human. On
the loopback interface the machine's own users are the boundary, as for the other local services; anywhere
else the server refuses to start without a token, so that nobody on the network gets those tools by default.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from aiops.core.bearer import bearer_credential, same_secret
from aiops.core.errors import AiopsError

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


class ExposedWithoutToken(AiopsError):
    """The server would listen beyond the loopback interface with no token."""


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a hostname other than localhost, or 0.0.0.0 spelled otherwise: assume it is reachable


def check_exposure(host: str, token: str | None) -> None:
    if not token and not is_loopback(host):
        raise ExposedWithoutToken(
            f"refusing to serve MCP on {host} without a token: anyone who reaches it could read every incident "
            "and propose actions. Set AIOPS_MCP_TOKEN (clients send 'Authorization: Bearer <token>'), or listen "
            "on 127.0.0.1")


class BearerTokenGuard:
    """ASGI middleware: HTTP requests need `Authorization: Bearer <token>`; anything else gets 401.

    Lifespan events pass through untouched, so the MCP app starts and stops as it would on its own."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self._accepted(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "missing or wrong bearer token (Authorization: Bearer <AIOPS_MCP_TOKEN>)"}
                          ).encode()
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b'Bearer realm="aiops-mcp"')]})
        await send({"type": "http.response.body", "body": body})

    def _accepted(self, scope: dict[str, Any]) -> bool:
        given = [value for name, value in scope.get("headers", []) if name == b"authorization"]
        return len(given) == 1 and same_secret(bearer_credential(given[0].decode("latin-1")), self.token)
