"""The measures over the days a user asks for (flowcap.measures.measure), on the worked example:
backlog 1,440 minutes at the end of Tue 4 March 2025, then 480 fewer each weekday."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import flowcap
from conftest import worked_example
from flowcap.checks import ArgumentError
from flowcap.errors import FlowcapError
from flowcap.measures import daily_measures, measure

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "victim-support"


def test_a_window_after_the_data_shows_the_backlog_worked_off(tmp_path):
    history = flowcap.open(worked_example(tmp_path / "svc"))
    table = measure(history, date(2025, 3, 5), date(2025, 3, 7)).table
    assert table["date"].dt.day.tolist() == [5, 6, 7]
    assert table["backlog_minutes"].tolist() == [960, 480, 0]  # counted from the first day
    whole = measure(history).table  # the data's own days: Tuesday only
    assert whole["date"].dt.day.tolist() == [4] and whole["backlog_minutes"].tolist() == [1440]


def test_windows_that_cannot_be_measured_are_refused(tmp_path):
    history = flowcap.open(worked_example(tmp_path / "svc"))
    with pytest.raises(ArgumentError, match="is after the last day asked for"):
        measure(history, date(2025, 3, 6), date(2025, 3, 5))
    with pytest.raises(FlowcapError, match="no days from 2025-03-10"):
        measure(history, start=date(2025, 3, 10))


def test_with_recorded_sessions_the_window_stops_at_the_data(tmp_path):
    folder = worked_example(tmp_path / "svc")
    (folder / "sessions.csv").write_text("date,case_id,resource,minutes\n2025-03-04,R01,idva,60\n")
    history = flowcap.open(folder)
    with pytest.raises(ArgumentError, match=r"after the last recorded data \(2025-03-04\)"):
        measure(history, end=date(2025, 3, 6))


def test_a_window_inside_the_data_is_a_cut_of_the_whole_measures():
    """Measured again up to its last day, a window inside the data gives the same document as
    the whole history's measures cut to it (every measure counts from the first referral), so
    the window reuses them instead of measuring the history again."""
    history = flowcap.open(EXAMPLE)
    whole = measure(history)
    first, last = whole.period
    start, end = (first + pd.Timedelta(days=200)).date(), (last - pd.Timedelta(days=30)).date()
    cut = measure(history, start, end)
    assert cut.casework is whole.casework  # no second measuring
    again = daily_measures(history.service, history.tables, until=end)
    remeasured = replace(again, table=again.between(start, end))
    assert cut.as_json() == remeasured.as_json()
    assert cut.waiting_list().equals(remeasured.waiting_list())
    assert cut.first_contact_counts() == remeasured.first_contact_counts()
    assert cut.step_targets().as_json() == remeasured.step_targets().as_json()
    assert cut.caseloads().as_json() == remeasured.caseloads().as_json()
    assert cut.table["date"].min().date() == start and cut.table["date"].max().date() == end
