"""Variation: descriptive statistics, distributions, seasonality, holidays and SPC."""
