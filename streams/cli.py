"""`aiops worker`: the stream processing worker (imports typer only; Faust loads when it runs)."""

from __future__ import annotations

import typer

from aiops.core.errors import AiopsError
from aiops.core.settings import Settings
from aiops.core.topics import WORKER_GROUP

# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()


@app.command("worker")
def worker(
    agent: list[str] = typer.Option(None, "--agent", "-a", help="agent group to run (repeatable; default: all)"),
    app_id: str = typer.Option(WORKER_GROUP, help="Faust app id (consumer group and changelog prefix)"),
    web_port: int | None = typer.Option(None, help="serve Faust's web endpoints on this port"),
    loglevel: str = typer.Option("info", help="crit, error, warn, info or debug"),
    metrics_port: int | None = typer.Option(None, help="serve Prometheus metrics here (default: the "
                                            "worker_metrics_port setting; 0 disables)"),
) -> None:
    """Run the stream processing worker (Faust agents)."""
    import faust

    from streams.agents import modules_for
    from streams.app import StreamContext, create_app, register_agents

    settings = Settings()
    try:
        modules = modules_for(agent)
    except KeyError as exc:
        raise AiopsError(str(exc.args[0])) from None
    faust_app = create_app(settings, settings.topic(app_id), web_port=web_port)
    register_agents(faust_app, StreamContext.build(settings), modules)
    port = settings.worker_metrics_port if metrics_port is None else metrics_port
    if port:
        from aiops.core import metrics
        from streams.metrics_sensor import install

        install(faust_app)
        metrics.serve(port, settings.metrics_host)
    faust_worker = faust.Worker(faust_app, loglevel=loglevel)
    # Faust keeps a progress spinner at --loglevel warn and above, and to feed it sets the root logger to DEBUG:
    # every debug call in Faust and aiokafka then builds a record. Without the spinner the level holds, and a
    # quiet worker is not slower than a chatty one.
    faust_worker.spinner = None
    faust_worker.execute_from_commandline()
