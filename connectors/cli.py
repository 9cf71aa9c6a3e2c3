"""`aiops connect`: the bridges from observability tools into Kafka."""

from __future__ import annotations

import logging

import typer

from aiops.core.settings import Settings

connect_app = typer.Typer(help="Bridges from observability tools into Kafka.", no_args_is_help=True)
# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()
app.add_typer(connect_app, name="connect")


def _logging(loglevel: str) -> None:
    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@connect_app.command("alertmanager")
def connect_alertmanager(
    host: str | None = typer.Option(None, help="listen address (default: AIOPS_ALERTMANAGER_BRIDGE_HOST)"),
    port: int | None = typer.Option(None, help="listen port, 0 for any (default: AIOPS_ALERTMANAGER_BRIDGE_PORT)"),
    loglevel: str = typer.Option("info", help="critical, error, warning, info or debug"),
) -> None:
    """Serve Alertmanager's webhook at POST /webhook; one record per alert to aiops.alerts.raw."""
    from connectors import alertmanager_bridge, serving

    _logging(loglevel)
    settings = Settings()
    _serve_metrics(settings.alertmanager_bridge_metrics_port, settings)
    serving.run(alertmanager_bridge.create_app(settings), host or settings.alertmanager_bridge_host,
                settings.alertmanager_bridge_port if port is None else port, say=typer.echo)


def _serve_metrics(port: int, settings: Settings) -> None:
    if port:
        from aiops.core import metrics

        metrics.serve(port, settings.metrics_host)


@connect_app.command("otlp")
def connect_otlp(
    host: str | None = typer.Option(None, help="listen address (default: AIOPS_OTLP_RECEIVER_HOST)"),
    port: int | None = typer.Option(None, help="listen port, 0 for any (default: AIOPS_OTLP_RECEIVER_PORT)"),
    loglevel: str = typer.Option("info", help="critical, error, warning, info or debug"),
) -> None:
    """Serve OTLP/HTTP at POST /v1/traces and /v1/logs; one message per request to otlp_spans / otlp_logs."""
    from connectors import otlp_receiver, serving

    _logging(loglevel)
    settings = Settings()
    _serve_metrics(settings.otlp_receiver_metrics_port, settings)
    serving.run(otlp_receiver.create_app(settings), host or settings.otlp_receiver_host,
                settings.otlp_receiver_port if port is None else port, say=typer.echo)
