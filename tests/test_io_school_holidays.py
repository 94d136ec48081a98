"""School holidays: read from the service folder, checked cell by cell, matched to days."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flowcap.errors import InputError
from flowcap.io.school_holidays import read_school_holidays, school_holiday_days

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
HEADER = "start,end,name\n"


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        read_school_holidays(folder, "Europe/London")
    return [str(p) for p in caught.value.problems]


def write(folder: Path, text: str, name: str = "school_holidays.csv") -> Path:
    (folder / name).write_text(text)
    return folder


def test_the_example_file_reads_with_inclusive_dates():
    table = read_school_holidays(EXAMPLE, "Europe/London")
    assert list(table.columns) == ["start", "end", "name"]
    assert str(table["start"].dtype) == "datetime64[ns]"
    assert str(table["end"].dtype) == "datetime64[ns]"
    assert (table["end"] >= table["start"]).all()
    summer = table[table["name"] == "Summer 2024"].iloc[0]
    assert summer["start"] == pd.Timestamp("2024-07-20")
    assert summer["end"] == pd.Timestamp("2024-09-01")


def test_no_file_gives_an_empty_table(tmp_path):
    table = read_school_holidays(tmp_path, "Europe/London")
    assert len(table) == 0 and list(table.columns) == ["start", "end", "name"]
    days = pd.date_range("2025-01-01", periods=5)
    assert not school_holiday_days(table, days).any()


def test_name_is_optional_and_uk_dates_are_read(tmp_path):
    table = read_school_holidays(write(tmp_path, "start,end\n01/03/2025,02/03/2025\n"), "UTC")
    assert table["start"].iat[0] == pd.Timestamp("2025-03-01") and table["name"].iat[0] == ""


def test_an_xlsx_file_is_read(tmp_path):
    frame = pd.DataFrame({"start": ["2025-02-15"], "end": ["2025-02-23"], "name": ["Half term"]})
    frame.to_excel(tmp_path / "school_holidays.xlsx", index=False)
    table = read_school_holidays(tmp_path, "Europe/London")
    assert table["end"].iat[0] == pd.Timestamp("2025-02-23")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            HEADER + "2025-02-15,2025-02-23,Half term\n2025-13-01,2025-04-21,Easter\n",
            "school_holidays.csv, row 3, column start: not a date (use YYYY-MM-DD): '2025-13-01'",
        ),
        (
            HEADER + "2025-02-15,,Half term\n",
            "school_holidays.csv, row 2, column end: missing date",
        ),
        (
            HEADER + "2025-04-21,2025-04-05,Easter\n",
            "school_holidays.csv, row 2, column end: end '2025-04-05' is before start '2025-04-21'",
        ),
        (
            "start,name\n2025-04-05,Easter\n",
            "school_holidays.csv, row 1, column end: missing column 'end' "
            "(the header row must name it)",
        ),
        (
            HEADER + "2025-04-05,2025-04-21," + "x" * 101 + "\n",
            "school_holidays.csv, row 2, column name: longer than 100 characters",
        ),
        ("", "school_holidays.csv: file is empty"),
        (HEADER, "school_holidays.csv: file has a header but no rows"),
    ],
)
def test_bad_files_name_file_row_and_column(tmp_path, text, expected):
    assert expected in problems_of(write(tmp_path, text))


def test_an_oversize_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWCAP_MAX_FILE_MB", "0.00001")  # 10 bytes
    text = HEADER + "2025-04-05,2025-04-21,Easter\n"
    problems = problems_of(write(tmp_path, text))
    assert problems == [
        f"school_holidays.csv: file is {len(text)} bytes; the limit is 10 (FLOWCAP_MAX_FILE_MB)"
    ]


def test_both_csv_and_xlsx_is_an_error(tmp_path):
    write(tmp_path, HEADER + "2025-04-05,2025-04-21,Easter\n")
    pd.DataFrame({"start": ["2025-04-05"], "end": ["2025-04-21"]}).to_excel(
        tmp_path / "school_holidays.xlsx", index=False
    )
    assert "keep one" in problems_of(tmp_path)[0]


def test_holiday_days_include_both_ends_and_overlaps():
    holidays = pd.DataFrame(
        {
            "start": pd.to_datetime(["2025-04-05", "2025-04-18"]),
            "end": pd.to_datetime(["2025-04-21", "2025-04-25"]),
            "name": ["Easter", "Overlapping"],
        }
    )
    days = pd.date_range("2025-04-04", "2025-04-26")
    inside = school_holiday_days(holidays, days)
    assert inside.dtype == np.bool_ and inside.shape == (len(days),)
    assert list(days[~inside].strftime("%m-%d")) == ["04-04", "04-26"]
