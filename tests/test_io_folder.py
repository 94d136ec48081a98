"""Every kind of bad input gets a clear message naming file, row and column; none crash."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from conftest import WORKED_SERVICE, worked_example, write_folder
from flowcap.cli.main import app
from flowcap.errors import InputError
from flowcap.io import read_service_folder

runner = CliRunner()
HEADER = "case_id,referral_date,case_type\n"


def problems_of(folder) -> list[str]:
    with pytest.raises(InputError) as caught:
        read_service_folder(folder)
    return [str(p) for p in caught.value.problems]


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


def test_undecodable_bytes_name_row_and_column(tmp_path):
    folder = write_folder(tmp_path)
    (folder / "referrals.csv").write_bytes(
        HEADER.encode() + b"A,2025-03-04,advocacy\nB,2025-03-04,advoc\xe9cy\n"
    )
    [problem] = problems_of(folder)
    assert problem.startswith("referrals.csv, row 3, column case_type: byte 0xe9 is not UTF-8")


def test_a_byte_order_mark_and_semicolons_are_fine(tmp_path):
    folder = write_folder(tmp_path)
    (folder / "referrals.csv").write_bytes(
        b"\xef\xbb\xbfcase_id;referral_date;case_type\nA;04/03/2025;advocacy\n"
    )
    checked = read_service_folder(folder)
    assert checked.referrals["referral_date"].iat[0].isoformat().startswith("2025-03-04")


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


def test_oversize_files_are_refused_before_reading(tmp_path, monkeypatch):
    folder = worked_example(tmp_path)
    monkeypatch.setenv("FLOWCAP_MAX_FILE_MB", "0.0001")  # 100 bytes
    found = problems_of(folder)
    assert [p.split(":")[0] for p in found] == ["referrals.csv", "waiting.csv"]
    assert found[0].startswith("referrals.csv: file is ")
    assert "the limit is 100 (FLOWCAP_MAX_FILE_MB)" in found[0]


def test_extra_columns_are_dropped_and_never_kept(tmp_path):
    folder = write_folder(
        tmp_path,
        referrals="case_id,referral_date,case_type,victim_name,notes\n"
        "A,2025-03-04,advocacy,Jane Doe,lives at...\n",
    )
    checked = read_service_folder(folder)
    assert list(checked.referrals.columns) == ["case_id", "referral_date", "case_type", "source"]
    assert any("victim_name" in note for note in checked.notes)


def test_xlsx_referrals_are_read_like_csv(tmp_path):
    import pandas as pd

    folder = write_folder(tmp_path)
    pd.DataFrame(
        {
            "case_id": ["A", "B"],
            "referral_date": ["2025-03-04", "bad"],
            "case_type": ["advocacy", "advocacy"],
        }
    ).to_excel(folder / "referrals.xlsx", index=False)
    assert problems_of(folder) == [
        "referrals.xlsx, row 3, column referral_date: not a date (use YYYY-MM-DD): 'bad'"
    ]


# --- service.yaml --------------------------------------------------------------------------


def yaml_problems(tmp_path, text: str) -> list[str]:
    folder = worked_example(tmp_path)
    (folder / "service.yaml").write_text(text)
    return problems_of(folder)


def test_yaml_that_is_not_a_mapping(tmp_path):
    assert yaml_problems(tmp_path, "- just\n- a list\n") == [
        "service.yaml, row 1: must be a YAML mapping of settings (key: value), not list"
    ]


def test_yaml_aliases_are_refused(tmp_path):
    text = "name: &n x\nregion: GB-ENG\nother: *n\n"
    found = yaml_problems(tmp_path, text)
    assert "service.yaml, row 1: YAML anchors (&name) are not allowed" in found
    assert "service.yaml, row 3: YAML aliases (*name) are not allowed" in found


def test_a_billion_laughs_is_refused_quickly(tmp_path):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [{', '.join(['*' + chr(96 + i)] * 9)}]")
    found = yaml_problems(tmp_path, "\n".join(lines) + "\n")
    assert all("not allowed" in p for p in found)


def test_yaml_tags_are_refused(tmp_path):
    found = yaml_problems(tmp_path, "name: !!python/object/apply:os.system ['true']\n")
    assert found == [
        "service.yaml, row 1: YAML tags (tag:yaml.org,2002:python/object/apply:os.system) "
        "are not allowed"
    ]


def test_broken_yaml_names_the_line(tmp_path):
    [problem] = yaml_problems(tmp_path, "name: x\nresources: [\n")
    assert problem.startswith("service.yaml, row 3: not valid YAML")


def test_service_errors_point_at_the_setting(tmp_path):
    text = (
        "name: S\nregion: GB-XYZ\nresources:\n  idva:\n    staff: -2\n    minutes_per_day: 240\n"
        "case_types:\n  advocacy:\n    priority: 1\n    steps:\n"
        "      - {resource: advocate, minutes: 60}\n"
    )
    found = yaml_problems(tmp_path, text)
    assert any(p.startswith("service.yaml, row 2, column region:") for p in found)
    assert any(p.startswith("service.yaml, row 5, column resources.idva.staff:") for p in found)


def test_unknown_resource_in_a_step_is_named(tmp_path):
    text = (
        "name: S\nresources:\n  idva: {staff: 2, minutes_per_day: 240}\n"
        "case_types:\n  advocacy:\n    priority: 1\n    steps:\n"
        "      - {resource: advocate, minutes: 60}\n"
    )
    [problem] = yaml_problems(tmp_path, text)
    assert problem == (
        "service.yaml, row 8, column case_types.advocacy.steps.0.resource: "
        "unknown resource 'advocate' (resources: idva)"
    )


def test_misspelt_setting_is_reported(tmp_path):
    text = (
        "name: S\nregoin: GB-ENG\nresources:\n  idva: {staff: 2, minutes_per_day: 240}\n"
        "case_types:\n  advocacy: {priority: 1, resource: idva, minutes: 60}\n"
    )
    assert yaml_problems(tmp_path, text) == [
        "service.yaml, row 2, column regoin: unknown setting 'regoin' (check the spelling)"
    ]


def test_oversize_yaml_is_refused(tmp_path):
    [problem] = yaml_problems(tmp_path, "name: x\n# " + "x" * 1_000_001 + "\n")
    assert problem.startswith("service.yaml: file is 1,000,") and "the limit is" in problem


def test_cli_validate_reports_problems_and_exits_nonzero(tmp_path):
    folder = write_folder(tmp_path, WORKED_SERVICE, referrals=HEADER + "A,2025-02-30,advocacy\n")
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1
    assert "referrals.csv, row 2, column referral_date: not a date" in result.stderr
    assert "Traceback" not in result.output
    assert not (folder / ".flowcap").exists()  # validate never imports


# --- found in review: each was a traceback or a wrong row ---------------------------------


def test_blank_lines_do_not_shift_row_numbers(tmp_path):
    folder = write_folder(
        tmp_path, referrals=HEADER + "A,2025-03-04,advocacy\n\n\nB,2025-03-04,x\n"
    )
    assert problems_of(folder) == [
        "referrals.csv, row 5, column case_type: unknown case type (known: advocacy): 'x'"
    ]


def test_rows_with_too_many_fields_are_each_reported(tmp_path):
    rows = "A,2025-03-04,advocacy\nB,2025-03-04,advocacy,extra\nC,2025-03-04,advocacy\nD,1,2,3,4\n"
    found = problems_of(write_folder(tmp_path, referrals=HEADER + rows))
    assert [p.split(":")[0] for p in found] == ["referrals.csv, row 3", "referrals.csv, row 5"]
    assert "4 fields where the header has 3" in found[0]


def test_a_key_given_twice_in_yaml_is_refused(tmp_path):
    text = (
        "name: S\nresources:\n  idva: {staff: 2, minutes_per_day: 240}\n"
        "  idva: {staff: 0, minutes_per_day: 240}\n"
        "case_types:\n  advocacy: {priority: 1, resource: idva, minutes: 60}\n"
    )
    assert yaml_problems(tmp_path, text) == [
        "service.yaml, row 4, column resources.idva: 'idva' is given twice (first on row 3)"
    ]


def test_deeply_nested_yaml_is_refused_without_a_traceback(tmp_path):
    [problem] = yaml_problems(tmp_path, "a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problem == "service.yaml: YAML is nested too deeply to be a service definition"


def test_uk_date_times_are_read(tmp_path):
    folder = write_folder(
        tmp_path,
        referrals=HEADER + "A,04/03/2025 10:30,advocacy\nB,05/03/25,advocacy\n",
    )
    dates = read_service_folder(folder).referrals["referral_date"].dt.strftime("%Y-%m-%d")
    assert dates.tolist() == ["2025-03-04", "2025-03-05"]


def test_utf16_files_are_named_as_such(tmp_path):
    folder = write_folder(tmp_path)
    (folder / "referrals.csv").write_bytes((HEADER + "A,2025-03-04,advocacy\n").encode("utf-16"))
    assert problems_of(folder) == [
        "referrals.csv: file is UTF-16 text: save it as 'CSV UTF-8' instead"
    ]


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
