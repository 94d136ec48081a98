"""A service folder whose history is an event log (flowcap.io.folder): referrals and
sessions built on import.

Small logs written on the fly check the rules (first event dates the referral, complete events
only, case types, conflicts, typos, import hashes, pseudonyms); the real sepsis log checks
the counts. The commands on such folders are in test_cli_data.py and test_cli_analysis.py,
the bundled example log in test_examples_victim_support_log.py.
"""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import (
    LOG,
    LOG_SERVICE,
    SEPSIS_WORK,
    log_folder,
    problems_of,
    sepsis_folder_in,
    sepsis_log_rows,
    write_folder,
)
from flowcap import import_folder
from flowcap import open as open_service
from flowcap.errors import InputError
from flowcap.io import read_service_folder
from flowcap.io.folder import file_hashes
from flowcap.io.pseudonym import load_key, pseudonymise
from flowcap.store import Store

# --- from log to tables -----------------------------------------------------------------------


def test_each_case_is_a_referral_dated_by_its_first_local_event(tmp_path):
    checked = read_service_folder(log_folder(tmp_path))
    referrals = checked.referrals.set_index("case_id")
    assert sorted(referrals.index) == ["A", "B", "C"]
    assert referrals["referral_date"].dt.strftime("%Y-%m-%d").to_dict() == {
        "A": "2024-06-03",
        "B": "2024-06-02",  # 23:30 UTC is 00:30 BST
        "C": "2024-06-03",
    }
    assert referrals["case_type"].to_dict() == {"A": "high", "B": "standard", "C": "standard"}
    assert str(checked.referrals["referral_date"].dtype) == "datetime64[ns]"
    assert checked.files["referrals"][0] == "events.csv"


def test_mapped_complete_events_are_sessions_and_the_rest_are_listed(tmp_path):
    checked = read_service_folder(log_folder(tmp_path))
    sessions = checked.sessions.sort_values(["case_id", "date"]).reset_index(drop=True)
    assert sessions.assign(date=sessions["date"].dt.strftime("%Y-%m-%d")).to_dict("records") == [
        {"date": "2024-06-03", "case_id": "A", "resource": "triage", "minutes": 30.0},
        {"date": "2024-06-04", "case_id": "A", "resource": "idva", "minutes": 120.0},
        {"date": "2024-06-03", "case_id": "B", "resource": "triage", "minutes": 30.0},
        {"date": "2024-06-04", "case_id": "C", "resource": "triage", "minutes": 30.0},
    ]
    notes = " | ".join(checked.notes)
    assert "1 other lifecycle events of mapped activities left out (1 start)" in notes
    assert "'Referral received' (3 events), 'Case closed' (1 event)" in notes


def test_the_only_case_type_needs_no_column(tmp_path):
    service = dict(LOG_SERVICE, case_types={"standard": LOG_SERVICE["case_types"]["standard"]})
    service["event_log"] = {
        k: v
        for k, v in LOG_SERVICE["event_log"].items()
        if k not in ("case_type", "default_case_type", "activities")
    }
    write_folder(tmp_path, service)
    (tmp_path / "events.csv").write_text(LOG)
    checked = read_service_folder(tmp_path)
    assert set(checked.referrals["case_type"]) == {"standard"}
    assert checked.sessions is None  # no activities mapped: activity is modelled
    assert "sessions" not in checked.files
    assert any("maps no activities" in note for note in checked.notes)


def test_unknown_and_missing_case_types_name_the_row(tmp_path):
    log = LOG.replace(
        "B,Triage call,complete,2024-06-03T09:30:00,standard",
        "B,Triage call,complete,2024-06-03T09:30:00,burglary",
    )
    problems = problems_of(log_folder(tmp_path, log, default_case_type=None))
    assert problems == [
        "events.csv, row 7, column Kind: unknown case type 'burglary' on 1 event(s), first here "
        "(known: high, standard)",
        "events.csv, row 8, column Kind: 1 case(s) have no case type, first here: give "
        "event_log.default_case_type in service.yaml",
    ]


