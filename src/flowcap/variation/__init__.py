"""Variation: descriptive statistics, distributions, seasonality, holidays and SPC.

:func:`describe_variation` runs them on a :class:`~flowcap.history.ServiceHistory`.
"""

__all__ = ["VariationReport", "describe_variation"]


def __getattr__(name: str):
    """The report on first use: it imports SciPy, which ``flowcap plan`` does not need."""
    if name in __all__:
        from flowcap.variation import report

        return getattr(report, name)
    raise AttributeError(name)
