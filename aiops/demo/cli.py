"""`aiops replay` and `aiops demo`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aiops.core.settings import Settings
from aiops.demo.replay import DEFAULT_SCENARIO

console = Console()
# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()


@app.command("replay")
def replay_command(
    file: Path = typer.Argument(DEFAULT_SCENARIO, help="a recording in the demo's format (see aiops/demo/replay.py)"),
    speed: float = typer.Option(1.0, help="1 = real time, 10 = ten times faster"),
    keep_times: bool = typer.Option(False, help="keep the recorded timestamps instead of moving them to now"),
) -> None:
    """Replay recorded telemetry into the input topics at a chosen speed."""
    from aiops.demo.replay import load, replay

    settings = Settings()
    recording = load(file)
    console.print(f"[bold]{recording.name}[/]: {recording.description}")
    console.print(f"{len(recording.records)} records over {recording.duration_s:.0f}s, at {speed:g}x "
                  f"→ {recording.duration_s / speed:.1f}s, to {settings.kafka_bootstrap}")
    with Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("replay", total=len(recording.records))
        counts = replay(recording, settings, speed, keep_times,
                        on_record=lambda n, _: progress.update(task, completed=n))
    table = Table("topic", "records")
    for topic, count in sorted(counts.items()):
        table.add_row(settings.topic(topic), str(count))
    console.print(table)


@app.command("demo")
def demo_command(
    approve_as: str | None = typer.Option(None, help="approve as this person without asking (non-interactive)"),
    speed: float = typer.Option(10.0, help="replay speed of the scenario"),
    timeout: float = typer.Option(300.0, help="give up after this many seconds"),
) -> None:
    """Run the whole system on a realistic failure of the sample shop, live, and print the audit trail."""
    from rich.prompt import Confirm

    from aiops.demo.run import run_demo

    # Wide enough for the live tables even when the output is not a terminal (CI logs, a pipe).
    wide = console if console.is_terminal else Console(width=max(console.width, 160))
    run_demo(Settings(), approve_as, speed, timeout, wide, confirm=lambda question: Confirm.ask(question))
    console.print("[bold green]demo finished[/]")
