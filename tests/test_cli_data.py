"""The data commands end to end (flowcap.cli.data): the worked example, init/validate,
charts, import, erase, errors, services by name, demo, and folders whose history is an
event log."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import flowcap
from conftest import (
    SEPSIS_WORK,
    WORKED_SERVICE,
    log_folder,
    sepsis_folder_in,
    sepsis_log_rows,
    snapshot,
    worked_example,
    write_folder,
)
from flowcap import import_folder
from flowcap.cli.main import app
from flowcap.history import open_stored
from flowcap.io.pseudonym import load_key, pseudonymise
from flowcap.measures import MEASURE_COLUMNS
from flowcap.measures.waiting import BAND_COLUMNS
from flowcap.store import Store, database_url

runner = CliRunner()
HEADER = "case_id,referral_date,case_type\n"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_worked_example_comes_out_exactly(tmp_path, backend):
    folder = worked_example(tmp_path / "svc")
    result = runner.invoke(app, ["measures", str(folder), "--json", "--to", "2025-03-05"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [set(row) for row in rows] == [set(MEASURE_COLUMNS) | set(BAND_COLUMNS)] * 2
    day1, day2 = rows
    assert day1["date"] == "2025-03-04" and day1["resource"] == "idva"
    assert day1["demand_minutes"] == 720
    assert day1["capacity_minutes"] == 480
    assert day1["opening_backlog_minutes"] == 1200
    assert day1["activity_minutes"] == 480
    assert day1["backlog_minutes"] == 1440
    assert (day1["demand_cases"], day1["activity_cases"], day1["backlog_cases"]) == (12, 8, 24)
    assert day2["date"] == "2025-03-05"
    assert (day2["demand_minutes"], day2["opening_backlog_minutes"]) == (0, 1440)
    assert day2["backlog_minutes"] == 960
    assert day2["backlog_cases"] == 16
    # By age in working days: 0-2, 3-5, 6-10, 11-20, over 20 (test_measures_waiting.py's
    # hand count for 4 March; on the 5th the 18 and 19 February cases are 11 and 10 days old).
    assert [day1[column] for column in BAND_COLUMNS] == [12, 0, 4, 8, 0]
    assert [day2[column] for column in BAND_COLUMNS] == [12, 0, 2, 2, 0]


def test_from_and_to_select_days_but_backlog_counts_from_the_start(tmp_path):
    folder = worked_example(tmp_path / "svc")
    result = runner.invoke(
        app, ["measures", str(folder), "--json", "--from", "2025-03-05", "--to", "2025-03-07"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["date"] for row in rows] == ["2025-03-05", "2025-03-06", "2025-03-07"]
    assert [row["backlog_minutes"] for row in rows] == [960, 480, 0]


def test_bad_date_option_is_a_clear_error(tmp_path):
    folder = worked_example(tmp_path / "svc")
    result = runner.invoke(app, ["measures", str(folder), "--from", "5 March"])
    assert result.exit_code == 1
    assert "--from '5 March' is not a date" in result.stderr


def test_init_writes_a_template_that_validates(tmp_path):
    folder = tmp_path / "new"
    result = runner.invoke(app, ["init", str(folder)])
    assert result.exit_code == 0, result.output
    assert "#" in (folder / "service.yaml").read_text()  # the template is commented
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert "folder is valid" in result.stdout
    again = runner.invoke(app, ["init", str(folder)])
    assert again.exit_code == 1 and "not overwriting" in again.stderr


def test_import_twice_writes_nothing_the_second_time(tmp_path):
    folder = worked_example(tmp_path / "svc")
    first = runner.invoke(app, ["import", str(folder)])
    assert first.exit_code == 0, first.output
    assert "12" in first.stdout and "20" in first.stdout
    assert "Settings: service saved (version 1)." in first.stdout
    assert f"Store: sqlite:///{folder.resolve()}/.flowcap/flowcap.db" in first.stdout
    second = runner.invoke(app, ["import", str(folder)])
    assert second.exit_code == 0
    # Four tables, the (absent) event log and the settings line.
    assert second.stdout.count("unchanged") == 6
    assert "Settings unchanged." in second.stdout
    (folder / "school_holidays.csv").write_text("start,end,name\n2025-04-07,2025-04-18,Easter\n")
    added = runner.invoke(app, ["import", str(folder)])
    assert "Settings: school holidays saved (version 1)." in added.stdout, added.output
    (folder / "school_holidays.csv").unlink()
    removed = runner.invoke(app, ["import", str(folder)])
    assert "Settings: school holidays removed (version 2)." in removed.stdout, removed.output


def test_measures_writes_html_and_png_charts(tmp_path):
    folder = worked_example(tmp_path / "svc")
    for name in ("chart.html", "chart.png"):
        result = runner.invoke(
            app, ["measures", str(folder), "--to", "2025-03-14", "--chart", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "plotly" in (tmp_path / "chart.html").read_text()
    # The waiting list by age beside it, and named on stderr.
    assert (tmp_path / "chart-waiting.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "plotly" in (tmp_path / "chart-waiting.html").read_text()
    assert f"chart: {tmp_path / 'chart-waiting.png'}" in result.stderr  # the last run's


def test_measures_lists_who_waits_by_age(tmp_path):
    folder = worked_example(tmp_path / "svc")
    result = runner.invoke(app, ["measures", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Waiting list at the end of Tue 04 Mar 2025" in result.stdout
    line = next(row for row in result.stdout.splitlines() if "advocacy" in row)
    # resource, case type, waiting, oldest, 0-2, 3-5, 6-10, 11-20, over 20, median, p90
    cells = [cell.strip() for cell in line.strip("│ ").split("│")]
    assert cells == ["idva", "advocacy", "24", "12", "12", "0", "4", "8", "0", "0", "12"]


def test_erase_removes_a_case_and_keeps_it_out(tmp_path):
    folder = worked_example(tmp_path / "svc")
    runner.invoke(app, ["import", str(folder)])
    result = runner.invoke(app, ["erase", str(folder), "R03"])
    assert result.exit_code == 0, result.output
    assert "Erased 1 record" in result.stdout
    rows = json.loads(runner.invoke(app, ["measures", str(folder), "--json"]).stdout)
    assert rows[0]["demand_minutes"] == 660  # 11 referrals left
    again = runner.invoke(app, ["erase", str(folder), "R03"])
    assert "No records" in again.stdout


def test_invalid_folder_exits_nonzero_without_traceback(tmp_path):
    folder = worked_example(tmp_path / "svc")
    (folder / "referrals.csv").write_text(
        "case_id,referral_date,case_type\nA,2025-03-04,advocacy\nB,not-a-date,nope\n"
    )
    result = runner.invoke(app, ["measures", str(folder), "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "referrals.csv, row 3, column referral_date: not a date" in result.stderr
    assert "referrals.csv, row 3, column case_type: unknown case type" in result.stderr
    assert "Traceback" not in result.output


BAD_INPUTS = {
    "unknown-case-type": (
        "referrals.csv",
        "case_id,referral_date,case_type\nX,2025-03-04,nope\n",
        "referrals.csv, row 2, column case_type: unknown case type",
    ),
    "bad-date": (
        "referrals.csv",
        "case_id,referral_date,case_type\nX,2025-02-30,advocacy\n",
        "referrals.csv, row 2, column referral_date: not a date",
    ),
    "duplicate-id": (
        "referrals.csv",
        "case_id,referral_date,case_type\nX,2025-03-04,advocacy\nX,2025-03-04,advocacy\n",
        "referrals.csv, row 3, column case_id: duplicate case id",
    ),
    "missing-column": (
        "referrals.csv",
        "case_id,case_type\nX,advocacy\n",
        "referrals.csv, row 1, column referral_date: missing column",
    ),
    "empty-file": ("referrals.csv", "", "referrals.csv: file is empty"),
    "negative-minutes": (
        "sessions.csv",
        "date,case_id,resource,minutes\n2025-03-04,R01,idva,-5\n",
        "sessions.csv, row 2, column minutes: must be more than 0",
    ),
    "unknown-resource": (
        "roster.csv",
        "date,resource,staff\n2025-03-04,advocate,2\n",
        "roster.csv, row 2, column resource: unknown resource",
    ),
    "not-utf8": (
        "roster.csv",
        b"date,resource,staff\n2025-03-04,idva,\xff\n",
        "roster.csv, row 2, column staff: byte 0xff is not UTF-8",
    ),
    "yaml-not-mapping": (
        "service.yaml",
        "just a sentence\n",
        "service.yaml, row 1: must be a YAML mapping",
    ),
    "yaml-alias": (
        "service.yaml",
        "name: &a x\nregion: *a\n",
        "service.yaml, row 2: YAML aliases (*name) are not allowed",
    ),
    "yaml-tag": ("service.yaml", "name: !!binary eA==\n", "service.yaml, row 1: YAML tags"),
}


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_bad_input_exits_nonzero_and_leaves_the_store_unchanged(tmp_path, kind):
    folder = worked_example(tmp_path / "svc")
    assert runner.invoke(app, ["import", str(folder)]).exit_code == 0
    before = snapshot(folder)
    name, content, message = BAD_INPUTS[kind]
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    for command in ("import", "measures"):
        result = runner.invoke(app, [command, str(folder)])
        assert result.exit_code == 1, result.output
        assert message in result.stderr
        assert "Traceback" not in result.output
    assert snapshot(folder) == before


def test_a_changed_service_definition_is_checked_against_the_data_again(tmp_path):
    folder = worked_example(tmp_path / "svc")
    assert runner.invoke(app, ["measures", str(folder), "--json"]).exit_code == 0
    text = (folder / "service.yaml").read_text().replace("advocacy", "advice")
    (folder / "service.yaml").write_text(text)
    result = runner.invoke(app, ["measures", str(folder), "--json"])
    assert result.exit_code == 1
    expected = "referrals.csv, row 2, column case_type: unknown case type (known: advice)"
    assert expected in result.stderr


def test_the_first_import_says_where_the_new_key_is(tmp_path, isolated_key):
    folder = worked_example(tmp_path / "svc")
    first = runner.invoke(app, ["import", str(folder)])
    assert f"created the pseudonymisation key {isolated_key}" in first.stderr
    assert "Back it up" in first.stderr
    second = runner.invoke(app, ["import", str(folder)])
    assert "created the pseudonymisation key" not in second.stderr


def test_everything_erased_is_an_error_not_a_traceback(tmp_path):
    folder = worked_example(tmp_path / "svc")
    (folder / "waiting.csv").unlink()
    (folder / "referrals.csv").write_text(
        "case_id,referral_date,case_type\nA1,2025-03-04,advocacy\n"
    )
    assert runner.invoke(app, ["import", str(folder)]).exit_code == 0
    assert runner.invoke(app, ["erase", str(folder), "A1"]).exit_code == 0
    result = runner.invoke(app, ["measures", str(folder)])
    assert result.exit_code == 1
    assert "no referrals stored" in result.stderr


def test_erasing_an_unknown_id_changes_nothing(tmp_path):
    folder = worked_example(tmp_path / "svc")
    runner.invoke(app, ["import", str(folder)])
    result = runner.invoke(app, ["erase", str(folder), "R3"])  # a typo for R03
    assert "nothing was changed" in result.stdout
    with (folder / "referrals.csv").open("a") as handle:
        handle.write("R3,2025-03-05,advocacy\n")
    runner.invoke(app, ["import", str(folder)])
    assert len(snapshot(folder)["referrals"]) == 13  # the real R3 is not blocked


def test_erasure_reaches_rows_kept_under_an_old_service_name(tmp_path):
    folder = worked_example(tmp_path / "svc")
    runner.invoke(app, ["import", str(folder)])
    text = (folder / "service.yaml").read_text().replace("Worked example", "Renamed")
    (folder / "service.yaml").write_text(text)
    runner.invoke(app, ["import", str(folder)])
    assert len(snapshot(folder)["referrals"]) == 24  # both names hold the 12 referrals
    runner.invoke(app, ["erase", str(folder), "R03"])
    assert len(snapshot(folder)["referrals"]) == 22


def test_a_damaged_key_file_is_a_clear_error(tmp_path, isolated_key):
    folder = worked_example(tmp_path / "svc")
    isolated_key.write_text("junk\n")
    isolated_key.chmod(0o600)
    result = runner.invoke(app, ["import", str(folder)])
    assert result.exit_code == 1
    assert "is damaged" in result.stderr


def test_an_unwritable_chart_path_is_a_clear_error(tmp_path):
    folder = worked_example(tmp_path / "svc")
    (tmp_path / "taken.html").mkdir()
    result = runner.invoke(app, ["measures", str(folder), "--chart", str(tmp_path / "taken.html")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "error:" in result.stderr


def test_to_after_the_last_recorded_session_is_refused(tmp_path):
    folder = worked_example(tmp_path / "svc")
    (folder / "sessions.csv").write_text("date,case_id,resource,minutes\n2025-03-04,R01,idva,60\n")
    result = runner.invoke(app, ["measures", str(folder), "--to", "2025-04-30"])
    assert result.exit_code == 1
    assert "after the last recorded data (2025-03-04)" in result.stderr


def test_cli_validate_reports_problems_and_exits_nonzero(tmp_path):
    folder = write_folder(tmp_path, WORKED_SERVICE, referrals=HEADER + "A,2025-02-30,advocacy\n")
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1
    assert "referrals.csv, row 2, column referral_date: not a date" in result.stderr
    assert "Traceback" not in result.output
    assert not (folder / ".flowcap").exists()  # validate never imports


# --- a service in the store, by name ----------------------------------------------------------


def test_services_lists_the_default_store(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    default = tmp_path / "data" / "flowcap" / "flowcap.db"
    # Reading never makes the default store: it says there is none yet, and how to make one.
    for args in (["services"], ["measures", "--service", "Worked example"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1
        assert f"there is no store at {default} yet" in result.stderr
        assert "FLOWCAP_DATABASE_URL" in result.stderr
    assert not default.exists()
    folder = worked_example(tmp_path / "svc")
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", f"sqlite:///{default}")
    default.parent.mkdir(parents=True)
    assert runner.invoke(app, ["import", str(folder)]).exit_code == 0
    monkeypatch.delenv("FLOWCAP_DATABASE_URL")
    result = runner.invoke(app, ["services"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Worked example" in result.stdout and "service 1" in result.stdout
    assert str(default) in result.stdout  # which store it is
    result = runner.invoke(app, ["measures", "--service", "Worked example", "--json"])
    assert result.exit_code == 0, result.output
    # A name the store does not hold: the store and what it holds are named.
    result = runner.invoke(app, ["measures", "--service", "Nope"])
    assert result.exit_code == 1
    assert f"the store at sqlite:///{default} holds no service 'Nope'" in result.stderr
    assert "(it holds: 'Worked example')" in result.stderr


def test_a_folder_or_a_name_but_not_both(tmp_path):
    folder = worked_example(tmp_path / "svc")
    for args in (["measures"], ["measures", str(folder), "--service", "Worked example"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1
        assert "give a service folder, or --service NAME" in result.stderr


def test_erase_by_service_name(tmp_path, backend, monkeypatch):
    folder = worked_example(tmp_path / "svc")
    flowcap.open(folder)
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", database_url(folder))
    result = runner.invoke(app, ["erase", "--service", "Worked example", "R01"])
    assert result.exit_code == 0, result.output
    assert "Erased 1 record(s)" in result.stdout
    assert len(open_stored("Worked example").tables.referrals) == 11


def test_validate_checks_the_school_holidays_and_the_options(tmp_path):
    folder = write_folder(
        tmp_path / "svc",
        referrals="case_id,referral_date,case_type\nA,2025-03-04,advocacy\n",
        school_holidays="start,end\n2025-04-21,2025-04-05\n",
    )
    (folder / "scenarios.yaml").write_text("more staff:\n  - agency: {resource: nobody}\n")
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1
    assert "school_holidays.csv, row 2, column end: end '2025-04-05' is before start" in (
        result.stderr
    )
    assert "scenarios.yaml" in result.stderr and "unknown resource 'nobody'" in result.stderr


# --- demo, and validating the options ---------------------------------------------------------


@pytest.mark.slow
def test_the_demo_measures_simulates_and_ranks_the_options(tmp_path):
    folder = tmp_path / "vs"  # empty: the demo writes the example there, its options too
    result = runner.invoke(app, ["demo", "--dir", str(folder), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "First contact within 2 working days" in result.stdout
    assert "Contingency options, best value first" in result.stdout
    for name in ("measures.html", "measures.png", "backlog-ahead.png", "backlog-ahead-options.png"):
        assert (tmp_path / "out" / name).stat().st_size > 1000


def test_validate_checks_the_scenarios_file_too(tmp_path):
    folder = tmp_path / "vs"
    shutil.copytree(EXAMPLES / "victim-support", folder, ignore=shutil.ignore_patterns(".flowcap"))
    assert runner.invoke(app, ["validate", str(folder)]).exit_code == 0
    (folder / "scenarios.yaml").write_text(
        "more staff:\n  - agency: {resource: nurse, staff: 1, day_rate: 185, start: 2026-01-05}\n"
    )
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1
    assert "scenarios.yaml, row 2" in result.stderr and "nurse" in result.stderr


def test_validate_by_name_measures_the_stored_data(tmp_path, monkeypatch):
    from sqlalchemy import update

    from flowcap.store import schema

    folder = worked_example(tmp_path / "svc")
    import_folder(folder)
    store = Store.for_folder(folder)
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", store.url)
    valid = runner.invoke(app, ["validate", "--service", "Worked example"])
    assert valid.exit_code == 0 and "stored service is valid" in valid.stdout
    # Rows an older flowcap let through: the settings still parse, but the data cannot measure.
    with store.engine.begin() as connection:
        connection.execute(update(schema.referrals).values(case_type="ghost"))
    store.close()
    result = runner.invoke(app, ["validate", "--service", "Worked example"])
    assert result.exit_code == 1 and "is valid" not in result.stdout
    assert "the stored data does not measure" in result.stderr and "ghost" in result.stderr


# --- a service folder whose history is an event log -------------------------------------------


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


@pytest.fixture(scope="module")
def sepsis_folder(tmp_path_factory):
    return sepsis_folder_in(tmp_path_factory.mktemp("sepsis"))


@pytest.fixture(scope="module")
def sepsis_rows():
    return sepsis_log_rows()


@pytest.mark.slow
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


def test_import_of_a_missing_folder_does_not_suggest_a_name(tmp_path):
    result = runner.invoke(app, ["import", str(tmp_path / "typo")])
    assert result.exit_code == 1 and "no such folder" in result.stderr
    assert "--service" not in result.stderr  # import has no --service
