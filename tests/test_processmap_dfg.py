"""The process map (flowcap.processmap.dfg): directly-follows counts against pm4py on real
logs, times, bottlenecks, rework, variants, lifecycles and filters. Drawing it is in
test_report_process_map.py.

pm4py (a dev dependency) and the real logs (../shared/data/real) are required: without them
the comparison tests fail rather than skip.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import event_frame, read_receipt_events, read_sepsis_events, require_real_log
from flowcap.errors import FlowcapError
from flowcap.io.eventlog import read_event_log
from flowcap.model.eventlog import EventLogConfig
from flowcap.processmap import END, START, complete_events, process_map
from flowcap.report.process_map import to_dot

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
RECEIPT = REAL / "receipt.xes.gz"
SEPSIS = REAL / "sepsis.csv"


def _pm4py():
    os.environ.setdefault("PM4PY_SILENT", "1")
    warnings.filterwarnings("ignore")
    try:
        import pm4py
    except ImportError:
        pytest.fail("pm4py is not installed: it is a dev dependency (pip install -e '.[dev]')")
    return pm4py


@pytest.fixture(scope="module")
def receipt_events() -> pd.DataFrame:
    return read_receipt_events()


@pytest.fixture(scope="module")
def sepsis_events() -> pd.DataFrame:
    return read_sepsis_events()


def _counts(pmap) -> dict[tuple[str, str], int]:
    edges = pmap.edges
    return {
        (f, t): int(n) for f, t, n in zip(edges["from"], edges["to"], edges["count"], strict=True)
    }


def _pm4py_counts(dfg, starts, ends) -> dict[tuple[str, str], int]:
    expected = {(a, b): int(n) for (a, b), n in dfg.items()}
    expected.update({(START, a): int(n) for a, n in starts.items()})
    expected.update({(a, END): int(n) for a, n in ends.items()})
    return expected


def _assert_same_counts(ours: dict, theirs: dict) -> None:
    missing = sorted(set(theirs) - set(ours))
    extra = sorted(set(ours) - set(theirs))
    assert not missing and not extra, (missing[:5], extra[:5])
    wrong = {k: (ours[k], theirs[k]) for k in theirs if ours[k] != theirs[k]}
    assert not wrong, wrong


@pytest.mark.slow
def test_counts_equal_pm4py_on_receipt(receipt_events):
    pm4py = _pm4py()
    pmap = process_map(receipt_events)
    log = pm4py.read_xes(str(RECEIPT))  # pm4py's own parser, independent of read_xes
    dfg, starts, ends = pm4py.discover_dfg(
        log,
        case_id_key="case:concept:name",
        activity_key="concept:name",
        timestamp_key="time:timestamp",
    )
    _assert_same_counts(_counts(pmap), _pm4py_counts(dfg, starts, ends))
    assert pmap.n_events == 8577 and pmap.n_cases == 1434
    assert len(pmap.activities) == 27
    assert int(pmap.edges.loc[pmap.edges["from"] == START, "count"].sum()) == 1434


@pytest.mark.slow
def test_counts_equal_pm4py_on_sepsis(sepsis_events):
    pm4py = _pm4py()
    pmap = process_map(sepsis_events)
    # format_dataframe sorts by case, timestamp and file position, as pm4py expects.
    frame = pm4py.format_dataframe(
        sepsis_events[["case", "activity", "timestamp"]].copy(),
        case_id="case",
        activity_key="activity",
        timestamp_key="timestamp",
    )
    dfg, starts, ends = pm4py.discover_dfg(
        frame,
        case_id_key="case:concept:name",
        activity_key="concept:name",
        timestamp_key="time:timestamp",
    )
    _assert_same_counts(_counts(pmap), _pm4py_counts(dfg, starts, ends))
    assert pmap.n_cases == 1050 and pmap.n_events == 15214  # the "NA" case is kept
    assert len(pmap.activities) == 16
    assert pmap.variants["cases"].sum() == 1050
    assert len(pmap.variants) == len(pm4py.get_variants(frame))


def test_equal_timestamps_keep_file_order_and_shuffled_rows_do_not_matter():
    rows = [
        ("c1", "A", "2024-01-01 09:00"),
        ("c1", "C", "2024-01-01 10:00"),  # tie with B: file order says C then B
        ("c1", "B", "2024-01-01 10:00"),
        ("c2", "A", "2024-01-01 09:00"),
        ("c2", "B", "2024-01-01 11:00"),
    ]
    events = event_frame(rows)
    pmap = process_map(events)
    assert _counts(pmap) == {
        (START, "A"): 2,
        ("A", "C"): 1,
        ("C", "B"): 1,
        ("A", "B"): 1,
        ("B", END): 2,
    }
    # The same log with its rows shuffled (keeping "order") gives the same map.
    shuffled = events.sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert _counts(process_map(shuffled)) == _counts(pmap)
    assert process_map(shuffled).as_json() == pmap.as_json()


def test_median_and_p90_wait_on_known_times():
    # A -> B after 1, 2, 3, ..., 10 hours in ten cases.
    rows = []
    for i in range(1, 11):
        rows.append((f"c{i}", "A", "2024-03-01 08:00"))
        rows.append((f"c{i}", "B", str(pd.Timestamp("2024-03-01 08:00") + pd.Timedelta(hours=i))))
    pmap = process_map(event_frame(rows))
    edge = pmap.edges.set_index(["from", "to"]).loc[("A", "B")]
    hours = np.arange(1.0, 11.0)
    assert edge["count"] == 10 and edge["cases"] == 10
    assert edge["median_wait_hours"] == pytest.approx(np.median(hours))  # 5.5
    assert edge["p90_wait_hours"] == pytest.approx(np.quantile(hours, 0.9))  # 9.1
    assert edge["total_wait_hours"] == pytest.approx(55.0)
    assert edge["mean_wait_hours"] == pytest.approx(5.5)
    start = pmap.edges.set_index(["from", "to"]).loc[(START, "A")]
    assert np.isnan(start["median_wait_hours"]) and start["total_wait_hours"] == 0
    activities = pmap.activities.set_index("name")
    assert activities.loc["B", "total_wait_hours"] == pytest.approx(55.0)


def test_distinct_cases_differ_from_count_on_a_loop():
    rows = [
        ("c1", "A", "2024-01-01 09:00"),
        ("c1", "B", "2024-01-01 10:00"),
        ("c1", "A", "2024-01-01 11:00"),
        ("c1", "B", "2024-01-01 12:00"),
        ("c1", "B", "2024-01-01 13:00"),
        ("c1", "C", "2024-01-01 14:00"),
        ("c2", "A", "2024-01-02 09:00"),
        ("c2", "B", "2024-01-02 09:30"),
        ("c2", "C", "2024-01-02 10:00"),
    ]
    pmap = process_map(event_frame(rows))
    edges = pmap.edges.set_index(["from", "to"])
    assert edges.loc[("A", "B"), "count"] == 3 and edges.loc[("A", "B"), "cases"] == 2
    assert edges.loc[("B", "A"), "count"] == 1 and edges.loc[("B", "A"), "cases"] == 1
    activities = pmap.activities.set_index("name")
    assert activities.loc["A", "events"] == 3 and activities.loc["A", "cases"] == 2
    assert activities.loc["B", "events"] == 4 and activities.loc["B", "cases"] == 2
    rework = {(r.kind, r._1, r.to): (r.count, r.cases) for r in pmap.rework.itertuples(index=False)}
    assert rework[("self-loop", "B", "B")] == (1, 1)
    assert rework[("ping-pong", "A", "B")] == (1, 1)  # A -> B -> A
    assert rework[("ping-pong", "B", "A")] == (1, 1)  # B -> A -> B
    variants = dict(zip(pmap.variants["variant"], pmap.variants["cases"], strict=True))
    assert variants == {("A", "B", "A", "B", "B", "C"): 1, ("A", "B", "C"): 1}
    assert pmap.variants["share"].sum() == pytest.approx(1.0)


def test_variants_tell_apart_prefixes_and_long_cases():
    rows = []
    sequences = {
        "c1": "ABC",
        "c2": "AB",
        "c3": "ABC",
        "c4": "ABCA",
        "c5": "A" * 40,
        "c6": "A" * 41,
        "c7": "A" * 40,
    }
    t0 = pd.Timestamp("2024-01-01")
    for case, seq in sequences.items():
        for i, activity in enumerate(seq):
            rows.append((case, activity, str(t0 + pd.Timedelta(minutes=i))))
    variants = process_map(event_frame(rows)).variants
    found = {"".join(v): n for v, n in zip(variants["variant"], variants["cases"], strict=True)}
    assert found == {"ABC": 2, "AB": 1, "ABCA": 1, "A" * 40: 2, "A" * 41: 1}
    assert list(variants["cases"])[:2] == [2, 2]


def test_bottlenecks_rank_total_waiting_and_shares_sum_to_one(sepsis_events):
    pmap = process_map(sepsis_events)
    b = pmap.bottlenecks
    assert b["share"].sum() == pytest.approx(1.0)
    assert (np.diff(b["total_wait_hours"].to_numpy()) <= 0).all()
    assert list(b["rank"]) == list(range(1, len(b) + 1))
    assert not ((b["from"] == START) | (b["to"] == END)).any()
    inner = pmap.edges[(pmap.edges["from"] != START) & (pmap.edges["to"] != END)]
    assert b["total_wait_hours"].sum() == pytest.approx(inner["total_wait_hours"].sum())
    p90 = pmap.longest_delays["p90_wait_hours"].to_numpy()
    assert (np.diff(p90) <= 0).all()


def test_as_json_is_json_safe_and_filtered_keeps_it_full(receipt_events):
    pmap = process_map(receipt_events)
    data = pmap.as_json()
    text = json.dumps(data, allow_nan=False)  # raises on NaN
    assert list(data) == [
        "activities",
        "edges",
        "bottlenecks",  # the keys, then the rest of the ranking and the note
        "longest_delays",
        "rework",
        "times",
        "left_out_events",
    ]
    assert data["left_out_events"] == {} and "waiting plus service" in data["times"]
    assert set(data["edges"][0]) == {
        "from",
        "to",
        "count",
        "cases",
        "median_wait_hours",
        "p90_wait_hours",
    }
    assert set(data["activities"][0]) == {"name", "cases", "events"}
    assert set(data["bottlenecks"][0]) == {"from", "to", "total_wait_hours", "share"}
    start_edges = [e for e in data["edges"] if e["from"] == START]
    assert start_edges and all(e["median_wait_hours"] is None for e in start_edges)

    small = pmap.filtered(top_edges=10)
    assert small.is_filtered and len(small.edges) <= 10 + 3
    assert len(small.edges) < len(pmap.edges)
    assert json.dumps(small.as_json(), allow_nan=False) == text
    # The top three bottlenecks stay in the picture.
    top = set(zip(pmap.bottlenecks["from"][:3], pmap.bottlenecks["to"][:3], strict=True))
    assert top <= set(zip(small.edges["from"], small.edges["to"], strict=True))

    frequent = pmap.filtered(min_count=100, keep_bottlenecks=0)
    assert (frequent.edges["count"] >= 100).all()
    by_variant = pmap.filtered(top_variants=1, keep_bottlenecks=0)
    path = (START, *pmap.variants["variant"].iloc[0], END)
    assert set(zip(by_variant.edges["from"], by_variant.edges["to"], strict=True)) == set(
        zip(path[:-1], path[1:], strict=False)
    )


def test_missing_columns_and_values_are_refused():
    with pytest.raises(FlowcapError, match="activity"):
        process_map(pd.DataFrame({"case": ["a"], "timestamp": [pd.Timestamp("2024-01-01")]}))
    events = event_frame([("c1", "A", "2024-01-01"), ("c1", "B", "2024-01-02")])
    events.loc[1, "timestamp"] = pd.NaT
    with pytest.raises(FlowcapError, match="no timestamp"):
        process_map(events)
    empty = process_map(event_frame([]))
    assert empty.n_events == 0 and empty.as_json()["edges"] == []


# --- lifecycle: complete events only ---------------------------------------------------------


def _lifecycle_log(rows: list[tuple[str, str, str, object]]) -> pd.DataFrame:
    events = event_frame([row[:3] for row in rows])
    events["lifecycle"] = pd.Series([row[3] for row in rows], dtype=object)
    return events


def test_start_events_are_left_out_and_the_note_says_so():
    # c1 does a two-hour risk assessment (start, complete); c2's has no start event.
    rows = [
        ("c1", "Triage", "2024-01-01 09:00", "complete"),
        ("c1", "Risk", "2024-01-02 09:00", "start"),
        ("c1", "Risk", "2024-01-02 11:00", "complete"),
        ("c1", "Close", "2024-01-03 09:00", "COMPLETE"),
        ("c2", "Triage", "2024-01-01 10:00", " Complete "),
        ("c2", "Risk", "2024-01-01 16:00", ""),
        ("c2", "Close", "2024-01-02 10:00", None),
        ("c2", "Close", "2024-01-02 10:30", "schedule"),
    ]
    events = _lifecycle_log(rows)
    pmap = process_map(events)
    categorical = events.astype({"lifecycle": "category"})
    assert process_map(categorical).as_json() == pmap.as_json()
    assert _counts(pmap) == {
        (START, "Triage"): 2,
        ("Triage", "Risk"): 2,
        ("Risk", "Close"): 2,
        ("Close", END): 2,
    }  # no Risk -> Risk self-loop, and no rework
    assert pmap.n_events == 6 and pmap.n_cases == 2 and pmap.rework.empty
    assert dict(pmap.left_out) == {"schedule": 1, "start": 1}
    edge = pmap.edges.set_index(["from", "to"]).loc[("Triage", "Risk")]
    assert edge["median_wait_hours"] == pytest.approx((26 + 6) / 2)  # completion to completion
    note = pmap.times_note
    assert note.startswith("Complete events only (1 schedule, 1 start events left out)")
    assert "waiting plus service" in note and "no start events" not in note
    data = pmap.as_json()
    assert data["times"] == note and data["left_out_events"] == {"schedule": 1, "start": 1}
    assert pmap.filtered(top_edges=1).times_note == note
    assert note in to_dot(pmap, "Risk")


def test_a_complete_only_lifecycle_changes_nothing():
    rows = [
        ("c1", "A", "2024-01-01 09:00", "complete"),
        ("c1", "B", "2024-01-01 10:00", "complete"),
        ("c2", "A", "2024-01-01 09:30", "complete"),
    ]
    with_lifecycle = _lifecycle_log(rows)
    kept, left_out = complete_events(with_lifecycle)
    assert kept is with_lifecycle and left_out == {}  # not copied
    pmap = process_map(with_lifecycle)
    assert pmap.as_json() == process_map(with_lifecycle.drop(columns="lifecycle")).as_json()
    assert pmap.times_note == (
        "Times run from one event to the next: waiting plus service (the log has no start events)."
    )


def test_left_out_events_keep_the_file_order_of_ties():
    rows = [
        ("c1", "A", "2024-01-01 09:00", "complete"),
        ("c1", "C", "2024-01-01 10:00", "start"),
        ("c1", "C", "2024-01-01 10:00", "complete"),  # tie with B: file order says C then B
        ("c1", "B", "2024-01-01 10:00", "complete"),
    ]
    events = _lifecycle_log(rows).drop(columns="order")  # row order is the file order
    assert ("C", "B") in _counts(process_map(events))
    shuffled = _lifecycle_log(rows).sample(frac=1.0, random_state=1)
    assert _counts(process_map(shuffled)) == _counts(process_map(events))


def test_a_log_of_start_events_only_is_refused():
    events = _lifecycle_log([("c1", "A", "2024-01-01 09:00", "start")])
    with pytest.raises(FlowcapError, match=r"no complete events.*'start' \(1\)"):
        process_map(events)


@pytest.mark.slow
def test_real_logs_read_with_their_lifecycle_still_match_pm4py():
    pm4py = _pm4py()
    receipt = read_event_log(require_real_log(RECEIPT), service_timezone="UTC").sorted_events()
    assert set(receipt["lifecycle"]) == {"complete"}
    pmap = process_map(receipt)
    log = pm4py.read_xes(str(RECEIPT))
    dfg, starts, ends = pm4py.discover_dfg(
        log,
        case_id_key="case:concept:name",
        activity_key="concept:name",
        timestamp_key="time:timestamp",
    )
    _assert_same_counts(_counts(pmap), _pm4py_counts(dfg, starts, ends))
    assert pmap.left_out == {} and pmap.n_events == 8577
    config = EventLogConfig(file=str(SEPSIS), lifecycle="lifecycle", resource="resource")
    sepsis = read_event_log(require_real_log(SEPSIS), config, service_timezone="UTC")
    sepsis = sepsis.sorted_events()
    pmap = process_map(sepsis)
    assert pmap.left_out == {} and pmap.n_events == 15214


# --- filters, and what the picture says about them ------------------------------------------


def test_filters_refuse_nonsense_and_say_what_they_keep(receipt_events):
    pmap = process_map(receipt_events)
    for bad in ({"top_edges": 0}, {"top_variants": 0}, {"top_edges": -3}):
        with pytest.raises(FlowcapError, match="must be at least 1"):
            pmap.filtered(**bad)
    assert pmap.selection == ""
    small = pmap.filtered(top_edges=2)
    assert small.selection == "the 2 most frequent; plus the top 3 bottlenecks"
    assert 2 < len(small.edges) <= 5
    assert pmap.filtered(top_edges=2, keep_bottlenecks=0).selection == "the 2 most frequent"
    share = pmap.variants["share"].head(2).sum()
    both = pmap.filtered(top_variants=2, top_edges=3, keep_bottlenecks=0)
    assert both.selection == (
        f"those on the 2 most common variants, {share:.0%} of cases; the 3 most frequent of these"
    )
    assert len(both.edges) == 3
    by_variant = pmap.filtered(top_variants=2)
    walked = set()
    for variant in pmap.variants["variant"].head(2):
        path = (START, *variant, END)
        walked |= set(zip(path[:-1], path[1:], strict=False))
    top = set(zip(pmap.bottlenecks["from"][:3], pmap.bottlenecks["to"][:3], strict=True))
    assert set(zip(by_variant.edges["from"], by_variant.edges["to"], strict=True)) == walked | top
    text = to_dot(pmap, "Receipt", top_variants=1)
    assert "those on the 1 most common variant, " in text
    assert "Showing" not in to_dot(pmap, "Receipt", top_edges=len(pmap.edges))  # nothing cut
    assert json.dumps(by_variant.as_json()) == json.dumps(pmap.as_json())


def test_json_ranks_longest_delays_and_rework():
    rows = [
        ("c1", "A", "2024-01-01 09:00"),
        ("c1", "B", "2024-01-01 10:00"),
        ("c1", "A", "2024-01-01 11:00"),
        ("c1", "B", "2024-01-03 11:00"),
        ("c1", "B", "2024-01-03 12:00"),
    ]
    data = process_map(event_frame(rows)).as_json()
    delays = [(d["from"], d["to"], d["count"], d["cases"]) for d in data["longest_delays"]]
    assert delays == [("A", "B", 2, 1), ("B", "A", 1, 1), ("B", "B", 1, 1)]
    first = data["longest_delays"][0]
    assert first["median_wait_hours"] == pytest.approx(24.5)
    assert first["p90_wait_hours"] == pytest.approx(1 + 0.9 * 47)
    assert data["rework"] == [
        {"kind": "ping-pong", "from": "A", "to": "B", "count": 1, "cases": 1},
        {"kind": "ping-pong", "from": "B", "to": "A", "count": 1, "cases": 1},
        {"kind": "self-loop", "from": "B", "to": "B", "count": 1, "cases": 1},
    ]
