"""Grafana and Prometheus provisioning agree with docker-compose.yml, the settings and the dashboards."""

from __future__ import annotations

import yaml

from aiops.core.paths import PROJECT_ROOT
from aiops.core.settings import Settings
from aiops.dashboards import datasources

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())["services"]


def test_datasources_provision_prometheus_and_the_feed():
    provisioned = {ds["uid"]: ds for ds in
                   yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/datasources.yml").read_text())
                   ["datasources"]}
    assert provisioned[datasources.PROMETHEUS_UID]["type"] == "prometheus"
    assert provisioned[datasources.PROMETHEUS_UID]["url"] == "http://prometheus:9090"
    feed = provisioned[datasources.FEED_UID]
    assert feed["type"] == datasources.INFINITY_PLUGIN == "yesoreyeram-infinity-datasource"
    assert feed["url"] == f"http://feed:{Settings().feed_port}"


def test_dashboards_provider_loads_the_mounted_folder():
    provider, = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/dashboards.yml").read_text())["providers"]
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in COMPOSE["grafana"]["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"


def test_grafana_installs_the_infinity_plugin():
    assert "yesoreyeram-infinity-datasource" in COMPOSE["grafana"]["environment"]["GF_INSTALL_PLUGINS"]


def test_prometheus_and_feed_services():
    assert COMPOSE["prometheus"]["image"].startswith("prom/prometheus:v")
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in COMPOSE["prometheus"]["volumes"]
    assert COMPOSE["feed"]["build"] == "." and COMPOSE["feed"]["command"] == ["feed", "serve"]
    assert COMPOSE["feed"]["environment"]["AIOPS_FEED_HOST"] == "0.0.0.0"


def test_prometheus_scrapes_every_process_on_its_settings_port():
    settings = Settings()
    jobs = {job["job_name"]: target for job in
            yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())["scrape_configs"]
            for target in job["static_configs"][0]["targets"]}
    assert jobs["aiops-worker"] == f"worker:{settings.worker_metrics_port}"
    assert jobs["aiops-gatekeeper"] == f"gatekeeper:{settings.gatekeeper_metrics_port}"
    assert jobs["aiops-alertmanager-bridge"] == f"alertmanager-bridge:{settings.alertmanager_bridge_metrics_port}"
    assert jobs["aiops-otlp-receiver"] == f"otlp-receiver:{settings.otlp_receiver_metrics_port}"
    assert jobs["aiops-approvals"] == f"approvals:{settings.approvals_metrics_port}"
    assert jobs["aiops-feed"] == f"feed:{settings.feed_port}"
    ports = [settings.worker_metrics_port, settings.gatekeeper_metrics_port, settings.alertmanager_bridge_metrics_port,
             settings.otlp_receiver_metrics_port, settings.approvals_metrics_port, settings.feed_port]
    others = [settings.kafka_port, settings.kafka_controller_port, settings.opa_port,
              settings.alertmanager_bridge_port, settings.otlp_receiver_port, settings.approvals_http_port]
    assert len(set(ports)) == len(ports) and not set(ports) & set(others), "metrics ports collide"
