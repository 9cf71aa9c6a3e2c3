"""`aiops handbook index|search` and `aiops memory serve`: the institutional memory from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aiops.core.settings import Settings

handbook_app = typer.Typer(help="The ops handbook in institutional memory: index and search.", no_args_is_help=True)
memory_app = typer.Typer(help="Institutional memory: the service that owns the store.", no_args_is_help=True)
# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()
app.add_typer(handbook_app, name="handbook")
app.add_typer(memory_app, name="memory")

console = Console()
err_console = Console(stderr=True)
INDEX_BATCH = 8


@contextmanager
def open_memory(settings: Settings) -> Iterator[Any]:
    """The memory service when one answers; otherwise the store, opened directly (and said so on stderr)."""
    from aiops.memory.client import MemoryClient
    from aiops.memory.store import MemoryStore, store_uri

    client = MemoryClient.from_settings(settings)
    if client.is_up():
        err_console.print(f"[dim]using the memory service at {client.base_url}[/]")
        try:
            yield client
        finally:
            client.close()
        return
    client.close()
    err_console.print(f"[dim]no memory service at {client.base_url}; opening the store {store_uri(settings)} "
                      "directly[/]")
    with MemoryStore.from_settings(settings, role="aiops handbook (direct, no service was running)") as store:
        yield store


@handbook_app.command("index")
def index(
    directory: Path = typer.Argument(..., exists=True, file_okay=False, help="handbook directory (*.md, recursive)"),
) -> None:
    """Parse every handbook document under DIRECTORY and upsert it into memory (re-indexing replaces by id)."""
    from aiops.memory.documents import count_by_kind, load_handbook

    documents = load_handbook(directory)  # every file is checked before anything is written
    if not documents:
        err_console.print(f"no handbook documents (*.md other than README.md) under {directory}")
        raise typer.Exit(1)
    with open_memory(Settings()) as memory:
        progress = Progress(TextColumn("[bold]indexing[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=console)
        with progress:
            task = progress.add_task(str(directory), total=len(documents))
            for start in range(0, len(documents), INDEX_BATCH):
                batch = documents[start:start + INDEX_BATCH]
                memory.upsert([document.to_record() for document in batch])
                progress.update(task, advance=len(batch), description=batch[-1].id)
            progress.update(task, description=str(directory))
        stored = memory.count_by_kind()
    indexed = count_by_kind([document.kind for document in documents])
    table = Table("kind", "indexed", "in memory", title=f"{len(documents)} documents indexed from {directory}")
    for kind in sorted({*indexed, *stored}, key=lambda k: (k not in indexed, k)):
        table.add_row(kind, str(indexed.get(kind, 0)), str(stored.get(kind, 0)))
    table.add_row("total", str(len(documents)), str(sum(stored.values())), style="bold")
    console.print(table)


@handbook_app.command("search")
def search(
    query: str = typer.Argument(..., help="free text: alert names, services, log lines"),
    top: int = typer.Option(5, "--top", "-n", min=1, max=100, help="how many results"),
    kind: list[str] = typer.Option(None, "--kind", "-k", help="only this kind (repeatable): postmortem, runbook, "
                                   "note, incident"),
    service: list[str] = typer.Option(None, "--service", "-s", help="only documents involving this service "
                                      "(repeatable)"),
) -> None:
    """Search the memory and print a ranked table."""
    with open_memory(Settings()) as memory:
        hits = memory.search(query, top, kinds=kind or None, services=service or None)
    if not hits:
        console.print(f"no results for {query!r}")
        raise typer.Exit(1)
    table = Table(title=f"memory search: {query}", box=box.SIMPLE_HEAD)
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    # Narrow terminals fold long ids rather than cut them: the id is what a reader copies.
    table.add_column("id", overflow="fold", min_width=16)
    table.add_column("title", min_width=14)
    table.add_column("services", overflow="fold", min_width=10)
    for rank, hit in enumerate(hits, start=1):
        table.add_row(str(rank), f"{hit.score:.3f}", hit.kind, hit.doc_id, hit.title, _services(hit.services))
    console.print(table)


def _services(services: list[str], shown: int = 3) -> str:
    more = f" +{len(services) - shown} more" if len(services) > shown else ""
    return ", ".join(services[:shown]) + more


@memory_app.command("serve")
def serve(
    host: str | None = typer.Option(None, help="listen address (default: AIOPS_MEMORY_HOST)"),
    port: int | None = typer.Option(None, help="listen port, 0 for any (default: AIOPS_MEMORY_PORT)"),
) -> None:
    """Open the memory store as its one owner and serve it over HTTP until SIGINT/SIGTERM."""
    from aiops.memory import service

    settings = Settings()
    service.serve(settings, host or settings.memory_host, settings.memory_port if port is None else port,
                  say=typer.echo)
