"""`aiops console` (imports typer only; aiohttp, Jinja and the consumer load when it runs)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from aiops.core.settings import Settings

# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()


@app.command("console")
def console_serve(
    host: str | None = typer.Option(None, help="listen address (default: AIOPS_CONSOLE_HOST, 127.0.0.1)"),
    port: int | None = typer.Option(None, help="listen port, 0 for any (default: AIOPS_CONSOLE_PORT)"),
    policy_dir: Path | None = typer.Option(None, "--policy-dir", help="the bundle directory the Keys page names in "
                                           "the enrolment command it shows (the console never writes it)"),
    loglevel: str = typer.Option("warning", help="debug, info, warning or error"),
) -> None:
    """Serve the console: the output topics live, and approve or reject with a key held in your browser."""
    from aiops.console.server import serve

    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    serve(settings, host, port, policy_dir or settings.policy_dir, announce=lambda line: print(line, flush=True))
