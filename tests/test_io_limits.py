"""Input files past flowcap.io.limits are refused up front; dates out of range or years apart
from the rest are refused; problem counts are true; messages quote no case id (issue #14)."""

from __future__ import annotations

import gzip
import io
import shutil
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import problems_of, worked_example, write_folder
from flowcap.errors import FlowcapError, InputError
from flowcap.io import limits, read_service_folder
from flowcap.io.eventlog import read_event_log
from flowcap.io.folder import TABLES
from flowcap.io.tables import QUOTE_CHARS, TableCheck, read_text_table
from flowcap.model.eventlog import EventLogConfig

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
LOG_COLUMNS = EventLogConfig(file="events.csv", case_id="Ref", activity="Event", timestamp="When")
HEADER = "case_id,referral_date,case_type\n"


def example_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "victim-support"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    return folder


# --- the limits' environment variables ----------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "inf", "nan", "-5", "0", "1e999"])
def test_a_bad_limit_variable_is_a_clear_error_not_a_traceback(tmp_path, monkeypatch, value):
    folder = worked_example(tmp_path)
    monkeypatch.setenv("FLOWCAP_MAX_FILE_MB", value)
    with pytest.raises(FlowcapError) as caught:
        read_service_folder(folder)
    assert not isinstance(caught.value, InputError)
    message = str(caught.value)
    assert message.startswith("FLOWCAP_MAX_FILE_MB must be a number of megabytes more than 0")
    assert repr(value) in message and "512" in message


@pytest.mark.parametrize("limit", limits.ALL, ids=lambda limit: limit.variable)
def test_every_limit_reads_its_variable_or_its_default(monkeypatch, limit):
    monkeypatch.delenv(limit.variable, raising=False)
    assert limit.value() == int(limit.default * limit.scale)
    monkeypatch.setenv(limit.variable, "7")
    assert limit.value() == 7 * limit.scale
    monkeypatch.setenv(limit.variable, "2.5")
    if limit.integer:
        with pytest.raises(FlowcapError, match="whole number"):
            limit.value()
    else:
        assert limit.value() == int(2.5 * limit.scale)


# --- columns, rows and cells, before pandas parses -----------------------------------------------


def test_a_header_of_200000_commas_is_refused_at_once(tmp_path):
    folder = write_folder(tmp_path, referrals="case_id,referral_date,case_type" + "," * 200_000)
    started = time.perf_counter()
    found = problems_of(folder)
    assert time.perf_counter() - started < 5  # pandas took minutes over it
    assert found == [
        "referrals.csv, row 1: the header has 200,003 columns; the limit is 200 "
        "(FLOWCAP_MAX_COLUMNS)"
    ]


