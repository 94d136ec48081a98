"""The steps a user runs on a service folder, end to end.

Each is a plain function, so the CLI, a notebook and (later) the web app call the same code:
:mod:`~flowcap.workflow.data` (check, import, measure, erase),
:mod:`~flowcap.workflow.analysis` (variation, forecast, risk) and
:mod:`~flowcap.workflow.simulation` (simulate, plan) and
:mod:`~flowcap.workflow.pathway` (des, calibrate).
"""

from flowcap.workflow.analysis import (
    ForecastReport,
    RiskReport,
    VariationReport,
    capacity_ahead,
    forecast_folder,
    risk_folder,
    variation_folder,
)
from flowcap.workflow.data import (
    Progress,
    erase_case,
    import_folder,
    init_folder,
    measure_folder,
    process_map_of,
    validate_folder,
)
from flowcap.workflow.pathway import CalibrationReport, PathwayReport, calibrate_log, des_folder
from flowcap.workflow.simulation import SimulationReport, plan_folder, simulate_folder

__all__ = [
    "CalibrationReport",
    "ForecastReport",
    "PathwayReport",
    "Progress",
    "RiskReport",
    "SimulationReport",
    "VariationReport",
    "calibrate_log",
    "capacity_ahead",
    "des_folder",
    "erase_case",
    "forecast_folder",
    "import_folder",
    "init_folder",
    "measure_folder",
    "plan_folder",
    "process_map_of",
    "risk_folder",
    "simulate_folder",
    "validate_folder",
    "variation_folder",
]
