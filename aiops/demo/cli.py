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
    with_console: bool = typer.Option(False, "--console", help="open the on-call console next to the demo and "
                                      "approve there, with a key made in your browser; it stays up until Ctrl-C"),
    speed: float = typer.Option(10.0, help="replay speed of the scenario"),
    timeout: float | None = typer.Option(None, help="give up after this many seconds (default 300; 1800 with "
                                         "--console, to leave time for making and enrolling a key)"),
    keep_topics: bool = typer.Option(False, help="keep the run's demo-… topics on the broker afterwards (to read "
                                     "the audit trail with kcat); by default they are deleted when it ends"),
) -> None:
    """Run the whole system on a realistic failure of the sample shop, live, and print the audit trail."""
    import signal
    import sys

    from rich.prompt import Confirm

    from aiops.demo.run import run_demo

    # SIGTERM stops the demo like Ctrl-C does: through its cleanup, which stops every process it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Wide enough for the live tables even when the output is not a terminal (CI logs, a pipe).
    wide = console if console.is_terminal else Console(width=max(console.width, 160))
    limit = timeout if timeout is not None else (1800.0 if with_console else 300.0)
    run_demo(Settings(), approve_as, speed, limit, wide, confirm=lambda question: Confirm.ask(question),
             with_console=with_console, keep_topics=keep_topics)
    console.print("[bold green]demo finished[/]")
