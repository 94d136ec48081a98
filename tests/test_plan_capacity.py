"""Minimum safe capacity: the anchor model, the reflected random walk's theory, the search itself.

Statistical checks use fixed seeds and tolerances of at least three standard errors. Exact
answers come from the distribution of the backlog computed day by day on a grid (Poisson
referrals times 60 minutes against a fixed or binomial capacity), not from simulation.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from flowcap import open as open_service
from flowcap.checks import ArgumentError
from flowcap.errors import FlowcapError
from flowcap.plan import plan_capacity
from flowcap.plan.capacity import (
    StaffPlan,
    expected_demand_minutes,
    expected_load,
    is_stable,
    minimum_minutes_per_day,
    minimum_staff,
    resource_submodel,
)
from flowcap.simulate import DailySpec, draw_inputs, run
from flowcap.simulate.build import build_spec

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
MU, SIGMA = 600.0, 60 * math.sqrt(10)  # demand 60 x Poisson(10) minutes a day


def anchor_spec(staff: int = 3, days: int = 365) -> DailySpec:
    """shared/bench/gpu_lindley_anchor.py: 60 x Poisson(10) against 240 x Binomial(staff, 0.9)."""
    return DailySpec.one_resource(
        days=days,
        mean_cases_per_day=10,
        minutes_per_case=60,
        staff=staff,
        minutes_per_staff=240,
        absence_rate=0.1,
    )


def fixed_capacity_spec(capacity: float, days: int = 365) -> DailySpec:
    return DailySpec.one_resource(
        days=days, mean_cases_per_day=10, minutes_per_case=60, staff=1, minutes_per_staff=capacity
    )


def exact_p_over(threshold: float, capacity_pmf: dict[int, float], days: int = 365) -> float:
    """P(backlog after ``days`` > threshold), B_0 = 0, B = max(0, B + 60 N - C) exactly.

    On the whole-minute grid: N ~ Poisson(10) (truncated at 36: P(N > 36) < 1e-9), C takes the
    whole-minute values of ``capacity_pmf``; the grid reaches far enough that the mass beyond
    it is negligible (< 1e-12 here).
    """
    top = 12_000
    poisson = stats.poisson.pmf(np.arange(37), 10)
    backlog = np.zeros(top)
    backlog[0] = 1.0
    for _ in range(days):
        before = np.zeros(top + 60 * len(poisson))
        for n, q in enumerate(poisson):
            before[60 * n : 60 * n + top] += q * backlog
        after = np.zeros(top)
        for c, q in capacity_pmf.items():
            after[0] += q * before[: c + 1].sum()
            after[1:] += q * before[c + 1 : c + top]
        backlog = after
    return float(backlog[int(threshold) + 1 :].sum())


# --- the anchor model ---------------------------------------------------------------------------


def test_anchor_model_needs_three_staff_as_theory_and_simulation_say():
    """2 staff: 2 x 240 x 0.9 = 432 expected minutes < 600 demand, unstable. 3 staff: 648 > 600,
    and P(final > 2400) = 0.0107 exactly (grid), well under 5%."""
    assert expected_load(anchor_spec(2), "resource") == pytest.approx(600 / 432)
    assert expected_load(anchor_spec(3), "resource") == pytest.approx(600 / 648)
    assert not is_stable(anchor_spec(2), "resource") and is_stable(anchor_spec(3), "resource")

    plan = minimum_staff(anchor_spec(), "resource", target_backlog_minutes=2400, risk=0.05)
    assert plan.min_staff == 3 and plan.stable
    assert plan.min_capacity_minutes == 720.0
    exact = exact_p_over(2400, {4 * 60 * k: stats.binom.pmf(k, 3, 0.9) for k in range(4)})
    assert exact == pytest.approx(0.0107, abs=5e-4)
    se = math.sqrt(exact * (1 - exact) / 2000)
    assert abs(plan.p_exceed_at_min - exact) < 3 * se
    assert plan.as_json() == {
        "resource": "resource",
        "min_staff": 3,
        "min_capacity_minutes": 720.0,
        "p_exceed_at_min": plan.p_exceed_at_min,
        "stable": True,
    }
    # and with 2 staff the simulated backlog does spiral, by 600 - 432 = 168 minutes a day
    paths = run(anchor_spec(2), 2000, seed=1, record="paths").paths.backlog_minutes[0]
    assert np.all(paths[:, -1] > 2400)
    rate = (paths[:, -1] - paths[:, 99]) / (364 - 99)
    assert abs(rate.mean() - 168) < 3 * rate.std(ddof=1) / math.sqrt(rate.size)


def test_a_tighter_target_needs_more_staff_and_candidates_are_reported():
    plan = minimum_staff(anchor_spec(), "resource", target_backlog_minutes=0, risk=0.2)
    assert plan.min_staff is not None and plan.min_staff > 3
    staff = [n for n, _ in plan.candidates]
    assert staff == sorted(staff) and staff[0] == 3  # the search starts at the fewest stable
    p = [q for _, q in plan.candidates]
    assert all(a >= b for a, b in zip(p, p[1:], strict=False))  # common random numbers
    assert dict(plan.candidates)[plan.min_staff] <= 0.2
    assert dict(plan.candidates)[plan.min_staff - 1] > 0.2


def test_when_no_head_count_is_enough_the_plan_says_so():
    plan = minimum_staff(
        anchor_spec(), "resource", target_backlog_minutes=2400, risk=0.05, max_staff=2
    )
    assert plan.min_staff is None and plan.min_capacity_minutes is None
    assert not plan.stable and plan.p_exceed_at_min == 1.0
    assert plan.as_json()["min_staff"] is None
    assert isinstance(plan, StaffPlan)


# --- theory: the reflected random walk ------------------------------------------------------


def test_with_poisson_demand_and_fixed_capacity_stability_is_mean_demand_below_capacity():
    for capacity, stable in [(599, False), (600, False), (601, True), (700, True)]:
        assert is_stable(fixed_capacity_spec(capacity), "resource") is stable
    # simulated: below 600 the backlog grows at demand - capacity; above, it settles
    grows = run(fixed_capacity_spec(560), 2000, seed=2, record="paths").paths.backlog_minutes[0]
    rate = (grows[:, -1] - grows[:, 99]) / (364 - 99)
    assert abs(rate.mean() - 40) < 3 * rate.std(ddof=1) / math.sqrt(rate.size)
    settles = run(fixed_capacity_spec(650), 2000, seed=2, record="paths").paths.backlog_minutes[0]
    mid, end = settles[:, 182], settles[:, -1]
    se = math.sqrt(mid.var(ddof=1) / mid.size + end.var(ddof=1) / end.size)
    assert abs(end.mean() - mid.mean()) < 3 * se


@pytest.mark.parametrize(("target", "risk"), [(1200, 0.05), (2400, 0.01), (600, 0.1)])
def test_minimum_minutes_match_the_heavy_traffic_formula_and_the_exact_tail(target, risk):
    """methods.md 4.2: C* = mu + sigma^2 ln(1/eps) / (2 (x + 0.5826 sigma)), fixed capacity.

    Tolerance: the formula is a corrected-diffusion approximation; test_simulate_daily finds
    its tail probability within a factor 1.5 of simulation in this regime, which moves the
    capacity by ln(1.5) sigma^2 / (2 (x + 0.5826 sigma)) minutes (about 6 at x = 1200); plus 3
    Monte Carlo standard errors of the estimated probability turned into minutes through the
    tail's slope (dp/dC = p 2 (x + 0.5826 sigma) / sigma^2: about 1 minute per SE), plus 1
    minute of rounding to whole minutes. Against the exact finite-horizon tail the answer m
    must pass at m and fail at m - 1, each within 3 standard errors.
    """
    replications = 4000
    plan = minimum_minutes_per_day(
        fixed_capacity_spec(700),
        "resource",
        target_backlog_minutes=target,
        risk=risk,
        replications=replications,
        seed=3,
    )
    m = plan.min_minutes_per_staff
    assert m is not None and plan.stable and plan.p_exceed_at_min <= risk
    corrected = target + 0.5826 * SIGMA
    formula = MU + SIGMA**2 * math.log(1 / risk) / (2 * corrected)
    se_p = math.sqrt(risk * (1 - risk) / replications)
    se_minutes = se_p / (risk * 2 * corrected / SIGMA**2)
    tolerance = math.log(1.5) * SIGMA**2 / (2 * corrected) + 3 * se_minutes + 1
    assert abs(m - formula) < tolerance, (m, formula, tolerance)
    plain = MU + SIGMA**2 * math.log(1 / risk) / (2 * target)  # the conservative form
    assert m <= plain + 3 * se_minutes + 1
    assert exact_p_over(target, {int(m): 1.0}) <= risk + 3 * se_p
    assert exact_p_over(target, {int(m) - 1: 1.0}) >= risk - 3 * se_p
    assert plan.min_capacity_minutes == m  # one person
    minutes = [x for x, _ in plan.candidates]
    p = [q for _, q in plan.candidates]
    assert minutes == sorted(minutes) and all(a >= b for a, b in zip(p, p[1:], strict=False))
    assert set(plan.as_json()) == {
        "resource",
        "min_minutes_per_staff",
        "min_capacity_minutes",
        "p_exceed_at_min",
        "stable",
    }


# --- what the search changes, and on what model --------------------------------------------


def test_staff_are_placed_only_on_the_days_the_resource_works():
    """Work falls due 7 days a week (420 minutes a day), staff work Monday to Friday: the
    fewest stable is 3 (3 x 240 x 5 > 420 x 7 > 2 x 240 x 5), not the 2 a 7-day rota needs."""
    days = 28
    working = np.array([d % 7 < 5 for d in range(days)])
    spec = dataclasses.replace(
        DailySpec.one_resource(
            days=days, mean_cases_per_day=7, minutes_per_case=60, staff=1, minutes_per_staff=240
        ),
        staff=np.where(working, 1, 0)[None, :],
    )
    assert expected_demand_minutes(spec, "resource").sum() == pytest.approx(420 * days)
    plan = minimum_staff(spec, "resource", target_backlog_minutes=10_000, risk=0.5)
    assert plan.min_staff == 3 and plan.candidates[0][0] == 3
    minutes = minimum_minutes_per_day(spec, "resource", target_backlog_minutes=10_000, risk=0.5)
    assert minutes.min_minutes_per_staff == math.floor(420 * 7 / 5) + 1  # one person, 589


def test_a_resource_on_its_own_has_the_full_models_backlog():
    """Two resources, two priorities, steps days apart, existing work: on the same draws the
    sub-model's end-of-day backlog equals the full model's total at that resource, every day."""
    days = 40
    due_ahead = np.zeros((2, 2, days))
    due_ahead[1, 0, [0, 3, 9]] = [120.0, 60.0, 90.0]
    due_ahead[1, 1, 2] = 45.0
    spec = DailySpec(
        resources=("triage", "idva"),
        priorities=(1, 2),
        staff=np.array([[1] * days, [2] * days]),
        minutes_per_staff=np.array([[150.0] * days, [180.0] * days]),
        absence_rate=np.array([0.0, 0.15]),
        case_types=("high", "standard", "triage_only"),
        case_priority=np.array([1, 2, 2]),
        mean_cases_per_day=np.array([[2.0] * days, [3.0] * days, [1.5] * days]),
        dispersion=np.array([np.inf, 3.0, np.inf]),
        steps=np.array(
            [[0, 0, 0, 30], [0, 1, 1, 90], [1, 0, 0, 20], [1, 1, 2, 60], [2, 0, 0, 25]],
            dtype=float,
        ),
        opening_backlog_minutes=np.array([[100.0, 200.0], [300.0, 600.0]]),
        due_ahead_minutes=due_ahead,
    )
    draws = draw_inputs(spec, 50, seed=5)
    full = run(spec, 50, seed=5, draws=draws, record="paths").paths.backlog_minutes
    for r, name in enumerate(spec.resources):
        sub = resource_submodel(spec, name)
        kept = sorted(set(spec.step_type[spec.step_resource == r].tolist()))
        assert sub.case_types == tuple(spec.case_types[k] for k in kept)
        mine = dataclasses.replace(draws, arrivals=draws.arrivals[:, kept])
        mine = dataclasses.replace(mine, present_staff=draws.present_staff[:, [r]])
        alone = run(sub, 50, seed=5, draws=mine, record="paths").paths.backlog_minutes
        np.testing.assert_allclose(alone[0], full[r])
        assert expected_demand_minutes(sub, name) == pytest.approx(
            expected_demand_minutes(spec, name)
        )


def test_candidates_see_the_same_referrals_and_more_staff_never_lengthen_the_backlog():
    sub = resource_submodel(anchor_spec(days=120), "resource")
    lean = run(dataclasses.replace(sub, staff=np.full((1, 120), 3)), 500, 7, record="paths")
    rich = run(dataclasses.replace(sub, staff=np.full((1, 120), 4)), 500, 7, record="paths")
    np.testing.assert_array_equal(lean.paths.demand_minutes, rich.paths.demand_minutes)
    assert np.all(rich.paths.backlog_minutes <= lean.paths.backlog_minutes)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(FlowcapError, match="unknown resource"):
        minimum_staff(anchor_spec(), "idva", target_backlog_minutes=1, risk=0.1)
    # The user's arguments are checked once, where a plan starts (plan_capacity), by name.
    folder = tmp_path / "anchor"
    shutil.copytree(EXAMPLE.parent / "anchor-lindley", folder)
    history = open_service(folder)
    for arguments, parameter in (
        ({"target_backlog_minutes": 1, "risk": 1.0}, "risk"),
        ({"target_backlog_minutes": -1, "risk": 0.1}, "target_backlog_minutes"),
        ({"target_backlog_minutes": 1, "risk": 0.1, "replications": 0}, "replications"),
    ):
        with pytest.raises(ArgumentError) as refused:
            plan_capacity(history, **arguments)
        assert refused.value.parameter == parameter


# --- the bundled example -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_spec(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plan") / "victim-support"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    history = open_service(folder)
    service = history.service
    spec, _ = build_spec(service, history.tables, history.measures, horizon_days=365)
    return service, spec


@pytest.mark.slow
def test_bundled_example_plan_is_the_fewest_that_meets_the_rule(example_spec):
    service, spec = example_spec
    for name, resource in service.resources.items():
        plan = minimum_staff(spec, name, target_backlog_minutes=2400, risk=0.05, seed=1)
        assert plan.min_staff is not None and plan.stable and plan.p_exceed_at_min <= 0.05
        # minutes each: the weekday's usual capacity over the head count (leave included)
        r = spec.resources.index(name)
        each = spec.minutes_per_staff[r, spec.staff[r] > 0].mean()
        assert each < resource.minutes_per_day
        assert plan.min_capacity_minutes == pytest.approx(plan.min_staff * each)
        fewer = dict(plan.candidates).get(plan.min_staff - 1)
        trial = dataclasses.replace(
            spec,
            staff=np.where(
                np.arange(len(spec.resources))[:, None] == spec.resources.index(name),
                np.where(spec.staff > 0, plan.min_staff - 1, 0),
                spec.staff,
            ),
        )
        assert (fewer is not None and fewer > 0.05) or not is_stable(trial, name)
