"""The `aiops` command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from aiops.bench.cli import bench_app
from aiops.core.errors import AiopsError
from aiops.core.settings import Settings
from aiops.dashboards.cli import dashboards_app
from aiops.demo.cli import register as register_demo
from aiops.feed.cli import feed_app
from aiops.gatekeeper.cli import register as register_gatekeeper
from aiops.memory.cli import handbook_app, memory_app
from connectors.cli import connect_app
from streams.cli import app as streams_app
from streams.condense.cli import condense_app
from streams.logtemplates.cli import logs_app

if TYPE_CHECKING:
    from aiops.stack.components import ComponentStatus

app = typer.Typer(help="AIOps on Kafka: agents that operate a platform from its own telemetry.",
                  no_args_is_help=True)
config_app = typer.Typer(help="Configuration.", no_args_is_help=True)
stack_app = typer.Typer(help="The local stack: Apache Kafka (KRaft) and OPA.", no_args_is_help=True)
topics_app = typer.Typer(help="The topic catalog.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(stack_app, name="stack")
app.add_typer(topics_app, name="topics")

console = Console()
err_console = Console(stderr=True)


def _settings() -> Settings:
    return Settings()


@config_app.command("show")
def config_show() -> None:
    """Print the effective settings (from AIOPS_* variables), secrets masked."""
    table = Table("setting", "environment variable", "value")
    for name, value in _settings().masked().items():
        table.add_row(name, f"AIOPS_{name.upper()}", "" if value is None else str(value))
    console.print(table)


def _status_table(rows: list[ComponentStatus]) -> Table:
    table = Table("component", "version", "address", "health", "detail", "pid")
    for row in rows:
        health = "[green]healthy[/]" if row.healthy else "[red]down[/]"
        table.add_row(row.name, row.version or "-", row.address, health, row.detail, str(row.pid or "-"))
    return table


@stack_app.command("up")
def stack_up() -> None:
    """Fetch/build what is missing (cached outside the repo), start Kafka and OPA, wait for health."""
    from aiops.core.topics import create_topics
    from aiops.stack import components

    settings = _settings()
    rows = components.up(settings, say=lambda msg: console.print(f"[dim]{msg}[/]"))
    create_topics(settings)
    console.print(_status_table(rows))


@stack_app.command("provision")
def stack_provision() -> None:
    """Fetch and build everything the stack runs (cached outside the repo), without starting it."""
    from aiops.stack import components

    components.provision(_settings(), say=lambda msg: console.print(f"[dim]{msg}[/]"))
    console.print("provisioned")


@stack_app.command("which")
def stack_which(tool: str = typer.Argument(..., help="opa")) -> None:
    """Print the path of a cached tool binary (for scripts)."""
    from aiops.stack import components

    typer.echo(str(components.binary(_settings(), tool)))


@stack_app.command("down")
def stack_down() -> None:
    """Stop the local stack (data stays in the state directory)."""
    from aiops.stack import components

    stopped = components.down(_settings())
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@stack_app.command("status")
def stack_status() -> None:
    """Each component with its version, address and health; exits 1 when any is down."""
    from aiops.stack import components

    rows = components.status(_settings())
    console.print(_status_table(rows))
    if not all(r.healthy for r in rows):
        raise typer.Exit(1)


@topics_app.command("create")
def topics_create() -> None:
    """Create every catalog topic that does not exist yet (idempotent)."""
    from aiops.core.topics import create_topics

    for name, outcome in create_topics(_settings()).items():
        console.print(f"{outcome:8} {name}")


@topics_app.command("list")
def topics_list() -> None:
    """Print the topic catalog."""
    from aiops.core.topics import CATALOG

    settings = _settings()
    table = Table("topic", "partitions", "cleanup", "key", "value")
    for spec in CATALOG:
        table.add_row(spec.full_name(settings), str(spec.partitions or settings.default_partitions),
                      spec.cleanup_policy, spec.key, spec.value)
    console.print(table)


# Commands that live with the package they drive. These modules import typer and rich only; the heavy
# parts (Faust, Milvus, the Grafana SDK, aiohttp) load when a command runs.
register_gatekeeper(app)  # keys, approve, reject, gatekeeper, approvals
register_demo(app)  # replay, demo
app.add_typer(streams_app)  # worker
app.add_typer(connect_app, name="connect")
app.add_typer(logs_app, name="logs")
app.add_typer(handbook_app, name="handbook")
app.add_typer(memory_app, name="memory")
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(feed_app, name="feed")
app.add_typer(bench_app, name="bench")
app.add_typer(condense_app, name="condense")


def main() -> None:
    try:
        app()
    except AiopsError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise SystemExit(2) from None
