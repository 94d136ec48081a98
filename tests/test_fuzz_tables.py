"""Fuzzing the service folder's tables (referrals, waiting, roster, sessions; CSV and XLSX)
and school holidays: every generated file ends in clean tables or a clear error.

Each input is a small valid folder with one table changed (:mod:`fuzz_inputs`): odd cells,
headers duplicated, renamed or dropped, fields added or missing, other encodings and
delimiters, files cut short. Clean tables must hold only what the readers promise (dates in
range, finite numbers in their ranges, known names), so a quietly wrong reading fails too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from flowcap.io import read_service_folder
from flowcap.io.school_holidays import parse_school_holidays
from flowcap.model.limits import FIRST_DATE, LAST_DATE
from fuzz_inputs import mutated_table, mutated_workbook, outcome
from fuzz_profiles import fuzz_settings

SERVICE = {
    "name": "Fuzzed [/x] hub",
    "resources": {
        "triage": {"staff": 1, "minutes_per_day": 180},
        "idva": {"staff": 2, "minutes_per_day": 240},
    },
    "case_types": {
        "high": {
            "priority": 1,
            "steps": [
                {"resource": "triage", "minutes": 30},
                {"resource": "idva", "minutes": 60, "after_days": 1},
            ],
        },
        "standard": {"priority": 2, "resource": "triage", "minutes": 20},
    },
}

TABLES = {
    "referrals": (
        ["case_id", "referral_date", "case_type", "source"],
        [
            [f"R{i}", f"2025-03-{3 + i:02d}", ("high", "standard")[i % 2], "police"]
            for i in range(6)
        ],
    ),
    "waiting": (
        ["case_id", "case_type", "waiting_since"],
        [[f"W{i}", "standard", f"2025-02-{10 + i:02d}"] for i in range(3)],
    ),
    "roster": (
        ["date", "resource", "staff", "minutes_per_staff"],
        [[f"2025-03-{3 + i:02d}", r, "2", "200"] for i in range(3) for r in ("triage", "idva")],
    ),
    "sessions": (
        ["date", "case_id", "resource", "minutes"],
        [["2025-03-04", "R0", "triage", "30"], ["2025-03-05", "R1", "idva", "60"]]
        + [["2025-03-06", "W1", "triage", "20"]],
    ),
}

HOLIDAYS = (
    ["start", "end", "name"],
    [["2025-02-15", "2025-02-23", "February half term"], ["2025-04-05", "2025-04-21", "Easter"]],
)

fuzz = fuzz_settings()


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode()


def _folder(root: Path, table: str, raw: bytes, suffix: str) -> Path:
    (root / "service.yaml").write_text(yaml.safe_dump(SERVICE))
    for name, (header, rows) in TABLES.items():
        if name != table:
            (root / f"{name}.csv").write_bytes(_csv(header, rows))
    (root / f"{table}{suffix}").write_bytes(raw)
    return root


def _in_range(dates: pd.Series) -> bool:
    return bool(
        dates.notna().all()
        and (dates >= pd.Timestamp(FIRST_DATE)).all()
        and (dates <= pd.Timestamp(LAST_DATE)).all()
    )


def _check_clean(folder) -> None:
    """What a clean reading promises, table by table."""
    service = folder.service
    referrals = folder.referrals
    assert _in_range(referrals["referral_date"])
    assert referrals["case_type"].isin(list(service.case_types)).all()
    assert (referrals["case_id"] != "").all() and referrals["case_id"].is_unique
    waiting = folder.waiting
    assert _in_range(waiting["waiting_since"])
    assert waiting["case_type"].isin(list(service.case_types)).all()
    roster = folder.roster
    roster = roster if isinstance(roster, pd.DataFrame) else roster.rows
    assert _in_range(roster["date"])
    staff = roster["staff"].to_numpy(dtype=float)
    assert np.isfinite(staff).all() and (staff >= 0).all() and (staff <= 10_000).all()
    per_staff = roster["minutes_per_staff"].to_numpy(dtype=float)
    assert ((per_staff >= 0) & (per_staff <= 1440) | np.isnan(per_staff)).all()
    assert roster["resource"].isin(list(service.resources)).all()
    if folder.sessions is not None:
        sessions = folder.sessions
        assert _in_range(sessions["date"])
        minutes = sessions["minutes"].to_numpy(dtype=float)
        assert np.isfinite(minutes).all() and (minutes > 0).all() and (minutes <= 1440).all()
        assert sessions["resource"].isin(list(service.resources)).all()


def _read(table: str, raw: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as root:
        result, _ = outcome(lambda: read_service_folder(_folder(Path(root), table, raw, suffix)))
        if result is not None:
            _check_clean(result)


@pytest.mark.parametrize("table", list(TABLES))
@fuzz
@given(data=st.data())
def test_a_fuzzed_csv_table_reads_cleanly_or_fails_clearly(table, data):
    raw = data.draw(mutated_table(*TABLES[table]), label=table)
    _read(table, raw, ".csv")


@pytest.mark.parametrize("table", list(TABLES))
@fuzz
@given(data=st.data())
def test_a_fuzzed_xlsx_table_reads_cleanly_or_fails_clearly(table, data):
    raw = data.draw(mutated_workbook(*TABLES[table]), label=table)
    _read(table, raw, ".xlsx")


@fuzz
@given(raw=mutated_table(*HOLIDAYS))
def test_fuzzed_school_holidays_read_cleanly_or_fail_clearly(raw):
    holidays, _ = outcome(
        lambda: parse_school_holidays(Path("school_holidays.csv"), "Europe/London", raw)
    )
    if holidays is not None:
        assert _in_range(holidays["start"]) and _in_range(holidays["end"])
        assert (holidays["end"] >= holidays["start"]).all()


@fuzz
@given(raw=mutated_workbook(*HOLIDAYS))
def test_fuzzed_school_holidays_workbooks_read_cleanly_or_fail_clearly(raw):
    holidays, _ = outcome(
        lambda: parse_school_holidays(Path("school_holidays.xlsx"), "Europe/London", raw)
    )
    if holidays is not None:
        assert _in_range(holidays["start"]) and _in_range(holidays["end"])
