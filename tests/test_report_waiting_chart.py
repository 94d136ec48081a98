"""The waiting list over time (flowcap.report.waiting_chart): stacked age bands per resource."""

from __future__ import annotations

import pandas as pd
import pytest

from flowcap.errors import FlowcapError
from flowcap.measures.waiting import BAND_COLUMNS
from flowcap.report.waiting_chart import waiting_figure, write_waiting_chart


def profile() -> pd.DataFrame:
    dates = pd.date_range("2025-03-03", periods=3)
    rows = []
    for resource, base in (("triage", 1), ("idva", 10)):
        for i, day in enumerate(dates):
            rows.append(
                {"date": day, "resource": resource}
                | {column: base * (i + 1) * (b + 1) for b, column in enumerate(BAND_COLUMNS)}
            )
    return pd.DataFrame(rows)


def test_each_resource_stacks_its_bands_in_age_order():
    fig = waiting_figure(profile(), "t")
    assert len(fig.data) == 2 * len(BAND_COLUMNS)
    idva = [trace for trace in fig.data if trace.stackgroup == "r2"]
    assert [trace.name for trace in idva][0] == "0-2 working days"
    assert [trace.name for trace in idva][-1] == "over 20 working days"
    assert list(idva[-1].y) == [50, 100, 150]  # over 20: 10 × day × 5
    assert sum(trace.showlegend for trace in fig.data) == len(BAND_COLUMNS)  # one legend
    # No edge lines: the empty top band's edge would trace the total in the oldest colour.
    assert all(trace.line.width == 0 for trace in fig.data)


@pytest.mark.parametrize("suffix", [".html", ".png"])
def test_it_writes_html_and_png(tmp_path, suffix):
    path = write_waiting_chart(profile(), tmp_path / f"waiting{suffix}", "Waiting")
    assert path.stat().st_size > 5000


def test_no_days_is_an_error():
    with pytest.raises(FlowcapError, match="no days"):
        write_waiting_chart(profile().iloc[0:0], "x.html", "t")
