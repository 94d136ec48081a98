"""A service folder whose history is an event log: referrals and sessions built on import.

Small logs written on the fly check the rules (first event dates the referral, complete events
only, case types, conflicts, typos, import hashes, pseudonyms, erasure); the real sepsis log
checks the counts end to end through the CLI; the bundled example is checked last.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from conftest import write_folder
from flowcap import import_folder
from flowcap import open as open_service
from flowcap.cli.main import app
from flowcap.errors import FlowcapError, InputError
from flowcap.examples import generate_victim_support_log
from flowcap.examples.victim_support_log import FILES
from flowcap.history import open_event_log
from flowcap.io import read_service_folder
from flowcap.io.folder import file_hashes
from flowcap.io.pseudonym import load_key, pseudonymise
from flowcap.store import Store

runner = CliRunner()
ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "victim-support-log"
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"

SERVICE = {
    "name": "Log service",
    "timezone": "Europe/London",
    "resources": {
        "triage": {"staff": 1, "minutes_per_day": 240},
        "idva": {"staff": 2, "minutes_per_day": 240},
    },
    "case_types": {
        "high": {
            "priority": 1,
            "steps": [
                {"resource": "triage", "minutes": 30},
                {"resource": "idva", "minutes": 120, "after_days": 1},
            ],
        },
        "standard": {"priority": 2, "resource": "triage", "minutes": 30},
    },
    "event_log": {
        "file": "events.csv",
        "case_id": "Ref",
        "activity": "Event",
        "timestamp": "When",
        "case_type": "Kind",
        "lifecycle": "Status",
        "default_case_type": "standard",
        "activities": {
            "Triage call": {"resource": "triage", "minutes": 30},
            "Risk assessment": {"resource": "idva", "minutes": 120},
        },
    },
}

# Case A's first event is its second row (the file is not in time order); B's first event is
# at 23:30 UTC on 1 June, which is 00:30 on 2 June in London; C has no Kind (the default).
LOG = """\
Ref,Event,Status,When,Kind
A,Triage call,complete,2024-06-03T10:00:00,high
A,Referral received,complete,2024-06-03T08:00:00,high
A,Risk assessment,start,2024-06-04T09:00:00,high
A,Risk assessment,complete,2024-06-04T11:00:00,high
B,Referral received,complete,2024-06-01T23:30:00Z,standard
B,Triage call,complete,2024-06-03T09:30:00,standard
C,Referral received,complete,2024-06-03T07:00:00,
C,Triage call,complete,2024-06-04T09:00:00,
C,Case closed,complete,2024-06-04T09:45:00,
"""


def log_folder(folder: Path, log: str = LOG, **changes) -> Path:
    """A service folder with ``events.csv``; ``changes`` update the event_log section."""
    service = json.loads(json.dumps(SERVICE))
    service["event_log"].update(changes)
    write_folder(folder, service)
    (folder / "events.csv").write_text(log)
    return folder


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        read_service_folder(folder)
    return [str(p) for p in caught.value.problems]


# --- from log to tables ---------------------------------------------------------------------


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
    service = dict(SERVICE, case_types={"standard": SERVICE["case_types"]["standard"]})
    service["event_log"] = {
        k: v
        for k, v in SERVICE["event_log"].items()
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
    activities = dict(SERVICE["event_log"]["activities"])
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


def test_an_xes_log_with_lifecycle_and_an_absolute_path(tmp_path):
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
    log = tmp_path / "elsewhere" / "log.xes"
    log.parent.mkdir()
    log.write_text(xes)
    service = dict(SERVICE, case_types={"standard": SERVICE["case_types"]["standard"]})
    service["event_log"] = {
        "file": str(log),
        "activities": {"Triage call": {"resource": "triage", "minutes": 30}},
    }
    checked = read_service_folder(write_folder(tmp_path / "service", service))
    dates = checked.referrals.set_index("case_id")["referral_date"].dt.strftime("%m-%d")
    assert dates.to_dict() == {"X": "06-03", "Y": "06-04"}  # Y: 00:30 BST on 4 June
    assert len(checked.sessions) == 2 and checked.files["referrals"][0] == "log.xes"


# --- the store: hashes, pseudonyms, erasure -------------------------------------------------


def test_import_is_idempotent_and_follows_the_log_and_its_settings(tmp_path, backend):
    folder = log_folder(tmp_path)
    assert import_folder(folder).written == {
        "referrals": 3,
        "waiting": None,
        "roster": None,
        "sessions": 4,
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


def test_erase_by_the_logs_case_id_survives_a_new_log(tmp_path):
    folder = log_folder(tmp_path)
    import_folder(folder)
    result = runner.invoke(app, ["erase", str(folder), "A"])
    assert result.exit_code == 0, result.output
    # The log's own events go too: A's 4 (its 2 sessions are 2 of them).
    assert "Erased 7 record(s): 1 referrals, 0 waiting, 2 sessions, 4 events." in result.stdout
    with (folder / "events.csv").open("a") as handle:
        handle.write("A,Triage call,complete,2024-06-05T09:00:00,high\n")
    import_folder(folder)
    store = Store.for_folder(folder)
    data = store.load("Log service")
    events = store.events("Log service")
    store.close()
    [erased] = pseudonymise(["A"], load_key())
    assert erased not in set(data.referrals["case_key"]) | set(data.sessions["case_key"])
    assert erased not in set(events["case"]) and len(events) > 0
    assert len(data.referrals) == 2


def test_cli_import_and_validate_print_the_notes(tmp_path):
    folder = log_folder(tmp_path)
    for command in ("validate", "import"):
        result = runner.invoke(app, [command, str(folder)])
        assert result.exit_code == 0, result.output
        assert "note: events.csv: 2 activities not in event_log.activities" in result.stderr
    assert "events.csv (referrals)" in runner.invoke(app, ["validate", str(folder)]).stdout


# --- the process map of a service folder ----------------------------------------------------


def test_processmap_of_a_service_folder_uses_its_event_log(tmp_path):
    folder = log_folder(tmp_path)
    result = runner.invoke(app, ["processmap", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    # A's risk assessment started and completed: one visit, its start left out.
    assert sum(a["events"] for a in document["activities"]) == 8
    assert document["left_out_events"] == {"start": 1}
    assert document["times"].startswith("Complete events only (1 start events left out)")
    assert not [e for e in document["edges"] if e["from"] == e["to"]]
    starts = {e["to"]: e["count"] for e in document["edges"] if e["from"] == "__start__"}
    assert starts == {"Referral received": 3}  # A's first event by time, not by file order
    # A column option reads the folder's log file again, with the folder's other settings.
    log = open_event_log(folder, timezone="UTC")
    assert (log.source, log.timezone, log.n_events) == ("events.csv", "UTC", 9)


def test_processmap_takes_every_column_from_the_command_line(tmp_path):
    log = tmp_path / "events.csv"
    log.write_text(LOG)
    columns = ["--case-id", "Ref", "--activity", "Event", "--timestamp", "When"]
    result = runner.invoke(app, ["processmap", str(log), *columns, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # no lifecycle column named: every event mapped
    assert document["left_out_events"] == {} and "no start events" in document["times"]
    loops = {(e["from"], e["to"]): e["count"] for e in document["edges"] if e["from"] == e["to"]}
    assert loops == {("Risk assessment", "Risk assessment"): 1}
    lifecycle = ["--lifecycle", "Status", "--case-type", "Kind"]
    result = runner.invoke(app, ["processmap", str(log), *columns, *lifecycle, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["left_out_events"] == {"start": 1}
    assert sum(a["events"] for a in document["activities"]) == 8
    # The options reach the reader: a column the file lacks is named in the error.
    for option in ("--resource", "--case-type", "--lifecycle"):
        result = runner.invoke(app, ["processmap", str(log), *columns, option, "Nope"])
        assert result.exit_code == 1
        assert "missing column 'Nope'" in result.stderr, (option, result.stderr)
    # A folder's event_log: settings are overridden by the options.
    folder = log_folder(tmp_path / "folder", lifecycle=None)
    result = runner.invoke(app, ["processmap", str(folder), "--lifecycle", "Status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["left_out_events"] == {"start": 1}


def test_processmap_prints_its_rankings_and_checks_its_filters(tmp_path):
    folder = log_folder(tmp_path)
    result = runner.invoke(app, ["processmap", str(folder)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "3 cases, 8 events" in text and "1 start events left out" in text
    for title in ("Where the waiting accumulates", "Longest delays (90th percentile)"):
        assert title in text
    assert "No rework loops" in text
    for option in ("--top-edges", "--top-variants"):
        result = runner.invoke(app, ["processmap", str(folder), option, "0"])
        assert result.exit_code == 1
        assert f"{option} must be at least 1, not 0" in result.stderr


def test_processmap_help_keeps_its_defaults():
    result = runner.invoke(app, ["processmap", "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for text in ("(default: the folder's, or case_id)", "(default: the folder's, or timestamp)"):
        assert text in result.stdout
    assert "--top-variants" in result.stdout and "--lifecycle" in result.stdout
    assert "case id ." not in result.stdout


def test_processmap_of_a_folder_without_an_event_log_says_so(tmp_path):
    folder = write_folder(tmp_path)
    with pytest.raises(FlowcapError, match="has no event_log: section"):
        open_event_log(folder)
    result = runner.invoke(app, ["processmap", str(folder)])
    assert result.exit_code == 1 and "has no event_log: section" in result.stderr
    result = runner.invoke(app, ["processmap", str(tmp_path / "x.csv"), "--timezone", "Mars/Base"])
    assert result.exit_code == 1 and "--timezone unknown time zone" in result.stderr


# --- the real sepsis log --------------------------------------------------------------------

SEPSIS_WORK = {
    "ER Triage": ("nurse", 10),
    "ER Sepsis Triage": ("nurse", 10),
    "IV Antibiotics": ("nurse", 15),
    "IV Liquid": ("nurse", 15),
    "Leucocytes": ("lab", 5),
    "CRP": ("lab", 5),
    "LacticAcid": ("lab", 5),
}


@pytest.fixture(scope="module")
def sepsis_folder(tmp_path_factory):
    log = REAL / "sepsis.csv"
    if not log.is_file():
        pytest.skip(f"real log {log} is absent (../shared/data/real is not checked out)")
    service = {
        "name": "Sepsis emergency department",
        "timezone": "Europe/Amsterdam",
        "working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "work_bank_holidays": True,
        "resources": {
            "nurse": {"staff": 4, "minutes_per_day": 420},
            "lab": {"staff": 2, "minutes_per_day": 420},
        },
        "case_types": {
            "sepsis": {
                "priority": 1,
                "steps": [{"resource": "nurse", "minutes": 40}, {"resource": "lab", "minutes": 35}],
            }
        },
        "event_log": {
            "file": str(log),
            "lifecycle": "lifecycle",
            "resource": "resource",
            "activities": {
                name: {"resource": resource, "minutes": minutes}
                for name, (resource, minutes) in SEPSIS_WORK.items()
            },
        },
    }
    folder = tmp_path_factory.mktemp("sepsis")
    (folder / "service.yaml").write_text(yaml.safe_dump(service, sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def sepsis_rows():
    with (REAL / "sepsis.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


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


def test_sepsis_measures_and_variation_through_the_cli(sepsis_folder, sepsis_rows):
    result = runner.invoke(app, ["measures", str(sepsis_folder), "--json"])
    assert result.exit_code == 0, result.output
    assert "note: sepsis.csv: 9 activities not in event_log.activities" in result.stderr
    table = pd.DataFrame(json.loads(result.stdout))
    work = [row for row in sepsis_rows if row["activity"] in SEPSIS_WORK]
    for resource, step_minutes in (("nurse", 40), ("lab", 35)):
        rows = table[table["resource"] == resource]
        minutes = sum(
            SEPSIS_WORK[r["activity"]][1] for r in work if SEPSIS_WORK[r["activity"]][0] == resource
        )
        # Activity is every session's minutes; demand is every referral's step minutes.
        assert rows["activity_minutes"].sum() == pytest.approx(minutes)
        assert rows["demand_minutes"].sum() == pytest.approx(1050 * step_minutes)
        assert rows["demand_cases"].sum() == 1050
    assert not import_folder(sepsis_folder).changed  # measures imported it already
    result = runner.invoke(app, ["variation", str(sepsis_folder), "--json"])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)


# --- the bundled example --------------------------------------------------------------------


def test_example_regenerates_byte_for_byte_and_is_small(tmp_path):
    generate_victim_support_log(tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (EXAMPLE / name).read_bytes(), name
        assert (EXAMPLE / name).stat().st_size < 300_000, name
    assert "event_log" in (EXAMPLE / "README.md").read_text()
    assert not (EXAMPLE / "referrals.csv").exists() and not (EXAMPLE / "sessions.csv").exists()


def test_example_is_a_service_and_its_idva_backlog_builds_while_one_is_away(tmp_path):
    folder = shutil.copytree(EXAMPLE, tmp_path / "example", ignore=shutil.ignore_patterns(".*"))
    checked = read_service_folder(folder)
    with (folder / "events.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    mapped = {"Triage call", "Risk assessment", "IDVA contact", "Needs assessment"}
    mapped.add("Follow-up call")
    complete = [r for r in rows if r["Event"] in mapped and r["Status"] == "complete"]
    assert len(checked.referrals) == len({r["Case Ref"] for r in rows}) == 740
    assert len(checked.sessions) == len(complete)
    assert len(checked.notes) == 2
    result = runner.invoke(app, ["measures", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    table = pd.DataFrame(json.loads(result.stdout))
    idva = table[table["resource"] == "idva"].set_index("date")["backlog_minutes"]
    assert idva["2024-03-04":"2024-03-22"].mean() < 300
    assert idva["2024-04-15":"2024-04-19"].mean() > 3 * idva["2024-03-04":"2024-03-22"].mean()
    assert idva["2024-05-13":"2024-05-31"].mean() < 300
    result = runner.invoke(app, ["processmap", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert len(document["activities"]) == 7
    # A risk assessment's start and complete are one visit, not a hand-off to itself.
    starts = sum(r["Status"] == "start" for r in rows)
    assert document["left_out_events"] == {"start": starts} and starts > 100
    assert sum(a["events"] for a in document["activities"]) == len(rows) - starts
    assert {(e["from"], e["to"]) for e in document["rework"]} == {("IDVA contact", "IDVA contact")}
    risk = [e for e in document["edges"] if e["to"] == "Risk assessment"]
    assert risk and all(e["from"] != "Risk assessment" for e in risk)
