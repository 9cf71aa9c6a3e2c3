"""`aiops condense logs|spans`: run one condensing stage as its own process."""

from __future__ import annotations

import logging
import signal
import threading

import typer

from aiops.core.settings import Settings

condense_app = typer.Typer(help="Condense log lines and spans into counts per key and bucket (before Faust).",
                           no_args_is_help=True)
# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()
app.add_typer(condense_app, name="condense")


def _run(stage: str, loglevel: str, metrics_port: int | None) -> None:
    from aiops.core import metrics
    from aiops.core.topics import create_topics
    from streams.condense.stages import build_loop

    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    create_topics(settings)
    if metrics_port:
        metrics.serve(metrics_port, settings.metrics_host)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    build_loop(stage, settings).run(stop)


@condense_app.command("logs")
def condense_logs(
    loglevel: str = typer.Option("warning", help="error, warning, info or debug"),
    metrics_port: int | None = typer.Option(None, help="serve Prometheus metrics here (0 or unset: none)"),
) -> None:
    """JSON log lines, OTLP logs and canonical LogRecords → template counts on aiops.logs.condensed."""
    _run("logs", loglevel, metrics_port)


@condense_app.command("spans")
def condense_spans(
    loglevel: str = typer.Option("warning", help="error, warning, info or debug"),
    metrics_port: int | None = typer.Option(None, help="serve Prometheus metrics here (0 or unset: none)"),
) -> None:
    """OTLP spans and canonical Spans → operation stats and call edges on aiops.spans.condensed."""
    _run("spans", loglevel, metrics_port)