def test_a_case_takes_the_type_of_its_earliest_typed_event(tmp_path):
    log = LOG.replace(
        "A,Triage call,complete,2024-06-03T10:00:00,high",
        "A,Triage call,complete,2024-06-03T10:00:00,standard",
    )
    checked = read_service_folder(log_folder(tmp_path, log))
    assert checked.referrals.set_index("case_id").loc["A", "case_type"] == "high"
    assert any("1 case(s) change case type part-way" in note for note in checked.notes)


def test_an_activity_missing_from_the_log_is_an_error_with_a_hint(tmp_path):
    activities = dict(LOG_SERVICE["event_log"]["activities"])
    activities["Triage Cal"] = activities.pop("Triage call")
    activities["Court visit"] = {"resource": "idva", "minutes": 60}
    problems = problems_of(log_folder(tmp_path, activities=activities))
    assert problems[0] == (
        "service.yaml, column event_log: event_log.activities: 'Triage Cal' never occurs in "
        "events.csv (did you mean 'Triage call'?)"
    )
    assert problems[1].startswith(
        "service.yaml, column event_log: event_log.activities: 'Court visit' never occurs in "
        "events.csv (its activities are: 'Referral received', 'Triage call', "
    )


def test_a_table_file_beside_the_log_is_refused(tmp_path):
    folder = log_folder(tmp_path)
    (folder / "referrals.csv").write_text("case_id,referral_date,case_type\nA,2024-06-03,high\n")
    (folder / "sessions.csv").write_text("date,case_id,resource,minutes\n2024-06-03,A,idva,60\n")
    problems = problems_of(folder)
    assert problems == [
        "referrals.csv: service.yaml has event_log: the referrals come from events.csv; "
        "remove referrals.csv or the event_log section",
        "sessions.csv: service.yaml has event_log: the sessions come from events.csv; "
        "remove sessions.csv or the event_log section",
    ]
    # Without mapped activities the log gives referrals only, and sessions.csv is welcome.
    (folder / "referrals.csv").unlink()
    log_folder(folder, activities={})
    checked = read_service_folder(folder)
    assert checked.files["sessions"][0] == "sessions.csv" and len(checked.sessions) == 1


def test_an_unreadable_log_is_reported_with_the_folder(tmp_path):
    folder = log_folder(tmp_path)
    (folder / "events.csv").unlink()
    assert problems_of(folder) == [f"events.csv: file not found in {folder}"]
    (folder / "events.csv").write_text("Ref,Event,When\nA,x,2024-01-01\n")
    assert any("missing column 'Status'" in p for p in problems_of(folder))


def test_an_xes_log_with_lifecycle_in_a_subfolder(tmp_path):
    xes = (
        '<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">'
        + "".join(
            f'<trace><string key="concept:name" value="{case}"/>'
            + "".join(
                f'<event><string key="concept:name" value="{activity}"/>'
                f'<string key="lifecycle:transition" value="{life}"/>'
                f'<date key="time:timestamp" value="{stamp}"/></event>'
                for activity, life, stamp in events
            )
            + "</trace>"
            for case, events in {
                "X": [
                    ("Triage call", "start", "2024-06-03T09:00:00+01:00"),
                    ("Triage call", "complete", "2024-06-03T09:30:00+01:00"),
                ],
                "Y": [("Triage call", "complete", "2024-06-03T23:30:00+00:00")],
            }.items()
        )
        + "</log>"
    )
    log = tmp_path / "service" / "exports" / "log.xes"
    log.parent.mkdir(parents=True)
    log.write_text(xes)
    service = dict(LOG_SERVICE, case_types={"standard": LOG_SERVICE["case_types"]["standard"]})
    service["event_log"] = {
        "file": "exports/log.xes",
        "activities": {"Triage call": {"resource": "triage", "minutes": 30}},
    }
    checked = read_service_folder(write_folder(tmp_path / "service", service))
    dates = checked.referrals.set_index("case_id")["referral_date"].dt.strftime("%m-%d")
    assert dates.to_dict() == {"X": "06-03", "Y": "06-04"}  # Y: 00:30 BST on 4 June
    assert len(checked.sessions) == 2 and checked.files["referrals"][0] == "log.xes"


