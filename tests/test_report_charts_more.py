"""The variation, SPC, forecast and risk charts: HTML (plotly) and PNG (matplotlib)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from flowcap.errors import FlowcapError
from flowcap.report.forecast_chart import forecast_figure, write_forecast_chart
from flowcap.report.risk_chart import Calendar, percent, risk_figure, write_risk_calendar
from flowcap.report.spc_chart import SPECIAL_CAUSE_NAME, spc_figure, write_spc_chart
from flowcap.report.variation_chart import variation_figure, write_variation_chart

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


# --------------------------------------------------------------------------- data


def profiles() -> dict[str, pd.DataFrame]:
    """Two office-hours resources: weekday × month values, weekends NaN, one month missing."""
    tables = {}
    for scale, resource in ((1.0, "IDVA"), (3.0, "ISVA")):
        values = scale * (100 * np.arange(7)[:, None] + np.arange(1, 13)[None, :]).astype(float)
        values[5:, :] = np.nan
        tables[resource] = pd.DataFrame(values, index=WEEKDAYS, columns=range(1, 13))
    tables["ISVA"].loc["wed", 8] = np.nan
    return tables


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


def forecast_tables(history_days: int = 400, horizon: int = 28):
    """A seven-day service (no closed days): history, then a forecast with known bands."""
    rng = np.random.default_rng(11)
    frames, ahead = [], []
    last = pd.Timestamp("2024-12-31")
    for resource, level in (("idva", 500.0), ("isva", 900.0)):
        dates = pd.date_range(end=last, periods=history_days)
        frames.append(
            pd.DataFrame(
                {
                    "date": dates,
                    "resource": resource,
                    "demand_minutes": level + 50 * rng.standard_normal(history_days),
                }
            )
        )
        future = pd.date_range(last + pd.Timedelta(days=1), periods=horizon)
        mid = level + 10 * np.arange(horizon)
        ahead.append(pd.DataFrame({
            "date": future, "resource": resource, "demand_minutes": mid,
            "lo80": mid - 60, "hi80": mid + 60, "lo95": mid - 90, "hi95": mid + 90,
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True), pd.concat(ahead, ignore_index=True)


def risk_table() -> pd.DataFrame:
    """Working days of ten weeks, two resources, two ratios, with distinct probabilities."""
    days = pd.bdate_range("2025-01-01", periods=50)
    rng = np.random.default_rng(4)
    frames = []
    for resource in ("isva", "idva"):
        for k in (1.5, 1.0):
            p = rng.uniform(0, 0.4 if k == 1.0 else 0.1, len(days))
            frames.append(pd.DataFrame({"date": days, "resource": resource, "k": k, "p": p}))
    return pd.concat(frames, ignore_index=True)


def titles(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations]


CHART_TITLES = {
    "variation": "Northshire variation",
    "spc": "Northshire SPC",
    "forecast": "Northshire forecast",
    "risk": "Northshire risk",
}
WRITERS = {
    "variation": lambda path: write_variation_chart(profiles(), path, CHART_TITLES["variation"]),
    "spc": lambda path: write_spc_chart(spc_charts(), path, CHART_TITLES["spc"]),
    "forecast": lambda path: write_forecast_chart(
        *forecast_tables(), path, CHART_TITLES["forecast"]
    ),
    "risk": lambda path: write_risk_calendar(risk_table(), path, CHART_TITLES["risk"]),
}
PANEL_TITLES = {
    "variation": ["IDVA", "ISVA"],
    "spc": ["idva · demand", "idva · backlog", "isva · demand"],
    "forecast": ["idva", "isva"],
    "risk": ["isva · demand > 1 × capacity", "idva · demand > 1.5 × capacity"],
}


# --------------------------------------------------------------------------- all charts


@pytest.mark.parametrize("chart", sorted(WRITERS))
def test_html_is_written_offline_with_panel_titles(tmp_path, chart):
    path = WRITERS[chart](tmp_path / "out" / f"{chart}.html")
    assert path == tmp_path / "out" / f"{chart}.html"
    html = path.read_text(encoding="utf-8")
    assert "plotly.js v" in html  # the library is embedded
    assert "<script src=" not in html  # nothing fetched from the internet
    assert CHART_TITLES[chart] in html
    for title in PANEL_TITLES[chart]:
        assert json.dumps(title)[1:-1].replace(">", "\\u003e") in html


@pytest.mark.parametrize("chart", sorted(WRITERS))
def test_png_is_a_readable_image(tmp_path, chart):
    import matplotlib.image

    path = WRITERS[chart](tmp_path / "deeper" / f"{chart}.PNG")
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert 20_000 < len(data) < 3_000_000
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 300 and image.shape[1] > 700
    colours = np.unique((image[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50  # not a blank canvas


@pytest.mark.parametrize("chart", sorted(WRITERS))
@pytest.mark.parametrize("name", ["chart.pdf", "chart.svg", "chart", "chart.html.txt"])
def test_unsupported_suffix_is_refused(tmp_path, chart, name):
    with pytest.raises(FlowcapError, match=r"\.html or \.png"):
        WRITERS[chart](tmp_path / name)
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: write_variation_chart({}, p, "t"), "no resources"),
        (
            lambda p: write_variation_chart({"a": pd.DataFrame(np.nan, WEEKDAYS, range(1, 13))},
                                            p, "t"),
            "every profile is empty",
        ),
        (lambda p: write_spc_chart({}, p, "t"), "no series"),
        (lambda p: write_spc_chart({("a", "b"): spc_points().iloc[0:0]}, p, "t"), "no points"),
        (lambda p: write_forecast_chart(*[t.iloc[0:0] for t in forecast_tables()], p, "t"),
         "forecast has no rows"),
        (lambda p: write_risk_calendar(risk_table().iloc[0:0], p, "t"), "no rows"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("suffix", [".html", ".png"])
def test_empty_input_is_refused_with_a_clear_message(tmp_path, write, message, suffix):
    with pytest.raises(FlowcapError, match=message):
        write(tmp_path / f"empty{suffix}")
    assert not (tmp_path / f"empty{suffix}").exists()


def test_missing_columns_are_named():
    with pytest.raises(FlowcapError, match="upper_limit"):
        spc_figure({("a", "b"): spc_points().drop(columns="upper_limit")}, "t")
    history, forecast = forecast_tables()
    with pytest.raises(FlowcapError, match="forecast lacks column.*hi95"):
        forecast_figure(history, forecast.drop(columns="hi95"), "t")
    with pytest.raises(FlowcapError, match="missing column.*p"):
        risk_figure(risk_table().drop(columns="p"), "t")


# --------------------------------------------------------------------------- variation


def test_variation_heatmap_values_equal_the_tables_in_calendar_order():
    tables = profiles()
    shuffled = {r: t.iloc[::-1, ::-1].rename(columns=str) for r, t in tables.items()}
    fig = variation_figure(shuffled, "t")
    assert titles(fig) == ["IDVA", "ISVA"]
    values = [t for t in fig.data if t.name in tables]
    assert [t.name for t in values] == ["IDVA", "ISVA"]
    for trace in values:
        expected = tables[trace.name].to_numpy()
        np.testing.assert_array_equal(np.asarray(trace.z, dtype=float), expected)
        assert list(trace.y) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        assert list(trace.x)[:3] == ["Jan", "Feb", "Mar"] and len(trace.x) == 12
        # Every cell with a value shows it; the empty ones show nothing.
        text = np.asarray(trace.text)
        assert text[0, 0] == f"{expected[0, 0]:,.0f}" and text[6, 0] == ""
    # The grey layer covers exactly the cells without a value.
    greys = [t for t in fig.data if t.name == "no working days"]
    for grey, trace in zip(greys, values, strict=True):
        z = np.asarray(grey.z, dtype=float)
        assert np.array_equal(~np.isnan(z), np.isnan(np.asarray(trace.z, dtype=float)))


def test_variation_accepts_weekday_names_and_refuses_other_rows():
    table = profiles()["IDVA"].rename(index=lambda d: d.capitalize() + "day")
    fig = variation_figure({"IDVA": table}, "t")
    np.testing.assert_array_equal(np.asarray(fig.data[1].z, dtype=float), profiles()["IDVA"])
    with pytest.raises(FlowcapError, match="weekdays"):
        variation_figure({"IDVA": profiles()["IDVA"].rename(index={"mon": "x"})}, "t")
    with pytest.raises(FlowcapError, match="months"):
        variation_figure({"IDVA": profiles()["IDVA"].rename(columns={12: 13})}, "t")


# --------------------------------------------------------------------------- SPC


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


# --------------------------------------------------------------------------- forecast


def test_forecast_bands_equal_the_intervals_and_history_is_trimmed():
    history, forecast = forecast_tables()
    fig = forecast_figure(history, forecast, "t", history_days=60)
    assert titles(fig) == ["idva", "isva"]
    for row, resource in enumerate(("idva", "isva"), start=1):
        xref = fig.get_subplot(row, 1).xaxis.plotly_name.replace("axis", "")
        traces = [t for t in fig.data if t.xaxis == xref]
        ahead = forecast[forecast["resource"] == resource]
        by_meta = {t.meta: t for t in traces if t.meta}
        assert set(by_meta) == {"lo95", "hi95", "lo80", "hi80"}
        for column, trace in by_meta.items():
            np.testing.assert_allclose(np.asarray(trace.y, dtype=float), ahead[column])
            assert list(pd.to_datetime(np.asarray(trace.x))) == list(ahead["date"])
        assert by_meta["hi95"].fill == "tonexty" and by_meta["hi80"].fill == "tonexty"
        # Each upper bound fills down to its own lower bound, the trace just before it.
        order = [t.meta for t in traces if t.meta]
        assert order == ["lo95", "hi95", "lo80", "hi80"]
        line = next(t for t in traces if t.name == "Forecast")
        np.testing.assert_allclose(np.asarray(line.y, dtype=float), ahead["demand_minutes"])
        past = next(t for t in traces if t.name == "History")
        x = pd.to_datetime(np.asarray(past.x))
        assert len(x) == 60 and x.max() == pd.Timestamp("2024-12-31")


def test_forecast_leaves_out_the_days_the_service_is_closed():
    history, forecast = forecast_tables(history_days=120)
    history.loc[history["date"].dt.dayofweek >= 5, "demand_minutes"] = 0.0
    weekend = forecast["date"].dt.dayofweek >= 5
    forecast.loc[weekend, ["demand_minutes", "lo80", "hi80", "lo95", "hi95"]] = [2.0, 0, 5, 0, 9]
    fig = forecast_figure(history, forecast, "t", history_days=120)
    for trace in fig.data:
        days = pd.to_datetime(np.asarray(trace.x))
        assert (days.dayofweek < 5).all(), trace.name
    line = next(t for t in fig.data if t.name == "Forecast")
    assert len(line.x) == (~weekend[forecast["resource"] == "idva"]).sum()


# --------------------------------------------------------------------------- risk


def test_risk_calendar_cells_equal_p():
    risk = risk_table()
    fig = risk_figure(risk, "t")
    assert [t.split("<br>")[0] for t in titles(fig)] == [
        "<b>isva · demand > 1 × capacity</b>",
        "<b>isva · demand > 1.5 × capacity</b>",
        "<b>idva · demand > 1 × capacity</b>",
        "<b>idva · demand > 1.5 × capacity</b>",
    ]
    blocks = [t for t in fig.data if t.name and "capacity" in t.name]
    assert len(blocks) == 4
    for trace in blocks:
        resource, k = trace.name.split(" · ")[0], float(trace.name.split("> ")[1].split(" ×")[0])
        rows = risk[(risk["resource"] == resource) & (risk["k"] == k)]
        expected = dict(zip(rows["date"].dt.strftime("%Y-%m-%d"), rows["p"], strict=True))
        z, iso = np.asarray(trace.z, dtype=float), np.asarray(trace.customdata, dtype=object)
        assert z.shape == (5, 11)  # Monday to Friday (no weekend values); Wed 1 Jan to Tue 11 Mar
        cells = {d: z[i, j] for (i, j), d in np.ndenumerate(iso) if d}
        assert cells.keys() == expected.keys()
        np.testing.assert_allclose([cells[d] for d in expected], list(expected.values()))
        assert np.isnan(z[iso == ""]).all()
        assert trace.coloraxis == "coloraxis"
        # The five riskiest days carry their rank.
        top = rows.sort_values("p", ascending=False).head(5)
        ranks = np.asarray(trace.text, dtype=object)
        for rank, day in enumerate(top["date"].dt.strftime("%Y-%m-%d"), start=1):
            assert ranks[iso == day][0] == str(rank)
        assert (ranks != "").sum() == 5
    assert fig.layout.coloraxis.cmin == 0 and fig.layout.coloraxis.cmax == 0.5


def test_risk_calendar_grid_and_labels():
    calendar = Calendar(pd.Series(pd.to_datetime(["2025-01-01", "2025-01-05", "2025-01-13"])))
    assert calendar.weeks == 3 and calendar.weekdays == [0, 2, 6]
    rows, cols = calendar.cell(pd.Series(pd.to_datetime(["2025-01-01", "2025-01-13"])))
    assert list(rows) == [1, 0] and list(cols) == [0, 2]
    assert [percent(p) for p in (0.34, 0.025, 0.0004)] == ["34%", "2.5%", "<0.1%"]
    with pytest.raises(FlowcapError, match="0 … 1"):
        risk_figure(risk_table().assign(p=1.5), "t")
