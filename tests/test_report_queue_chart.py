"""Queue lengths hour by hour in the pathway simulation (flowcap.report.queue_chart)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from flowcap.errors import FlowcapError
from flowcap.report.queue_chart import queue_table, write_queue_chart


def test_the_table_has_the_mean_and_90th_percentile_over_runs_per_step_and_hour():
    # 10 runs, 2 steps, 3 hours: in run k step "call" has k cases waiting every hour,
    # step "visit" twice that.
    runs = np.arange(10, dtype=float)[:, None, None]
    hourly = np.concatenate([np.repeat(runs, 3, axis=2), np.repeat(2 * runs, 3, axis=2)], axis=1)
    table = queue_table(("call", "visit"), hourly, date(2026, 1, 5), warmup_hours=24)
    assert list(table.columns) == ["time", "step", "mean", "p90"]
    assert table["step"].tolist() == ["call"] * 3 + ["visit"] * 3
    # The first hour observed is the one after the warm-up: Tuesday 6 January, midnight.
    assert table["time"].tolist()[:3] == list(pd.date_range("2026-01-06", periods=3, freq="h"))
    assert table["mean"].tolist() == [4.5] * 3 + [9.0] * 3
    # Linear interpolation between the 9th and 10th of 10 sorted values: 8 + 0.1 × (9 − 8).
    assert table["p90"].to_numpy() == pytest.approx([8.1] * 3 + [16.2] * 3)


def test_no_hourly_queue_lengths_are_refused(tmp_path):
    empty = queue_table(("call",), np.zeros((2, 1, 0)), date(2026, 1, 5), warmup_hours=0)
    with pytest.raises(FlowcapError, match="kept no hourly queue lengths"):
        write_queue_chart(empty, tmp_path / "queues.html", "t")
