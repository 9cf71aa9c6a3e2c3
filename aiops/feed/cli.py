"""`aiops feed serve` (imports typer only; aiohttp and the consumer load when run)."""

from __future__ import annotations

import logging

import typer

from aiops.core.settings import Settings

feed_app = typer.Typer(help="The read-only JSON feed of the output topics (Grafana reads it).", no_args_is_help=True)
# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()
app.add_typer(feed_app, name="feed")


@feed_app.command("serve")
def feed_serve(
    host: str | None = typer.Option(None, help="listen address (default: AIOPS_FEED_HOST)"),
    port: int | None = typer.Option(None, help="listen port, 0 for any (default: AIOPS_FEED_PORT)"),
    loglevel: str = typer.Option("info", help="debug, info, warning or error"),
) -> None:
    """Serve the latest incidents, proposals, decisions and executions as JSON (GET /incidents, ...)."""
    from aiops.feed.server import serve

    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(Settings(), host, port)
