"""Reading one table file (flowcap.io.tables): encodings, delimiters, spreadsheets, sizes,
UK dates and ragged rows, each problem named by file, row and column."""

from __future__ import annotations

from conftest import problems_of, worked_example, write_folder
from flowcap.io import read_service_folder

HEADER = "case_id,referral_date,case_type\n"


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


def test_oversize_files_are_refused_before_reading(tmp_path, monkeypatch):
    folder = worked_example(tmp_path)
    monkeypatch.setenv("FLOWCAP_MAX_FILE_MB", "0.0001")  # 100 bytes
    found = problems_of(folder)
    assert [p.split(":")[0] for p in found] == ["referrals.csv", "waiting.csv"]
    assert found[0].startswith("referrals.csv: file is ")
    assert "the limit is 100 (FLOWCAP_MAX_FILE_MB)" in found[0]


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


def test_utf16_files_are_named_as_such(tmp_path):
    folder = write_folder(tmp_path)
    (folder / "referrals.csv").write_bytes((HEADER + "A,2025-03-04,advocacy\n").encode("utf-16"))
    assert problems_of(folder) == [
        "referrals.csv: file is UTF-16 text: save it as 'CSV UTF-8' instead"
    ]


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


def test_uk_date_times_are_read(tmp_path):
    folder = write_folder(
        tmp_path,
        referrals=HEADER + "A,04/03/2025 10:30,advocacy\nB,05/03/25,advocacy\n",
    )
    dates = read_service_folder(folder).referrals["referral_date"].dt.strftime("%Y-%m-%d")
    assert dates.tolist() == ["2025-03-04", "2025-03-05"]
