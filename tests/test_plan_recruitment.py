"""How many more people, recruited when, bring a list under its target by a date
(flowcap.plan.outlook.plan_recruitment), and the backlog target given three ways."""

from __future__ import annotations

import math
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from flowcap import open as open_service
from flowcap.checks import ArgumentError
from flowcap.plan.capacity import minimum_staff
from flowcap.plan.outlook import _spec, backlog_targets, plan_capacity, plan_recruitment

ANCHOR = Path(__file__).resolve().parents[1] / "examples" / "anchor-lindley"
START = date(2026, 1, 1)
BY = date(2026, 4, 10)  # 100 days, every day a working day
REPS, SEED = 1000, 3


@pytest.fixture(scope="module")
def short_staffed(tmp_path_factory):
    """The anchor model (600 minutes of work a day, 240 a person, absent 10% of days) with two
    advocates, not three: 432 minutes a day against 600, so the list grows 168 a day."""
    folder = tmp_path_factory.mktemp("recruit") / "anchor"
    shutil.copytree(ANCHOR, folder)
    path = folder / "service.yaml"
    path.write_text(path.read_text().replace("staff: 3", "staff: 2"))
    return open_service(folder)


def recruit(history, **kwargs):
    settings = dict(by=BY, risk=0.05, start=START, replications=REPS, seed=SEED)
    (found,) = plan_recruitment(history, **{**settings, **kwargs})
    return found


def test_with_no_lead_time_the_recruits_are_plans_extra_staff(short_staffed):
    # Recruits joining on day 0 at full output make the same model as plan's head count, on
    # the same random numbers: the fewest recruits is plan's fewest staff less the two there.
    found = recruit(short_staffed, lead_days=0, induction_days=0)
    spec, _ = _spec(short_staffed, 100, START, lambda *a: None, lambda *a: None)
    staff = minimum_staff(
        spec, "advocate", target_backlog_minutes=2400, risk=0.05, replications=REPS, seed=SEED
    )
    assert found.recruits == staff.min_staff - 2 == 1
    assert found.p_exceed == staff.p_exceed_at_min
    assert found.p_exceed_now == 1.0  # two advocates: the list spirals
    assert (found.joins, found.by, found.head_count) == (START, BY, 2)
    assert found.load_after_joining == pytest.approx(600 / (3 * 240 * 0.9))


@pytest.mark.parametrize("lead_days", [40, 80])
def test_the_fewest_recruits_follow_the_expected_backlog(short_staffed, lead_days):
    found = recruit(short_staffed, lead_days=lead_days, induction_days=0)
    assert found.joins == START + timedelta(days=lead_days)
    joined = 100 - lead_days
    mean_rule = math.ceil((168 * lead_days - 2400 + 168 * joined) / (216 * joined))
    assert found.recruits in (mean_rule, mean_rule + 1)  # 2 for 40 days' lead; 5 for 80 (4: 11%)
    assert found.p_exceed <= 0.05


def test_induction_at_no_output_is_a_longer_lead_time(short_staffed):
    slow = recruit(short_staffed, lead_days=30, induction_days=10, induction_output=0.0)
    later = recruit(short_staffed, lead_days=40, induction_days=0)
    assert (slow.recruits, slow.p_exceed) == (later.recruits, later.p_exceed)
    half = recruit(short_staffed, lead_days=30, induction_days=10, induction_output=0.5)
    assert later.recruits >= half.recruits >= recruit(short_staffed, lead_days=30).recruits - 1