# --- the store: hashes and pseudonyms ---------------------------------------------------------


def test_import_is_idempotent_and_follows_the_log_and_its_settings(tmp_path, backend):
    folder = log_folder(tmp_path)
    assert import_folder(folder).written == {
        "referrals": 3,
        "waiting": None,
        "roster": None,
        "sessions": 4,
        "events": 9,  # the log's own events, kept for the process map and calibration
    }
    assert not import_folder(folder).changed
    # A new mapping (minutes) is a new import, though the log's bytes are the same.
    activities = {"Triage call": {"resource": "triage", "minutes": 20}}
    log_folder(folder, activities=activities)
    assert import_folder(folder).written["sessions"] == 3
    # So is a changed log.
    with (folder / "events.csv").open("a") as handle:
        handle.write("D,Triage call,complete,2024-06-05T09:00:00,standard\n")
    assert import_folder(folder).written == {
        "referrals": 4,
        "waiting": None,
        "roster": None,
        "sessions": 4,
        "events": 10,
    }
    store = Store.for_folder(folder)
    service = read_service_folder(folder).service
    assert store.is_current(service.name, file_hashes(folder, service))
    data = store.load(service.name)
    store.close()
    assert data.sessions["minutes"].tolist() == [20.0] * 4
    # No raw case id reaches the store.
    keys = set(data.referrals["case_key"]) | set(data.sessions["case_key"])
    assert keys == set(pseudonymise(["A", "B", "C", "D"], load_key()))
    if backend == "sqlite":
        assert b"events.csv" in (folder / ".flowcap" / "flowcap.db").read_bytes()  # the import


def test_a_table_file_added_after_an_import_is_refused_on_measuring(tmp_path):
    folder = log_folder(tmp_path)
    open_service(folder)
    (folder / "referrals.csv").write_text("case_id,referral_date,case_type\nA,2024-06-03,high\n")
    with pytest.raises(InputError, match="the referrals come from events.csv"):
        open_service(folder)


# --- the real sepsis log ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sepsis_folder(tmp_path_factory):
    return sepsis_folder_in(tmp_path_factory.mktemp("sepsis"))


@pytest.fixture(scope="module")
def sepsis_rows():
    return sepsis_log_rows()


def test_sepsis_log_as_a_service(sepsis_folder, sepsis_rows):
    checked = read_service_folder(sepsis_folder)
    cases = {row["case_id"] for row in sepsis_rows}
    work = [row for row in sepsis_rows if row["activity"] in SEPSIS_WORK]
    assert len(checked.referrals) == len(cases) == 1050  # the case called "NA" included
    assert set(checked.referrals["case_id"]) == cases
    assert all(row["lifecycle"] == "complete" for row in work)
    assert len(checked.sessions) == len(work) == 11_789
    for resource in ("nurse", "lab"):
        expected = sum(
            SEPSIS_WORK[r["activity"]][1] for r in work if SEPSIS_WORK[r["activity"]][0] == resource
        )
        assert checked.sessions.loc[checked.sessions["resource"] == resource, "minutes"].sum() == (
            expected
        )
    # A referral is dated by its case's first event, in Amsterdam.
    first = {}
    for row in sepsis_rows:
        stamp = pd.Timestamp(row["timestamp"]).tz_convert("Europe/Amsterdam")
        first[row["case_id"]] = min(first.get(row["case_id"], stamp), stamp)
    dates = checked.referrals.set_index("case_id")["referral_date"]
    assert all(dates[case] == stamp.normalize().tz_localize(None) for case, stamp in first.items())
    assert any("'Admission NC' (1,182 events)" in note for note in checked.notes)


def test_an_activity_too_long_to_be_a_step_is_refused_with_its_row(tmp_path):
    note = "x" * 201
    folder = log_folder(tmp_path, log=LOG + f"C,{note},complete,2024-06-04T10:00:00,\n")
    with pytest.raises(InputError) as refused:
        read_service_folder(folder)
    [problem] = [p for p in refused.value.problems if "longer than 200" in p.message]
    assert (problem.file, problem.row, problem.column) == ("events.csv", 11, "Event")
