"""`aiops replay` and `aiops demo`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aiops.settings import Settings

console = Console()
DEFAULT_SCENARIO = Path(__file__).parent / "scenarios" / "shop-cascade.jsonl"


def replay_command(
    file: Path = typer.Argument(DEFAULT_SCENARIO, help="a recording in the demo's format (see demo/replay.py)"),
    speed: float = typer.Option(1.0, help="1 = real time, 10 = ten times faster"),
    keep_times: bool = typer.Option(False, help="keep the recorded timestamps instead of moving them to now"),
) -> None:
    """Replay recorded telemetry into the input topics at a chosen speed."""
    from demo.replay import load, replay

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


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)
