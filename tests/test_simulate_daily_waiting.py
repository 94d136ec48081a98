"""The waiting list at the horizon (by case type, in working days) and step contact targets in
the daily engines: the NumPy engine equals the reference loop, a week worked by hand, theory
(ample capacity meets every target), and a starved low priority showing in the oldest band.
The PyTorch twin is checked against the NumPy engine in test_simulate_daily_torch.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from flowcap.simulate import DailySpec, Draws, draw_inputs, run, run_reference
from flowcap.simulate.horizon import step_targets, waiting_at_horizon, waiting_totals

NEW_PATH_FIELDS = (
    "contacts_waiting_by_working_age",
    "step_target_outcomes",
    "days_over_step_target",
)


def targeted_spec(days: int = 30, staff_idva: int = 2, patience: bool = True) -> DailySpec:
    """Two resources, two priorities, three case types; a weekly IDVA session repeated three
    times (one step, three rows), targets on an IDVA step, on the repeated step and on a
    first contact that may give up; existing work; weekends closed at the IDVAs."""
    due_ahead = np.zeros((2, 2, days))
    due_ahead[1, 0, [0, 3, 9]] = [120.0, 60.0, 90.0]
    weekday = (np.arange(days) % 7) < 5
    return DailySpec(
        resources=("triage", "idva"),
        priorities=(1, 2),
        staff=np.array([[1] * days, [staff_idva] * days]),
        minutes_per_staff=np.array([[150.0] * days, np.where(weekday, 180.0, 0.0)]),
        absence_rate=np.array([0.0, 0.15]),
        case_types=("high", "standard", "self_referral"),
        case_priority=np.array([1, 2, 2]),
        mean_cases_per_day=np.array([[2.0] * days, [3.0] * days, [1.5] * days]),
        dispersion=np.array([np.inf, 3.0, np.inf]),
        steps=np.array(
            [
                [0, 0, 0, 30],
                [0, 1, 1, 90],
                [0, 1, 8, 45],
                [0, 1, 15, 45],
                [0, 1, 22, 45],
                [1, 0, 0, 20],
                [1, 1, 2, 60],
                [2, 1, 1, 60],
            ],
            dtype=float,
        ),
        step_number=np.array([0, 1, 2, 2, 2, 0, 1, 0]),
        step_target_working_days=np.array([np.nan, 1, 3, 3, 3, np.nan, np.nan, 0]),
        opening_backlog_minutes=np.array([[100.0, 200.0], [300.0, 600.0]]),
        due_ahead_minutes=due_ahead,
        patience_days=(None, None, ("fixed", 2, 0)) if patience else None,
    )


def test_a_spec_names_its_step_targets_once_per_step():
    spec = targeted_spec()
    assert spec.target_steps == ((0, 1, 1, 1.0), (0, 2, 1, 3.0), (2, 0, 1, 0.0))
    assert spec.step_target_index.tolist() == [-1, 0, 1, 1, 1, -1, -1, 2]
    with pytest.raises(ValueError, match="share its resource, minutes and target"):
        dataclasses.replace(spec, step_target_working_days=np.array([np.nan, 1, 3, 2, 3] + [0] * 3))
    with pytest.raises(ValueError, match="one entry per row"):
        dataclasses.replace(spec, steps=spec.steps[:3])


@pytest.mark.parametrize("patience", [False, True], ids=["no_reneging", "fixed_patience"])
def test_numpy_engine_equals_reference_on_the_same_draws(patience):
    spec = targeted_spec(patience=patience)
    n = 24
    draws = draw_inputs(spec, n, seed=4, chunk_size=10)
    fast = run(spec, n, seed=4, draws=draws, record="paths", chunk_size=10, waits=True)
    for i in range(n):
        ref = run_reference(spec, seed=0, draws=draws.replication(i))
        for name in NEW_PATH_FIELDS:
            a, b = getattr(ref, name), getattr(fast.paths, name)
            np.testing.assert_allclose(
                a[..., 0, :] if a.ndim == 4 else a[..., 0],
                b[..., i, :] if b.ndim == 4 else b[..., i],
                rtol=1e-12,
                atol=1e-12,
                err_msg=name,
            )
    # the result's sums are the paths' sums
    np.testing.assert_allclose(
        fast.contacts_waiting_by_working_age, fast.paths.contacts_waiting_by_working_age.sum(2)
    )
    np.testing.assert_allclose(fast.step_target_outcomes, fast.paths.step_target_outcomes.sum(2))
    np.testing.assert_array_equal(fast.days_over_step_target, fast.paths.days_over_step_target)
    # the overloaded IDVAs: every target step has occurrences missed, the urgent ones met too
    assert (fast.step_target_outcomes[:2, 0] > 0).all()
    assert (fast.step_target_outcomes[:, 1:].sum(axis=1) > 0).all()
    assert fast.contacts_waiting_by_working_age[1].sum() > 0


def test_measuring_by_step_changes_no_other_number():
    spec = targeted_spec()
    plain = run(spec, 300, seed=5, threshold_minutes=500)
    measured = run(spec, 300, seed=5, threshold_minutes=500, waits=True, target_working_days=2)
    for name in ("final_backlog", "backlog_mean", "reneged_cases", "days_over_threshold"):
        np.testing.assert_allclose(getattr(plain, name), getattr(measured, name), rtol=1e-12)
    assert plain.contacts_waiting_by_working_age is None and plain.target_steps == ()
    assert waiting_at_horizon(plain) == [] and len(measured.target_steps) == 3


def hand_worked_week(target: float = 1) -> tuple[DailySpec, Draws]:
    """Monday to Sunday, one advocate doing one 60-minute contact a weekday; two referrals
    each weekday need one (due the day they arrive), target 1 working day; closed at the
    weekend."""
    spec = DailySpec.one_resource(
        days=7, mean_cases_per_day=2, minutes_per_case=60, staff=1, minutes_per_staff=60
    )
    spec = dataclasses.replace(
        spec,
        minutes_per_staff=np.array([[60.0] * 5 + [0.0] * 2]),
        step_target_working_days=np.array([target]),
    )
    arrivals = np.array([[[2, 2, 2, 2, 2, 0, 0]]])
    return spec, Draws(arrivals, np.ones((1, 1, 7), dtype=np.int64))


@pytest.mark.parametrize("engine", ["reference", "numpy"])
def test_step_target_follows_a_hand_worked_week(engine):
    """Mon A1 A2 due, A1 done (met). Tue: A2 done (1 working day: met). Wed: B1 done (met);
    B2 waits past the target at the end of the day. Thu: B2 done late; C1, C2 past. Fri: C1
    done late; C2, D1, D2 past. The weekend is closed (no working days). At the end of Sunday:
    C2 (2 working days old), D1, D2 (1), past the target; E1, E2 (0) within it, left out.
    Met 3 (A1, A2, B1), late 2 (B2, C1), still waiting past it 3: P(met) = 3/8; working
    days past the target: Wednesday, Thursday, Friday."""
    spec, draws = hand_worked_week()
    if engine == "reference":
        paths = run_reference(spec, seed=0, draws=draws)
        outcomes, over = paths.step_target_outcomes[:, :, 0], paths.days_over_step_target[:, 0]
        by_age = paths.contacts_waiting_by_working_age[0, 0, 0]
    else:
        result = run(spec, 1, 0, draws=draws, waits=True)
        outcomes, over = result.step_target_outcomes, result.days_over_step_target[:, 0]
        by_age = result.contacts_waiting_by_working_age[0, 0]
        (row,) = step_targets(result)
        assert row["p_met"] == pytest.approx(3 / 8)
        assert row["label"] == "case: resource step 1 (target 1 working day)"
        (waiting,) = waiting_at_horizon(result)
        assert waiting["contacts_waiting"] == pytest.approx(5)
        assert waiting["bands"]["0-2"] == pytest.approx(5)
        assert (waiting["oldest_working_days"], waiting["median_working_days"]) == (2, 1)
    np.testing.assert_allclose(outcomes, [[3, 2, 3]])
    assert over.tolist() == [3]
    np.testing.assert_allclose(by_age[:4], [2, 2, 1, 0])


def test_ample_capacity_meets_every_step_target():
    """Theory: with capacity far above demand everything is done the day it falls due, so
    every occurrence meets even a 0-working-day target, and nothing waits at the end."""
    spec = dataclasses.replace(
        DailySpec.one_resource(
            days=60, mean_cases_per_day=3, minutes_per_case=30, staff=4, minutes_per_staff=300
        ),
        step_target_working_days=np.array([0.0]),
    )
    result = run(spec, 500, 1, waits=True)
    (row,) = step_targets(result)
    assert row["p_met"] == 1.0 and row["days_over_target"] == 0.0
    assert row["met"] == pytest.approx(3 * 60, rel=0.02)  # Poisson(3) a day for 60 days
    assert waiting_at_horizon(result) == []
    assert waiting_totals(result)["resource"]["contacts_waiting"] == 0


def test_a_low_priority_starved_behind_a_high_one_fills_the_oldest_band():
    """One resource, 100 minutes a day against 80 of urgent and 40 of routine work: the urgent
    work is done the day it falls due and the routine work waits ever longer (a fifth of it
    waits, and it is served oldest first once the urgent is done). After 60 days the routine
    list holds work over 20 working days old; the urgent list is empty."""
    days = 60
    spec = DailySpec(
        resources=("advocate",),
        priorities=(1, 2),
        staff=np.ones((1, days), dtype=np.int64),
        minutes_per_staff=np.full((1, days), 100.0),
        absence_rate=np.array([0.0]),
        case_types=("urgent", "routine"),
        case_priority=np.array([1, 2]),
        mean_cases_per_day=np.array([[2.0] * days, [1.0] * days]),
        dispersion=np.array([np.inf, np.inf]),
        steps=np.array([[0, 0, 0, 40], [1, 0, 0, 40]], dtype=float),
    )
    draws = Draws(
        np.broadcast_to(np.array([2, 1])[None, :, None], (1, 2, days)).copy(),
        np.ones((1, 1, days), dtype=np.int64),
    )
    result = run(spec, 1, 0, draws=draws, waits=True)
    rows = {row["case_type"]: row for row in waiting_at_horizon(result)}
    assert set(rows) == {"routine"}  # the urgent work is all done
    routine = rows["routine"]
    # 60 days x 40 minutes of routine work, 20 done a day: 30 contacts' worth still waits,
    # the oldest from day 30 (29 working days old at the end of day 59)
    assert routine["contacts_waiting"] == pytest.approx(30)
    assert routine["bands"]["over 20"] == pytest.approx(30 - 21)
    assert routine["oldest_working_days"] == 29
    assert waiting_totals(result)["advocate"]["over_20_working_days"] == pytest.approx(9)
