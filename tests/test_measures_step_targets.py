"""Step contact targets met (flowcap.measures.step_targets): each occurrence of a step with
``target_working_days`` met, missed or pending, counted by hand on small services whose
done days are known (recorded sessions, or one hour of capacity a day)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

import flowcap
from conftest import write_folder
from flowcap.measures import measure

REFERRALS = "case_id,referral_date,case_type\n"


def _service(steps: list[dict], staff: float = 2, minutes_per_day: float = 240) -> dict:
    return {
        "name": "Targets",
        "region": "GB-ENG",
        "resources": {
            "triage": {"staff": 1, "minutes_per_day": 240},
            "idva": {"staff": staff, "minutes_per_day": minutes_per_day},
        },
        "case_types": {
            "hr": {"priority": 1, "steps": steps},
            "call": {"priority": 2, "resource": "triage", "minutes": 20},
        },
    }


@pytest.fixture
def recorded(tmp_path):
    """Five high-risk referrals whose risk assessment (step 2, due on the referral day, within
    1 working day) was done on known days; March 2025 has no bank holiday.

    F  Fri 28 Feb, done Mon 3 Mar: 1 working day (Monday)          met, February
    A  Mon 3 Mar, done Tue 4 Mar: 1                                met
    B  Mon 3 Mar, done Wed 5 Mar: 2                                missed
    E  Thu 27 Mar, not done; by the end (Mon 31) 2 working days    missed, still waiting
    D  Mon 31 Mar (the last day), not done: 0 so far               pending
    """
    steps = [
        {"resource": "triage", "minutes": 30},
        {"resource": "idva", "minutes": 120, "target_working_days": 1},
    ]
    referrals = REFERRALS + "".join(
        f"{case},{day},hr\n"
        for case, day in [
            ("F", "2025-02-28"),
            ("A", "2025-03-03"),
            ("B", "2025-03-03"),
            ("E", "2025-03-27"),
            ("D", "2025-03-31"),
        ]
    )
    sessions = "date,case_id,resource,minutes\n" + "".join(
        f"{day},{case},idva,120\n"
        for case, day in [("F", "2025-03-03"), ("A", "2025-03-04"), ("B", "2025-03-05")]
    )
    return write_folder(tmp_path / "svc", _service(steps), referrals, sessions=sessions)


def test_due_monday_done_tuesday_is_met_and_wednesday_missed(recorded):
    targets = flowcap.open(recorded).measures.step_targets()
    # Two due the same day come in case order, which pseudonyms decide: order by done day.
    outcomes = targets.outcomes.sort_values(["due_date", "done_date"], ignore_index=True)
    assert outcomes["due_date"].dt.strftime("%a %d %b").tolist() == [
        "Fri 28 Feb",
        "Mon 03 Mar",
        "Mon 03 Mar",
        "Thu 27 Mar",
        "Mon 31 Mar",
    ]
    monday = outcomes[outcomes["due_date"] == pd.Timestamp("2025-03-03")]
    by_done = dict(zip(monday["done_date"].dt.day_name(), monday["status"], strict=True))
    assert by_done == {"Tuesday": "met", "Wednesday": "missed"}
    assert sorted(monday["working_days_taken"]) == [1, 2]
    # Friday's assessment done on Monday took one working day; the rest still wait.
    assert outcomes["status"].tolist() == ["met", "met", "missed", "missed", "pending"]
    assert outcomes["done_date"].isna().tolist() == [False, False, False, True, True]
    assert set(outcomes[["case_type", "step", "resource"]].itertuples(index=False)) == {
        ("hr", 2, "idva")
    }


def test_share_met_leaves_out_pending_and_splits_by_month_due(recorded):
    targets = flowcap.open(recorded).measures.step_targets()
    (step,) = targets.by_step().to_dict(orient="records")
    assert step == {
        "case_type": "hr",
        "step": 2,
        "resource": "idva",
        "target_working_days": 1,
        "met": 2,
        "missed": 2,
        "pending": 1,
        "share_met": 0.5,
    }
    months = targets.by_month()
    assert months["month"].tolist() == ["2025-02", "2025-03"]
    assert months[["met", "missed", "pending"]].values.tolist() == [[1, 0, 0], [1, 2, 1]]
    assert months["share_met"].tolist() == pytest.approx([1.0, 1 / 3])
    assert targets.overall() == {"met": 2, "missed": 2, "pending": 1, "share_met": 0.5}
    (document,) = targets.as_json()
    assert document["share_met"] == 0.5
    assert document["by_month"] == [
        {"month": "2025-02", "met": 1, "missed": 0, "pending": 0, "share_met": 1.0},
        {"month": "2025-03", "met": 1, "missed": 2, "pending": 1, "share_met": 0.3333},
    ]


def test_the_first_contact_measure_is_unchanged_beside_them(recorded):
    contacts = flowcap.open(recorded).measures.first_contacts.set_index("case_key")
    # Only F, A and B were ever contacted; the first-contact rule (2 working days) holds.
    assert contacts["status"].value_counts().to_dict() == {"met": 3, "missed": 1, "pending": 1}


def test_a_period_counts_the_work_due_in_it(recorded):
    history = flowcap.open(recorded)
    march = measure(history, start=date(2025, 3, 1)).step_targets()
    assert march.overall() == {"met": 1, "missed": 2, "pending": 1, "share_met": 1 / 3}
    early = measure(history, end=date(2025, 3, 4)).step_targets()
    # Due by 4 March, as things stand at the end of the data: B's Wednesday visit counts.
    assert early.overall()["missed"] == 1 and early.overall()["met"] == 2


def test_modelled_activity_decides_the_done_days(tmp_path):
    """One IDVA hour a day, three one-hour assessments due Mon 3 March: done Monday (0
    working days), Tuesday (1) and Wednesday (2: missed)."""
    steps = [{"resource": "idva", "minutes": 60, "target_working_days": 1}]
    referrals = REFERRALS + "".join(f"C{i},2025-03-03,hr\n" for i in range(3))
    folder = write_folder(tmp_path / "svc", _service(steps, staff=1, minutes_per_day=60), referrals)
    targets = measure(flowcap.open(folder), end=date(2025, 3, 7)).step_targets()
    outcomes = targets.outcomes.sort_values("done_date")
    assert outcomes["done_date"].dt.day_name().tolist() == ["Monday", "Tuesday", "Wednesday"]
    assert outcomes["working_days_taken"].tolist() == [0, 1, 2]
    assert outcomes["status"].tolist() == ["met", "met", "missed"]


def test_each_occurrence_counts_from_its_own_due_day(tmp_path):
    """A repeated step due Mon 3 and Sat 8 March: the Saturday one, done on Monday 10th, took
    one working day (the weekend does not count), so both met a 1-working-day target."""
    steps = [
        {
            "resource": "idva",
            "minutes": 60,
            "repeat": 2,
            "every_days": 5,
            "target_working_days": 1,
        }
    ]
    folder = write_folder(
        tmp_path / "svc",
        _service(steps, staff=1, minutes_per_day=60),
        REFERRALS + "X,2025-03-03,hr\n",
    )
    targets = measure(flowcap.open(folder), end=date(2025, 3, 14)).step_targets()
    outcomes = targets.outcomes
    assert outcomes["due_date"].dt.day_name().tolist() == ["Monday", "Saturday"]
    assert outcomes["done_date"].dt.strftime("%a %d").tolist() == ["Mon 03", "Mon 10"]
    assert outcomes["working_days_taken"].tolist() == [0, 1]
    assert targets.by_step()[["met", "missed", "pending"]].values.tolist() == [[2, 0, 0]]


def test_a_service_without_step_targets_has_none(tmp_path):
    steps = [{"resource": "idva", "minutes": 60}]
    folder = write_folder(tmp_path / "svc", _service(steps), REFERRALS + "X,2025-03-03,hr\n")
    measures = flowcap.open(folder).measures
    assert measures.step_targets().by_step().empty
    assert measures.step_targets().as_json() == []
    assert "step_targets_met" not in measures.as_json()[0]
