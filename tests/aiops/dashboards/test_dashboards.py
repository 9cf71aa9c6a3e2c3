"""The dashboards: generated JSON equals the checked-in JSON, is a valid dashboard, and queries exactly the
metrics aiops/core/metrics.py defines (every one of them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

import aiops.core.metrics
from aiops.core.paths import PROJECT_ROOT
from aiops.dashboards.__main__ import main as dashboards_main
from aiops.dashboards.build import DASHBOARDS, DEFAULT_OUT, rendered
from aiops.feed.views import VIEWS
from tests import samples
from tests.aiops.dashboards.promql import aiops_names, exposed_names

CHECKED_IN = PROJECT_ROOT / "deploy" / "grafana" / "dashboards"
DATASOURCES = PROJECT_ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "datasources.yml"
METRICS = [m for m in vars(aiops.core.metrics).values() if isinstance(m, MetricWrapperBase)]
GENERATED = rendered()
LOADED = {name: json.loads(text) for name, text in GENERATED.items()}


def panels(dashboard: dict) -> list[dict]:
    """Every panel that shows data (rows are layout), including panels inside collapsed rows."""
    found = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def prometheus_exprs() -> list[tuple[str, str, str]]:
    return [(name, panel["title"], target["expr"]) for name, dash in LOADED.items() for panel in panels(dash)
            for target in panel["targets"] if "expr" in target]


def test_default_out_is_the_checked_in_folder():
    assert DEFAULT_OUT == CHECKED_IN


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_checked_in_json_is_what_the_code_generates(name):
    path = CHECKED_IN / name
    assert path.is_file(), f"{path} missing: run `aiops dashboards build`"
    assert path.read_text(encoding="utf-8") == GENERATED[name], \
        f"{path} differs from dashboards/: run `aiops dashboards build` and commit the JSON"


def test_no_stray_json_in_the_dashboards_folder():
    assert {p.name for p in CHECKED_IN.glob("*.json")} == set(DASHBOARDS)


def test_python_m_dashboards_writes_the_same_files(tmp_path: Path):
    assert dashboards_main(["--out", str(tmp_path)]) == 0
    assert {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()} == GENERATED
    assert dashboards_main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "aiops-pipeline.json").write_text("{}", encoding="utf-8")
    assert dashboards_main(["--out", str(tmp_path), "--check"]) == 1


def test_the_three_dashboards():
    titles = {dash["title"] for dash in LOADED.values()}
    assert titles == {"AIOps pipeline", "AIOps decisions", "AIOps incidents"}


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_valid_dashboard_json(name):
    dash = LOADED[name]
    assert isinstance(dash["uid"], str) and 0 < len(dash["uid"]) <= 40
    assert dash["title"]
    assert isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= 36
    assert dash["panels"], "a dashboard without panels"
    ids = [panel["id"] for panel in dash["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    provisioned = {ds["uid"]: ds["type"] for ds in yaml.safe_load(DATASOURCES.read_text())["datasources"]}
    for panel in panels(dash):
        assert panel["title"] and panel["type"] in {"timeseries", "stat", "table"}, panel.get("title")
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        source = panel["datasource"]
        assert provisioned.get(source["uid"]) == source["type"], f"{panel['title']}: unprovisioned {source}"
        assert panel["targets"], f"{panel['title']} has no queries"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", source) == source, panel["title"]
            if source["type"] == "prometheus":
                assert target["expr"].strip(), panel["title"]
            else:
                assert target["url"].startswith("/") and target["columns"], panel["title"]


def test_dashboard_uids_are_unique():
    uids = [dash["uid"] for dash in LOADED.values()]
    assert len(uids) == len(set(uids))


def test_promql_reads_only_metrics_defined_in_aiops_metrics():
    defined = exposed_names(METRICS)
    unknown = [(dash, title, name) for dash, title, expr in prometheus_exprs() for name in aiops_names(expr)
               if name not in defined]
    assert not unknown, f"metric names not defined in aiops/core/metrics.py: {unknown}"


def test_every_metric_in_aiops_metrics_is_on_a_dashboard():
    defined = exposed_names(METRICS)
    used = {defined[name]._name for _, _, expr in prometheus_exprs() for name in aiops_names(expr)
            if name in defined}
    unused = sorted(m._name for m in METRICS if m._name not in used)
    assert not unused, f"metrics no panel shows: {unused}"


def test_histogram_quantiles_use_the_latency_buckets():
    exprs = [expr for _, _, expr in prometheus_exprs() if "histogram_quantile" in expr]
    assert any("0.5," in e and "aiops_decision_latency_seconds_bucket" in e for e in exprs)
    assert any("0.95," in e and "aiops_decision_latency_seconds_bucket" in e for e in exprs)
    assert all("by (le)" in e for e in exprs)


def test_the_expression_reader():
    assert aiops_names('sum by (topic) (rate(aiops_records_in_total{topic="aiops_fake"}[5m]))') == \
        {"aiops_records_in_total"}
    assert aiops_names("histogram_quantile(0.9, sum by (le) (rate(aiops_x_bucket[1m]))) / up") == {"aiops_x_bucket"}


def test_incident_tables_read_feed_endpoints_and_fields():
    # Each Infinity column selects a field the feed really serves for that endpoint.
    rows = {view.endpoint: view.to_row(view.record.from_avro(getattr(samples, view.record.__name__.lower())()))
            for view in VIEWS}
    tables = [panel for dash in LOADED.values() for panel in panels(dash) if panel["type"] == "table"]
    assert {panel["targets"][0]["url"] for panel in tables} == {f"/{endpoint}" for endpoint in rows}
    for panel in tables:
        for target in panel["targets"]:
            row = rows[target["url"].lstrip("/")]
            missing = [c["selector"] for c in target["columns"] if c["selector"] not in row]
            assert not missing, f"{panel['title']}: the feed serves no {missing}"
