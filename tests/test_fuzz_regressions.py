"""The failures the readers' fuzzing found (tests/test_fuzz_*.py), each as the shrunk input
that showed it: each failed before its fix (a traceback, a hang or a wrong row) and must now
end in a clear error naming the right file, row and column.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from conftest import LOG_SERVICE, WORKED_SERVICE, log_folder, problems_of, write_folder
from flowcap.errors import InputError
from flowcap.io.safe_yaml import load_yaml
from flowcap.io.scenarios_yaml import parse_scenarios
from flowcap.io.school_holidays import parse_school_holidays
from flowcap.io.service_yaml import check_service_yaml
from flowcap.model import Service

# --- delimited tables -------------------------------------------------------------------------


def test_a_carriage_return_in_a_ragged_row_is_a_problem_not_a_csv_error(tmp_path):
    # Was: _csv.Error "new-line character seen in unquoted field" from the ragged-row check.
    referrals = (
        "case_id,referral_date,case_type\n\r,2025-03-03,advocacy,x\nR1,2025-03-04,advocacy\n"
    )
    problems = problems_of(write_folder(tmp_path, referrals=referrals))
    assert problems and all(p.startswith("referrals.csv") for p in problems)


def test_a_file_of_bare_carriage_returns_is_read_as_lines(tmp_path):
    referrals = (
        "case_id,referral_date,case_type\r\r,2025-03-03,advocacy,x\rR1,2025-03-04,advocacy\r"
    )
    problems = problems_of(write_folder(tmp_path, referrals=referrals))
    assert "referrals.csv, row 3: 4 fields where the header has 3" in " ".join(problems)


def test_a_duplicate_case_id_after_a_blank_line_names_both_rows(tmp_path):
    # Was: IndexError (the row's place in the file taken as its position among the rows),
    # or the wrong first row when there were fewer blank lines than rows.
    referrals = (
        "case_id,referral_date,case_type\n\nR1,2025-03-03,advocacy\n\n"
        "R2,2025-03-03,advocacy\nR1,2025-03-04,advocacy\n"
    )
    problems = problems_of(write_folder(tmp_path, referrals=referrals))
    # Header row 1, blank 2, R1 row 3, blank 4, R2 row 5, the second R1 row 6.
    assert problems == [
        "referrals.csv, row 6, column case_id: duplicate case id (first seen in row 3)"
    ]


def test_many_duplicates_after_blank_lines_do_not_crash(tmp_path):
    rows = "".join(f"\nR{i % 5},2025-03-03,advocacy\n" for i in range(60))
    problems = problems_of(
        write_folder(tmp_path, referrals="case_id,referral_date,case_type\n" + rows)
    )
    assert len(problems) == 51  # 50 listed, then "... and 5 more problems in this file"
    # R0..R4 first on rows 3, 5, 7, 9, 11; the sixth row (R0 again) is file row 13.
    assert problems[0] == (
        "referrals.csv, row 13, column case_id: duplicate case id (first seen in row 3)"
    )


def test_a_column_named_twice_in_different_cases_is_a_problem(tmp_path):
    # Was: AttributeError "'DataFrame' object has no attribute 'str'" (two columns case_id).
    referrals = "case_id,referral_date,case_type,CASE_ID\nR1,2025-03-03,advocacy,R1\n"
    assert problems_of(write_folder(tmp_path, referrals=referrals)) == [
        "referrals.csv, row 1, column case_id: column 'case_id' is given twice (columns 1, 4)"
    ]


def test_a_holiday_ending_before_it_starts_after_a_blank_line_names_its_row():
    raw = b"start,end,name\n\n2025-04-05,2025-04-01,Easter\n"
    with pytest.raises(InputError) as caught:
        parse_school_holidays(Path("school_holidays.csv"), "Europe/London", raw)
    # Was row 2 (its position among the rows), not row 3 (its line in the file).
    assert [str(p) for p in caught.value.problems] == [
        "school_holidays.csv, row 3, column end: end '2025-04-01' is before start '2025-04-05'"
    ]


# --- event logs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "zone, stamp, year",
    [
        # Was read as 2262-04-11: the conversion to UTC wrapped past pandas' lower bound.
        ("Asia/Tokyo", "1677-09-21T01:00:00", "1677"),
        ("Europe/London", "1677-09-21T00:12:44", "1677"),
        # Was read as 2262-04-11 in New York, past flowcap's last date.
        ("America/New_York", "2262-04-11T23:00:00", "2262"),
        ("Europe/London", "2262-04-12T00:00:00-05:00", "2262"),
        # Was read as 1850: within pandas' range, outside flowcap's.
        ("Europe/London", "1850-01-01T10:00:00", "1850"),
        ("Europe/London", "1850-01-01T10:00:00+01:00", "1850"),
    ],
)
def test_a_csv_log_dated_outside_1900_to_2200_is_refused(tmp_path, zone, stamp, year):
    log = f"Ref,Event,Status,When,Kind\nA,Triage call,complete,{stamp},high\n"
    problems = problems_of(log_folder(tmp_path, log, timezone=zone))
    assert problems == [
        f"events.csv, row 2, column When: outside 1900-01-01 to 2200-12-31 (a mistyped "
        f"year?): '{stamp}'"
    ]
    assert year in stamp


def test_a_log_missing_its_columns_lists_a_few_short_names(tmp_path):
    # Was: every column name listed whole (a 25,000-character header echoed five times).
    header = "Event " + " ".join(f"c{i}" for i in range(5_000))
    problems = problems_of(log_folder(tmp_path, header + "\nx\n", delimiter=","))
    assert len(problems) == 5
    assert all(len(p) < 200 for p in problems)
    header = ",".join(f"c{i}" for i in range(150))
    [first, *_] = problems_of(log_folder(tmp_path, header + "\n" + "x," * 149 + "x\n"))
    assert first.endswith("c16, c17, c18, c19 and 130 more")


@pytest.mark.parametrize("stamp", ["1800-01-01T10:00:00Z", "2250-01-01T10:00:00+01:00"])
def test_an_xes_log_dated_outside_1900_to_2200_is_refused(tmp_path, stamp):
    # Was: referrals dated 1800 or 2250, accepted as they were.
    service = json.loads(json.dumps(LOG_SERVICE))
    service["event_log"] = {"file": "log.xes", "default_case_type": "standard"}
    write_folder(tmp_path, service)
    (tmp_path / "log.xes").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><log><trace>'
        '<string key="concept:name" value="A"/><event>'
        '<string key="concept:name" value="Triage call"/>'
        f'<date key="time:timestamp" value="{stamp}"/></event></trace></log>'
    )
    assert problems_of(tmp_path) == [
        f"log.xes, column time:timestamp: event 1 of the log: time:timestamp {stamp[:10]} "
        "outside 1900-01-01 to 2200-12-31 (a mistyped year?)"
    ]


# --- YAML -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["odd: " + "[" * 100_000 + "]" * 100_000, "{a: " * 100_000 + "}" * 100_000, "- " * 100_000],
)
def test_yaml_nested_100000_deep_is_refused_at_once(text):
    # Was: 20 s for 10,000 levels, minutes for 100,000 (200 KB, under the 1 MB cap).
    started = time.perf_counter()
    data, _, problems = load_yaml(text, "service.yaml")
    assert time.perf_counter() - started < 2
    assert data is None
    assert [str(p) for p in problems] == [
        "service.yaml: YAML is nested too deeply to be a service definition"
    ]


def test_yaml_nested_as_deep_as_a_service_needs_is_read():
    text = "{a: " * 50 + "1" + "}" * 50
    data, _, problems = load_yaml(text, "service.yaml")
    assert problems == [] and data is not None


def _service_yaml(change) -> list[str]:
    document = yaml.safe_load(yaml.safe_dump(WORKED_SERVICE))
    change(document)
    service, problems = check_service_yaml(Path("service.yaml"), yaml.safe_dump(document).encode())
    assert service is None
    return [str(p) for p in problems]


def test_a_step_resource_given_as_a_list_is_a_clear_error():
    # Was: TypeError "unhashable type: 'list'" in the unknown-resource check.
    def change(document):
        document["case_types"]["advocacy"]["resource"] = ["idva"]

    assert _service_yaml(change) == [
        "service.yaml, row 5, column case_types.advocacy.resource: Input should be a valid string"
    ]


SERVICE = Service.model_validate(
    {
        **WORKED_SERVICE,
        "resources": {
            "idva": {"staff": 2, "minutes_per_day": 240},
            "caseworker": {"staff": 3, "minutes_per_day": 200},
        },
    }
)


@pytest.mark.parametrize(
    "text, expected",
    [
        # Was: TypeError "unhashable type: 'list'" looking the names up.
        (
            "move:\n  - transfer: {from: [idva], to: caseworker, staff: 1,\n"
            "                start: 2026-01-05, end: 2026-02-06}\n",
            "scenarios.yaml, row 2, column move.0.transfer.from: Input should be a valid string",
        ),
        (
            "empty:\n  - vacancy: {resource: {idva: 1}, staff: 1,\n"
            "               start: 2026-01-05, end: 2026-02-06}\n",
            "scenarios.yaml, row 2, column empty.0.vacancy.resource: "
            "Input should be a valid string",
        ),
        # Was: StopIteration from a change with a kind but no settings.
        (
            "book:\n  - agency:\n",
            "scenarios.yaml, row 2, column book.0: agency has no settings: give them "
            "(agency: {...})",
        ),
    ],
)
def test_scenario_names_of_the_wrong_type_are_clear_errors(text, expected):
    with pytest.raises(InputError) as caught:
        parse_scenarios(text, SERVICE)
    assert [str(p) for p in caught.value.problems] == [expected]


# --- workbooks --------------------------------------------------------------------------------


def _workbook_of_a_later_zip_version(path: Path) -> Path:
    """A real workbook whose zip directory says its entries need zip version 23.5 to
    extract (the long run's shrunk school-holidays workbook)."""
    import io
    import struct
    import zipfile

    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["name", "start", "end"])
    book.active.append(["Summer", "2025-07-23", "2025-09-02"])
    buffer = io.BytesIO()
    book.save(buffer)
    raw = bytearray(buffer.getvalue())
    at = raw.find(zipfile.stringCentralDir)  # the first central directory entry
    struct.pack_into("<H", raw, at + 6, 235)  # its "version needed to extract"
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("reader", ["school holidays", "referrals"])
def test_a_workbook_of_a_later_zip_version_is_a_problem_not_a_traceback(tmp_path, reader):
    # Was: NotImplementedError "zip file version 23.5" from zipfile, before any check.
    if reader == "school holidays":
        path = _workbook_of_a_later_zip_version(tmp_path / "school_holidays.xlsx")
        with pytest.raises(InputError) as caught:
            parse_school_holidays(path, "Europe/London")
        problems = [str(p) for p in caught.value.problems]
    else:
        folder = write_folder(tmp_path / "service")
        _workbook_of_a_later_zip_version(folder / "referrals.xlsx")
        problems = problems_of(folder)
    assert len(problems) == 1 and problems[0].startswith(f"{reader.replace(' ', '_')}.xlsx")
