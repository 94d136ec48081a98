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


# --- without Graphviz: the HTML map drawn by flowcap's own layered layout ---------------------

SVG_NS = "{http://www.w3.org/2000/svg}"


def _svg_of(page: str):
    """The page's map as an XML tree (the ``<svg>`` element parsed on its own)."""
    from xml.etree import ElementTree

    return ElementTree.fromstring(page[page.index("<svg") : page.index("</svg>") + len("</svg>")])


def _node_boxes(svg) -> dict[str, tuple[float, float, float, float]]:
    """Each node's box (left, top, right, bottom), by the node's title (its tooltip)."""
    boxes = {}
    for group in svg.iter(f"{SVG_NS}g"):
        if group.get("class") != "node":
            continue
        title = group.find(f"{SVG_NS}title").text
        rect = group.find(f"{SVG_NS}rect")
        if rect is not None:
            x, y = float(rect.get("x")), float(rect.get("y"))
            box = (x, y, x + float(rect.get("width")), y + float(rect.get("height")))
        else:
            circle = group.find(f"{SVG_NS}circle")
            cx, cy, r = (float(circle.get(a)) for a in ("cx", "cy", "r"))
            box = (cx - r, cy - r, cx + r, cy + r)
        boxes[title] = box
    return boxes


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_html_without_graphviz_is_drawn_by_a_layered_layout(tmp_path, monkeypatch, sepsis_events):
    """With no `dot` on the PATH the HTML map used to fail (issue 10, item 10): it is now drawn
    by flowcap's own layered layout, offline, with the same tables."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    pmap = process_map(sepsis_events)
    page = write_process_map(pmap, tmp_path / "map.html", "Sepsis <pathway>").read_text()
    assert "Sepsis &lt;pathway&gt;" in page and "Bottlenecks" in page
    assert "<script src" not in page and "http://" not in page.split("<svg", 1)[0]
    assert "Graphviz was not found" in page
    svg = _svg_of(page)
    left, top, width, height = (float(v) for v in svg.get("viewBox").split())
    shown = pmap.filtered(top_edges=30, keep_bottlenecks=3)
    boxes = _node_boxes(svg)
    names = set(shown.edges["from"]) | set(shown.edges["to"])
    assert len(boxes) == len(names)
    activities = [name for name in names if name not in ("__start__", "__end__")]
    assert all(any(t.startswith(f"{name}:") for t in boxes) for name in activities)
    for box in boxes.values():  # inside the picture
        assert (
            left <= box[0] and box[2] <= left + width and top <= box[1] and box[3] <= top + height
        )
    listed = list(boxes.values())
    assert not [(a, b) for i, a in enumerate(listed) for b in listed[i + 1 :] if _overlap(a, b)]
    edges = [g for g in svg.iter(f"{SVG_NS}g") if g.get("class") == "edge"]
    assert len(edges) == len(shown.edges)
    vermillion = [g for g in edges if g.find(f"{SVG_NS}path").get("stroke") == "#D55E00"]
    assert len(vermillion) == 3  # the top three bottlenecks


def test_layered_layout_draws_loops_and_back_edges(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    events = event_frame(
        [
            ("c1", "Referral", "2024-01-01 09:00"),
            ("c1", "Assess", "2024-01-01 10:00"),
            ("c1", "Assess", "2024-01-02 10:00"),  # a self-loop
            ("c1", "Plan", "2024-01-03 10:00"),
            ("c1", "Assess", "2024-01-04 10:00"),  # back: Plan → Assess
            ("c1", "Close", "2024-01-05 10:00"),
            ("c2", "Referral", "2024-01-01 09:00"),
            ("c2", "Close", "2024-01-02 09:00"),
        ]
    )
    pmap = process_map(events)
    svg = _svg_of(write_process_map(pmap, tmp_path / "map.html", "Loops").read_text())
    boxes = _node_boxes(svg)
    assert len(boxes) == 6  # start, four activities, end
    edges = [g for g in svg.iter(f"{SVG_NS}g") if g.get("class") == "edge"]
    assert len(edges) == len(pmap.edges)
    titles = [g.find(f"{SVG_NS}title").text for g in edges]
    assert any(t.startswith("Assess → Assess") for t in titles)
    assert any(t.startswith("Plan → Assess") for t in titles)
    # Start at the top, end at the bottom.
    start = next(b for t, b in boxes.items() if t.startswith("start"))
    end = next(b for t, b in boxes.items() if t.startswith("end"))
    assert all(start[1] <= b[1] and b[3] <= end[3] for b in boxes.values())


@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_svg_and_png_without_graphviz_say_how_to_install_it(tmp_path, monkeypatch, suffix):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    events = event_frame([("c1", "A", "2024-01-01 09:00"), ("c1", "B", "2024-01-01 10:00")])
    with pytest.raises(FlowcapError) as caught:
        write_process_map(process_map(events), tmp_path / f"map{suffix}", "t")
    message = str(caught.value)
    assert "Graphviz" in message and "apt-get install graphviz" in message
    assert "scripts/test.sh" in message and ".html" in message  # and what works without it
    assert not (tmp_path / f"map{suffix}").exists()
