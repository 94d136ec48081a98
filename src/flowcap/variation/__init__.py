"""Variation: descriptive statistics, distributions, seasonality, holidays and SPC.

:func:`describe_variation` runs them on a :class:`~flowcap.history.ServiceHistory`.
"""

from flowcap.variation.report import VariationReport, describe_variation

__all__ = ["VariationReport", "describe_variation"]
