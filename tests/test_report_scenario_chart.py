"""The chart of contingency options, cost against risk (flowcap.report.scenario_chart)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from conftest import PNG_MAGIC, hub
from flowcap.model.scenario import Agency, Scenario
from flowcap.plan.scenarios import compare_scenarios
from flowcap.report.scenario_chart import write_pareto_chart
from flowcap.simulate.build import build_spec

START = date(2025, 3, 3)  # a Monday
HORIZON = 54
END = START + timedelta(days=HORIZON - 1)


@pytest.fixture(scope="module")
def comparison():
    """The test hub's baseline and two agency options, on a few hundred futures."""
    service = hub()
    spec, _ = build_spec(service, None, None, horizon_days=HORIZON, start=START)
    options = [
        Scenario.of(
            f"{n} agency IDVA", Agency(resource="idva", staff=n, day_rate=100, start=START, end=END)
        )
        for n in (1, 2)
    ]
    return compare_scenarios(
        spec, START, service, options, replications=200, seed=7, threshold_minutes=600.0
    )


def test_pareto_chart_writes_html_and_png(comparison, tmp_path):
    html = write_pareto_chart(comparison, tmp_path / "pareto.html", "Options")
    assert "plotly" in html.read_text()[:100_000].lower()
    png = write_pareto_chart(comparison, tmp_path / "pareto.png", "Options")
    assert png.read_bytes()[:8] == PNG_MAGIC
