"""The waiting list as people see it (flowcap.measures.waiting): cases waiting, their ages in
working days, the bands a manager reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

import flowcap
from conftest import sepsis_folder_in, worked_example
from flowcap.measures.waiting import BAND_COLUMNS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_the_worked_example_list_by_hand(tmp_path):
    """DESIGN.md's worked example on Tue 4 March 2025: 20 cases waiting since 10-19 February
    (two a day) and 12 referrals that day; 2 IDVAs × 240 minutes do 8 one-hour cases, the
    oldest first (10-13 February). Left: 14, 15, 16 February (12 working days old on 4 March:
    17 Feb to 4 Mar, the day work fell due not counted), 17 (11), 18 (10), 19 (9), two each,
    and the 12 referrals (0)."""
    history = flowcap.open(worked_example(tmp_path / "svc"))
    listed = history.measures.waiting.snapshot()
    assert len(listed) == 1
    row = listed.iloc[0]
    assert (row["resource"], row["case_type"], row["cases_waiting"]) == ("idva", "advocacy", 24)
    assert row["oldest_working_days"] == 12
    bands = [int(row[column]) for column in BAND_COLUMNS]
    assert bands == [12, 0, 4, 8, 0]  # 0-2, 3-5, 6-10, 11-20, over 20
    assert row["median_working_days"] == 0  # the 12th of 24 ages is a new referral's
    assert row["p90_working_days"] == 12  # the 22nd of 24
    ages = history.measures.waiting.ages_on(0).sort_values("age")["age"].tolist()
    assert ages == [0] * 12 + [9, 9, 10, 10, 11, 11] + [12] * 6
    assert row["cases_waiting"] == history.measures.table["backlog_cases"].iloc[-1]


def _agrees_with_the_backlog(measures) -> None:
    profile = measures.waiting.profile()
    listed = profile[list(BAND_COLUMNS)].sum(axis=1).to_numpy()
    table = measures.table.set_index(["date", "resource"])["backlog_cases"]
    expected = table.loc[list(zip(profile["date"], profile["resource"], strict=True))]
    np.testing.assert_array_equal(listed, expected.to_numpy())
    # The last day's bands are the snapshot's, resource by resource.
    last = profile[profile["date"] == profile["date"].max()].set_index("resource")
    snapshot = measures.waiting.snapshot().groupby("resource", sort=False)[list(BAND_COLUMNS)]
    pd.testing.assert_frame_equal(
        snapshot.sum().astype(np.int64), last[list(BAND_COLUMNS)].loc[snapshot.sum().index]
    )


def test_every_day_the_bands_add_up_to_the_cases_waiting(tmp_path):
    # The bundled example (recorded sessions; cases with two steps at the caseworkers).
    folder = tmp_path / "vs"
    shutil.copytree(EXAMPLES / "victim-support", folder, ignore=shutil.ignore_patterns(".flowcap"))
    history = flowcap.open(folder)
    _agrees_with_the_backlog(history.measures)


def test_the_bands_add_up_on_a_real_log(tmp_path):
    (tmp_path / "sepsis").mkdir()
    history = flowcap.open(sepsis_folder_in(tmp_path / "sepsis"))
    _agrees_with_the_backlog(history.measures)
