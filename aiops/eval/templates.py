"""Log-template grouping accuracy on Loghub-style labelled logs, beside the published Drain figures.

The Loghub benchmark (Zhu et al., "Tools and Benchmarks for Automated Log Parsing", ICSE 2019) labels every
line of a 2,000-line sample per system with its event type (`<System>_2k.log_structured.csv`: columns
`Content` and `EventId`). A line is grouped right when the template the miner put it in holds exactly the
lines of its event type; grouping accuracy is the share of lines grouped right. The benchmark tuned Drain per
data set (its own regexes, depth and similarity); here ONE configuration, the product's, serves every format.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aiops.core.errors import AiopsError
from streams.logtemplates.miner import MinerConfig, ServiceTemplateMiner

# Grouping accuracy of Drain with per-data-set tuning on Loghub-2k, as published with logpai/logparser.
PUBLISHED_DRAIN = {
    "HDFS": 0.9975, "Hadoop": 0.9475, "Spark": 0.92, "Zookeeper": 0.9665, "BGL": 0.9625, "HPC": 0.887,
    "Thunderbird": 0.955, "Windows": 0.997, "Linux": 0.69, "Android": 0.911, "HealthApp": 0.78, "Apache": 1.0,
    "Proxifier": 0.5265, "OpenSSH": 0.7875, "OpenStack": 0.7325, "Mac": 0.7865,
}
_STRUCTURED = re.compile(r"^(?P<system>.+?)(?:_2k)?\.log_structured\.csv$")


class TemplateBenchmarkError(AiopsError):
    """The folder holds no labelled log files, or one of them lacks the columns the measure needs."""


@dataclass(frozen=True)
class LabelledLog:
    system: str
    path: Path
    lines: list[tuple[str, str]]  # (event type, message) in file order


@dataclass(frozen=True)
class GroupingResult:
    system: str
    lines: int
    event_types: int
    templates: int
    accuracy: float
    published_drain: float | None

    def as_dict(self) -> dict[str, object]:
        return {"system": self.system, "lines": self.lines, "event_types": self.event_types,
                "templates": self.templates, "accuracy": round(self.accuracy, 4),
                "published_drain": self.published_drain}


def grouping_accuracy(lines: Iterable[tuple[str, str]], miner: ServiceTemplateMiner) -> tuple[float, int]:
    """The share of lines whose template holds exactly the lines of their event type, and how many templates."""
    truth: dict[str, set[int]] = defaultdict(set)
    found: dict[str, set[int]] = defaultdict(set)
    count = 0
    for index, (event_type, message) in enumerate(lines):
        truth[event_type].add(index)
        found[miner.add(message).template_id].add(index)
        count = index + 1
    if count == 0:
        return 0.0, 0
    clusters = {frozenset(members) for members in found.values()}
    right = sum(len(members) for members in truth.values() if frozenset(members) in clusters)
    return right / count, len(found)


def load(root: Path) -> list[LabelledLog]:
    """Every `*.log_structured.csv` under `root` (the Loghub repository layout or a flat folder), by system."""
    files = sorted(p for p in root.rglob("*.log_structured.csv") if p.is_file())
    if not files:
        raise TemplateBenchmarkError(f"{root}: no *.log_structured.csv files (the Loghub-2k layout)")
    logs = []
    for path in files:
        match = _STRUCTURED.match(path.name)
        system = match.group("system") if match else path.stem
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.DictReader(handle)
            missing = {"Content", "EventId"} - set(reader.fieldnames or ())
            if missing:
                raise TemplateBenchmarkError(f"{path}: missing column(s) {sorted(missing)}")
            lines = [(row["EventId"], row["Content"]) for row in reader]
        logs.append(LabelledLog(system, path, lines))
    return logs


def measure(log: LabelledLog, config: MinerConfig | None = None) -> GroupingResult:
    """One system's grouping accuracy with a fresh miner (as one service would see it)."""
    accuracy, templates = grouping_accuracy(log.lines, ServiceTemplateMiner(config, service=log.system))
    return GroupingResult(log.system, len(log.lines), len({event for event, _ in log.lines}), templates, accuracy,
                          PUBLISHED_DRAIN.get(log.system))
