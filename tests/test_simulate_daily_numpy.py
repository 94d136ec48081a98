"""The daily backlog Monte Carlo on NumPy (flowcap.simulate.daily.numpy): contract (fast path
= the reference loop), theory, and behaviours. The spec and result types are in
test_simulate_daily_spec.py.

Statistical checks use fixed seeds and tolerances of at least three standard errors computed
from the samples themselves; where an approximation is compared, its own error is stated.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import optimize

from conftest import anchor_spec
from flowcap.simulate import DailySpec, Draws, draw_inputs, run, run_reference
from flowcap.simulate.daily import patience_survival

PATH_FIELDS = ("backlog_minutes", "demand_minutes", "capacity_minutes", "activity_minutes")
WAIT_FIELDS = (
    "served_minutes_by_wait",
    "first_contacts_by_wait",
    "oldest_first_contact_referral",
    "waiting_minutes_by_age",
    "first_contacts_waiting_by_age",
)


def service_spec(days: int = 40, patience: bool = True, staff_idva: int = 2) -> DailySpec:
    """Two resources, two priorities, three case types with later steps, existing work,
    negative-binomial demand, an overloaded IDVA team and (optionally) fixed patience."""
    due_ahead = np.zeros((2, 2, days))
    due_ahead[1, 0, [0, 3, 9]] = [120.0, 60.0, 90.0]
    due_ahead[0, 1, 2] = 45.0
    return DailySpec(
        resources=("triage", "idva"),
        priorities=(1, 2),
        staff=np.array([[1] * days, [staff_idva] * days]),
        minutes_per_staff=np.array([[150.0] * days, [180.0] * days]),
        absence_rate=np.array([0.0, 0.15]),
        case_types=("high", "standard", "self_referral"),
        case_priority=np.array([1, 2, 2]),
        mean_cases_per_day=np.array([[2.0] * days, [3.0] * days, [1.5] * days]),
        dispersion=np.array([np.inf, 3.0, np.inf]),
        steps=np.array(
            [
                [0, 0, 0, 30],
                [0, 1, 1, 90],
                [1, 0, 0, 20],
                [1, 1, 2, 60],
                [1, 1, 5, 30],
                [2, 1, 1, 60],
                [2, 1, 4, 30],
            ],
            dtype=float,
        ),
        opening_backlog_minutes=np.array([[100.0, 200.0], [300.0, 600.0]]),
        due_ahead_minutes=due_ahead,
        patience_days=(None, ("fixed", 3, 0), ("fixed", 2, 0)) if patience else None,
    )


def se_of_difference(a: np.ndarray, b: np.ndarray) -> float:
    return math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)


def se_of_proportion_difference(p: float, n_a: int, n_b: int) -> float:
    return math.sqrt(max(p * (1 - p), 1 / (n_a + n_b)) * (1 / n_a + 1 / n_b))


# --- contract: the fast path is the reference, replication by replication -------------------


def test_reference_follows_the_hand_worked_lindley_example():
    """methods.md 4.1: C=100, B0=0, D=[100,120,80,150,60,30] -> B=[0,20,0,50,10,0]."""
    spec = DailySpec.one_resource(
        days=6, mean_cases_per_day=10, minutes_per_case=10, staff=1, minutes_per_staff=100
    )
    draws = Draws(np.array([[[10, 12, 8, 15, 6, 3]]]), np.ones((1, 1, 6), dtype=int))
    fast = run(spec, 1, 0, draws=draws, record="paths", waits=True, target_working_days=0)
    for paths in (run_reference(spec, 0, draws=draws), fast.paths):
        assert paths.backlog_minutes[0, 0].tolist() == [0, 20, 0, 50, 10, 0]
        assert paths.activity_minutes[0, 0].tolist() == [100, 100, 100, 100, 100, 40]
        assert paths.demand_minutes[0, 0].tolist() == [100, 120, 80, 150, 60, 30]
        # waits: 20 minutes of day 1's work are done on day 2, 50 of day 3's on day 4 and 10
        # of day 4's on day 5; everything else on the day it fell due
        assert paths.served_minutes_by_wait[0, 0, :3].tolist() == [460, 80, 0]
        assert paths.first_contacts_by_wait[0, 0, :3].tolist() == [46, 8, 0]
        assert paths.oldest_first_contact_referral[0, 0].tolist() == [-1, 1, -1, 3, 4, -1]
    # Little's law holds exactly here (nothing waits at the start or the end): 80 / 540
    assert fast.mean_wait_days[0] == pytest.approx(80 / 540)
    assert fast.little_wait_days[0] == pytest.approx(80 / 540)
    assert fast.days_over_target[0].tolist() == [3]  # days 1, 3, 4 end with a case waiting


def test_waits_and_days_over_target_follow_a_hand_worked_week():
    """Monday to the next Monday, closed at the weekend; one advocate gives 60 minutes a
    working day to 30-minute first calls. Four referrals on Monday: two called that day, two on
    Tuesday (one working day later). Six on Thursday: two called Thursday, two Friday, two the
    next Monday (four calendar days, two working days, later)."""
    days = 8
    spec = DailySpec.one_resource(
        days=days, mean_cases_per_day=1, minutes_per_case=30, staff=1, minutes_per_staff=60
    )
    open_days = np.array([[60.0] * 5 + [0.0, 0.0] + [60.0]])
    spec = dataclasses.replace(spec, minutes_per_staff=open_days)
    draws = Draws(np.array([[[4, 0, 0, 6, 0, 0, 0, 0]]]), np.ones((1, 1, days), dtype=int))
    ref = run_reference(spec, 0, draws=draws)
    assert ref.first_contacts_by_wait[0, 0, :5].tolist() == [4, 4, 0, 0, 2]
    assert ref.oldest_first_contact_referral[0, 0].tolist() == [0, -1, -1, 3, 3, 3, 3, -1]
    late = {}
    for target in (0, 1, 2):
        fast = run(spec, 1, 0, draws=draws, waits=True, target_working_days=target)
        np.testing.assert_array_equal(fast.first_contacts_by_wait, ref.first_contacts_by_wait[0])
        late[target] = int(fast.days_over_target[0, 0])
    # target 0: Monday, Thursday and Friday end with someone waiting (the weekend is not a
    # working day); target 1: only Friday (Thursday's referrals are a working day old); target
    # 2: never (they are called on Monday, two working days after Thursday)
    assert late == {0: 3, 1: 1, 2: 0}
    summary = fast.summary(0)
    assert summary["mean_first_contact_wait_days"] == pytest.approx((4 * 1 + 2 * 4) / 10)
    assert summary["p90_first_contact_wait_days"] == 4  # 8 of 10 within a day, the rest 4
    assert summary["mean_wait_days"] == summary["mean_first_contact_wait_days"]  # one step


def test_work_left_waiting_counts_at_the_age_it_has_reached():
    """Four days, a 60-minute case a day, 60 minutes of capacity on day 0 only: day 0's case
    is done that day; those of days 1, 2 and 3 still wait at the end, aged 3, 2 and 1 days.
    Counting only the work done would say nobody waits (the spiral looks like short waits)."""
    spec = DailySpec.one_resource(
        days=4, mean_cases_per_day=1, minutes_per_case=60, staff=1, minutes_per_staff=60
    )
    spec = dataclasses.replace(spec, minutes_per_staff=np.array([[60.0, 0.0, 0.0, 0.0]]))
    draws = Draws(np.ones((1, 1, 4), dtype=int), np.ones((1, 1, 4), dtype=int))
    ref = run_reference(spec, 0, draws=draws)
    assert ref.waiting_minutes_by_age[0, 0].tolist() == [0, 60, 60, 60, 0]
    assert ref.first_contacts_waiting_by_age[0, 0].tolist() == [0, 1, 1, 1, 0]
    fast = run(spec, 1, 0, draws=draws, waits=True, record="paths")
    summary = fast.summary(0)
    assert summary["mean_wait_days_done"] == 0 and summary["p90_wait_days_done"] == 0
    assert summary["mean_wait_days"] == pytest.approx((0 + 3 + 2 + 1) / 4)
    assert summary["p90_wait_days"] == 3  # 90% of 4 minutes-hours needs all four: the oldest
    assert summary["mean_first_contact_wait_days"] == pytest.approx(1.5)
    assert summary["mean_first_contact_wait_days_done"] == 0
    # The opening backlog's wait began before the horizon: it is not counted. Served first,
    # it leaves all four cases waiting (day 0's aged 4) and 440 of its own minutes.
    opening = dataclasses.replace(spec, opening_backlog_minutes=np.array([[500.0]]))
    left = run(opening, 1, 0, draws=draws, waits=True).waiting_minutes_by_age
    assert left[0].tolist() == [0, 60, 60, 60, 60]


@pytest.mark.parametrize("patience", [False, True], ids=["no_reneging", "fixed_patience"])
@pytest.mark.parametrize("waits", [False, True], ids=["totals", "waits"])
def test_numpy_engine_equals_reference_on_the_same_draws(patience, waits):
    spec = service_spec(patience=patience)
    n = 24
    draws = draw_inputs(spec, n, seed=11, chunk_size=10)
    fast = run(spec, n, seed=11, draws=draws, record="paths", chunk_size=10, waits=waits).paths
    fields = (*PATH_FIELDS, "reneged_cases") + (WAIT_FIELDS if waits else ())
    for i in range(n):
        ref = run_reference(spec, seed=0, draws=draws.replication(i))
        for name in fields:
            np.testing.assert_allclose(
                getattr(ref, name)[:, 0], getattr(fast, name)[:, i], rtol=1e-12, err_msg=name
            )
        np.testing.assert_array_equal(
            ref.backlog_minutes_by_priority[:, :, 0], fast.backlog_minutes_by_priority[:, :, i]
        )
    assert (fast.reneged_cases.sum() > 0) == patience
    if waits:
        assert (fast.first_contacts_by_wait.sum(axis=(1, 2)) > 0).all()  # self-referrals: IDVA
        assert fast.served_minutes_by_wait[:, :, 1:].sum() > 0  # the IDVAs fall behind


def test_measuring_waits_changes_no_other_number():
    spec = service_spec(patience=True)
    plain = run(spec, 300, seed=5, threshold_minutes=500)
    measured = run(spec, 300, seed=5, threshold_minutes=500, waits=True, target_working_days=2)
    for name in ("final_backlog", "backlog_mean", "reneged_cases", "days_over_threshold"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(measured, name), name)
    assert np.isnan(plain.mean_wait_days).all() and plain.served_minutes_by_wait is None
    assert np.isfinite(measured.mean_wait_days).all()
    with pytest.raises(ValueError, match="waits=True"):
        run(spec, 10, seed=5, target_working_days=2)


def test_days_over_target_are_the_working_days_the_oldest_first_contact_is_past_it():
    spec = service_spec(patience=True)
    target = 1
    result = run(spec, 200, seed=3, record="paths", waits=True, target_working_days=target)
    oldest = result.paths.oldest_first_contact_referral  # (R_n, n_reps, H)
    working = spec.minutes_per_staff > 0
    counted = np.cumsum(working, axis=1)  # working days in days 0..t
    expected = np.zeros_like(result.days_over_target)
    for r in range(len(spec.resources)):
        for t in range(spec.horizon_days):
            referred = oldest[r, :, t]
            since = counted[r, t] - counted[r, np.maximum(referred, 0)]
            expected[r] += (referred >= 0) & (since >= target) & working[r, t]
    np.testing.assert_array_equal(result.days_over_target, expected)
    assert 0 < expected[0].mean() < spec.horizon_days


def test_draw_inputs_are_exactly_what_run_draws():
    spec = service_spec()
    own = run(spec, 30, seed=4, record="paths", chunk_size=16).paths
    given = run(
        spec,
        30,
        seed=4,
        record="paths",
        chunk_size=16,
        draws=draw_inputs(spec, 30, 4, chunk_size=16),
    )
    for name in (*PATH_FIELDS, "reneged_cases"):
        np.testing.assert_array_equal(getattr(own, name), getattr(given.paths, name))


def test_same_seed_same_result_other_seed_other_result():
    spec = anchor_spec(days=60)
    a, b, c = run(spec, 500, 1), run(spec, 500, 1), run(spec, 500, 2)
    np.testing.assert_array_equal(a.final_backlog, b.final_backlog)
    assert not np.array_equal(a.final_backlog, c.final_backlog)


# --- the anchor model against an independent Lindley loop -----------------------------------


@pytest.mark.slow
def test_anchor_model_agrees_with_an_independent_lindley_loop():
    n = 20_000
    result = run(anchor_spec(), n, seed=2024, threshold_minutes=2400)
    rng = np.random.default_rng(99)  # its own generator and NumPy's own samplers
    backlog = np.zeros(n)
    for _ in range(365):
        demand = 60.0 * rng.poisson(10.0, n)
        capacity = 240.0 * rng.binomial(3, 0.9, n)
        backlog = np.maximum(0.0, backlog + demand - capacity)
    final = result.final_backlog[0]
    assert abs(final.mean() - backlog.mean()) < 4 * se_of_difference(final, backlog)
    p_fast, p_loop = np.mean(final > 2400), np.mean(backlog > 2400)
    pooled = (p_fast + p_loop) / 2
    assert abs(p_fast - p_loop) < 4 * se_of_proportion_difference(pooled, n, n)
    summary = result.summary("resource")
    assert summary["p_final_backlog_over_threshold"] == p_fast
    assert summary["final_backlog_mean"] == pytest.approx(final.mean())


def test_arrival_and_absence_draws_have_the_right_moments():
    days = 10
    spec = DailySpec(
        resources=("team",),
        priorities=(1,),
        staff=np.full((1, days), 7),
        minutes_per_staff=np.full((1, days), 100.0),
        absence_rate=np.array([0.25]),
        case_types=("poisson", "nb", "big"),
        case_priority=np.array([1, 1, 1]),
        mean_cases_per_day=np.array([[4.0] * days, [6.0] * days, [900.0] * days]),
        dispersion=np.array([np.inf, 1.5, 20.0]),
        steps=np.array([[0, 0, 0, 1], [1, 0, 0, 1], [2, 0, 0, 1]], dtype=float),
    )
    draws = draw_inputs(spec, 5_000, seed=3)
    for k, (mean, var) in enumerate([(4, 4), (6, 6 + 36 / 1.5), (900, 900 + 900**2 / 20)]):
        x = draws.arrivals[:, k].ravel().astype(float)
        sq = (x - mean) ** 2
        assert abs(x.mean() - mean) < 4 * x.std() / math.sqrt(x.size)
        assert abs(sq.mean() - var) < 4 * sq.std() / math.sqrt(x.size)
    present = draws.present_staff.ravel()
    assert abs(present.mean() - 7 * 0.75) < 4 * present.std() / math.sqrt(present.size)
    assert present.min() >= 0 and present.max() <= 7


# --- theory: the reflected random walk -----------------------------------------------------


def test_stable_backlog_tail_matches_the_heavy_traffic_formula():
    """Demand 60 x Poisson(10) (mu=600, sigma=189.7), capacity 650 fixed: load 0.92.

    methods.md 4.2: P(B > x) ~ exp(-2 theta (x + 0.5826 sigma) / sigma^2). It is a diffusion
    approximation: its decay rate 2 theta / sigma^2 differs from the exact Cramer-Lundberg rate
    gamma (E exp(gamma (D - C)) = 1) by about 4% here, a factor exp(0.04 gamma x) < 1.2 at
    x = 1500, plus an O(theta/sigma) error in the prefactor. So a factor 1.5 either way.
    """
    mu, sigma, capacity = 600.0, 60 * math.sqrt(10), 650.0
    theta = capacity - mu
    spec = DailySpec.one_resource(
        days=365, mean_cases_per_day=10, minutes_per_case=60, staff=1, minutes_per_staff=capacity
    )
    result = run(spec, 30_000, seed=7)
    final = result.final_backlog[0]
    diffusion_rate = 2 * theta / sigma**2
    exact_rate = optimize.brentq(lambda g: 10 * (math.exp(60 * g) - 1) - capacity * g, 1e-6, 0.1)
    assert abs(exact_rate / diffusion_rate - 1) < 0.06
    for x in (300, 600, 900, 1200, 1500):
        simulated = np.mean(final > x)
        formula = math.exp(-diffusion_rate * (x + 0.5826 * sigma))
        ratio = simulated / formula
        assert abs(np.log(ratio)) < np.log(1.5), (x, simulated, formula)
        plain = math.exp(-diffusion_rate * x)  # the conservative form bounds it
        assert simulated < plain + 3 * math.sqrt(simulated * (1 - simulated) / final.size)
    # settled: mean backlog half-way and at the end agree within Monte Carlo error
    paths = run(spec, 4_000, seed=8, record="paths").paths.backlog_minutes[0]
    mid, end = paths[:, 182], paths[:, -1]
    assert abs(mid.mean() - end.mean()) < 4 * se_of_difference(mid, end)


def test_overloaded_backlog_grows_at_demand_minus_capacity():
    spec = DailySpec.one_resource(
        days=365, mean_cases_per_day=10, minutes_per_case=60, staff=1, minutes_per_staff=540
    )
    paths = run(spec, 3_000, seed=5, record="paths").paths.backlog_minutes[0]
    growth = (paths[:, -1] - paths[:, 99]) / (364 - 99)
    assert abs(growth.mean() - 60.0) < 4 * growth.std(ddof=1) / math.sqrt(growth.size)


def test_opening_backlog_is_worked_off_at_capacity_minus_demand():
    spec = DailySpec.one_resource(
        days=20,
        mean_cases_per_day=5,
        minutes_per_case=60,
        staff=1,
        minutes_per_staff=600,
        opening_backlog_minutes=10_000,
    )
    paths = run(spec, 4_000, seed=6, record="paths").paths.backlog_minutes[0]
    day = 10  # 10,000 - 11 days x (600 - 300) = 6,700: far from empty, so no idle days
    expected = 10_000 - (day + 1) * (600 - 300)
    assert abs(paths[:, day].mean() - expected) < 4 * paths[:, day].std() / math.sqrt(4_000)
    assert np.all(np.diff(paths[:, :day].mean(axis=0)) < 0)


# --- behaviours -------------------------------------------------------------------------------


def test_priority_one_is_served_first_and_priority_two_waits():
    days = 120
    spec = DailySpec(
        resources=("idva",),
        priorities=(1, 2),
        staff=np.full((1, days), 1),
        minutes_per_staff=np.full((1, days), 420.0),
        absence_rate=np.array([0.0]),
        case_types=("high", "standard"),
        case_priority=np.array([1, 2]),
        mean_cases_per_day=np.array([[5.0] * days, [5.0] * days]),
        dispersion=np.array([np.inf, np.inf]),
        steps=np.array([[0, 0, 0, 60], [1, 0, 0, 60]], dtype=float),
    )
    paths = run(spec, 2_000, seed=9, record="paths").paths.backlog_minutes_by_priority[0]
    high, standard = paths  # (n_reps, days) each
    assert high[:, -1].mean() < 300  # 420 a day covers priority-1 demand of 300: near empty
    growth = (standard[:, -1] - standard[:, 19]) / (days - 20)  # 120 left for 300 a day
    assert abs(growth.mean() - 180.0) < 4 * growth.std(ddof=1) / math.sqrt(growth.size)


def test_work_due_seven_days_after_referral_brings_no_demand_before_day_seven():
    spec = dataclasses.replace(
        service_spec(days=20, patience=False),
        steps=np.array([[0, 0, 0, 30], [0, 1, 7, 90]], dtype=float),  # type 0 only
        step_number=None,
        step_target_working_days=None,
        due_ahead_minutes=None,
        opening_backlog_minutes=None,
    )
    result = run(spec, 200, seed=1)
    assert np.all(result.demand_mean[1, :7] == 0)
    assert np.all(result.demand_mean[1, 7:] > 0)
    assert np.all(result.demand_mean[0] > 0)


def test_specs_differing_only_in_staff_share_their_demand_common_random_numbers():
    lean, rich = anchor_spec(days=100), anchor_spec(days=100, staff=4)
    a = run(lean, 1_000, seed=3, record="paths").paths
    b = run(rich, 1_000, seed=3, record="paths").paths
    np.testing.assert_array_equal(a.demand_minutes, b.demand_minutes)
    assert not np.array_equal(a.capacity_minutes, b.capacity_minutes)
    # inversion couples staffing monotonically: more staff never leaves a longer backlog
    assert np.all(b.capacity_minutes >= a.capacity_minutes)
    assert np.all(b.backlog_minutes <= a.backlog_minutes)


def test_short_patience_loses_cases_counts_them_and_shortens_the_backlog():
    patient = anchor_spec(days=90, staff=2)
    impatient = anchor_spec(days=90, staff=2, patience_days=("exponential", 5.0, 0.0))
    keep, lose = run(patient, 3_000, seed=1), run(impatient, 3_000, seed=1, record="paths")
    assert keep.reneged_cases.sum() == 0
    assert lose.reneged_cases.mean() > 50
    assert lose.final_backlog.mean() < keep.final_backlog.mean() / 2
    # nothing silently dropped: B_t = B_{t-1} + D_t - A_t - 60 x cases given up
    p = lose.paths
    previous = np.concatenate([np.zeros((1, 3_000, 1)), p.backlog_minutes[..., :-1]], axis=2)
    balance = previous + p.demand_minutes - p.activity_minutes - 60 * p.reneged_cases
    np.testing.assert_allclose(p.backlog_minutes, balance, atol=1e-6)


def test_reneging_in_the_fast_path_matches_the_reference_in_distribution():
    spec = anchor_spec(days=60, staff=2, patience_days=("gamma", 5.0, 3.0))
    refs = [run_reference(spec, seed) for seed in range(200)]
    ref_final = np.array([r.backlog_minutes[0, 0, -1] for r in refs])
    ref_gone = np.array([r.reneged_cases[0, 0].sum() for r in refs])
    fast = run(spec, 10_000, seed=1)
    assert abs(ref_final.mean() - fast.final_backlog[0].mean()) < 4 * se_of_difference(
        ref_final, fast.final_backlog[0]
    )
    assert abs(ref_gone.mean() - fast.reneged_cases[0].mean()) < 4 * se_of_difference(
        ref_gone, fast.reneged_cases[0]
    )


def test_result_percentiles_are_ordered_and_summary_has_the_headline_numbers():
    result = run(anchor_spec(days=60), 2_000, seed=1, threshold_minutes=600)
    pct = result.backlog_percentiles[0]
    assert pct.shape == (5, 60) and np.all(np.diff(pct, axis=0) >= 0)
    assert np.all((result.p_backlog_over_threshold >= 0) & (result.p_backlog_over_threshold <= 1))
    summary = result.summary(0)
    assert set(summary) >= {
        "final_backlog_mean",
        "final_backlog_p50",
        "final_backlog_p90",
        "p_final_backlog_over_threshold",
        "mean_wait_days",
    }
    little = result.backlog_mean[0].mean() / result.demand_mean[0].mean()
    assert summary["little_wait_days"] == pytest.approx(little)
    assert math.isnan(summary["mean_wait_days"])  # measured only with waits=True
    assert result.days_over_threshold.mean() == pytest.approx(result.p_backlog_over_threshold.sum())


def test_mean_wait_agrees_with_littles_law_within_monte_carlo_error():
    """Little's law, L = λW: the measured mean wait of a minute of work equals the mean backlog
    over the mean work falling due a day, up to the horizon's edge (work still waiting at the
    end is not in W). Tolerance: 3 standard errors of W across replications, which dwarf the
    edge term (the final backlog, about 430 minutes, over a year's 219,000 minutes of work)."""
    n = 2_000
    result = run(anchor_spec(), n, seed=12, record="paths", waits=True)
    served = result.paths.served_minutes_by_wait[0]  # (n_reps, H)
    per_rep = (served * np.arange(served.shape[1])).sum(axis=1) / served.sum(axis=1)
    tolerance = 3 * per_rep.std(ddof=1) / math.sqrt(n)
    assert abs(result.mean_wait_days[0] - result.little_wait_days[0]) < tolerance
    edge = result.final_backlog[0].mean() * 2 / result.demand_mean[0].sum()
    assert edge < tolerance / 3
    # one step per case: a first contact's wait is a minute's wait, counted per case
    np.testing.assert_allclose(result.first_contacts_by_wait * 60, result.served_minutes_by_wait)
    summary = result.summary(0)
    assert summary["p90_wait_days"] >= summary["mean_wait_days"] > 0


def test_the_engine_runs_with_numpy_alone():
    """The issue asks for an engine that runs where only NumPy is installed."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import builtins
        real = builtins.__import__
        def guard(name, *args, **kwargs):
            if name.split(".")[0] in ("pandas", "scipy", "sqlalchemy", "pydantic", "yaml"):
                raise ImportError("blocked " + name)
            return real(name, *args, **kwargs)
        builtins.__import__ = guard
        from flowcap.simulate.daily import DailySpec, run
        spec = DailySpec.one_resource(days=30, mean_cases_per_day=10, minutes_per_case=60,
                                      staff=3, minutes_per_staff=240, absence_rate=0.1)
        print(run(spec, 200, 1).summary(spec.resources[0])["final_backlog_mean"] >= 0)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


@pytest.mark.parametrize("dist, mean, sd", [("exponential", 5.0, 0.0), ("gamma", 4.0, 3.0)])
def test_with_nobody_in_the_cases_lost_follow_the_patience_distribution(dist, mean, sd):
    # Nobody is on duty, so every case waits; one arriving on day a is still waiting at the
    # end of day H - 1 with probability S(H - 1 - a), the patience survival function (none
    # gives up on its first day). Expected losses: lam * sum_a (1 - S(H - 1 - a)), from the
    # survival function alone, not from the engine's hazard table.

    lam, days, n = 4.0, 30, 20_000
    spec = DailySpec.one_resource(
        days=days, mean_cases_per_day=lam, minutes_per_case=30, staff=0, minutes_per_staff=1,
        patience_days=(dist, mean, sd),
    )  # fmt: skip
    lost = run(spec, n, seed=3).reneged_cases[0]
    expected = lam * sum(1 - patience_survival((dist, mean, sd), days - 1 - a) for a in range(days))
    # Losses per run: at most Poisson(lam x days) thinned, so variance <= 120; 4 standard
    # errors of the mean over 20,000 runs: 4 sqrt(120 / 20,000) = 0.31.
    assert lost.mean() == pytest.approx(expected, abs=0.31)


def test_losing_staff_lengthens_the_wait_that_counts_work_left_waiting():
    """The wrong answer of issue #10: losing one of two IDVAs, the backlog spirals and the
    work done is mostly the high-priority work, so the done-only waits *fall* (here mean 8.7
    to 6.7 days, p90 31 to 13); counting the work left waiting at its age, they rise."""
    two = run(service_spec(days=60, patience=False, staff_idva=2), 400, seed=3, waits=True)
    one = run(service_spec(days=60, patience=False, staff_idva=1), 400, seed=3, waits=True)
    before, after = two.summary("idva"), one.summary("idva")
    assert one.final_backlog[1].mean() > 1.3 * two.final_backlog[1].mean()  # it spirals
    assert after["mean_wait_days_done"] < before["mean_wait_days_done"]  # the wrong way
    assert after["p90_wait_days_done"] < before["p90_wait_days_done"]
    assert after["mean_wait_days"] > 1.3 * before["mean_wait_days"]  # the right way
    assert after["p90_wait_days"] > before["p90_wait_days"]
