"""`aiops bench ...`"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from aiops.core.settings import Settings

bench_app = typer.Typer(help="Benchmarks on the real broker, each against a baseline in the same run.",
                        no_args_is_help=True)
# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()
app.add_typer(bench_app, name="bench")
console = Console()


@bench_app.command("ingest")
def ingest(
    records: int = typer.Option(20_000, min=1000, help="JSON log lines to push through"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Normalize throughput (JSON log lines → canonical Avro) vs the raw consumer's rate on the same broker."""
    from aiops.bench.ingest import run

    result = run(Settings(), records)
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
        return
    table = Table("measure", "records/s", title=f"aiops bench ingest ({result.records} log lines, 1 partition)")
    table.add_row("produce (confluent-kafka, idempotent)", f"{result.produce_per_s:,.0f}")
    table.add_row("baseline: raw consume (confluent-kafka)", f"{result.baseline_consume_per_s:,.0f}")
    table.add_row("normalize worker (decode, validate, Avro, produce)", f"{result.normalize_per_s:,.0f}")
    console.print(table)
    console.print(f"normalize / baseline = [bold]{result.ratio:.2%}[/]; worker start-up {result.worker_startup_s}s "
                  "(excluded)")
