"""The `aiops` command: every subsystem's commands, put together.

Each subsystem's `cli.py` exposes one Typer `app` with the commands and command groups it adds; they are
merged here and nothing else is defined here. These modules import typer and rich only; the heavy parts
(Faust, Milvus, the Grafana SDK, aiohttp) load when a command runs.
"""

from __future__ import annotations

import typer
from rich.console import Console

from aiops.bench import cli as bench
from aiops.console import cli as console
from aiops.core import cli as core
from aiops.core.errors import AiopsError
from aiops.dashboards import cli as dashboards
from aiops.demo import cli as demo
from aiops.eval import cli as evaluation
from aiops.feed import cli as feed
from aiops.gatekeeper import cli as gatekeeper
from aiops.mcp import cli as mcp
from aiops.memory import cli as memory
from aiops.stack import cli as stack
from aiops.trust import cli as trust
from connectors import cli as connectors
from streams import cli as streams
from streams.condense import cli as condense
from streams.logtemplates import cli as logtemplates

app = typer.Typer(help="AIOps on Kafka: agents that operate a platform from its own telemetry.",
                  no_args_is_help=True)
SUBSYSTEMS = (
    core,  # config, topics
    stack,  # stack
    streams,  # worker
    condense,  # condense
    logtemplates,  # logs
    connectors,  # connect
    gatekeeper,  # gatekeeper, approve, reject, keys, approvals
    trust,  # trust run, trust report
    memory,  # memory, handbook
    mcp,  # mcp
    feed,  # feed
    console,  # console
    dashboards,  # dashboards
    demo,  # replay, demo
    bench,  # bench
    evaluation,  # eval
)
for subsystem in SUBSYSTEMS:
    app.add_typer(subsystem.app)

err_console = Console(stderr=True)


def main() -> None:
    try:
        app()
    except AiopsError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise SystemExit(2) from None
