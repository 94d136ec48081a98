"""Making Data Count's two summary icons for an XmR chart: variation and assurance.

NHS England's Making Data Count (MDC) programme sums up each chart with two icons
(NHS England, "Making Data Count: strengthening your decisions", 2019/2021, and the MDC SQL
query v2.6, step 4K; NHSRplotthedots' ``ptd_calculate_assurance_type``; research/methods.md
§3.2):

- the **variation icon**, from the *latest point* alone: common cause (grey) when no rule
  flags it; otherwise special cause, high or low (the side of the mean the rule fired on).
  Where the measure has an improvement direction the special cause is *improving* (blue) or
  *concerning* (orange); where it has none, as for referrals and demand, where more is neither
  good nor bad, it is *neither* (purple), high or low. A chart too short for limits (a run
  chart) has no icon.
- the **assurance icon**, only where a target is set and the measure has an improvement
  direction: from where the *latest* process limits sit against the target. Higher is
  better: ``target <= lower limit`` is *consistently passing* (every ordinary point meets
  it), ``target >= upper limit`` *consistently failing*, between the limits *hit and miss*;
  lower is better mirrors it. The limits count as passing/failing when the target sits
  exactly on one, as in the MDC SQL v2.6 (NHSRplotthedots uses strict inequalities).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowcap._json import json_number
from flowcap.variation.spc import SPCResult

#: Improvement directions: more is better, less is better (``None``: neither).
IMPROVEMENTS = ("higher", "lower")

VARIATION_LABELS = {
    "common_cause": "common cause",
    "neither_high": "special cause (high)",
    "neither_low": "special cause (low)",
    "improvement_high": "special cause, improving (high)",
    "improvement_low": "special cause, improving (low)",
    "concern_high": "special cause, concerning (high)",
    "concern_low": "special cause, concerning (low)",
}
ASSURANCE_LABELS = {
    "consistently_passing": "consistently passing",
    "consistently_failing": "consistently failing",
    "hit_and_miss": "hit and miss",
}


def variation_icon(result: SPCResult, improvement: str | None = None) -> str | None:
    """The MDC variation icon of a chart, from its latest point (see the module docstring).

    Returns one of :data:`VARIATION_LABELS`' keys, or ``None`` when the latest point has no
    limits (too few points) or the chart has no points.
    """
    _check_improvement(improvement)
    points = result.points
    if points.empty or np.isnan(float(points["upper_limit"].iat[-1])):
        return None
    direction = str(points["direction"].iat[-1])
    if not bool(points["special_cause"].iat[-1]) or direction not in ("high", "low"):
        return "common_cause"
    if improvement is None:
        return f"neither_{direction}"
    good = (direction == "high") == (improvement == "higher")
    return f"{'improvement' if good else 'concern'}_{direction}"


def assurance_icon(result: SPCResult, target: float | None, improvement: str | None) -> str | None:
    """The MDC assurance icon of a chart against ``target``, from its latest limits.

    ``None`` without a target, without an improvement direction (MDC draws none for
    "neither") or without limits.
    """
    _check_improvement(improvement)
    if target is None or improvement is None or result.points.empty:
        return None
    # the limit as computed, not as shown (a floor at 0 is for the reader, not the process)
    column = "unfloored_lower_limit" if "unfloored_lower_limit" in result.points else "lower_limit"
    lower = float(result.points[column].iat[-1])
    upper = float(result.points["upper_limit"].iat[-1])
    if np.isnan(lower) or np.isnan(upper):
        return None
    if improvement == "lower":  # mirror: a low target is hard, a high one easy
        lower, upper, target = -upper, -lower, -target
    if target <= lower:
        return "consistently_passing"
    if target >= upper:
        return "consistently_failing"
    return "hit_and_miss"


@dataclass(frozen=True)
class Icons:
    """A chart's MDC icons, with the improvement direction and target behind them."""

    variation: str | None
    assurance: str | None
    improvement: str | None = None
    target: float | None = None

    @classmethod
    def of(
        cls, result: SPCResult, improvement: str | None = None, target: float | None = None
    ) -> Icons:
        return cls(
            variation_icon(result, improvement),
            assurance_icon(result, target, improvement),
            improvement,
            target,
        )

    @property
    def label(self) -> str:
        """The icons in words: "special cause (high)", "common cause · hit and miss",
        "no limits (too few points)"."""
        words = [VARIATION_LABELS.get(self.variation or "", "no limits (too few points)")]
        if self.assurance:
            words.append(ASSURANCE_LABELS[self.assurance])
        return " · ".join(words)

    def as_json(self) -> dict:
        return {
            "variation": self.variation,
            "variation_label": VARIATION_LABELS.get(self.variation or ""),
            "assurance": self.assurance,
            "assurance_label": ASSURANCE_LABELS.get(self.assurance or ""),
            "improvement": self.improvement,
            "target": None if self.target is None else json_number(self.target),
        }


def _check_improvement(improvement: str | None) -> None:
    if improvement is not None and improvement not in IMPROVEMENTS:
        raise ValueError(
            f"improvement must be one of {', '.join(IMPROVEMENTS)} or None, not {improvement!r}"
        )
