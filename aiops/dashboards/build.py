"""Renders every dashboard to the JSON Grafana provisions, and writes or checks the checked-in files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from aiops.core.paths import PROJECT_ROOT
from aiops.dashboards.decisions import decisions_dashboard
from aiops.dashboards.incidents import incidents_dashboard
from aiops.dashboards.pipeline import pipeline_dashboard

DEFAULT_OUT = PROJECT_ROOT / "deploy" / "grafana" / "dashboards"

# File name (under deploy/grafana/dashboards) -> the code that builds it.
DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "aiops-pipeline.json": pipeline_dashboard,
    "aiops-decisions.json": decisions_dashboard,
    "aiops-incidents.json": incidents_dashboard,
}


def render(builder: Dashboard) -> str:
    """The dashboard as stable JSON text (sorted keys, panel ids numbered in order)."""
    model = builder.build()
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """File name -> JSON text, for every dashboard."""
    return {name: render(build()) for name, build in DASHBOARDS.items()}


def write_all(out_dir: Path = DEFAULT_OUT) -> list[Path]:
    """Write every dashboard's JSON into out_dir; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered().items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(out_dir: Path = DEFAULT_OUT) -> list[str]:
    """Names of the dashboards whose file in out_dir is missing or differs from the code."""
    return [name for name, text in rendered().items()
            if not (out_dir / name).is_file() or (out_dir / name).read_text(encoding="utf-8") != text]
