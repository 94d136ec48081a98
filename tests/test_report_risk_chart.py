"""The calendar of bad-day risk (flowcap.report.risk_chart): HTML (plotly) and PNG
(matplotlib)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import check_offline_html, check_readable_png
from flowcap.errors import FlowcapError
from flowcap.report.risk_chart import Calendar, percent, risk_figure, write_risk_calendar


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


TITLE = "Northshire risk"
PANEL_TITLES = ["isva · demand > 1 × capacity", "idva · demand > 1.5 × capacity"]


def write(path):
    return write_risk_calendar(risk_table(), path, TITLE)


def test_html_is_written_offline_with_panel_titles(tmp_path):
    path = write(tmp_path / "out" / "risk.html")
    assert path == tmp_path / "out" / "risk.html"
    check_offline_html(path, TITLE, PANEL_TITLES)


def test_png_is_a_readable_image(tmp_path):
    check_readable_png(write(tmp_path / "deeper" / "risk.PNG"))


@pytest.mark.parametrize("name", ["chart.pdf", "chart.svg", "chart", "chart.html.txt"])
def test_unsupported_suffix_is_refused(tmp_path, name):
    with pytest.raises(FlowcapError, match=r"\.html or \.png"):
        write(tmp_path / name)
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("suffix", [".html", ".png"])
def test_empty_input_is_refused_with_a_clear_message(tmp_path, suffix):
    with pytest.raises(FlowcapError, match="no rows"):
        write_risk_calendar(risk_table().iloc[0:0], tmp_path / f"empty{suffix}", "t")
    assert not (tmp_path / f"empty{suffix}").exists()


def test_missing_columns_are_named():
    with pytest.raises(FlowcapError, match="missing column.*p"):
        risk_figure(risk_table().drop(columns="p"), "t")


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
