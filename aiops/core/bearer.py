"""Shared secrets presented over HTTP: the token of an `Authorization: Bearer` header, compared in constant time.

One place for the bridges (connectors/http_auth.py), the console (aiops/console/access.py) and the MCP server
(aiops/mcp/access.py), so that none of them compares a secret with `==`.
"""

from __future__ import annotations

import hmac


def bearer_credential(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (the scheme in any case), else None."""
    scheme, _, value = (header or "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def same_secret(given: str | None, expected: str) -> bool:
    """Whether a presented secret is the expected one, in time that does not depend on where they differ."""
    return given is not None and hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                                                     expected.encode("utf-8"))
