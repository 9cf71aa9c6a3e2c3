"""`aiops eval templates`: grouping accuracy on Loghub-layout labelled logs, beside the published Drain figures."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path

from aiops.eval.templates import grouping_accuracy, load, measure
from streams.logtemplates.miner import ServiceTemplateMiner
from tests.streams.logtemplates.test_grouping import event_types, sample

AIOPS = str(Path(sys.executable).with_name("aiops"))


def unwrapped(text: str) -> str:
    """The error as one line (the console wraps it at the terminal's width)."""
    return " ".join(text.split())


def write_loghub(folder: Path, system: str, rows: list[tuple[str, str]]) -> Path:
    """One system in the Loghub repository layout: <System>/<System>_2k.log_structured.csv."""
    path = folder / system / f"{system}_2k.log_structured.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["LineId", "Date", "Level", "Content", "EventId", "EventTemplate"])
        for number, (event, content) in enumerate(rows, 1):
            writer.writerow([number, "081109", "INFO", content, event, "-"])
    return path


def test_the_measure_counts_a_line_right_only_when_its_template_holds_exactly_its_event_type():
    miner = ServiceTemplateMiner(service="t")
    # E1 and E2 have the same shape, so the miner puts them in one template: both event types are wrong.
    lines = [("E1", "open file a.txt"), ("E2", "open file b.txt"), ("E3", "user bob logged in from the console")]
    accuracy, templates = grouping_accuracy(lines, miner)
    assert (round(accuracy, 4), templates) == (round(1 / 3, 4), 2)


def test_the_command_scores_each_system_and_names_the_published_drain_figure(tmp_path):
    rnd = random.Random(3)
    for system, kind in (("HDFS", "hdfs"), ("OpenSSH", "sshd")):
        shapes = [(f"E{k}", shape) for k, shape in enumerate(event_types(rnd)[kind])]
        write_loghub(tmp_path, system, sample(shapes, rnd, 400))
    done = subprocess.run([AIOPS, "eval", "templates", str(tmp_path), "--json"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rows = {row["system"]: row for row in report["systems"]}
    assert set(rows) == {"HDFS", "OpenSSH"}
    assert rows["HDFS"]["accuracy"] == 1.0 and rows["HDFS"]["published_drain"] == 0.9975
    assert rows["OpenSSH"]["lines"] == 400 and rows["OpenSSH"]["published_drain"] == 0.7875
    assert report["mean_accuracy"] == 1.0


def test_a_file_without_the_labels_is_refused_with_the_column_it_lacks(tmp_path):
    path = tmp_path / "Mine_2k.log_structured.csv"
    path.write_text("LineId,Content\n1,hello\n")
    done = subprocess.run([AIOPS, "eval", "templates", str(tmp_path)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode != 0 and "missing column(s) ['EventId']" in unwrapped(done.stderr)


def test_a_folder_without_labelled_logs_is_refused(tmp_path):
    done = subprocess.run([AIOPS, "eval", "templates", str(tmp_path)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode != 0 and "no *.log_structured.csv files" in unwrapped(done.stderr)


def test_a_flat_folder_is_read_too(tmp_path):
    flat = write_loghub(tmp_path, "Apache", [("E1", "jk2_init() Found child 6725 in scoreboard slot 10")])
    flat.rename(tmp_path / flat.name)
    (log,) = load(tmp_path)
    assert log.system == "Apache" and measure(log).published_drain == 1.0
