"""The fan of simulated backlogs ahead (flowcap.report.fan_chart)."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import check_offline_html
from flowcap.errors import FlowcapError
from flowcap.report.fan_chart import write_backlog_fan


def fan(days: int = 3) -> pd.DataFrame:
    """Two resources' backlog percentiles (minutes) on ``days`` days."""
    dates = pd.date_range("2026-01-05", periods=days)
    frames = []
    for resource, scale in (("idva", 1.0), ("triage", 0.5)):
        frame = pd.DataFrame({"date": dates, "resource": resource})
        for k, column in enumerate(("p5", "p25", "p50", "p75", "p95")):
            frame[column] = [scale * (100.0 * k + day) for day in range(days)]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_html_has_a_panel_per_resource_and_fetches_nothing(tmp_path):
    path = write_backlog_fan(fan(), tmp_path / "out" / "fan.html", "Backlog ahead", 250.0)
    assert path == tmp_path / "out" / "fan.html"
    check_offline_html(path, "Backlog ahead", ["idva", "triage"])


@pytest.mark.parametrize("suffix", [".html", ".png"])
def test_an_empty_fan_is_refused(tmp_path, suffix):
    with pytest.raises(FlowcapError, match="the simulation has no days"):
        write_backlog_fan(fan(days=0), tmp_path / f"fan{suffix}", "t")
    assert not (tmp_path / f"fan{suffix}").exists()


def test_an_unsupported_suffix_is_refused(tmp_path):
    with pytest.raises(FlowcapError, match=r"\.html or \.png"):
        write_backlog_fan(fan(), tmp_path / "fan.pdf", "t")
    assert not (tmp_path / "fan.pdf").exists()


def _overlapping_date_labels(fig) -> list[tuple[str, str]]:
    """Pairs of neighbouring x tick labels whose drawn boxes overlap, on every panel."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    pairs = []
    for ax in fig.axes:
        labels = [t for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        boxes = [t.get_window_extent(renderer) for t in labels]
        for k in range(1, len(labels)):
            if boxes[k - 1].x1 > boxes[k].x0:
                pairs.append((labels[k - 1].get_text(), labels[k].get_text()))
    return pairs


@pytest.mark.parametrize(("start", "days"), [("2025-10-20", 14), ("2025-10-27", 35)])
def test_png_date_labels_do_not_overlap_at_a_month_end(start, days):
    """Ticks on days 1, 4, … 31 then 1 again put "2025-10-31" on top of "2025-11-01"
    (issue 10, item 11); these two horizons drew overlapping labels."""
    from flowcap.report.fan_chart import fan_png_figure

    table = fan(days)
    table["date"] = pd.Timestamp(start) + (table["date"] - table["date"].min())
    fig = fan_png_figure(table, "Backlog ahead", 250.0)
    assert any(t.get_text() for t in fig.axes[-1].get_xticklabels())
    assert _overlapping_date_labels(fig) == []
