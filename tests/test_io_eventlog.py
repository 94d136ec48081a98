"""Event-log import: real logs' counts, delimiters, time zones, file order, pseudonyms, errors."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from flowcap.errors import InputError
from flowcap.io.eventlog import COLUMNS, EventLogConfig, read_event_log

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
KEY = bytes(range(32))


def _real(name: str) -> Path:
    path = REAL / name
    if not path.is_file():
        pytest.skip(f"real log {path} is absent (../shared/data/real is not checked out)")
    return path


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _xes(events: list[tuple[str, str, str]]) -> str:
    """A minimal XES log from (case, activity, timestamp) triples, one trace per case."""
    traces: dict[str, list[str]] = {}
    for case, activity, stamp in events:
        traces.setdefault(case, []).append(
            f'<event><string key="concept:name" value="{activity}"/>'
            f'<string key="lifecycle:transition" value="complete"/>'
            f'<date key="time:timestamp" value="{stamp}"/></event>'
        )
    body = "".join(
        f'<trace><string key="concept:name" value="{case}"/>{"".join(items)}</trace>'
        for case, items in traces.items()
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">{body}</log>'


# --- the real logs --------------------------------------------------------------------------


def test_sepsis_csv_keeps_the_case_called_na():
    log = read_event_log(
        _real("sepsis.csv"),
        EventLogConfig(file="sepsis.csv", resource="resource", lifecycle="lifecycle"),
        service_timezone="UTC",
    )
    assert log.n_cases == 1050
    assert log.n_events == 15214
    assert len(log.activities()) == 16
    assert (log.events["case"] == "NA").sum() == 24
    assert list(log.events.columns) == list(COLUMNS)
    assert set(log.events["lifecycle"]) == {"complete"}
    assert log.source == "sepsis.csv"
    assert str(log.events["timestamp"].dt.tz) == "UTC"


def test_receipt_xes_gz_counts_and_zone():
    log = read_event_log(
        _real("receipt.xes.gz"),
        EventLogConfig(file="receipt.xes.gz", timezone="Europe/Amsterdam"),
    )
    assert (log.n_cases, log.n_events, len(log.activities())) == (1434, 8577, 27)
    assert log.timezone == "Europe/Amsterdam"
    assert str(log.events["timestamp"].dt.tz) == "Europe/Amsterdam"
    assert (log.events["resource"] != "").any()
    assert log.events["order"].tolist() == list(range(8577))


# --- formats and columns --------------------------------------------------------------------


def test_custom_delimiter_and_column_names(tmp_path):
    path = _write(
        tmp_path,
        "log.txt",
        "Ref | Step | When | Officer | Kind | Notes\n"
        "NA | Triage | 2024-03-01 09:00 | ann | adult | private words\n"
        "NA | Assess | 2024-03-01 11:30 | bob | adult |\n"
        "\n"
        "C2 | Triage | 2024-03-02 08:15 |  | child | x\n",
    )
    config = EventLogConfig(
        file="log.txt",
        case_id="ref",
        activity="STEP",
        timestamp="When",
        resource="Officer",
        case_type="Kind",
    )
    log = read_event_log(path, config, service_timezone="Europe/London")
    events = log.events
    assert log.rows.tolist() == [2, 3, 5]  # the blank line is row 4
    assert log.row_of(2) == 5
    assert events["case"].tolist() == ["NA", "NA", "C2"]
    assert events["activity"].tolist() == ["Triage", "Assess", "Triage"]
    assert events["resource"].tolist() == ["ann", "bob", ""]
    assert events["case_type"].tolist() == ["adult", "adult", "child"]
    assert events["lifecycle"].tolist() == ["", "", ""]
    assert log.n_cases == 2
    assert log.activities() == ["Triage", "Assess"]
    assert "Notes" not in events.columns


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed_from_the_header(tmp_path, delimiter):
    rows = [
        ["case_id", "activity", "timestamp"],
        ["A", "x", "2024-01-01T10:00:00"],
        ["A", "y", "2024-01-01T11:00:00"],
    ]
    path = _write(tmp_path, "log.csv", "\n".join(delimiter.join(r) for r in rows) + "\n")
    log = read_event_log(path)
    assert log.events["activity"].tolist() == ["x", "y"]


def test_given_delimiter_wins_and_tab_can_be_named(tmp_path):
    path = _write(tmp_path, "log.csv", "case_id\tactivity\ttimestamp\nA,1\tx\t2024-01-01\n")
    log = read_event_log(path, EventLogConfig(file="log.csv", delimiter="tab"))
    assert log.events["case"].tolist() == ["A,1"]
    with pytest.raises(ValidationError):
        EventLogConfig(file="log.csv", delimiter=";;")


def test_xlsx(tmp_path):
    path = tmp_path / "log.xlsx"
    pd.DataFrame(
        {
            "case_id": ["NA", "NA"],
            "activity": ["Triage", "Close"],
            "timestamp": [pd.Timestamp("2024-06-01 09:00"), pd.Timestamp("2024-06-02 17:30")],
        }
    ).to_excel(path, index=False)
    log = read_event_log(path, service_timezone="Europe/London")
    assert log.events["case"].tolist() == ["NA", "NA"]
    assert log.events["timestamp"].iloc[1] == pd.Timestamp("2024-06-02 17:30", tz="Europe/London")


# --- time zones -----------------------------------------------------------------------------


def test_naive_timestamps_are_local_times(tmp_path):
    path = _write(
        tmp_path,
        "log.csv",
        "case_id,activity,timestamp\nA,x,2024-07-01 23:30:00\nA,y,2024-01-15 00:10\n",
    )
    log = read_event_log(path, service_timezone="Europe/Rome")
    stamps = log.events["timestamp"]
    assert stamps.iloc[0] == pd.Timestamp("2024-07-01 23:30", tz="Europe/Rome")
    assert stamps.iloc[1] == pd.Timestamp("2024-01-15 00:10", tz="Europe/Rome")
    assert log.events["local_date"].dt.date.tolist() == [date(2024, 7, 1), date(2024, 1, 15)]
    # The config's zone beats the service's.
    log = read_event_log(
        path, EventLogConfig(file="log.csv", timezone="UTC"), service_timezone="Europe/Rome"
    )
    assert log.timezone == "UTC"
    assert log.events["timestamp"].iloc[0] == pd.Timestamp("2024-07-01 23:30", tz="UTC")


def test_offsets_are_converted_to_the_logs_zone(tmp_path):
    path = _write(
        tmp_path,
        "log.csv",
        "case_id,activity,timestamp\n"
        "A,x,2023-12-31T23:00:00Z\n"
        "A,y,2024-01-02T00:00:00+01:00\n"
        "A,z,2024-01-02 09:00\n",
    )
    log = read_event_log(path, EventLogConfig(file="log.csv", timezone="Europe/Rome"))
    assert log.events["local_date"].dt.date.tolist() == [
        date(2024, 1, 1),
        date(2024, 1, 2),
        date(2024, 1, 2),
    ]
    assert log.events["timestamp"].iloc[0] == pd.Timestamp("2024-01-01 00:00", tz="Europe/Rome")
    assert log.events["timestamp"].iloc[2] == pd.Timestamp("2024-01-02 09:00", tz="Europe/Rome")


def test_xes_dates_at_local_midnight_stay_on_their_day(tmp_path):
    # As in the road-fines log: dates recorded at local midnight, 22:00/23:00 UTC.
    text = _xes(
        [
            ("F1", "Create Fine", "2006-07-24T00:00:00+02:00"),
            ("F1", "Send Fine", "2006-12-05T00:00:00.000+01:00"),
        ]
    )
    for name, data in (
        ("fines.xes", text.encode()),
        ("fines.xes.gz", gzip.compress(text.encode())),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        log = read_event_log(path, service_timezone="Europe/Rome")
        assert log.events["local_date"].dt.date.tolist() == [date(2006, 7, 24), date(2006, 12, 5)]
        assert (log.events["timestamp"].dt.hour == 0).all()
        assert log.rows is None and log.row_of(0) is None  # XES has no rows to cite
        # Read in UTC, the same instants fall on the day before.
        utc = read_event_log(path, EventLogConfig(file=name, timezone="UTC"))
        assert utc.events["local_date"].dt.date.tolist() == [date(2006, 7, 23), date(2006, 12, 4)]


# --- order and pseudonyms -------------------------------------------------------------------


def test_equal_timestamps_keep_file_order(tmp_path):
    path = _write(
        tmp_path,
        "log.csv",
        "case_id,activity,timestamp\n"
        "B,b2,2024-01-01T10:00:00\n"
        "A,a3,2024-01-01T10:00:00\n"
        "B,b1,2024-01-01T09:00:00\n"
        "A,a1,2024-01-01T10:00:00\n"
        "A,a2,2024-01-01T10:00:00\n",
    )
    log = read_event_log(path)
    assert log.events["order"].tolist() == [0, 1, 2, 3, 4]
    assert log.events["activity"].tolist() == ["b2", "a3", "b1", "a1", "a2"]
    ordered = log.sorted_events()
    assert ordered["activity"].tolist() == ["a3", "a1", "a2", "b1", "b2"]
    assert ordered["order"].tolist() == [1, 3, 4, 2, 0]


def test_pseudonyms_are_stable_hex(tmp_path):
    path = _write(
        tmp_path,
        "log.csv",
        "case_id,activity,timestamp\nNA,x,2024-01-01\nC2,x,2024-01-01\nNA,y,2024-01-02\n",
    )
    log = read_event_log(path, key=KEY)
    cases = log.events["case"].tolist()
    assert all(len(c) == 32 and all(ch in "0123456789abcdef" for ch in c) for c in cases)
    assert cases[0] == cases[2] != cases[1]
    assert "NA" not in cases
    again = read_event_log(path, key=KEY)
    assert again.events["case"].tolist() == cases
    other = read_event_log(path, key=bytes(32))
    assert other.events["case"].tolist() != cases


# --- errors ---------------------------------------------------------------------------------


def test_missing_columns_name_the_available_ones(tmp_path):
    path = _write(tmp_path, "log.csv", "case,step,timestamp\nA,x,2024-01-01\n")
    with pytest.raises(InputError) as caught:
        read_event_log(path, EventLogConfig(file="log.csv", resource="who"))
    problems = caught.value.problems
    assert {p.column for p in problems} == {"case_id", "activity", "who"}
    assert all(p.row == 1 and p.file == "log.csv" for p in problems)
    assert "case, step, timestamp" in problems[0].message


def test_bad_timestamps_and_blank_cells_are_reported_by_row(tmp_path):
    path = _write(
        tmp_path,
        "log.csv",
        "case_id,activity,timestamp\nA,x,2024-01-01T10:00:00\nA,y,yesterday\n,z,2024-01-02\nB,,\n",
    )
    with pytest.raises(InputError) as caught:
        read_event_log(path)
    found = {(p.row, p.column) for p in caught.value.problems}
    assert found == {(3, "timestamp"), (4, "case_id"), (5, "activity"), (5, "timestamp")}
    assert "'yesterday'" in str(caught.value)


def test_many_problems_are_capped(tmp_path):
    rows = "".join(f"A,x,bad{i}\n" for i in range(300))
    path = _write(tmp_path, "log.csv", "case_id,activity,timestamp\n" + rows)
    with pytest.raises(InputError) as caught:
        read_event_log(path)
    problems = caught.value.problems
    assert len(problems) == 51
    assert "more problems" in problems[-1].message


def test_empty_oversize_and_unknown_files(tmp_path, monkeypatch):
    empty = _write(tmp_path, "empty.csv", "")
    with pytest.raises(InputError, match="empty"):
        read_event_log(empty)
    header_only = _write(tmp_path, "header.csv", "case_id,activity,timestamp\n")
    with pytest.raises(InputError, match="no events"):
        read_event_log(header_only)
    with pytest.raises(InputError, match="not found"):
        read_event_log(tmp_path / "absent.csv")
    other = _write(tmp_path, "log.json", "{}")
    with pytest.raises(InputError, match="format"):
        read_event_log(other)
    big = _write(tmp_path, "big.csv", "case_id,activity,timestamp\n" + "A,x,2024-01-01\n" * 100)
    monkeypatch.setenv("FLOWCAP_MAX_FILE_MB", "0.001")
    with pytest.raises(InputError, match="FLOWCAP_MAX_FILE_MB"):
        read_event_log(big)


def test_ragged_rows_and_non_utf8(tmp_path):
    ragged = _write(tmp_path, "log.csv", "case_id,activity,timestamp\nA,x,2024-01-01,extra\n")
    with pytest.raises(InputError) as caught:
        read_event_log(ragged)
    assert caught.value.problems[0].row == 2
    latin = tmp_path / "latin.csv"
    latin.write_bytes("case_id,activity,timestamp\nA,Überprüfung,2024-01-01\n".encode("latin-1"))
    with pytest.raises(InputError) as caught:
        read_event_log(latin)
    assert caught.value.problems[0].row == 2
    assert "UTF-8" in caught.value.problems[0].message


def test_xes_errors(tmp_path):
    doctype = _write(
        tmp_path,
        "bomb.xes",
        '<?xml version="1.0"?><!DOCTYPE log []><log><trace>'
        '<string key="concept:name" value="A"/></trace></log>',
    )
    with pytest.raises(InputError, match="DOCTYPE"):
        read_event_log(doctype)
    broken = _write(tmp_path, "broken.xes", "<log><trace>")
    with pytest.raises(InputError, match="well-formed"):
        read_event_log(broken)
    no_time = _write(
        tmp_path,
        "no_time.xes",
        '<log><trace><string key="concept:name" value="A"/>'
        '<event><string key="concept:name" value="x"/></event></trace></log>',
    )
    with pytest.raises(InputError) as caught:
        read_event_log(no_time)
    assert caught.value.problems[0].column == "time:timestamp"
    assert "event 1" in caught.value.problems[0].message
    bad_zone = _write(tmp_path, "ok.xes", _xes([("A", "x", "2024-01-01T00:00:00Z")]))
    with pytest.raises(InputError, match="time zone"):
        read_event_log(bad_zone, service_timezone="Nowhere/Town")


def test_clock_changes_and_other_date_formats(tmp_path):
    path = _write(
        tmp_path,
        "log.csv",
        "case_id,activity,timestamp\n"
        "A,ambiguous,2024-10-27 02:30\n"
        "A,skipped,2024-03-31 02:30\n"
        "A,uk,05/03/2024 14:00\n"
        "A,date only,2024-03-05\n",
    )
    log = read_event_log(path, service_timezone="Europe/Rome")
    stamps = log.events["timestamp"]
    assert stamps.iloc[0] == pd.Timestamp("2024-10-27 02:30+02:00")
    assert stamps.iloc[1] == pd.Timestamp("2024-03-31 03:00+02:00")
    assert stamps.iloc[2] == pd.Timestamp("2024-03-05 14:00", tz="Europe/Rome")
    assert stamps.iloc[3] == pd.Timestamp("2024-03-05 00:00", tz="Europe/Rome")
