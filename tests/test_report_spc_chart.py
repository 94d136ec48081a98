"""The XmR charts of demand, activity and backlog (flowcap.report.spc_chart): HTML (plotly)
and PNG (matplotlib)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import PNG_MAGIC, check_offline_html, check_readable_png
from flowcap.errors import FlowcapError
from flowcap.report.spc_chart import SPECIAL_CAUSE_NAME, spc_figure, write_spc_chart


def spc_points(start: str = "2024-01-01", n: int = 40) -> pd.DataFrame:
    """Two segments (limits recalculated on the 21st working day), with known special causes."""
    dates = pd.bdate_range(start, periods=n)
    half = n // 2
    mean = np.r_[np.full(half, 100.0), np.full(n - half, 150.0)]
    width = np.r_[np.full(half, 30.0), np.full(n - half, 20.0)]
    value = mean + np.where(np.arange(n) % 2 == 0, 5.0, -5.0)
    table = pd.DataFrame(
        {
            "date": dates,
            "value": value,
            "mean": mean,
            "lower_limit": mean - width,
            "upper_limit": mean + width,
            "lower_2sigma": mean - 2 * width / 3,
            "upper_2sigma": mean + 2 * width / 3,
        }
    )
    for rule in ("outside_limits", "shift", "trend", "two_of_three", "special_cause"):
        table[rule] = False
    table["direction"] = ""
    # Point 5 above the upper limit; points 30-35 a falling trend.
    table.loc[5, "value"] = 140.0
    table.loc[5, ["outside_limits", "special_cause"]] = True
    table.loc[5, "direction"] = "high"
    falling = list(range(30, 36))
    table.loc[falling, "value"] = 160.0 - 3 * np.arange(6)
    table.loc[falling, ["trend", "special_cause"]] = True
    table.loc[falling, "direction"] = "low"
    return table


def spc_charts() -> dict[tuple[str, str], pd.DataFrame]:
    return {
        ("idva", "demand"): spc_points(),
        ("idva", "backlog"): spc_points(),
        ("isva", "demand"): spc_points(),
    }


def titles(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations]


TITLE = "Northshire SPC"
PANEL_TITLES = ["idva · demand", "idva · backlog", "isva · demand"]


def write(path):
    return write_spc_chart(spc_charts(), path, TITLE)


def test_html_is_written_offline_with_panel_titles(tmp_path):
    path = write(tmp_path / "out" / "spc.html")
    assert path == tmp_path / "out" / "spc.html"
    check_offline_html(path, TITLE, PANEL_TITLES)


def test_png_is_a_readable_image(tmp_path):
    check_readable_png(write(tmp_path / "deeper" / "spc.PNG"))


def test_labels_add_the_mdc_icons_to_their_panel_titles(tmp_path):
    labels = {("idva", "demand"): "special cause (high)", ("isva", "demand"): "common cause"}
    fig = spc_figure(spc_charts(), TITLE, labels)
    shown = titles(fig)
    assert any(t.startswith("idva · demand") and "[special cause (high)]" in t for t in shown)
    assert any(t.startswith("isva · demand") and "[common cause]" in t for t in shown)
    assert "idva · backlog" in shown  # no label: the title alone
    check_readable_png(write_spc_chart(spc_charts(), tmp_path / "spc.png", TITLE, labels))


@pytest.mark.parametrize("name", ["chart.pdf", "chart.svg", "chart", "chart.html.txt"])
def test_unsupported_suffix_is_refused(tmp_path, name):
    with pytest.raises(FlowcapError, match=r"\.html or \.png"):
        write(tmp_path / name)
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize(
    ("write_empty", "message"),
    [
        (lambda p: write_spc_chart({}, p, "t"), "no series"),
        (lambda p: write_spc_chart({("a", "b"): spc_points().iloc[0:0]}, p, "t"), "no points"),
    ],
)
@pytest.mark.parametrize("suffix", [".html", ".png"])
def test_empty_input_is_refused_with_a_clear_message(tmp_path, write_empty, message, suffix):
    with pytest.raises(FlowcapError, match=message):
        write_empty(tmp_path / f"empty{suffix}")
    assert not (tmp_path / f"empty{suffix}").exists()


def test_missing_columns_are_named():
    with pytest.raises(FlowcapError, match="upper_limit"):
        spc_figure({("a", "b"): spc_points().drop(columns="upper_limit")}, "t")


def test_spc_special_cause_markers_are_exactly_the_flagged_points():
    charts = spc_charts()
    fig = spc_figure(charts, "t")
    assert titles(fig) == ["idva · demand", "idva · backlog", "isva · demand"]
    marks = [t for t in fig.data if t.name == SPECIAL_CAUSE_NAME]
    assert len(marks) == len(charts)
    points = spc_points()
    flagged = points[points["special_cause"]]
    for trace in marks:
        assert list(pd.to_datetime(np.asarray(trace.x))) == list(flagged["date"])
        np.testing.assert_array_equal(np.asarray(trace.y, dtype=float), flagged["value"])
        assert trace.marker.color == "#490092"
        # Outside the limits: a diamond; a falling trend: triangles pointing down.
        assert list(trace.marker.symbol) == ["diamond"] + ["triangle-down"] * 6
        assert trace.customdata[0][0] == "special cause high: outside the limits"
        assert trace.customdata[1][0] == "special cause low: trend"
    values = [t for t in fig.data if t.name == "Value"]
    assert values[0].customdata[0][0] == "common cause"
    assert values[0].customdata[0][1] == "mean 100, limits 70 to 130"


def test_spc_lines_are_flat_per_segment_and_recalculations_are_marked():
    fig = spc_figure({("idva", "demand"): spc_points()}, "t")
    dates = spc_points()["date"]
    mean = next(t for t in fig.data if t.name == "Mean")
    x = pd.to_datetime(np.asarray(mean.x))
    assert list(x) == [dates[0], dates[19], dates[19], dates[20], dates[39], dates[39]]
    np.testing.assert_array_equal(
        np.asarray(mean.y, dtype=float), [100, 100, np.nan, 150, 150, np.nan]
    )
    limits = next(t for t in fig.data if t.name == "Process limits")
    assert limits.line.dash == "dash"
    np.testing.assert_array_equal(
        np.asarray(limits.y, dtype=float)[[0, 3, 6, 9]], [70, 130, 130, 170]
    )
    assert [pd.Timestamp(s.x0) for s in fig.layout.shapes] == [dates[20]]


def test_spc_panel_without_points_is_left_blank(tmp_path):
    charts = {("idva", "demand"): spc_points(), ("isva", "demand"): spc_points().iloc[0:0]}
    fig = spc_figure(charts, "t")
    assert len([t for t in fig.data if t.name == SPECIAL_CAUSE_NAME]) == 2
    assert write_spc_chart(charts, tmp_path / "spc.png", "t").read_bytes()[:8] == PNG_MAGIC


def test_spc_run_chart_segment_has_a_mean_but_no_limits():
    points = spc_points()
    for column in ("lower_limit", "upper_limit", "lower_2sigma", "upper_2sigma"):
        points.loc[20:, column] = np.nan
    fig = spc_figure({("idva", "demand"): points}, "t")
    limits = np.asarray(next(t for t in fig.data if t.name == "Process limits").y, dtype=float)
    assert np.isnan(limits[[3, 4, 9, 10]]).all() and not np.isnan(limits[[0, 1]]).any()
    values = next(t for t in fig.data if t.name == "Value")
    assert values.customdata[25][1] == "mean 150"
