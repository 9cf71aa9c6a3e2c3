"""Which topics each condensing stage reads and writes, and how `aiops condense` and the worker build it."""

from __future__ import annotations

from aiops.core.avro import SchemaSet, codec_for
from aiops.core.settings import Settings
from aiops.core.topics import condenser_group
from streams.condense.logs import LogCondenser
from streams.condense.process import CondenseLoop, Input, Stage

STAGES = ("logs", "spans")


def inputs_for(stage: str, settings: Settings) -> list[Input]:
    """With canonical_lines=all the normalize agents write every line to the canonical topic: read only that
    (reading the raw topics too would count each line twice). Otherwise the raw inputs and the canonical
    topic, for producers that write canonical records themselves."""
    raw = {"logs": [("aiops.logs.raw", "json"), ("otlp_logs", "otlp")], "spans": [("otlp_spans", "otlp")]}[stage]
    canonical = ("aiops.logs" if stage == "logs" else "aiops.spans", "canonical")
    chosen = [canonical] if settings.canonical_lines == "all" else [*raw, canonical]
    return [Input(settings.topic(name), kind) for name, kind in chosen]


def build_loop(stage: str, settings: Settings, group_id: str | None = None) -> CondenseLoop:
    """The loop of one stage (logs or spans) with its consumer group and transactional id."""
    schemas = SchemaSet.load(settings.schemas_dir)
    group = group_id or settings.topic(condenser_group(stage))
    core: Stage
    if stage == "logs":
        core = LogCondenser(settings, codec_for("LogRecord", settings.topic("aiops.logs"), settings, schemas))
        output, state = "aiops.logs.condensed", "aiops.condense.state"
    elif stage == "spans":
        from streams.condense.spans import SpanCondenser

        core = SpanCondenser(settings, codec_for("Span", settings.topic("aiops.spans"), settings, schemas))
        output, state = "aiops.spans.condensed", None
    else:
        raise ValueError(f"unknown condensing stage {stage!r}; known: {', '.join(STAGES)}")
    return CondenseLoop(settings, core, inputs_for(stage, settings), settings.topic(output),
                        settings.topic(state) if state else None, group,
                        transactional_id=f"{group}-{settings.condense_instance_id or _host_and_pid()}")


def _host_and_pid() -> str:
    import os
    import socket

    return f"{socket.gethostname()}-{os.getpid()}"
