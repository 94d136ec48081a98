"""The weekday × month heatmap of demand (flowcap.report.variation_chart): HTML (plotly) and
PNG (matplotlib)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import check_offline_html, check_readable_png
from flowcap.errors import FlowcapError
from flowcap.report.variation_chart import (
    NO_DATA_NAME,
    variation_figure,
    write_variation_chart,
)

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def profiles() -> dict[str, pd.DataFrame]:
    """Two office-hours resources: weekday × month values, weekends NaN, one month missing."""
    tables = {}
    for scale, resource in ((1.0, "IDVA"), (3.0, "ISVA")):
        values = scale * (100 * np.arange(7)[:, None] + np.arange(1, 13)[None, :]).astype(float)
        values[5:, :] = np.nan
        tables[resource] = pd.DataFrame(values, index=WEEKDAYS, columns=range(1, 13))
    tables["ISVA"].loc["wed", 8] = np.nan
    return tables


def titles(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations]


TITLE = "Northshire variation"
PANEL_TITLES = ["IDVA", "ISVA"]


def write(path):
    return write_variation_chart(profiles(), path, TITLE)


def test_html_is_written_offline_with_panel_titles(tmp_path):
    path = write(tmp_path / "out" / "variation.html")
    assert path == tmp_path / "out" / "variation.html"
    check_offline_html(path, TITLE, PANEL_TITLES)


def test_png_is_a_readable_image(tmp_path):
    check_readable_png(write(tmp_path / "deeper" / "variation.PNG"))


@pytest.mark.parametrize("name", ["chart.pdf", "chart.svg", "chart", "chart.html.txt"])
def test_unsupported_suffix_is_refused(tmp_path, name):
    with pytest.raises(FlowcapError, match=r"\.html or \.png"):
        write(tmp_path / name)
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize(
    ("write_empty", "message"),
    [
        (lambda p: write_variation_chart({}, p, "t"), "no resources"),
        (
            lambda p: write_variation_chart({"a": pd.DataFrame(np.nan, WEEKDAYS, range(1, 13))},
                                            p, "t"),
            "every profile is empty",
        ),
    ],
)  # fmt: skip
@pytest.mark.parametrize("suffix", [".html", ".png"])
def test_empty_input_is_refused_with_a_clear_message(tmp_path, write_empty, message, suffix):
    with pytest.raises(FlowcapError, match=message):
        write_empty(tmp_path / f"empty{suffix}")
    assert not (tmp_path / f"empty{suffix}").exists()


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
    greys = [t for t in fig.data if t.name == NO_DATA_NAME]
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


def test_cells_without_a_value_are_called_no_data_not_no_working_days():
    """A month missing from the data was labelled "no working days" (issue 10, item 11): a cell
    has no value because no such day was recorded, not because nobody worked."""
    table = profiles()["IDVA"].copy()
    table[8] = np.nan  # no data at all in August
    fig = variation_figure({"IDVA": table}, "t")
    (grey,) = [t for t in fig.data if t.name == NO_DATA_NAME]
    assert NO_DATA_NAME == "no data"
    z = np.asarray(grey.z, dtype=float)
    assert not np.isnan(z[:, 7]).any()  # every August cell is grey
    assert "working" not in grey.hovertemplate and "no days recorded" in grey.hovertemplate
    subtitle = fig.layout.title.subtitle.text
    assert "working days" not in subtitle and "Grey cells: no days recorded" in subtitle
