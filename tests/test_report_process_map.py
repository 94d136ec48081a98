"""Drawing the process map (flowcap.report.process_map): DOT, SVG, PNG and HTML.

The real logs (../shared/data/real) are required. Drawing needs Graphviz's ``dot``; its tests
skip without it, except under ``CI=true``, where scripts/test.sh installs it and they fail.
"""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

from conftest import event_frame, read_receipt_events, read_sepsis_events
from flowcap.errors import FlowcapError
from flowcap.processmap import process_map
from flowcap.report.process_map import format_hours, to_dot, write_process_map


@pytest.fixture
def dot() -> None:
    """Graphviz's dot: skip without it, but fail under CI=true (scripts/test.sh installs it)."""
    if shutil.which("dot") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but Graphviz's dot is not installed: run scripts/test.sh")
        pytest.skip("Graphviz dot not installed (Debian: apt-get install graphviz)")


@pytest.fixture(scope="module")
def receipt_events() -> pd.DataFrame:
    return read_receipt_events()


@pytest.fixture(scope="module")
def sepsis_events() -> pd.DataFrame:
    return read_sepsis_events()


def test_format_hours_is_readable():
    assert format_hours(None) == "–"
    assert format_hours(float("nan")) == "–"
    assert format_hours(0.0) == "0 min"
    assert format_hours(0.001) == "< 1 min"
    assert format_hours(0.5) == "30 min"
    assert format_hours(5.25) == "5.2 h"
    assert format_hours(72) == "3.0 d"
    assert format_hours(24 * 250) == "250 d"


def test_dot_escapes_labels():
    events = event_frame(
        [
            ('c"1', 'Say "hi"\\now', "2024-01-01 09:00"),
            ('c"1', "B <&> C", "2024-01-01 10:00"),
        ]
    )
    text = to_dot(process_map(events), 'A "quoted" <title>')
    assert 'Say \\"hi\\"\\\\now' in text
    assert "&lt;title&gt;" in text


def test_write_svg_png_html(tmp_path, sepsis_events, dot):
    pmap = process_map(sepsis_events)
    svg = write_process_map(pmap, tmp_path / "map.svg", "Sepsis")
    assert "<svg" in svg.read_text() and "waiting plus service" in svg.read_text()
    assert "the log has no start events" in svg.read_text()
    png = write_process_map(pmap, tmp_path / "map.png", "Sepsis")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = write_process_map(pmap, tmp_path / "map.html", "Sepsis <pathway>").read_text()
    assert "<svg" in page and "Sepsis &lt;pathway&gt;" in page
    assert "http://" not in page.split("<svg", 1)[0]  # nothing fetched: self-contained
    assert "Bottlenecks" in page
    with pytest.raises(FlowcapError, match="must name a file ending in"):
        write_process_map(pmap, tmp_path / "map.pdf", "Sepsis")


def test_missing_dot_gives_an_install_hint(tmp_path, monkeypatch, receipt_events):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(FlowcapError, match="apt-get install graphviz"):
        write_process_map(process_map(receipt_events), tmp_path / "map.svg", "Receipt")


def test_write_with_top_variants(tmp_path, receipt_events, dot):
    pmap = process_map(receipt_events)
    svg = write_process_map(pmap, tmp_path / "map.svg", "Receipt", top_variants=1).read_text()
    assert "most common variant" in svg
    with pytest.raises(FlowcapError, match="top_variants must be at least 1"):
        write_process_map(pmap, tmp_path / "map.svg", "Receipt", top_variants=0)
