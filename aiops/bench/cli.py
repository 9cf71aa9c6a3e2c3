"""`aiops bench ...`"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from aiops.core.settings import Settings

if TYPE_CHECKING:
    from aiops.bench.condense import CondenseResult

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


def _print_condense(result: CondenseResult, unit: str) -> None:
    table = Table("measure", f"{unit}/s", title=f"aiops bench {result.stage} ({result.inputs} {unit} in "
                  f"{result.messages} messages, 1 partition)")
    table.add_row("baseline: consume only (confluent-kafka)", f"{result.baseline_per_s:,.0f}")
    table.add_row(f"{result.stage} condensing stage (decode, count, transactional writes)",
                  f"{result.condensed_per_s:,.0f}")
    console.print(table)
    console.print(f"stage / baseline = [bold]{result.ratio:.2%}[/]; {result.records_out} condensed records "
                  f"({result.inputs / max(result.records_out, 1):,.0f} {unit} each), "
                  f"{result.dead_letters} dead letters")


@bench_app.command("logs")
def logs(
    lines: int = typer.Option(200_000, min=1000, help="JSON log lines to condense"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Log condensing stage (JSON lines → template counts) vs a consume-only loop on the same records."""
    from aiops.bench.condense import run
    from aiops.bench.telemetry import log_lines

    result = run(Settings(), "logs", log_lines(lines), lines)
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
        return
    _print_condense(result, "lines")


@bench_app.command("spans")
def spans(
    spans: int = typer.Option(100_000, min=1000, help="spans to condense, in OTLP requests of 50 spans"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Span condensing stage (OTLP → operation stats, edges) vs a consume-only loop on the same records."""
    from aiops.bench.condense import run
    from aiops.bench.telemetry import trace_requests

    result = run(Settings(), "spans", trace_requests(spans, 50), spans)
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
        return
    _print_condense(result, "spans")


@bench_app.command("memory")
def memory(
    docs: int = typer.Option(100_000, min=100, help="past incidents in the store"),
    queries: int = typer.Option(300, min=10, help="top-5 searches timed"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Top-5 retrieval latency (Milvus Lite, BM25) at N documents vs a small store, same queries."""
    from aiops.bench.memory import run

    result = run(docs, queries, Settings().state_dir)
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
        return
    table = Table("store", "top-5 p50 ms", "top-5 p99 ms", title=f"aiops bench memory ({result.queries} queries)")
    table.add_row(f"baseline: {result.baseline_docs} documents", f"{result.baseline_top5_p50_ms}",
                  f"{result.baseline_top5_p99_ms}")
    table.add_row(f"{result.docs:,} documents (inserted at {result.insert_docs_per_s:,.0f}/s)",
                  f"{result.top5_p50_ms}", f"{result.top5_p99_ms}")
    console.print(table)
    console.print(f"p99 at {result.docs:,} / p99 at {result.baseline_docs} = [bold]{result.ratio:.2f}x[/]")


@bench_app.command("gate")
def gate(
    rate: float = typer.Option(100.0, min=1, help="decisions per second asked for"),
    seconds: float = typer.Option(10.0, min=1, help="how long to ask at that rate"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Gate decisions (policy input → the real OPA) at a paced rate: latency p50/p99 and the most per second."""
    from aiops.bench.gate import run

    result = run(Settings(), rate, seconds)
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
        return
    table = Table("measure", "p50 ms", "p99 ms", title=f"aiops bench gate ({result.decisions} decisions at "
                  f"{result.rate_per_s:g}/s, {result.allowed} allowed)")
    table.add_row("baseline: GET /health on the same OPA", f"{result.baseline_p50_ms}", f"{result.baseline_p99_ms}")
    table.add_row("gate decision (data.aiops.gate.decision)", f"{result.decision_p50_ms}", f"{result.decision_p99_ms}")
    console.print(table)
    console.print(f"decision p99 / round-trip p99 = [bold]{result.ratio:.1f}x[/]; one client back to back: "
                  f"{result.max_decisions_per_s:,.0f} decisions/s")


@bench_app.command("e2e")
def e2e(
    alerts: int = typer.Option(30, min=2, help="alerts timed under load (a third as many idle first)"),
    lines_per_s: int = typer.Option(10_000, min=0, help="background JSON log lines per second"),
    spans_per_s: int = typer.Option(2_000, min=0, help="background spans per second (OTLP, 50 per request)"),
    evidence_worker: bool = typer.Option(False, "--evidence-worker", help="run the evidence agents in a worker of "
                                         "their own (`aiops worker -a evidence`), the alert path in the other"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Alert → proposal latency through the whole pipeline, idle and under a background load."""
    from aiops.bench.e2e import run

    result = run(Settings(), alerts, lines_per_s, spans_per_s, evidence_worker=evidence_worker)
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
        return
    table = Table("measure", "p50 ms", "p99 ms", title=f"aiops bench e2e ({result.proposals} of {result.alerts} "
                  "alerts got a proposal)")
    table.add_row("baseline: idle", f"{result.idle_p50_ms}", f"{result.idle_p99_ms}")
    table.add_row(f"under {result.load_lines_per_s:,.0f} lines/s and {result.load_spans_per_s:,.0f} spans/s",
                  f"{result.alert_to_proposal_p50_ms}", f"{result.alert_to_proposal_p99_ms}")
    for hop, values in (result.hops_under_load or {}).items():  # where the time goes, stage by stage
        table.add_row(f"  of which {hop}", f"{values['p50_ms']}", f"{values['p99_ms']}")
    console.print(table)
    console.print(f"p99 under load / idle = [bold]{result.ratio:.2f}x[/]")


@bench_app.command("soak")
def soak(
    minutes: float = typer.Option(10.0, min=0.5, help="how long the load runs (after a two-minute warm-up)"),
    lines_per_s: int = typer.Option(10_000, min=0, help="background JSON log lines per second"),
    spans_per_s: int = typer.Option(2_000, min=0, help="background spans per second"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON (with every sample)"),
) -> None:
    """Worker and condenser RSS at start and end, and consumer lag over time, under a steady load."""
    from aiops.bench.soak import run

    result = run(Settings(), minutes, lines_per_s, spans_per_s)
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
        return
    table = Table("process", "RSS start MB", "RSS end MB", title=f"aiops bench soak ({result.minutes:g} min at "
                  f"{result.lines_per_s:,.0f} lines/s and {result.spans_per_s:,.0f} spans/s)")
    for name, start in result.rss_start_mb.items():
        table.add_row(name, f"{start}", f"{result.rss_end_mb[name]}")
    console.print(table)
    console.print(f"lag: max {result.lag_max:,}, slope over the last half {result.lag_slope_last_half_per_s:+.1f}"
                  f" records/s → {'bounded' if result.lag_bounded else 'GROWING'}; RSS within 10%: "
                  f"{result.rss_within_10pct}")
