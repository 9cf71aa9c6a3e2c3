"""`aiops trust run` and `aiops trust report` (imports typer and rich only; Kafka loads when run)."""

from __future__ import annotations

import json
import logging

import typer
from rich.console import Console

from aiops.core.settings import Settings

trust_app = typer.Typer(help="Earned autonomy: outcomes, track records, promotions and demotions.",
                        no_args_is_help=True)
# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()
app.add_typer(trust_app, name="trust")


@trust_app.command("run")
def trust_run(loglevel: str = typer.Option("info", help="debug, info, warning or error")) -> None:
    """Verify outcomes, propose promotions and write demotions (follows the topics until interrupted)."""
    from aiops.trust.service import run

    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    if settings.trust_metrics_port:
        from aiops.core import metrics

        metrics.serve(settings.trust_metrics_port, settings.metrics_host)
    run(settings)


@trust_app.command("report")
def trust_report(as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table")) -> None:
    """Every (action, environment, namespace) track record, read from the topics' beginning."""
    from aiops.trust import report

    records, missing = report.collect(Settings())
    if missing:
        Console(stderr=True).print(f"[yellow]no such topic:[/] {', '.join(missing)} (`aiops topics create`)")
    if as_json:
        typer.echo(json.dumps(report.as_json(records), indent=2, sort_keys=True))
    else:
        Console().print(report.table(records))
