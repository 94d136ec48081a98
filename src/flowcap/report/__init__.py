"""Charts of the daily measures: demand, capacity, activity and backlog per resource."""

from flowcap.report.chart import measures_figure, measures_png, write_chart

__all__ = ["measures_figure", "measures_png", "write_chart"]
