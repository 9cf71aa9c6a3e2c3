"""`aiops config show` and `aiops topics create|list`: the settings and the topic catalog."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from aiops.core.settings import Settings

console = Console()
config_app = typer.Typer(help="Configuration.", no_args_is_help=True)
topics_app = typer.Typer(help="The topic catalog.", no_args_is_help=True)
# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()
app.add_typer(config_app, name="config")
app.add_typer(topics_app, name="topics")


@config_app.command("show")
def config_show() -> None:
    """Print the effective settings (from AIOPS_* variables), secrets masked."""
    table = Table("setting", "environment variable", "value")
    for name, value in Settings().masked().items():
        table.add_row(name, f"AIOPS_{name.upper()}", "" if value is None else str(value))
    console.print(table)


@topics_app.command("create")
def topics_create() -> None:
    """Create every catalog topic that does not exist yet (idempotent)."""
    from aiops.core.topics import create_topics

    for name, outcome in create_topics(Settings()).items():
        console.print(f"{outcome:8} {name}")


@topics_app.command("list")
def topics_list() -> None:
    """Print the topic catalog."""
    from aiops.core.topics import CATALOG

    settings = Settings()
    table = Table("topic", "partitions", "cleanup", "key", "value")
    for spec in CATALOG:
        table.add_row(spec.full_name(settings), str(spec.partitions or settings.default_partitions),
                      spec.cleanup_policy, spec.key, spec.value)
    console.print(table)
