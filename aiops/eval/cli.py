"""`aiops eval rca CASES_DIR` (root causes on labelled cases, through the real pipeline) and `aiops eval templates`."""

from __future__ import annotations

import json
import signal
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from aiops.core.errors import AiopsError

if TYPE_CHECKING:
    from aiops.eval.cases import Case
    from aiops.eval.score import CaseResult

eval_app = typer.Typer(help="Measure the product on labelled cases.", no_args_is_help=True)
# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()
app.add_typer(eval_app, name="eval")
console = Console(stderr=True)


def load_cases(root: Path) -> list[Case]:
    """The cases under `root`, whichever layout it has (TrainTicket, or the project's labelled recordings)."""
    from aiops.eval import recordings, trainticket
    from aiops.eval.cases import CaseError

    if not root.is_dir():
        raise CaseError(f"{root} is not a directory")
    if trainticket.is_trainticket(root):
        return trainticket.load(root)
    if recordings.is_recordings(root):
        return recordings.load(root)
    raise CaseError(f"{root}: neither the TrainTicket layout (cases/*/label.json) nor labelled recordings (*.jsonl "
                    "with a label in the header)")


@eval_app.command("rca")
def rca(
    cases_dir: Path = typer.Argument(..., help="labelled cases: the TrainTicket layout or labelled recordings"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object (counts and per-case rows)"),
    case: list[str] = typer.Option(None, "--case", help="only cases whose id contains this (repeatable)"),
    speed: float = typer.Option(10.0, help="replay speed (event time per wall time)"),
    in_process: bool = typer.Option(False, "--in-process", help="run the stages in this process without Kafka "
                                    "(a development aid, not the measurement)"),
    keep_topics: bool = typer.Option(False, help="keep each case's topics on the broker afterwards"),
) -> None:
    """Replay labelled cases through the pipeline and score the incidents' ranked root causes."""
    from aiops.core.settings import Settings
    from aiops.eval.score import score_case, summary

    signal.signal(signal.SIGTERM, _exit_on_term)
    settings = Settings()
    cases = load_cases(cases_dir)
    if case:
        cases = [c for c in cases if any(part in c.case_id for part in case)]
    if not cases:
        raise AiopsError(f"no cases to run in {cases_dir}")
    started = time.monotonic()
    results = []
    log_dir = Path(tempfile.mkdtemp(prefix="aiops-eval-"))
    for item in cases:
        t0 = time.monotonic()
        if in_process:
            from aiops.eval.inprocess import InProcessPipeline

            snapshots = InProcessPipeline(settings).run(item)
        else:
            from aiops.eval.pipeline import run_case

            snapshots = run_case(item, settings, log_dir, speed=speed, keep_topics=keep_topics,
                                 say=lambda text: console.print(f"[dim]{text}[/]")).snapshots
        result = score_case(item, snapshots)
        results.append(result)
        console.print(_row(result, time.monotonic() - t0))
    report = summary(results, settings.rca_ranking, time.monotonic() - started)
    report["mode"] = "in-process" if in_process else "pipeline"
    report["worker_logs"] = None if in_process else str(log_dir)
    if as_json:
        typer.echo(json.dumps(report, default=str))
    else:
        _table(report)


@eval_app.command("templates")
def templates(
    logs_dir: Path = typer.Argument(..., help="Loghub-style labelled logs: *.log_structured.csv (Content, EventId)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object (per-system rows and the mean)"),
) -> None:
    """Group labelled log lines with the product's template miner; grouping accuracy beside published Drain."""
    from aiops.core.settings import Settings
    from aiops.eval.templates import load, measure
    from streams.logtemplates.miner import MinerConfig

    config = MinerConfig.from_settings(Settings())
    results = [measure(log, config) for log in load(logs_dir)]
    mean = round(sum(r.accuracy for r in results) / len(results), 4)
    published = [r.published_drain for r in results if r.published_drain is not None]
    report = {"systems": [r.as_dict() for r in results], "mean_accuracy": mean,
              "mean_published_drain": round(sum(published) / len(published), 4) if published else None}
    if as_json:
        typer.echo(json.dumps(report))
        return
    table = Table("system", "lines", "event types", "templates", "accuracy", "Drain (published, tuned)")
    for r in results:
        table.add_row(r.system, str(r.lines), str(r.event_types), str(r.templates), f"{r.accuracy:.4f}",
                      "-" if r.published_drain is None else f"{r.published_drain:.4f}")
    out = Console()
    out.print(table)
    out.print(f"mean accuracy {mean} over {len(results)} system(s); published Drain mean over the same systems "
              f"{report['mean_published_drain']}")


def _exit_on_term(signum: int, frame: FrameType | None) -> None:
    """A stopped run still stops the worker it started: `run_case` cleans up on the way out of an exception."""
    raise SystemExit(128 + signum)


def _row(result: CaseResult, seconds: float) -> str:
    if result.root_cause is None:
        return f"{result.case_id}: fault-free, {result.false_incidents} incident(s) opened ({seconds:.0f}s)"
    mark = "top-1" if result.top1 else ("top-3" if result.top3 else "miss")
    line = (f"{result.case_id}: {mark}; named {result.named}, expected {result.root_cause} (rank {result.rank}); "
            f"detected {result.detect_s}s after the fault; {result.false_incidents} false, "
            f"{result.other_incidents} other incident(s) ({seconds:.0f}s)")
    line += f"\n    why: {result.why}" if result.why else ""
    return line + "".join(f"\n    {other}" for other in result.others)


def _table(report: dict) -> None:
    table = Table("case", "expected", "named", "rank", "detect s", "false", "other")
    for row in report["rows"]:
        table.add_row(row["case_id"], row["root_cause"] or "(fault-free)", row["named"] or "-", str(row["rank"] or "-"),
                      str(row["detect_s"] if row["detect_s"] is not None else "-"), str(row["false_incidents"]),
                      str(row["other_incidents"]))
    out = Console()
    out.print(table)
    out.print(f"cases {report['cases']}: opened {report['opened']}, top-1 {report['top1']}, top-3 {report['top3']}; "
              f"false incidents {report['false_incidents']} (reference cases {report['reference_cases']}); "
              f"ranking {report['ranking']}; {report['seconds']}s ({report['mode']})")
