"""Importer for the project's own labelled cases: recordings in the replay format (aiops/demo/replay.py) whose
header carries the label.

    {"scenario": NAME, "recorded_at": RFC3339, "description": TEXT,
     "label": {"root_cause_service": SERVICE or null, "fault_type": TYPE, "fault_at": SECONDS},
     "warmup_until": SECONDS}

`fault_at` and `warmup_until` are offsets like the records' `at`; records before `warmup_until` are the fault-free
reference window the baselines learn from. A null root cause makes a fault-free case. CASES_DIR holds one such
.jsonl file per case.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from aiops.demo.replay import ReplayError
from aiops.demo.replay import load as load_recording
from aiops.eval.cases import Case, CaseError, Label


def is_recordings(root: Path) -> bool:
    return any(_labelled(path) for path in sorted(root.glob("*.jsonl")))


def _labelled(path: Path) -> bool:
    try:
        with path.open() as handle:
            return "label" in json.loads(handle.readline())
    except (OSError, ValueError):
        return False


def load_case(path: Path) -> Case:
    try:
        recording = load_recording(path)
        header = json.loads(path.read_text().split("\n", 1)[0])
        label = header["label"]
        fault_at = label.get("fault_at")
    except (ReplayError, ValueError, KeyError, TypeError) as exc:
        raise CaseError(f"{path}: not a labelled recording ({exc})") from None
    start = recording.recorded_at
    return Case(
        case_id=path.stem,
        label=Label(label.get("root_cause_service"), label.get("fault_type"),
                    start + timedelta(seconds=float(fault_at)) if fault_at is not None else None),
        start=start, records=recording.records,
        warmup_until=start + timedelta(seconds=float(header.get("warmup_until", 0.0))),
        description=recording.description)


def load(root: Path) -> list[Case]:
    return [load_case(path) for path in sorted(root.glob("*.jsonl")) if _labelled(path)]
