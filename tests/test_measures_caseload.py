"""Caseloads (flowcap.measures.caseload): open cases per FTE of their case holder against
``caseload_per_staff``, counted by hand on a small case set with recorded sessions."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

import flowcap
from conftest import write_folder
from flowcap.measures import measure

SERVICE = {
    "name": "Caseloads",
    "region": "GB-ENG",
    "resources": {
        "idva": {"staff": 2.6, "minutes_per_day": 240},  # two full-timers and a 0.6
        "caseworker": {"staff": 3, "minutes_per_day": 240},
    },
    "case_types": {
        # Two IDVA contacts a week apart: the case's last step falls due 7 days in.
        "hr": {
            "priority": 1,
            "caseload_per_staff": 5,
            "steps": [
                {"resource": "idva", "minutes": 60},
                {"resource": "idva", "minutes": 60, "after_days": 7},
            ],
        },
        "med": {"priority": 2, "caseload_per_staff": 10, "resource": "idva", "minutes": 30},
        "other": {"priority": 3, "resource": "caseworker", "minutes": 30},
    },
}


@pytest.fixture
def cases(tmp_path):
    """March 2025 (day 0 Mon 3 March, the last day Fri 21 March):

    W  waiting since Mon 24 Feb; contacts done Tue 4 and Thu 6 Mar  open end of 3-5 Mar
    A  referred Mon 3; done 3 and 10 Mar (on time)                   open end of 3-9 Mar
    B  referred Wed 5; done 5 and Fri 14 (due 12th, late)            open end of 5-13 Mar
    C  referred Mon 10; second contact (due 17th) never done         open to the end
    M  (med) referred Tue 11; done Wed 12                            open end of 11 Mar
    O  (other, no standard) referred Fri 21: the last day of data
    """
    referrals = "case_id,referral_date,case_type\n" + "".join(
        f"{case},{day},{kind}\n"
        for case, day, kind in [
            ("A", "2025-03-03", "hr"),
            ("B", "2025-03-05", "hr"),
            ("C", "2025-03-10", "hr"),
            ("M", "2025-03-11", "med"),
            ("O", "2025-03-21", "other"),
        ]
    )
    waiting = "case_id,case_type,waiting_since\nW,hr,2025-02-24\n"
    sessions = "date,case_id,resource,minutes\n" + "".join(
        f"{day},{case},idva,60\n"
        for case, day in [
            ("W", "2025-03-04"),
            ("W", "2025-03-06"),
            ("A", "2025-03-03"),
            ("A", "2025-03-10"),
            ("B", "2025-03-05"),
            ("B", "2025-03-14"),
            ("C", "2025-03-10"),
            ("M", "2025-03-12"),
        ]
    )
    # Only one IDVA on duty on 5 March: a sick day, which changes no caseload.
    roster = "date,resource,staff\n2025-03-05,idva,1\n"
    return write_folder(
        tmp_path / "svc", SERVICE, referrals, waiting=waiting, sessions=sessions, roster=roster
    )


#: Open hr cases at the end of each day, 3 to 21 March, by hand from the fixture's table.
HR_OPEN = [2, 2, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1]


def test_open_cases_each_day_by_hand(cases):
    daily = flowcap.open(cases).measures.caseloads().daily
    hr = daily[daily["case_type"] == "hr"]
    assert hr["date"].iloc[0] == pd.Timestamp("2025-03-03") and len(hr) == 19
    assert hr["open_cases"].tolist() == HR_OPEN
    med = daily[daily["case_type"] == "med"].set_index("date")["open_cases"]
    assert med[med > 0].index.strftime("%d %b").tolist() == ["11 Mar"]
    assert set(daily["case_type"]) == {"hr", "med"}  # no standard, no caseload


def test_per_fte_divides_by_the_posts_not_the_people_on_duty(cases):
    daily = flowcap.open(cases).measures.caseloads().daily
    hr = daily[daily["case_type"] == "hr"].set_index("date")
    sick_day = hr.loc["2025-03-05"]  # 3 open, one IDVA on duty: still 2.6 FTE
    assert sick_day["fte"] == 2.6
    assert sick_day["open_cases_per_fte"] == pytest.approx(3 / 2.6)
    assert sick_day["share_of_standard"] == pytest.approx(3 / 2.6 / 5)


def test_the_summary_reads_now_against_the_standard(cases):
    caseloads = flowcap.open(cases).measures.caseloads()
    hr, med = caseloads.summary().to_dict(orient="records")
    assert hr["case_type"] == "hr" and hr["resource"] == "idva"
    assert (hr["open_cases"], hr["fte"], hr["caseload_per_staff"]) == (1, 2.6, 5)
    assert hr["open_cases_per_fte"] == pytest.approx(1 / 2.6)  # 0.38 each
    assert hr["share_of_standard"] == pytest.approx(1 / 2.6 / 5)  # 8%
    assert (hr["peak_open_cases"], hr["peak_date"]) == (3, pd.Timestamp("2025-03-05"))
    assert (med["open_cases"], med["peak_open_cases"]) == (0, 1)
    assert med["peak_date"] == pd.Timestamp("2025-03-11")


def test_types_sharing_a_case_holder_add_up_to_a_share_of_a_full_caseload(cases):
    caseloads = flowcap.open(cases).measures.caseloads()
    combined = caseloads.by_resource().set_index("date")
    eleventh = combined.loc["2025-03-11"]  # 2 hr of 5 each, 1 med of 10 each, 2.6 FTE
    assert eleventh["resource"] == "idva" and eleventh["open_cases"] == 3
    assert eleventh["caseload_share"] == pytest.approx(2 / (5 * 2.6) + 1 / (10 * 2.6))
    assert eleventh["open_cases_per_fte"] == pytest.approx(3 / 2.6)
    (shared,) = caseloads.shared().to_dict(orient="records")
    assert shared["resource"] == "idva" and shared["case_types"] == "hr, med"
    assert shared["caseload_share"] == pytest.approx(1 / (5 * 2.6))


def test_a_period_shows_its_days_and_ends_on_its_last(cases):
    caseloads = measure(flowcap.open(cases), start=date(2025, 3, 5), end=date(2025, 3, 11))
    summary = caseloads.caseloads().summary().set_index("case_type")
    assert summary.loc["hr", "open_cases"] == 2  # B and C on 11 March
    assert summary.loc["hr", "peak_open_cases"] == 3
    assert caseloads.caseloads().daily["date"].min() == pd.Timestamp("2025-03-05")


def test_json_rows_carry_the_case_holders_caseload(cases):
    rows = flowcap.open(cases).measures.as_json()
    idva = [row for row in rows if row["resource"] == "idva"]
    assert [row["open_cases"] for row in idva] == [a + (d == 8) for d, a in enumerate(HR_OPEN)]
    assert idva[-1]["open_cases_per_fte"] == round(1 / 2.6, 4)
    assert idva[-1]["caseload_share"] == round(1 / 13, 4)
    caseworker = [row for row in rows if row["resource"] == "caseworker"]
    assert {row["open_cases"] for row in caseworker} == {None}
    assert "step_targets_met" not in rows[0]  # no step has a target here