def test_quoted_delimiters_do_not_count_as_columns(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWCAP_MAX_COLUMNS", "4")
    header = 'case_id,referral_date,case_type,"notes, free, text, here"\n'
    folder = write_folder(tmp_path, referrals=header + "A,2025-03-04,advocacy,x\n")
    assert len(read_service_folder(folder).referrals) == 1
    monkeypatch.setenv("FLOWCAP_MAX_COLUMNS", "3")
    assert "the header has 4 columns; the limit is 3" in problems_of(folder)[0]


def test_rows_past_the_limit_are_refused_before_parsing(tmp_path, monkeypatch):
    path = example_copy(tmp_path) / "referrals.csv"
    rows = len(pd.read_csv(path))  # an independent count: 6,164
    required, optional = TABLES["referrals"]
    monkeypatch.setenv("FLOWCAP_MAX_ROWS", str(rows))
    assert len(read_text_table(path, required, optional, TableCheck(path.name))) == rows

    def never(*args, **kwargs):
        raise AssertionError("parsed")

    monkeypatch.setattr(pd, "read_csv", never)
    monkeypatch.setenv("FLOWCAP_MAX_ROWS", str(rows - 1))
    check = TableCheck(path.name)
    assert read_text_table(path, required, optional, check) is None
    assert [str(p) for p in check.problems] == [
        f"referrals.csv: {rows:,} lines after the header; the limit is {rows - 1:,} rows "
        "(FLOWCAP_MAX_ROWS)"
    ]


def test_a_ten_thousand_character_cell_is_refused_without_being_echoed(tmp_path, monkeypatch):
    secret = "x" * 20_000
    folder = write_folder(
        tmp_path,
        referrals="case_id,referral_date,case_type,source\n"
        f"A,2025-03-04,advocacy,police\nB,2025-03-04,advocacy,{secret}\n",
    )
    found = problems_of(folder)
    assert found == [
        "referrals.csv, row 3, column source: cell longer than 10,000 characters "
        "(FLOWCAP_MAX_CELL_CHARS): a value, not free text"
    ]
    monkeypatch.setenv("FLOWCAP_MAX_CELL_CHARS", "30000")
    [problem] = problems_of(folder)  # now the source rule says it, still without the text
    assert "source must be a short label" in problem and "xxx" not in problem


def test_a_quoted_cell_is_cut(tmp_path):
    folder = write_folder(tmp_path, referrals=HEADER + "A," + "9" * 5_000 + ",advocacy\n")
    [problem] = problems_of(folder)
    assert problem.startswith("referrals.csv, row 2, column referral_date: not a date")
    quoted = problem.split(": ", 2)[2]
    assert quoted.count("9") == QUOTE_CHARS and "5,000 characters" in quoted
    assert len(problem) < 200


def test_a_long_cell_in_an_event_log_names_its_column(tmp_path):
    log = tmp_path / "events.csv"
    log.write_text("Ref,Event,When\nA,Triage,2024-06-03T10:00:00\nB," + "y" * 10_001 + ",x\n")
    with pytest.raises(InputError) as caught:
        read_event_log(log, LOG_COLUMNS)
    [problem] = caught.value.problems
    assert (problem.row, problem.column) == (3, "Event")
    assert "cell longer than 10,000 characters" in problem.message


# --- XLSX: declared sizes checked before opening ----------------------------------------------


def _workbook(tmp_path: Path, padding_bytes: int = 0) -> bytes:
    """The worked example's referrals as a workbook, with ``padding_bytes`` of spaces in an
    extra part (a zip bomb's shape: it deflates a thousandfold)."""
    frame = pd.read_csv(io.StringIO(HEADER + "A,2025-03-04,advocacy\n"), dtype=str)
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    if not padding_bytes:
        return buffer.getvalue()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for part in source.infolist():
            target.writestr(part, source.read(part.filename))
        target.writestr("xl/padding.xml", b" " * padding_bytes)
    return out.getvalue()


def test_an_xlsx_that_inflates_a_thousandfold_is_refused_unopened(tmp_path, monkeypatch):
    folder = write_folder(tmp_path)
    raw = _workbook(tmp_path, padding_bytes=20_000_000)
    (folder / "referrals.xlsx").write_bytes(raw)
    with zipfile.ZipFile(folder / "referrals.xlsx") as archive:  # an independent reading
        inflated = sum(p.file_size for p in archive.infolist())
        packed = sum(p.compress_size for p in archive.infolist())
    assert inflated / packed > 100

    def never(*args, **kwargs):
        raise AssertionError("opened")

    monkeypatch.setattr(pd, "read_excel", never)
    [problem] = problems_of(folder)
    assert problem.startswith(
        f"referrals.xlsx: the workbook inflates {inflated / packed:,.0f} times its size "
        f"({inflated:,} bytes from {packed:,}); the limit is 100 times (FLOWCAP_MAX_XLSX_RATIO)"
    )
    monkeypatch.setenv("FLOWCAP_MAX_XLSX_MB", "10")  # the size says it first
    [problem] = problems_of(folder)
    assert problem.startswith(
        f"referrals.xlsx: the workbook inflates to {inflated:,} bytes; the limit is "
        "10,000,000 (FLOWCAP_MAX_XLSX_MB)"
    )


def test_an_ordinary_xlsx_is_within_the_limits(tmp_path):
    folder = write_folder(tmp_path)
    (folder / "referrals.xlsx").write_bytes(_workbook(tmp_path))
    assert read_service_folder(folder).referrals["case_id"].tolist() == ["A"]


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written", ["1677-01-02", "2262-04-12", "0001-01-01", "1899-12-31", "2201-01-01", "01/01/1066"]
)
def test_a_date_outside_1900_to_2200_names_file_row_and_column(tmp_path, written):
    referrals = HEADER + "A,2025-03-04,advocacy\n" + f"B,{written},advocacy\n"
    [problem] = problems_of(write_folder(tmp_path, referrals=referrals))
    assert problem == (
        "referrals.csv, row 3, column referral_date: date outside 1900-01-01 to 2200-12-31 "
        f"(a mistyped year?): {written!r}"
    )


