"""`aiops logs mine FILE`: the stream's template miner run offline over a log file, printed as CSV."""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import typer

logs_app = typer.Typer(help="Log templates: how the miner groups log lines.", no_args_is_help=True)
# The commands this subsystem adds to `aiops` (aiops/cli.py puts every subsystem's `app` together).
app = typer.Typer()
app.add_typer(logs_app, name="logs")

MESSAGE_FIELDS = ("message", "msg", "log")

# In the stream, time and level are fields of the record and only the message is mined; a text log line
# carries them as a header, which is cut off the same way.
_HEADER = re.compile(
    r"^\s*(?:\[?(?:\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2})\]?\s+)?"
    r"(?:\[?(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRIT|CRITICAL|FATAL|PANIC|ALERT|EMERG)\]?:?\s+)?"
)


def read_messages(path: Path, json_fields: Sequence[str] | None = None, *, whole_line: bool = False
                  ) -> Iterator[str]:
    """The message of each line of a file (split on newlines only, decoded leniently).

    With json_fields, a line that is a JSON object yields the first of those fields it has. Otherwise a
    leading timestamp and level word are cut off, unless whole_line.
    """
    with path.open("rb") as lines:
        for raw in lines:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if json_fields:
                yield _message_field(line, json_fields)
            else:
                yield line if whole_line else _HEADER.sub("", line, count=1)


def _message_field(line: str, fields: Sequence[str]) -> str:
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if isinstance(record, dict):
        for name in fields:
            value = record.get(name)
            if value is not None:
                return value if isinstance(value, str) else json.dumps(value)
    return line


@logs_app.command("mine")
def mine(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="log file, one record a line"),
    json_lines: bool = typer.Option(False, "--json", help="lines are JSON objects: mine their message field"),
    field: list[str] = typer.Option(None, "--field", help="JSON field with the message (repeatable; default: "
                                                          "AIOPS_LOG_MESSAGE_FIELDS, or message, msg, log)"),
    whole_line: bool = typer.Option(False, "--whole-line", help="mine text lines whole, leading timestamp "
                                                                "and level included"),
) -> None:
    """Group a log file's lines into templates; print CSV LineId,TemplateId,Template.

    Mines what the stream mines: the message, without the line's leading timestamp and level (or the
    message field of JSON lines), masked and grouped with the stream's settings (AIOPS_LOG_MASK_*,
    AIOPS_LOG_TEMPLATE_*). The miner first learns from the whole file, then each line is matched to its
    final template, so early lines show the generalised one.
    """
    from aiops.core.settings import Settings
    from streams.logtemplates.miner import MinerConfig, ServiceTemplateMiner

    settings = Settings()
    miner = ServiceTemplateMiner(MinerConfig.from_settings(settings), service=file.stem)
    default_fields = tuple(getattr(settings, "log_message_fields", MESSAGE_FIELDS))
    json_fields = (tuple(field or ()) or default_fields) if json_lines else None
    learned = [miner.add(message) for message in read_messages(file, json_fields, whole_line=whole_line)]

    writer = csv.writer(sys.stdout, lineterminator="\n")
    try:
        writer.writerow(["LineId", "TemplateId", "Template"])
        for line_id, (message, first) in enumerate(zip(read_messages(file, json_fields, whole_line=whole_line), learned,
                                                             strict=False), 1):
            final = miner.match(message)
            if final is None:  # the template it was learned into is the best answer left (e.g. evicted since)
                template = miner.template(first.template_id) or first.template
                writer.writerow([line_id, first.template_id, template])
            else:
                writer.writerow([line_id, final.template_id, final.template])
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader has gone, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    typer.echo(f"{len(learned)} lines, {len(miner)} templates", err=True)
