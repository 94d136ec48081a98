"""Pictures: each as interactive HTML (Plotly, offline) or PNG (matplotlib), by file suffix."""

from flowcap.report.chart import measures_figure, measures_png, write_chart
from flowcap.report.forecast_chart import write_forecast_chart
from flowcap.report.process_map import write_process_map
from flowcap.report.risk_chart import write_risk_calendar
from flowcap.report.spc_chart import write_spc_chart
from flowcap.report.variation_chart import write_variation_chart

__all__ = [
    "measures_figure",
    "measures_png",
    "write_chart",
    "write_forecast_chart",
    "write_process_map",
    "write_risk_calendar",
    "write_spc_chart",
    "write_variation_chart",
]
