"""The datasources the dashboards query, by the uids deploy/grafana/provisioning/datasources provisions."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import DataSourceRef

PROMETHEUS_UID = "prometheus"
FEED_UID = "aiops-feed"
INFINITY_PLUGIN = "yesoreyeram-infinity-datasource"


def prometheus() -> DataSourceRef:
    """The Prometheus that scrapes every process's aiops_* metrics."""
    return DataSourceRef(type_val="prometheus", uid=PROMETHEUS_UID)


def feed() -> DataSourceRef:
    """The Infinity datasource whose base URL is the feed service (`aiops feed serve`)."""
    return DataSourceRef(type_val=INFINITY_PLUGIN, uid=FEED_UID)
