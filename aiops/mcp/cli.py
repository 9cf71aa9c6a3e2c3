"""`aiops mcp`: the MCP server over stdio (an IDE or agent launches it) or streamable HTTP (imports typer only)."""

from __future__ import annotations

import logging
import sys

import typer

from aiops.core.settings import Settings


def mcp(
    transport: str = typer.Option("stdio", help="stdio (the client launches this command) or http "
                                                "(streamable HTTP at http://HOST:PORT/mcp)"),
    host: str | None = typer.Option(None, help="http: listen address (default: AIOPS_MCP_HOST)"),
    port: int | None = typer.Option(None, help="http: listen port (default: AIOPS_MCP_PORT)"),
    loglevel: str = typer.Option("warning", help="debug, info, warning or error (logs go to stderr)"),
) -> None:
    """Serve the handbook, incidents, proposals and decisions to MCP clients; it can propose, never approve.

    Over HTTP, clients send `Authorization: Bearer $AIOPS_MCP_TOKEN` when the token is set; without one the server
    listens only on a loopback address."""
    import uvicorn

    from aiops.mcp.access import BearerTokenGuard, ExposedWithoutToken, check_exposure
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
    listen = host or settings.mcp_host
    token = settings.mcp_token.get_secret_value() if settings.mcp_token else None
    try:
        check_exposure(listen, token)
    except ExposedWithoutToken as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    app = server.streamable_http_app(host=listen)  # the SDK's own app, as server.run("streamable-http") builds it
    uvicorn.run(BearerTokenGuard(app, token) if token else app, host=listen,
                port=settings.mcp_port if port is None else port, log_level=loglevel.lower())


# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()
app.command("mcp")(mcp)
