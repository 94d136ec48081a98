"""The measures over the days a user asks for (flowcap.measures.measure), on the worked example:
backlog 1,440 minutes at the end of Tue 4 March 2025, then 480 fewer each weekday."""

from __future__ import annotations

from datetime import date

import pytest

import flowcap
from conftest import worked_example
from flowcap.checks import ArgumentError
from flowcap.errors import FlowcapError
from flowcap.measures import measure


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