def test_the_first_and_last_days_allowed_are_read(tmp_path):
    referrals = HEADER + "A,1900-01-01,advocacy\nB,2200-12-31,advocacy\n"
    folder = write_folder(
        tmp_path, {**yaml.safe_load(yaml.safe_dump(_worked())), "allow_distant_dates": True}
    )
    (folder / "referrals.csv").write_text(referrals)
    dates = read_service_folder(folder).referrals["referral_date"].dt.date.astype(str)
    assert dates.tolist() == ["1900-01-01", "2200-12-31"]


def _worked() -> dict:
    from conftest import WORKED_SERVICE

    return WORKED_SERVICE


def test_a_spreadsheet_zero_date_among_the_example_is_refused(tmp_path):
    folder = example_copy(tmp_path)
    lines = (folder / "referrals.csv").read_text().splitlines(keepends=True)
    first, last = lines[1].split(",")[1], lines[-1].split(",")[1]
    lines[101] = lines[101].replace(lines[101].split(",")[1], "1900-01-01")
    (folder / "referrals.csv").write_text("".join(lines))
    found = problems_of(folder)
    # the rest of the data: every table's dates but this one (waiting starts in 2023-12)
    waiting = pd.read_csv(folder / "waiting.csv")["waiting_since"].min()
    roster = pd.read_csv(folder / "roster.csv")["date"].max()
    low, high = min(first, waiting), max(roster, last)
    years = (pd.Timestamp(low) - pd.Timestamp("1900-01-01")).days / 365.25
    span = (pd.Timestamp(high) - pd.Timestamp("1900-01-01")).days / 365.25
    assert found == [
        f"referrals.csv, row 102, column referral_date: 1900-01-01 is {years:,.0f} years before "
        f"the rest of the data ({low} to {high}): a spreadsheet's zero date, or a two-digit "
        f"year read wrongly? The measures would stretch over {span:,.0f} years. Correct it, "
        "or set allow_distant_dates: true in service.yaml if it is right"
    ]
    text = (folder / "service.yaml").read_text()
    (folder / "service.yaml").write_text(text + "\nallow_distant_dates: true\n")
    # allowed, the date is read as written: the opening waiting list is now after it
    found = problems_of(folder)
    assert len(found) == len(pd.read_csv(folder / "waiting.csv"))
    assert all("on or after the first referral date (1900-01-01)" in p for p in found)


def test_a_two_digit_year_read_as_1970_is_refused(tmp_path):
    referrals = HEADER + "".join(f"R{i},0{1 + i % 9}/03/2025,advocacy\n" for i in range(30))
    referrals += "OLD,01/03/70,advocacy\n"
    found = problems_of(write_folder(tmp_path, referrals=referrals))
    assert len(found) == 1
    assert found[0].startswith(
        "referrals.csv, row 32, column referral_date: 1970-03-01 is 55 years before the rest "
        "of the data (2025-03-01 to 2025-03-09)"
    )


