"""Grafana dashboards as code: the JSON under deploy/grafana/dashboards is generated from these modules."""

from aiops.dashboards.build import DASHBOARDS, DEFAULT_OUT, render, write_all

__all__ = ["DASHBOARDS", "DEFAULT_OUT", "render", "write_all"]
