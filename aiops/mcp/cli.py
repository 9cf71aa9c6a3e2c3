"""`aiops mcp`: the MCP server over stdio (an IDE or agent launches it) or streamable HTTP (imports typer only)."""

from __future__ import annotations

import logging
import sys
from typing import Literal

import typer

from aiops.core.settings import Settings


def mcp(
    transport: str = typer.Option("stdio", help="stdio (the client launches this command) or http "
                                                "(streamable HTTP at http://HOST:PORT/mcp)"),
    host: str | None = typer.Option(None, help="http: listen address (default: AIOPS_MCP_HOST)"),
    port: int | None = typer.Option(None, help="http: listen port (default: AIOPS_MCP_PORT)"),
    loglevel: str = typer.Option("warning", help="debug, info, warning or error (logs go to stderr)"),
) -> None:
    """Serve the handbook, incidents, proposals and decisions to MCP clients; it can propose, never approve."""
    from aiops.mcp.server import build_server

    if transport not in ("stdio", "http"):
        raise typer.BadParameter("transport must be stdio or http")
    # stdout is the protocol on stdio: every log line goes to stderr.
    logging.basicConfig(level=loglevel.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    server = build_server(settings)
    if transport == "stdio":
        server.run("stdio")
        return
    mode: Literal["streamable-http"] = "streamable-http"
    server.run(mode, host=host or settings.mcp_host, port=settings.mcp_port if port is None else port)


# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()
app.command("mcp")(mcp)
