"""The README snippet tests run against the same real processes as the ingestion and MCP tests."""

from tests.ingest.conftest import normalize_worker  # noqa: F401
from tests.mcp.conftest import memory_service, world  # noqa: F401
