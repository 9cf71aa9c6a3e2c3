"""`aiops stack up|provision|which|down|status`: the local Kafka (KRaft) and OPA."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from aiops.core.settings import Settings

if TYPE_CHECKING:
    from aiops.stack.components import ComponentStatus

console = Console()
stack_app = typer.Typer(help="The local stack: Apache Kafka (KRaft) and OPA.", no_args_is_help=True)
# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()
app.add_typer(stack_app, name="stack")


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

    settings = Settings()
    rows = components.up(settings, say=lambda msg: console.print(f"[dim]{msg}[/]"))
    create_topics(settings)
    console.print(_status_table(rows))


@stack_app.command("provision")
def stack_provision() -> None:
    """Fetch and build everything the stack runs (cached outside the repo), without starting it."""
    from aiops.stack import components

    components.provision(Settings(), say=lambda msg: console.print(f"[dim]{msg}[/]"))
    console.print("provisioned")


@stack_app.command("which")
def stack_which(tool: str = typer.Argument(..., help="opa, alertmanager, amtool or otelcol")) -> None:
    """Print the path of a cached tool binary, building it first when missing (for scripts)."""
    from aiops.stack import components

    typer.echo(str(components.binary(Settings(), tool)))


@stack_app.command("down")
def stack_down() -> None:
    """Stop the local stack (data stays in the state directory)."""
    from aiops.stack import components

    stopped = components.down(Settings())
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@stack_app.command("status")
def stack_status() -> None:
    """Each component with its version, address and health; exits 1 when any is down."""
    from aiops.stack import components

    rows = components.status(Settings())
    console.print(_status_table(rows))
    if not all(r.healthy for r in rows):
        raise typer.Exit(1)
