"""The README snippet tests run against the same real processes as the MCP tests (the normalize worker and the
other process fixtures come from tests/processes.py)."""

from tests.aiops.mcp.conftest import memory_service, world  # noqa: F401
