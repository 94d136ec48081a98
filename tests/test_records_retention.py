"""Retention (issue 14): cases whose every record is older than the period are deleted as a
whole (dry run first), cases still waiting are kept, and a cut that would change the measures
kept is refused."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import write_folder
from flowcap import manage, records
from flowcap.cli.main import app
from flowcap.errors import FlowcapError
from flowcap.io.pseudonym import load_key, pseudonymise
from flowcap.store import Store, database_url

SERVICE = {
    "name": "Retained",
    "region": "GB-ENG",
    "resources": {"idva": {"staff": 1, "minutes_per_day": 480, "cost_per_hour": 24}},
    "case_types": {"advocacy": {"priority": 1, "resource": "idva", "minutes": 60}},
}
runner = CliRunner()


def _folder(tmp_path):
    """Two referrals a week from 2015 to 2024 (every one served the day it arrives: one IDVA,
    480 minutes a day, 60 per case), and two cases waiting since 2014 (the opening
    backlog, served on the first day)."""
    days = pd.date_range("2015-01-05", "2024-12-30", freq="W-MON")
    referrals = "case_id,referral_date,case_type\n" + "".join(
        f"R{i}-{n},{day:%Y-%m-%d},advocacy\n" for i, day in enumerate(days) for n in (0, 1)
    )
    waiting = "case_id,case_type,waiting_since\nW1,advocacy,2014-03-01\nW2,advocacy,2014-04-01\n"
    return write_folder(tmp_path / "svc", SERVICE, referrals, waiting=waiting), days


def _keys(folder) -> set[str]:
    store = Store.open(database_url(folder), existing=True)
    try:
        return set(store.load("Retained").referrals["case_key"])
    finally:
        store.close()


def test_a_dry_run_counts_the_cases_past_the_period_and_deletes_nothing(tmp_path, backend):
    folder, days = _folder(tmp_path)
    manage.import_folder(folder)
    plan = records.retention(folder, "7y", today=date(2025, 1, 1))
    cut = pd.Timestamp("2018-01-01")
    expected = 2 * int((days < cut).sum())  # hand count: every referral before 1 Jan 2018
    assert plan.cut == date(2018, 1, 1) and not plan.applied
    assert plan.rows["referrals"] == expected and plan.rows["waiting"] == 2
    assert plan.cases == expected + 2
    assert len(_keys(folder)) == 2 * len(days)  # nothing deleted


def test_apply_deletes_the_old_cases_and_keeps_the_measures_after_the_cut(tmp_path, backend):
    folder, days = _folder(tmp_path)
    manage.import_folder(folder)
    before = json.loads(runner.invoke(app, ["measures", str(folder), "--json"]).stdout)
    plan = records.retention(folder, "7y", today=date(2025, 1, 1), apply=True)
    assert plan.applied and plan.changed_days == 0
    old = [
        f"R{i}-{n}" for i, d in enumerate(days) if d < pd.Timestamp("2018-01-01") for n in (0, 1)
    ]
    kept = [
        f"R{i}-{n}" for i, d in enumerate(days) if d >= pd.Timestamp("2018-01-01") for n in (0, 1)
    ]
    assert _keys(folder) == set(pseudonymise(kept, load_key()))
    assert not _keys(folder) & set(pseudonymise(old, load_key()))
    after = json.loads(runner.invoke(app, ["measures", str(folder), "--json"]).stdout)
    days_before = [d for d in before if d["date"] >= "2018-01-01"]
    assert [d for d in after if d["date"] >= "2018-01-01"] == days_before
    assert len(days_before) > 2000


def test_a_cut_that_would_change_the_measures_kept_is_refused(tmp_path):
    folder, days = _folder(tmp_path)
    manage.import_folder(folder)
    # A backlog built just before the cut is still being worked off after it.
    many = "case_id,referral_date,case_type\n" + "".join(
        f"B{i},2017-12-29,advocacy\n" for i in range(40)
    )  # 40 × 60 = 2,400 minutes on one day: five days of work, past the cut
    text = (folder / "referrals.csv").read_text() + many.split("\n", 1)[1]
    (folder / "referrals.csv").write_text(text)
    manage.import_folder(folder)
    plan = records.retention(folder, "7y", today=date(2025, 1, 1))
    assert plan.cases > 40 and plan.changed_days > 0
    keys = _keys(folder)
    with pytest.raises(FlowcapError, match="would change the measures"):
        records.retention(folder, "7y", today=date(2025, 1, 1), apply=True)
    assert _keys(folder) == keys  # nothing deleted
    # An older cut, before the backlog, changes nothing kept, and is applied.
    applied = records.retention(folder, "8y", today=date(2025, 1, 1), apply=True)
    assert applied.applied and applied.changed_days == 0 and applied.cases > 0


def test_a_malformed_period_is_a_clear_error():
    for bad in ("7", "seven years", "0y", "7x", "10000y"):
        with pytest.raises(FlowcapError, match="--older-than"):
            records.parse_period(bad)
