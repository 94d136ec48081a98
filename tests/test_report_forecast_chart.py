"""The forecast fan of daily demand (flowcap.report.forecast_chart): HTML (plotly) and PNG
(matplotlib)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import check_offline_html, check_readable_png
from flowcap.errors import FlowcapError
from flowcap.report.forecast_chart import forecast_figure, write_forecast_chart


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


def titles(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations]


TITLE = "Northshire forecast"
PANEL_TITLES = ["idva", "isva"]


def write(path):
    return write_forecast_chart(*forecast_tables(), path, TITLE)


def test_html_is_written_offline_with_panel_titles(tmp_path):
    path = write(tmp_path / "out" / "forecast.html")
    assert path == tmp_path / "out" / "forecast.html"
    check_offline_html(path, TITLE, PANEL_TITLES)


def test_png_is_a_readable_image(tmp_path):
    check_readable_png(write(tmp_path / "deeper" / "forecast.PNG"))


@pytest.mark.parametrize("name", ["chart.pdf", "chart.svg", "chart", "chart.html.txt"])
def test_unsupported_suffix_is_refused(tmp_path, name):
    with pytest.raises(FlowcapError, match=r"\.html or \.png"):
        write(tmp_path / name)
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("suffix", [".html", ".png"])
def test_empty_input_is_refused_with_a_clear_message(tmp_path, suffix):
    empty = [table.iloc[0:0] for table in forecast_tables()]
    with pytest.raises(FlowcapError, match="forecast has no rows"):
        write_forecast_chart(*empty, tmp_path / f"empty{suffix}", "t")
    assert not (tmp_path / f"empty{suffix}").exists()


def test_missing_columns_are_named():
    history, forecast = forecast_tables()
    with pytest.raises(FlowcapError, match="forecast lacks column.*hi95"):
        forecast_figure(history, forecast.drop(columns="hi95"), "t")


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


def test_subtitle_says_closed_days_are_left_out_only_when_some_were():
    """The subtitle said closed days were left out even for a seven-day service (issue 10,
    item 11)."""
    history, forecast = forecast_tables(history_days=120)
    open_every_day = forecast_figure(history, forecast, "t", history_days=120)
    assert "left out" not in open_every_day.layout.title.subtitle.text
    assert "Demand, minutes per day" in open_every_day.layout.title.subtitle.text
    history.loc[history["date"].dt.dayofweek >= 5, "demand_minutes"] = 0.0
    weekend = forecast["date"].dt.dayofweek >= 5
    forecast.loc[weekend, ["demand_minutes", "lo80", "hi80", "lo95", "hi95"]] = [2.0, 0, 5, 0, 9]
    closed_weekends = forecast_figure(history, forecast, "t", history_days=120)
    assert "Days the service is closed are left out" in closed_weekends.layout.title.subtitle.text