def test_targets_in_cases_and_weeks_become_minutes(short_staffed):
    spec, _ = _spec(short_staffed, 100, START, lambda *a: None, lambda *a: None)
    assert backlog_targets(spec) == {"advocate": 2400.0}
    assert backlog_targets(spec, minutes=300) == {"advocate": 300.0}
    assert backlog_targets(spec, cases=5) == {"advocate": 300.0}  # 5 cases × 60 minutes
    # one week: 7 days × 600 minutes falling due a day (Little's law for the oldest case)
    assert backlog_targets(spec, weeks=1) == {"advocate": pytest.approx(4200.0)}
    in_cases = recruit(short_staffed, lead_days=40, target_backlog_cases=40)
    in_minutes = recruit(short_staffed, lead_days=40, target_backlog_minutes=2400)
    assert in_cases.target_backlog_minutes == 2400
    assert (in_cases.recruits, in_cases.p_exceed) == (in_minutes.recruits, in_minutes.p_exceed)
    (planned,) = plan_capacity(
        short_staffed, risk=0.05, horizon=100, start=START, replications=200, target_wait_weeks=1
    )
    assert planned.target_backlog_minutes == pytest.approx(4200.0)
    assert planned.as_json()["target_backlog_minutes"] == pytest.approx(4200.0)


@pytest.mark.parametrize(
    "arguments, parameter, words",
    [
        ({"by": date(2026, 2, 1)}, "by", "before the recruits could join: 2026-03-26"),
        ({"by": date(2025, 12, 1), "lead_days": 0}, "by", "on or after the first day"),
        ({"recruit_from": date(2026, 3, 1), "lead_days": 45}, "by", "2026-04-15"),
        ({"lead_days": -1}, "lead_days", "0 or more"),
        ({"induction_output": 2.0, "lead_days": 0}, "induction_output", "from 0 to 1"),
        ({"target_backlog_minutes": 10, "target_wait_weeks": 2}, "target_wait_weeks", "one way"),
        ({"target_backlog_cases": -1}, "target_backlog_cases", "0 or more"),
        ({"target_wait_weeks": 0}, "target_wait_weeks", "more than 0"),
    ],
)
def test_bad_recruitment_arguments_are_refused_by_name(short_staffed, arguments, parameter, words):
    with pytest.raises(ArgumentError) as refused:
        recruit(short_staffed, **arguments)
    assert refused.value.parameter == parameter
    assert words in refused.value.rule


def test_the_latest_start_is_the_last_day_the_same_recruits_are_enough(short_staffed):
    found = recruit(short_staffed, lead_days=40, induction_days=0)
    latest = found.latest_recruit_from
    assert found.recruits and latest is not None and START < latest
    # Starting on the latest day, as many recruits are enough; a day later, they are not.
    on_time = recruit(short_staffed, lead_days=40, induction_days=0, recruit_from=latest)
    assert on_time.recruits == found.recruits
    late = recruit(
        short_staffed, lead_days=40, induction_days=0, recruit_from=latest + timedelta(days=1)
    )
    assert late.recruits is None or late.recruits > found.recruits
    # The list grows 168 a day, and 168 - 216 n once the n recruits join: for the mean list
    # at the end to be under the target (needed for a 5% tail), they must work at least
    # (168 × 100 - 2400) / (216 n) days; the tail asks for a margin, but not weeks of it.
    n = found.recruits
    joined = (BY - latest).days + 1 - 40
    assert (168 * 100 - 2400) / (216 * n) <= joined <= (168 * 100 - 2400) / (216 * n) + 14
    assert recruit(short_staffed, lead_days=0).latest_recruit_from is not None


def test_the_plan_in_full_time_equivalents(tmp_path):
    shutil.copytree(ANCHOR, tmp_path / "anchor")
    (plan,) = plan_capacity(
        open_service(tmp_path / "anchor"),
        risk=0.05,
        horizon=100,
        start=START,
        replications=REPS,
        seed=SEED,
    )
    assert plan.fte_now == 3
    # The anchor rosters 3 people at 240 minutes every day: the FTE that is enough is the
    # fewest minutes each, as a share of 240, times 3 posts.
    assert plan.fte_needed == pytest.approx(3 * plan.minutes.min_minutes_per_staff / 240)
    assert plan.as_json()["fte_needed"] == pytest.approx(plan.fte_needed, rel=1e-5)
