"""Panel shapes the three dashboards share: Prometheus time series and stats, and feed tables."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue, Threshold, ThresholdsMode

from aiops.dashboards import datasources
from aiops.dashboards.infinity import InfinityTable

RATE = "$__rate_interval"  # the range Grafana picks for rate() from the scrape interval and the zoom
RANGE = "$__range"  # the dashboard's whole time range


def query(expr: str, legend: str = "__auto", ref_id: str = "A") -> prometheus.Dataquery:
    """A Prometheus range query with its legend."""
    return (prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id)
            .datasource(datasources.prometheus()))


def timeseries_panel(title: str, description: str, *targets: prometheus.Dataquery, unit: str = "short",
                     width: int = 12, height: int = 8) -> timeseries.Panel:
    """Lines over time, legend as a table with the last and max values."""
    panel = (timeseries.Panel().title(title).description(description).datasource(datasources.prometheus())
             .unit(unit).min(0).span(width).height(height).line_width(1).fill_opacity(10)
             .legend(common_builders.VizLegendOptions().display_mode(common.LegendDisplayMode.TABLE)
                     .placement(common.LegendPlacement.BOTTOM).show_legend(True).calcs(["lastNotNull", "max"])))
    for target in targets:
        panel = panel.with_target(target)
    return panel


def stat_panel(title: str, description: str, *targets: prometheus.Dataquery, unit: str = "short",
               width: int = 6, height: int = 5, graph: bool = True,
               colors: tuple[str, ...] = ("blue",), from_one: bool = False) -> stat.Panel:
    """One big number per series (the last value), with a sparkline when `graph`.

    Coloured colors[0] below 1 and colors[1] from 1 on when `from_one` (e.g. red when anything was dead-lettered).
    """
    steps = [Threshold(value=None, color=colors[0])]
    if from_one:
        steps.append(Threshold(value=1, color=colors[1]))
    panel = (stat.Panel().title(title).description(description).datasource(datasources.prometheus())
             .unit(unit).span(width).height(height)
             .graph_mode(common.BigValueGraphMode.AREA if graph else common.BigValueGraphMode.NONE)
             .color_mode(common.BigValueColorMode.VALUE)
             .thresholds(dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
             .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))
    for target in targets:
        panel = panel.with_target(target)
    return panel


def colored_values(colors: dict[str, str]) -> list[DynamicConfigValue]:
    """Override properties that colour a table cell's background by its text (e.g. deny in red)."""
    mapping = {"type": "value",
               "options": {value: {"color": color, "index": i} for i, (value, color) in enumerate(colors.items())}}
    return [DynamicConfigValue(id_val="mappings", value=[mapping]),
            DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-background"})]


def feed_table(title: str, description: str, query: InfinityTable, *, colors: dict[str, dict[str, str]] | None = None,
               sort_by: str | None = None, width: int = 24, height: int = 9) -> table.Panel:
    """A table of the feed's JSON rows (newest first), cells coloured by value where `colors` says."""
    panel = (table.Panel().title(title).description(description).datasource(datasources.feed())
             .with_target(query.datasource(datasources.feed()))
             .span(width).height(height).filterable(True).cell_height(common.TableCellHeight.SM))
    if sort_by:
        panel = panel.sort_by([common_builders.TableSortByFieldState().display_name(sort_by).desc(True)])
    for column, value_colors in (colors or {}).items():
        panel = panel.override_by_name(column, colored_values(value_colors))
    return panel
