"""The chart of demand, capacity, activity and backlog: HTML (plotly) and PNG (matplotlib)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from flowcap.errors import FlowcapError
from flowcap.report import measures_figure, measures_png, write_chart
from flowcap.report.chart import (
    BANK_HOLIDAY_NAME,
    NON_WORKING_NAME,
    OVER_CAPACITY_NAME,
    SERIES,
    day_runs,
)

START = date(2024, 4, 27)  # a Saturday
N_DAYS = 30  # to Sunday 26 May 2024
HOLIDAY = date(2024, 5, 6)  # Early May bank holiday (Monday)
HOLIDAY_NAME = "Early May bank holiday"
RESOURCES = ["IDVA", "ISVA"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MEASURE_NAMES = [name for _, name, _ in SERIES]


def synthetic_table(n_days: int = N_DAYS, backlog_scale: float = 1.0) -> pd.DataFrame:
    """Two resources, weekends and one bank holiday off; simple queue arithmetic."""
    days = [START + timedelta(days=i) for i in range(n_days)]
    holiday = [HOLIDAY_NAME if d == HOLIDAY else "" for d in days]
    working = np.array([d.weekday() < 5 and not h for d, h in zip(days, holiday, strict=True)])
    rng = np.random.default_rng(7)
    frames = []
    for k, resource in enumerate(RESOURCES):
        capacity = np.where(working, 480.0 * (k + 1), 0.0)
        demand = rng.integers(100, 600 * (k + 1), n_days).astype(float)
        activity = np.zeros(n_days)
        backlog = np.zeros(n_days)
        opening = np.zeros(n_days)
        waiting = 200.0
        for i in range(n_days):
            opening[i] = waiting
            activity[i] = min(capacity[i], waiting + demand[i])
            waiting = waiting + demand[i] - activity[i]
            backlog[i] = waiting
        frames.append(
            pd.DataFrame(
                {
                    "date": pd.to_datetime(days),
                    "resource": resource,
                    "demand_minutes": demand,
                    "capacity_minutes": capacity,
                    "activity_minutes": activity,
                    "opening_backlog_minutes": opening * backlog_scale,
                    "backlog_minutes": backlog * backlog_scale,
                    "demand_cases": (demand // 60).astype(int),
                    "activity_cases": (activity // 60).astype(int),
                    "backlog_cases": (backlog // 60).astype(int),
                    "is_working_day": working,
                    "bank_holiday": holiday,
                    "activity_exceeds_capacity": False,
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values(["date", "resource"], kind="stable").reset_index(drop=True)


def expected_non_working_runs() -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Runs of consecutive non-working days, worked out by hand: (first day, day after last)."""
    runs = [
        (date(2024, 4, 27), date(2024, 4, 29)),
        (date(2024, 5, 4), date(2024, 5, 7)),  # weekend + bank holiday Monday merged
        (date(2024, 5, 11), date(2024, 5, 13)),
        (date(2024, 5, 18), date(2024, 5, 20)),
        (date(2024, 5, 25), date(2024, 5, 27)),  # the period ends on Sunday 26th
    ]
    return [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in runs]


def subplot_axes(fig, row: int) -> tuple[str, str]:
    subplot = fig.get_subplot(row, 1)
    return (
        subplot.xaxis.plotly_name.replace("axis", ""),
        subplot.yaxis.plotly_name.replace("axis", ""),
    )


def traces_in_row(fig, row: int) -> list:
    xref, _ = subplot_axes(fig, row)
    return [t for t in fig.data if t.xaxis == xref]