def test_dates_a_year_apart_or_a_large_old_part_are_not_flagged(tmp_path):
    # a case waiting 18 months before the first referral: unusual, not a typo
    waiting = "case_id,case_type,waiting_since\nW1,advocacy,2023-09-01\n"
    referrals = HEADER + "".join(f"R{i},2025-03-{4 + i % 20:02d},advocacy\n" for i in range(40))
    checked = read_service_folder(write_folder(tmp_path, referrals=referrals, waiting=waiting))
    assert len(checked.waiting) == 1
    # a pilot three years before, with 10% of the rows: real history, not a typo
    pilot = "".join(f"P{i},2021-06-{1 + i:02d},advocacy\n" for i in range(4))
    folder = write_folder(tmp_path / "pilot", referrals=referrals + pilot)
    assert len(read_service_folder(folder).referrals) == 44


# --- counts and what messages quote -----------------------------------------------------------


def test_two_thousand_duplicate_ids_are_counted_not_fifty(tmp_path):
    folder = example_copy(tmp_path)
    with (folder / "referrals.csv").open("a") as handle:
        handle.write("VS-2024-000001,2024-01-02,burglary,police\n" * 2_000)
    ids = pd.read_csv(folder / "referrals.csv", dtype=str)["case_id"]
    duplicates = int(ids.duplicated().sum())  # an independent count: 2,000
    found = [p for p in problems_of(folder) if p.startswith("referrals.csv")]
    assert len(found) == 51
    assert found[-1] == f"referrals.csv: ... and {duplicates - 50} more problems in this file"
    assert duplicates == 2_000


def test_a_bad_timestamp_column_counts_every_row(tmp_path):
    log = tmp_path / "events.csv"
    log.write_text("Ref,Event,When\n" + "A,Triage,yesterday\n" * 500)
    with pytest.raises(InputError) as caught:
        read_event_log(log, LOG_COLUMNS)
    assert str(caught.value.problems[-1]) == "events.csv: ... and 450 more problems in this file"


def test_an_xes_error_never_quotes_a_case_id(tmp_path):
    xes = (
        '<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">'
        '<trace><string key="concept:name" value="SECRET-CASE-0042"/>'
        '<event><string key="concept:name" value="Triage"/></event>'
        '<event><string key="concept:name" value="Call"/>'
        '<date key="time:timestamp" value="2024-06-03T09:00:00+01:00"/></event>'
        "</trace></log>"
    )
    for name, content in (("log.xes", xes.encode()), ("log.xes.gz", gzip.compress(xes.encode()))):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(InputError) as caught:
            read_event_log(tmp_path / name, None)
        [problem] = caught.value.problems
        assert str(problem) == f"{name}, column time:timestamp: event 1 of the log has no " + (
            "time:timestamp"
        )
        assert "SECRET" not in str(problem)


def test_infinite_numbers_in_a_roster_are_refused(tmp_path):
    roster = "date,resource,staff\n2025-03-04,idva,inf\n2025-03-05,idva,2\n"
    folder = worked_example(tmp_path)
    (folder / "roster.csv").write_text(roster)
    [problem] = problems_of(folder)
    assert problem == "roster.csv, row 2, column staff: not a finite number: 'inf'"


def test_four_hundred_options_are_refused_before_any_is_simulated(tmp_path):
    # 400 options took 62 s of simulation with no refusal (issue #14); 100 are still read.
    from conftest import WORKED_SERVICE
    from flowcap.io.scenarios_yaml import MAX_OPTIONS, parse_scenarios
    from flowcap.model import Service

    service = Service.model_validate(WORKED_SERVICE)

    def options(n: int) -> str:
        return "".join(
            f"option {i}:\n  - vacancy: {{resource: idva, staff: 1, start: 2025-03-10, "
            "end: 2025-04-10}\n"
            for i in range(n)
        )

    assert len(parse_scenarios(options(MAX_OPTIONS), service)) == MAX_OPTIONS
    started = time.perf_counter()
    with pytest.raises(InputError) as caught:
        parse_scenarios(options(400), service)
    assert time.perf_counter() - started < 5  # refused on counting, before reading each
    (problem,) = caught.value.problems
    assert str(problem).startswith("scenarios.yaml, row 1: 400 options; the limit is 100")
