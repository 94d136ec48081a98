"""Planning from the statistics: how often bad days come, and (later) the capacity to plan for."""

from flowcap.plan.risk import BadDayRisk, bad_day_risk

__all__ = ["BadDayRisk", "bad_day_risk"]