def test_day_runs_merges_consecutive_days():
    dates = pd.date_range("2024-01-01", periods=10, freq="D")
    flag = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1, 0], dtype=bool)
    runs = [(b.start, b.end) for b in day_runs(dates, flag)]
    assert runs == [
        (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-03")),
        (pd.Timestamp("2024-01-04"), pd.Timestamp("2024-01-05")),
        (pd.Timestamp("2024-01-07"), pd.Timestamp("2024-01-10")),
    ]
    assert day_runs(dates, np.zeros(10, dtype=bool)) == []


def test_figure_has_four_measures_per_resource_with_table_values():
    table = synthetic_table()
    fig = measures_figure(table, "Northshire Victim Support")
    assert fig.layout.title.text == "Northshire Victim Support"
    assert [a.text for a in fig.layout.annotations[:2]] == RESOURCES
    assert len(fig.data) == 4 * len(RESOURCES)
    for row, resource in enumerate(RESOURCES, start=1):
        rows = table[table["resource"] == resource].sort_values("date")
        traces = traces_in_row(fig, row)
        assert [t.name for t in traces] == MEASURE_NAMES
        for trace, (column, _, _) in zip(traces, SERIES, strict=True):
            np.testing.assert_allclose(np.asarray(trace.y, dtype=float), rows[column].to_numpy())
            # Each day is plotted at noon, in the middle of its band.
            x = pd.to_datetime(np.asarray(trace.x))
            assert list(x) == list(rows["date"] + pd.Timedelta(hours=12))
        assert traces[1].line.shape == "hvh"  # capacity: a step changing at midnight
        # The legend lists each measure once.
        assert [t.showlegend for t in traces] == [row == 1] * 4
    legend_groups = {t.legendgroup for t in fig.data}
    assert legend_groups == set(MEASURE_NAMES)


def test_the_range_buttons_and_the_legend_keep_clear_of_the_titles():
    """In pixels from the top: the title and subtitle (to about 70 px), the range buttons'
    row ending 40 px above the plot (about 22 px tall), the first panel's name in the 25 px
    above the plot; the legend under it. They overlapped when placed in fractions of the
    plot's height (the dashboard's chart, issue #11)."""
    fig = measures_figure(synthetic_table(), "Northshire Victim Support")
    layout = fig.layout
    top, height = layout.margin.t, layout.height
    plot_height = height - top - layout.margin.b
    buttons_bottom = top - (layout.xaxis.rangeselector.y - 1) * plot_height
    assert layout.xaxis.rangeselector.yanchor == "bottom"
    assert 70 + 22 <= buttons_bottom <= top - 25
    assert layout.title.yref == "container" and layout.title.yanchor == "top"
    assert (1 - layout.title.y) * height <= 15  # the title at the very top
    assert layout.legend.y < 0 and layout.legend.yanchor == "top"  # under the plot


def test_non_working_days_are_shaded_as_merged_runs():
    table = synthetic_table()
    fig = measures_figure(table, "t")
    expected = expected_non_working_runs()
    for row in (1, 2):
        xref, yref = subplot_axes(fig, row)
        bands = [s for s in fig.layout.shapes if s.xref == xref and s.name == NON_WORKING_NAME]
        assert [(pd.Timestamp(s.x0), pd.Timestamp(s.x1)) for s in bands] == expected
        assert all(s.yref == f"{yref} domain" and (s.y0, s.y1) == (0, 1) for s in bands)
        holidays = [s for s in fig.layout.shapes if s.xref == xref and s.name == BANK_HOLIDAY_NAME]
        assert [(pd.Timestamp(s.x0), pd.Timestamp(s.x1)) for s in holidays] == [
            (pd.Timestamp(HOLIDAY), pd.Timestamp(HOLIDAY) + pd.Timedelta(days=1))
        ]
    assert len(fig.layout.shapes) == 2 * (len(expected) + 1)


def test_hover_names_the_bank_holiday_and_non_working_days():
    table = synthetic_table()
    fig = measures_figure(table, "t")
    demand = traces_in_row(fig, 1)[0]
    notes = list(demand.customdata)
    days = list(table[table["resource"] == "IDVA"]["date"].dt.date)
    assert notes[days.index(HOLIDAY)] == f"bank holiday: {HOLIDAY_NAME}"
    assert notes[days.index(date(2024, 4, 27))] == "non-working day"
    assert notes[days.index(date(2024, 4, 29))] == ""
    assert "%{customdata}" in demand.hovertemplate
    assert fig.layout.hovermode == "x unified"


def test_activity_above_capacity_is_marked():
    table = synthetic_table()
    flagged = (table["resource"] == "ISVA") & (table["date"] == pd.Timestamp("2024-05-08"))
    table.loc[flagged, "activity_minutes"] = 1200.0
    table.loc[flagged, "activity_exceeds_capacity"] = True
    fig = measures_figure(table, "t")
    marks = [t for t in fig.data if t.name == OVER_CAPACITY_NAME]
    assert len(marks) == 1
    xref, _ = subplot_axes(fig, 2)
    assert marks[0].xaxis == xref
    assert list(pd.to_datetime(np.asarray(marks[0].x))) == [pd.Timestamp("2024-05-08 12:00")]
    assert list(marks[0].y) == [1200.0]


def test_backlog_moves_to_its_own_axis_only_when_it_dwarfs_the_flows():
    small = measures_figure(synthetic_table(), "t")
    for row in (1, 2):
        traces = traces_in_row(small, row)
        assert len({t.yaxis for t in traces}) == 1
    large = measures_figure(synthetic_table(backlog_scale=100.0), "t")
    for row in (1, 2):
        traces = traces_in_row(large, row)
        _, yref = subplot_axes(large, row)
        assert [t.yaxis == yref for t in traces] == [True, True, True, False]


def test_html_is_written_offline_with_trace_names(tmp_path):
    table = synthetic_table()
    path = write_chart(table, tmp_path / "out" / "chart.html", "Northshire Victim Support")
    assert path == tmp_path / "out" / "chart.html"
    html = path.read_text(encoding="utf-8")
    assert "plotly.js v" in html  # the library itself is embedded
    assert "<script src=" not in html  # nothing fetched from the internet
    assert len(html) > 1_000_000
    for name in MEASURE_NAMES:
        assert f'"name":"{name}"' in html
    assert "Northshire Victim Support" in html
    assert HOLIDAY_NAME in html


def test_png_is_a_readable_image(tmp_path):
    import matplotlib.image

    table = synthetic_table()
    path = write_chart(table, tmp_path / "deeper" / "chart.png", "Northshire Victim Support")
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert 20_000 < len(data) < 2_000_000
    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    assert (width, height) == (1430, round((1.3 + 2.9 * len(RESOURCES)) * 110))
    # Not a blank canvas: many distinct colours are drawn.
    colours = np.unique((image[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50


def test_png_of_a_long_series_with_rolling_means_and_dpi(tmp_path):
    import matplotlib.image

    table = synthetic_table(n_days=400, backlog_scale=50.0)
    table.loc[5, "activity_exceeds_capacity"] = True
    path = measures_png(table, "Two years", tmp_path / "long.png", dpi=60)
    assert path.read_bytes()[:8] == PNG_MAGIC
    height, width = matplotlib.image.imread(path).shape[:2]
    assert width == 13 * 60


@pytest.mark.parametrize("name", ["chart.pdf", "chart.svg", "chart", "chart.html.txt"])
def test_unsupported_suffix_is_refused(tmp_path, name):
    with pytest.raises(FlowcapError, match=r"\.html or \.png"):
        write_chart(synthetic_table(), tmp_path / name, "t")
    assert not (tmp_path / name).exists()


def test_suffix_is_case_insensitive(tmp_path):
    path = write_chart(synthetic_table(), tmp_path / "CHART.PNG", "t")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_unchartable_tables_are_refused(tmp_path):
    table = synthetic_table()
    with pytest.raises(FlowcapError, match="backlog_minutes"):
        measures_figure(table.drop(columns="backlog_minutes"), "t")
    with pytest.raises(FlowcapError, match="no rows"):
        write_chart(table.iloc[0:0], tmp_path / "empty.png", "t")


def test_png_weekly_mean_is_trailing_so_the_last_week_does_not_jump():
    """A centred mean with partial windows at the edge averaged only the last working days, so
    capacity seemed to jump from 343 to 480 minutes in the final week (issue 10, item 3)."""
    from flowcap.report.chart import ROLLING_DAYS, ROLLING_FROM_DAYS, measures_png_figure

    n_days = 133  # Saturday 27 April to Friday 6 September 2024: the series ends on a Friday
    assert n_days > ROLLING_FROM_DAYS and ROLLING_DAYS == 7
    table = synthetic_table(n_days=n_days)
    fig = measures_png_figure(table, "t", dpi=40)
    idva = fig.axes[0]
    (capacity_mean,) = [
        line for line in idva.get_lines() if line.get_gid() == "capacity_minutes mean"
    ]
    y = np.asarray(capacity_mean.get_ydata(), dtype=float)
    # No mean until a full week is in the window: the first six days are left out.
    assert np.isnan(y[:6]).all() and not np.isnan(y[6:]).any()
    # The last week holds five 480-minute working days and a weekend: 5 × 480 / 7 minutes a
    # day, not the 480 of a window cut short at the edge.
    np.testing.assert_allclose(y[-1], 5 * 480 / 7)
    # Each mean is of the seven days ending on that day.
    capacity = table[table["resource"] == "IDVA"]["capacity_minutes"].to_numpy(float)
    np.testing.assert_allclose(y[40], capacity[34:41].mean())
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert "Capacity, 7-day trailing mean" in labels
    assert "Demand, 7-day trailing mean" in labels
