"""Planning from the statistics: how often bad days come (:mod:`.risk`), the least capacity that
meets a target (:mod:`.capacity`), contingency options costed and compared (:mod:`.scenarios`),
the days ahead simulated with them (:mod:`.outlook`), and the waiting-list formulas
(:mod:`.waitinglist`)."""

from flowcap.plan.outlook import ResourcePlan, SimulationReport, plan_capacity, simulate_ahead
from flowcap.plan.risk import BadDayRisk, RiskReport, assess_risk, bad_day_risk

__all__ = [
    "BadDayRisk",
    "ResourcePlan",
    "RiskReport",
    "SimulationReport",
    "assess_risk",
    "bad_day_risk",
    "plan_capacity",
    "simulate_ahead",
]
