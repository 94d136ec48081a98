"""A service folder read and checked (flowcap.io.folder): every kind of bad table gets a
clear message naming file, row and column; none crash. Reading one file's bytes is in
test_io_tables.py, service.yaml in test_io_service_yaml.py and test_io_safe_yaml.py."""

from __future__ import annotations

import pytest

from conftest import problems_of, worked_example, write_folder
from flowcap.io import read_service_folder

HEADER = "case_id,referral_date,case_type\n"


def test_a_good_folder_reads_with_typed_columns(tmp_path):
    checked = read_service_folder(worked_example(tmp_path))
    assert len(checked.referrals) == 12 and len(checked.waiting) == 20
    assert str(checked.referrals["referral_date"].dtype) == "datetime64[ns]"
    assert checked.sessions is None


@pytest.mark.parametrize(
    ("referrals", "expected"),
    [
        (
            HEADER + "A,2025-03-04,advocacy\nB,2025-03-04,burglary\n",
            "referrals.csv, row 3, column case_type: unknown case type (known: advocacy): "
            "'burglary'",
        ),
        (
            HEADER + "A,2025-03-04,advocacy\nB,04-03-2025x,advocacy\n",
            "referrals.csv, row 3, column referral_date: not a date (use YYYY-MM-DD): "
            "'04-03-2025x'",
        ),
        (
            HEADER + "A,2025-03-04,advocacy\nB,,advocacy\n",
            "referrals.csv, row 3, column referral_date: missing date",
        ),
        (
            HEADER + "A,2025-03-04,advocacy\nA,2025-03-05,advocacy\n",
            "referrals.csv, row 3, column case_id: duplicate case id (first seen in row 2)",
        ),
        (
            HEADER + ",2025-03-04,advocacy\n",
            "referrals.csv, row 2, column case_id: missing case id",
        ),
        (
            "case_id,case_type\nA,advocacy\n",
            "referrals.csv, row 1, column referral_date: missing column 'referral_date' "
            "(the header row must name it)",
        ),
        ("", "referrals.csv: file is empty"),
        (HEADER, "referrals.csv: file has a header but no rows"),
    ],
    ids=[
        "unknown-case-type",
        "bad-date",
        "missing-date",
        "duplicate-id",
        "missing-id",
        "missing-column",
        "empty-file",
        "header-only",
    ],
)
def test_bad_referrals_are_reported_precisely(tmp_path, referrals, expected):
    folder = write_folder(tmp_path, referrals=referrals)
    assert expected in problems_of(folder)


def test_sessions_minutes_must_be_present_and_positive(tmp_path):
    folder = worked_example(tmp_path)
    (folder / "sessions.csv").write_text(
        "date,case_id,resource,minutes\n2025-03-04,R01,idva,-30\n2025-03-04,R02,idva,\n"
        "2025-03-04,R03,advocate,60\n2025-03-04,R04,idva,lots\n2025-03-04,NOBODY,idva,60\n"
    )
    found = problems_of(folder)
    assert "sessions.csv, row 2, column minutes: must be more than 0: '-30'" in found
    assert "sessions.csv, row 3, column minutes: missing value" in found
    assert (
        "sessions.csv, row 4, column resource: unknown resource (known: idva): 'advocate'" in found
    )
    assert "sessions.csv, row 5, column minutes: not a number: 'lots'" in found


def test_sessions_must_name_known_cases(tmp_path):
    folder = worked_example(tmp_path)
    (folder / "sessions.csv").write_text(
        "date,case_id,resource,minutes\n2025-03-04,NOBODY,idva,60\n"
    )
    assert problems_of(folder) == [
        "sessions.csv, row 2, column case_id: case id is in neither referrals nor waiting"
    ]


def test_roster_checks_resource_staff_and_duplicates(tmp_path):
    folder = worked_example(tmp_path)
    (folder / "roster.csv").write_text(
        "date,resource,staff\n2025-03-04,idva,-1\n2025-03-05,triage,2\n2025-03-06,idva,1\n"
        "2025-03-06,idva,2\n"
    )
    found = problems_of(folder)
    assert "roster.csv, row 2, column staff: must not be negative: '-1'" in found
    assert "roster.csv, row 3, column resource: unknown resource (known: idva): 'triage'" in found
    assert (
        "roster.csv, row 5, column date: a second roster row for the same date and resource"
        in found
    )


def test_waiting_since_on_or_after_first_referral_belongs_in_referrals(tmp_path):
    folder = worked_example(tmp_path)
    (folder / "waiting.csv").write_text("case_id,case_type,waiting_since\nW1,advocacy,2025-03-04\n")
    [problem] = problems_of(folder)
    assert problem.startswith("waiting.csv, row 2, column waiting_since: on or after the first")
    assert "belongs in referrals" in problem


def test_all_problems_in_a_file_are_reported_together_up_to_a_cap(tmp_path):
    rows = "".join(f"C{i},2025-13-01,advocacy\n" for i in range(80))
    found = problems_of(write_folder(tmp_path, referrals=HEADER + rows))
    assert len(found) == 51
    assert found[0].startswith("referrals.csv, row 2, column referral_date")
    assert found[49].startswith("referrals.csv, row 51,")
    assert found[-1] == "referrals.csv: ... and 30 more problems in this file"


def test_problems_in_several_files_come_together(tmp_path):
    folder = write_folder(
        tmp_path,
        referrals=HEADER + "A,2025-03-04,nope\n",
        roster="date,resource,staff\n2025-03-04,idva,x\n",
    )
    found = problems_of(folder)
    assert any(p.startswith("referrals.csv, row 2, column case_type") for p in found)
    assert any(p.startswith("roster.csv, row 2, column staff") for p in found)


def test_extra_columns_are_dropped_and_never_kept(tmp_path):
    folder = write_folder(
        tmp_path,
        referrals="case_id,referral_date,case_type,victim_name,notes\n"
        "A,2025-03-04,advocacy,Jane Doe,lives at...\n",
    )
    checked = read_service_folder(folder)
    assert list(checked.referrals.columns) == ["case_id", "referral_date", "case_type", "source"]
    assert any("victim_name" in note for note in checked.notes)


# --- found in review: each was a traceback or a wrong row ---------------------------------


def test_a_session_before_its_referral_is_refused(tmp_path):
    folder = worked_example(tmp_path)
    (folder / "sessions.csv").write_text("date,case_id,resource,minutes\n2025-03-01,R01,idva,60\n")
    assert problems_of(folder) == [
        "sessions.csv, row 2, column date: session is dated before its case was referred"
    ]


def test_cross_table_problems_come_with_the_others(tmp_path):
    folder = worked_example(tmp_path)
    (folder / "sessions.csv").write_text(
        "date,case_id,resource,minutes\n2025-03-04,R01,idva,-1\n2025-03-04,NOBODY,idva,60\n"
    )
    found = problems_of(folder)
    assert "sessions.csv, row 2, column minutes: must be more than 0: '-1'" in found
    assert (
        "sessions.csv, row 3, column case_id: case id is in neither referrals nor waiting" in found
    )


def test_a_file_is_not_a_folder(tmp_path):
    (tmp_path / "f").write_text("x")
    assert problems_of(tmp_path / "f") == [f"{tmp_path / 'f'}: is a file, not a service folder"]
