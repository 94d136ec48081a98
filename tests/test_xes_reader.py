"""The streaming XES reader against two references: a whole-tree reading of odd but
well-formed logs (lxml, the parser flowcap used before) and pm4py's reading of a real log;
and the limits that keep a hostile file from costing memory or time."""

from __future__ import annotations

import gzip
import os
import tempfile
import warnings
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from flowcap.errors import InputError
from flowcap.io import xes
from flowcap.io.xes import read_xes
from fuzz_profiles import fuzz_settings

SHARED = Path(__file__).resolve().parents[2] / "shared"
RECEIPT = SHARED / "data" / "real" / "receipt.xes.gz"
KEYS = ("concept:name", "time:timestamp", "org:resource", "lifecycle:transition")


def _local(element) -> str:
    return etree.QName(element).localname


def tree_reading(raw: bytes) -> pd.DataFrame:
    """The reader's documented semantics, computed on a whole lxml tree: an event is any
    ``event`` element, its attributes its direct children with a ``key`` (the last wins),
    a trace's case id its first direct child keyed ``concept:name``; events are given the
    case of the next trace to end (so those after the last trace are dropped)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(raw, parser)
    rows, pending, traces = [], [], 0
    for _, element in etree.iterwalk(root, events=("end",)):
        if not isinstance(element.tag, str) or _local(element) not in ("event", "trace"):
            continue
        attributes = [
            child
            for child in element
            if isinstance(child.tag, str) and _local(child) not in ("event", "trace")
        ]
        if _local(element) == "event":
            found = dict.fromkeys(KEYS)
            for child in attributes:
                if child.get("key") in found:
                    found[child.get("key")] = child.get("value")
            pending.append(found)
            continue
        traces += 1
        named = [child for child in attributes if child.get("key") == "concept:name"]
        case = named[0].get("value") if named else None
        if case is None:
            raise InputError([])  # the message is checked apart
        rows += [{"case_id": case, **found} for found in pending]
        pending = []
    table = pd.DataFrame(rows, columns=["case_id", *KEYS], dtype=object)
    frame = pd.DataFrame(
        {
            "case_id": table["case_id"],
            "activity": table["concept:name"],
            # Each text on its own: an offset converted, a time without one read as UTC.
            "timestamp": pd.Series(
                [_utc(text) for text in table["time:timestamp"]], dtype="datetime64[ns, UTC]"
            ),
        }
    )
    for name, key in (("resource", "org:resource"), ("lifecycle", "lifecycle:transition")):
        if table[key].notna().any():
            frame[name] = table[key]
    return frame


def _utc(text: str | None):
    if text is None:
        return pd.NaT
    instant = pd.Timestamp(text)
    return instant.tz_convert("UTC") if instant.tzinfo else instant.tz_localize("UTC")


TEXTS = ["Create Fine", "", "a &amp; b", "&#x41;&lt;&gt;&quot;", "tab\there", "two\r\nlines", "ü €"]
STAMPS = ["2006-07-24T00:00:00+02:00", "2024-03-31T01:30:00.250Z", "2025-01-01T00:00:00"]


@st.composite
def odd_logs(draw) -> bytes:
    """A well-formed log that XES exporters would not write but a file may hold: keys in
    any order or missing, values with entities, nested lists and meta-attributes, events
    nested in events, events outside traces, a trace named after its events, prefixed
    tags, comments, CDATA and processing instructions among the elements."""
    prefix = draw(st.sampled_from(["", "x:"]))

    def tag(name: str) -> str:
        return prefix + name

    def attribute(depth: int) -> str:
        key = draw(st.sampled_from([*KEYS, "amount", None]))
        if key == "time:timestamp":
            value = draw(st.sampled_from([*STAMPS, None]))
        else:
            value = draw(st.sampled_from([*TEXTS, None]))
        parts = []
        if key is not None:
            parts.append(f'key="{key}"')
        if value is not None:
            parts.append(f'value="{value}"')
        if draw(st.booleans()):
            parts.reverse()
        element = draw(st.sampled_from(["string", "date", "list", "int"]))
        inner = ""
        if depth < 2 and draw(st.integers(0, 4)) == 0:
            inner = "".join(attribute(depth + 1) for _ in range(draw(st.integers(1, 2))))
            if draw(st.integers(0, 3)) == 0:
                inner += event(depth + 1)
        head = f"<{tag(element)} {' '.join(parts)}".rstrip()
        return f"{head}>{inner}</{tag(element)}>" if inner else f"{head}/>"

    def noise() -> str:
        return draw(st.sampled_from(["", "", "", "<!-- <event> -->", "<?pi x?>", "<![CDATA[<]]>"]))

    def event(depth: int) -> str:
        inside = [attribute(depth) for _ in range(draw(st.integers(0, 4)))]
        inside.insert(draw(st.integers(0, len(inside))), noise())
        return f"<{tag('event')}>{''.join(inside)}</{tag('event')}>"

    def trace() -> str:
        items = [event(0) for _ in range(draw(st.integers(0, 3)))]
        name = draw(st.sampled_from(['"A1"', '"A &amp; B"', '""', None]))
        if name is not None:
            items.insert(
                draw(st.integers(0, len(items))), f'<string key="concept:name" value={name}/>'
            )
        items.insert(draw(st.integers(0, len(items))), attribute(0))
        return f"<{tag('trace')}>{''.join(items)}</{tag('trace')}>"

    body = [trace() for _ in range(draw(st.integers(0, 3)))]
    if draw(st.integers(0, 4)) == 0:
        body.insert(draw(st.integers(0, len(body))), event(0))
    declare = f' xmlns:x="urn:{draw(st.sampled_from(["a", "b"]))}"' if prefix else ""
    encoding = draw(st.sampled_from(["UTF-8", "UTF-8", "UTF-8", "UTF-16"]))
    log = f'<?xml version="1.0" encoding="{encoding}"?>\n<log{declare}>{"".join(body)}</log>'
    return log.encode(encoding)


@fuzz_settings(max_examples=100)
@given(raw=odd_logs())
def test_the_stream_reads_as_the_whole_tree_does(raw, tmp_path_factory):
    path = tmp_path_factory.mktemp("odd") / "log.xes"
    path.write_bytes(raw)
    try:
        expected = tree_reading(raw)
    except InputError:
        with pytest.raises(InputError, match=r"trace \d+ has no concept:name"):
            read_xes(path)
        return
    pd.testing.assert_frame_equal(read_xes(path), expected)


def test_a_trace_named_after_its_events_and_events_outside_traces():
    raw = (
        b'<log><event><string key="concept:name" value="early"/></event>'
        b'<trace><event><string key="concept:name" value="a"/></event>'
        b'<string key="concept:name" value="T1"/></trace>'
        b'<event><string key="concept:name" value="late"/></event></log>'
    )
    # The early event goes with the trace that ends next (as the tree reading has it); the
    # late one with none.
    events = _read(raw)
    assert events["case_id"].tolist() == ["T1", "T1"]
    assert events["activity"].tolist() == ["early", "a"]


def test_values_are_unescaped_and_normalised_as_xml_says():
    raw = (
        b'<log><trace><string key="concept:name" value="A&amp;B &#x41;"/>'
        b'<event><string value="line1&#10;line2 and\ttab" key="concept:name"/></event>'
        b"</trace></log>"
    )
    events = _read(raw)
    assert events["case_id"].tolist() == ["A&B A"]
    assert events["activity"].tolist() == ["line1\nline2 and tab"]


def _log(*stamps: str) -> bytes:
    events = "".join(f'<event><date key="time:timestamp" value="{s}"/></event>' for s in stamps)
    return (
        f'<log><trace><string key="concept:name" value="SECRET-7"/>{events}</trace></log>'.encode()
    )


def test_a_time_without_an_offset_is_utc_wherever_it_stands():
    # pandas, given both kinds in one column, reads the second as +05:00 (the offset of the
    # time before it): the reader parses the two kinds apart.
    events = _read(_log("2025-01-01T00:00:00+05:00", "2025-01-01T00:00:00"))
    assert events["timestamp"].tolist() == [
        pd.Timestamp("2024-12-31 19:00", tz="UTC"),
        pd.Timestamp("2025-01-01 00:00", tz="UTC"),
    ]


def test_an_unreadable_timestamp_names_its_event_never_its_case():
    stamps = ("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "3000-01-01T00:00:00Z")
    with pytest.raises(ValueError, match=r"^event 3 of the log: Out of bounds") as caught:
        _read(_log(*stamps))
    assert "SECRET" not in str(caught.value)
    with pytest.raises(ValueError, match=r"^event 2 of the log: .{200}… \(5,0\d\d characters\)$"):
        _read(_log("2024-01-01T00:00:00Z", "x" * 5_000))


def _read(raw: bytes, name: str = "log.xes") -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(raw)
        return read_xes(path)


def _refused(raw: bytes, match: str, name: str = "log.xes") -> None:
    with pytest.raises(InputError, match=match):
        _read(raw, name)


def test_a_gzip_bomb_is_refused_once_it_inflates_past_the_file_limit(monkeypatch):
    monkeypatch.setenv("FLOWCAP_MAX_FILE_MB", "2")
    # 40 MB of spaces inside the root gzip to about 40 KB: refused after 2 MB, not inflated.
    raw = gzip.compress(b"<log>" + b" " * 40_000_000 + b"</log>")
    assert len(raw) < 100_000
    _refused(raw, r"inflates to more than 2,000,000 bytes.*FLOWCAP_MAX_FILE_MB", "log.xes.gz")


def test_a_tag_longer_than_the_token_limit_is_refused(monkeypatch):
    monkeypatch.setattr(xes, "MAX_TOKEN_BYTES", 1_000_000)
    raw = b'<log><trace><string key="concept:name" value="' + b"x" * 3_000_000 + b'"/>'
    _refused(raw, "longer than 1,000,000 bytes")


def test_elements_nested_too_deep_are_refused():
    depth = xes.MAX_DEPTH + 1
    _refused(b"<log>" + b"<a>" * depth + b"</a>" * depth + b"</log>", "nest more than 256 deep")


def test_more_events_than_the_row_limit_are_refused(monkeypatch):
    monkeypatch.setenv("FLOWCAP_MAX_ROWS", "2")
    event = b'<event><string key="concept:name" value="a"/></event>'
    raw = b'<log><trace><string key="concept:name" value="c"/>' + event * 3 + b"</trace></log>"
    _refused(raw, r"more than 2 events.*FLOWCAP_MAX_ROWS")


def test_a_truncated_gzip_is_an_input_error():
    raw = gzip.compress(b'<log><trace><string key="concept:name" value="c"/></trace></log>')
    _refused(raw[:-10], "cannot read", "log.xes.gz")


@pytest.mark.skipif(not RECEIPT.exists(), reason="../shared/data/real is not checked out")
def test_the_receipt_log_reads_as_pm4py_reads_it():
    os.environ.setdefault("PM4PY_SILENT", "1")
    warnings.filterwarnings("ignore")
    pm4py = pytest.importorskip(
        "pm4py"
    )  # a dev dependency (AGPL): a yardstick, never imported by src
    theirs = pm4py.read_xes(str(RECEIPT), show_progress_bar=False)
    ours = read_xes(RECEIPT)
    assert len(ours) == len(theirs) == 8_577
    assert ours["case_id"].tolist() == theirs["case:concept:name"].tolist()
    assert ours["activity"].tolist() == theirs["concept:name"].tolist()
    assert ours["timestamp"].tolist() == theirs["time:timestamp"].tolist()
    assert ours["resource"].tolist() == theirs["org:resource"].tolist()
