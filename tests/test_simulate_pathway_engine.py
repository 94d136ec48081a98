"""The pathway event loop: reproducible, and each rule of the model visible in what it reports.

Seeds are fixed. Statistical tolerances are at least three standard errors, from the
replications' spread or from the binomial or Poisson formula, as the comment at each says;
bookkeeping (conservation of cases, rostered minutes) is checked exactly. Minutes throughout.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from flowcap.simulate.pathway import Duration, PathwayResult, PathwaySpec, simulate_pathway

DAY = 1440.0
STEP_KEYS = (
    *("mean_wait_minutes", "ci95", "p_wait", "utilisation", "customers", "p90_wait_minutes"),
    *("mean_queue_length", "reneged", "by_case_type"),
)


def one_step(
    servers=2,
    mean=30.0,
    per_hour=(2.0,),
    priority=None,
    schedule=None,
    patience=None,
) -> PathwaySpec:
    """One step ("triage") on one resource ("team"), exponential service, one case type per
    rate in ``per_hour`` (constant over the week)."""
    types = tuple(f"type{k}" for k in range(len(per_hour)))
    return PathwaySpec(
        steps=("triage",),
        step_resource=np.array([0]),
        resources=("team",),
        case_types=types,
        case_priority=np.arange(len(types)) if priority is None else np.asarray(priority),
        arrival_rate_per_hour=np.repeat(np.asarray(per_hour, float)[:, None], 168, axis=1),
        service=(tuple(Duration("exponential", mean) for _ in types),),
        routing=np.zeros((1, 1)),
        schedule=(schedule or (np.array([0.0]), np.array([servers])),),
        patience=patience,
    )


def daily_rota(days: int, hours_on: tuple[int, int], on: int, off: int = 0):
    """``on`` people from ``hours_on[0]`` to ``hours_on[1]`` o'clock each day, ``off`` otherwise."""
    start, end = hours_on
    times = (np.arange(days)[:, None] * DAY + np.array([0.0, start * 60, end * 60])).ravel()
    servers = np.tile([off, on, off], days)
    keep = np.concatenate([[True], np.diff(times) > 0])  # drop a zero-length first block
    return times[keep], servers[keep]


def pathway_with_routing(intake_people=200, intake_minutes=1.0) -> PathwaySpec:
    """Intake (by default ample people, 1-minute fixed service) → assessment 30% / support
    50% / leave; assessment and support each on their own resource; two case types, the
    standard one with patience."""
    intake = (np.array([0.0]), np.array([intake_people]))
    return PathwaySpec(
        steps=("intake", "assessment", "support"),
        step_resource=np.array([0, 1, 2]),
        resources=("intake", "assessors", "advocates"),
        case_types=("urgent", "standard"),
        case_priority=np.array([1, 2]),
        arrival_rate_per_hour=np.vstack([np.full(168, 2.0), np.full(168, 4.0)]),
        service=(
            (Duration("fixed", intake_minutes),) * 2,
            (Duration("exponential", 30.0),) * 2,
            (Duration("exponential", 40.0),) * 2,
        ),
        routing=np.array([[0, 0.3, 0.5], [0, 0, 0], [0, 0, 0]], dtype=float),
        schedule=(intake, (np.array([0.0]), np.array([3])), (np.array([0.0]), np.array([5]))),
        patience=(None, Duration("exponential", 20.0)),
    )


def arrays(result: PathwayResult) -> dict[str, np.ndarray]:
    return {
        f.name: getattr(result, f.name)
        for f in dataclasses.fields(result)
        if isinstance(getattr(result, f.name), np.ndarray)
    }


# ---------------------------------------------------------------- reproducibility
def test_same_seed_same_result_whatever_the_thread_count():
    spec = pathway_with_routing()
    ticks = []
    one = simulate_pathway(spec, 500, 24, replications=4, seed=5, threads=1, progress=ticks.append)
    many = simulate_pathway(spec, 500, 24, replications=4, seed=5, threads=3)
    assert ticks == [1, 2, 3, 4]
    for name, values in arrays(one).items():
        np.testing.assert_array_equal(values, getattr(many, name), err_msg=name)
    other = simulate_pathway(spec, 500, 24, replications=4, seed=6, threads=1)
    assert not np.array_equal(one.wait_minutes, other.wait_minutes)
    assert not np.array_equal(one.served, other.served)
    # Replications are independent streams: different from each other, and the first k are
    # the same whatever the total.
    assert len({tuple(row) for row in one.served.reshape(4, -1)}) == 4
    fewer = simulate_pathway(spec, 500, 24, replications=2, seed=5, threads=1)
    np.testing.assert_array_equal(fewer.served, one.served[:2])


# ---------------------------------------------------------------- queue discipline
def test_urgent_cases_wait_less_than_routine_ones():
    spec = one_step(servers=2, mean=30, per_hour=(1.7, 1.7), priority=[2, 1])  # type1 urgent
    result = simulate_pathway(spec, 5_000, 50, replications=4, seed=1)
    urgent = result.mean_wait_minutes("type1")[:, 0]
    routine = result.mean_wait_minutes("type0")[:, 0]
    # ρ = 0.85: routine cases wait about 7 times longer; every replication shows it.
    assert np.all(urgent * 3 < routine)
    by_type = result.summary()["steps"]["triage"]["by_case_type"]
    assert by_type["type1"]["p90_wait_minutes"] < by_type["type0"]["p90_wait_minutes"]


def test_steps_sharing_a_resource_are_served_as_one_pool():
    # Intake has ample people and a fixed 1-minute service, so cases leave it as they came
    # (Poisson at 2.4/h). Half go to "assessment", half to "support", both done by one team
    # of 3 (exponential, mean 60 minutes): together an M/M/3 at ρ = 0.8, Erlang C Wq =
    # 64.7 minutes at both steps. Two separate teams of 3 at ρ = 0.4 would wait ~4 minutes.
    spec = PathwaySpec(
        steps=("intake", "assessment", "support"),
        step_resource=np.array([0, 1, 1]),
        resources=("intake", "team"),
        case_types=("case",),
        case_priority=np.array([1]),
        arrival_rate_per_hour=np.full((1, 168), 2.4),
        service=(
            (Duration("fixed", 1.0),),
            (Duration("exponential", 60.0),),
            (Duration("exponential", 60.0),),
        ),
        routing=np.array([[0, 0.5, 0.5], [0, 0, 0], [0, 0, 0]]),
        schedule=((np.array([0.0]), np.array([100])), (np.array([0.0]), np.array([3]))),
    )
    result = simulate_pathway(spec, 10_000, 100, replications=10, seed=2)
    a, lam, c = 2.4, 2.4, 3
    tail = a**c / math.factorial(c) / (1 - a / c)
    erlang_c_minutes = 60 * tail / (sum(a**k / math.factorial(k) for k in range(c)) + tail)
    erlang_c_minutes /= c - lam
    for step in (1, 2):
        waits = result.mean_wait_minutes()[:, step]
        se = waits.std(ddof=1) / math.sqrt(waits.size)
        # 4 standard errors from the 10 replications' spread (about 3% of Wq each).
        assert abs(waits.mean() - erlang_c_minutes) <= 4 * se, (step, waits.mean(), se)
    assert math.isclose(result.utilisation()[1], 0.8, rel_tol=0.02)  # SE ~0.3%


# ---------------------------------------------------------------- rota
def test_nobody_served_while_nobody_is_on_duty():
    result = simulate_pathway(one_step(servers=0), 200, replications=2, seed=3)
    assert result.served.sum() == 0 and result.wait_minutes.size == 0
    assert result.busy_minutes.sum() == 0 and result.on_duty_minutes.sum() == 0
    np.testing.assert_array_equal(result.waiting_at_end, result.joined)
    summary = result.summary()["steps"]["triage"]
    assert summary["utilisation"] is None and summary["mean_wait_minutes"] is None
    assert summary["p_wait"] is None and summary["ci95"] is None

    # Day shift only (2 people 08:00-18:00): overnight the queue can only grow.
    days = 30
    spec = one_step(per_hour=(1.5,), schedule=daily_rota(days + 1, (8, 18), on=2))
    result = simulate_pathway(spec, days * 24, replications=3, seed=3)
    queue = result.queue_length_hourly[:, 0, :]  # at the start of each hour
    hour = np.arange(queue.shape[1]) % 24
    night = (hour >= 18) | (hour < 7)  # from k to k + 1 entirely off duty (18:00 to 08:00)
    assert np.all(np.diff(queue, axis=1)[:, night[:-1]] >= 0)
    assert np.any(np.diff(queue, axis=1)[:, ~night[:-1]] < 0)  # the day shift clears it


def test_on_duty_minutes_follow_the_rota_and_utilisation_stays_at_most_one():
    # 3 people from 09:00 to 17:00, nobody otherwise; heavily loaded, so people are busy
    # when the shift ends and finish their case as overtime.
    days, warmup_days = 20, 2
    spec = one_step(per_hour=(2.0,), mean=90, schedule=daily_rota(days + 3, (9, 17), on=3))
    result = simulate_pathway(spec, days * 24, warmup_days * 24, replications=3, seed=4)
    np.testing.assert_allclose(result.on_duty_minutes, 3 * 480 * days)  # exactly the rota
    assert np.all(result.busy_minutes <= result.on_duty_minutes)
    assert np.all(result.overtime_minutes > 0)
    assert 0.9 < result.utilisation()[0] <= 1.0

    # The last count holds: 2 people until minute 600, then 1 to the end.
    spec = one_step(schedule=(np.array([0.0, 600.0]), np.array([2, 1])), per_hour=(0.5,))
    result = simulate_pathway(spec, 100, replications=1, seed=4)
    assert result.on_duty_minutes[0, 0] == pytest.approx(2 * 600 + (6000 - 600))


# ---------------------------------------------------------------- reneging
def test_cases_with_almost_no_patience_give_up_as_in_erlang_loss():
    # Patience of 1e-6 minutes: a case that finds everyone busy gives up at once, so the
    # team is an M/M/2/2 loss system and the share lost is Erlang B(2, a = 2) = 2/5.
    spec = one_step(servers=2, mean=60, per_hour=(2.0,), patience=(Duration("fixed", 1e-6),))
    result = simulate_pathway(spec, 2_000, replications=8, seed=5)
    assert np.all(result.wait_minutes <= 1e-6)
    lost = result.reneged[:, 0] / result.joined[:, 0]
    se = lost.std(ddof=1) / math.sqrt(lost.size)
    # 4 standard errors from 8 replications' spread (SE about 0.45 percentage points).
    assert abs(lost.mean() - 0.4) <= 4 * se, (lost.mean(), se)
    # Never silently dropped: everyone who joined was served, gave up, or is still waiting.
    np.testing.assert_array_equal(
        result.joined[:, 0],
        result.served[:, 0].sum(axis=1) + result.reneged.sum(axis=1) + result.waiting_at_end[:, 0],
    )
    assert result.summary()["reneged"] == {"type0": int(result.reneged.sum())}


def test_nobody_gives_up_without_patience_and_only_first_contact_is_given_up():
    result = simulate_pathway(one_step(servers=1, mean=50), 1_000, replications=2, seed=6)
    assert result.reneged.sum() == 0 and result.summary()["steps"]["triage"]["reneged"] == 0

    # One person at intake (8 minutes a case, ρ = 0.8), so standard cases wait and give up.
    spec = pathway_with_routing(intake_people=1, intake_minutes=8.0)
    result = simulate_pathway(spec, 2_000, 0, replications=4, seed=6)
    assert result.reneged[:, 0].sum() == 0  # urgent cases have no patience
    assert result.reneged[:, 1].sum() > 0
    # Later steps keep everyone: joined = served + still waiting (warm-up 0, so every join
    # is in the window).
    for step in (1, 2):
        np.testing.assert_array_equal(
            result.joined[:, step],
            result.served[:, step].sum(axis=1) + result.waiting_at_end[:, step],
        )
    np.testing.assert_array_equal(
        result.joined[:, 0],
        result.served[:, 0].sum(axis=1) + result.reneged.sum(axis=1) + result.waiting_at_end[:, 0],
    )
    for step, (queue, lam_w) in result.little_law().items():
        # Same sample path: edge effects only (see test_simulate_pathway_theory.assert_little).
        assert math.isclose(queue, lam_w, rel_tol=0.01, abs_tol=1e-3), step


# ---------------------------------------------------------------- routing and service
def test_cases_follow_the_routing_probabilities():
    result = simulate_pathway(pathway_with_routing(), 2_000, 10, replications=4, seed=7)
    n = result.served[:, 0].sum()  # intake takes 1 minute: hardly anyone is mid-service
    for step, p in ((1, 0.3), (2, 0.5)):
        share = result.joined[:, step].sum() / n
        # Binomial: 4 standard errors, sqrt(p(1-p)/n) ≈ 0.002 with n ≈ 48,000 (plus the
        # handful still at intake at the window's edges, under 1e-4 of n).
        assert abs(share - p) <= 4 * math.sqrt(p * (1 - p) / n), (step, share)


@pytest.mark.parametrize(
    "duration",
    [
        Duration("fixed", 45.0),
        Duration("empirical", values=np.array([10.0, 20.0, 60.0])),
        Duration("lognormal", 40.0, 30.0),
        Duration("gamma", 50.0, 20.0),
        Duration("exponential", 35.0),
    ],
    ids=lambda d: d.dist,
)
def test_service_times_have_the_given_mean(duration):
    # Ample people (no queue): busy person-minutes / cases served = the sample mean of the
    # service times, give or take the cases in service at the window's edges (about
    # λ·mean / (λ·hours) of the total, under 0.1% here).
    spec = one_step(servers=100, per_hour=(6.0,))
    spec = dataclasses.replace(spec, service=((duration,),))
    result = simulate_pathway(spec, 3_000, 10, replications=2, seed=8)
    n = result.served.sum()
    mean = result.busy_minutes.sum() / n
    # 4 standard errors of a mean of n ≈ 36,000 draws, plus 0.2% for the edges.
    tolerance = 4 * duration.sd / math.sqrt(n) + 0.002 * duration.mean
    assert abs(mean - duration.mean) <= tolerance, (mean, duration.mean, tolerance)
    assert np.all(result.wait_minutes == 0)


# ---------------------------------------------------------------- arrivals
def test_arrivals_follow_the_hourly_rates_of_the_week():
    # Nobody on duty, so the queue counts every arrival: the change in its length from one
    # hour to the next is that hour's arrivals.
    how = np.arange(168)
    rates = np.where(how % 24 < 7, 0.0, 1.0 + (how % 24) / 6)  # closed at night
    rates[144:] *= 2  # busier at the weekend
    spec = dataclasses.replace(
        one_step(servers=0, per_hour=(1.0, 0.0)),
        arrival_rate_per_hour=np.vstack([rates, np.zeros(168)]),
        start_hour_of_week=100,
    )
    weeks, reps = 10, 4
    result = simulate_pathway(spec, 168 * weeks, replications=reps, seed=9)
    queue = np.concatenate(
        [result.queue_length_hourly[:, 0, :], result.waiting_at_end[:, :1]], axis=1
    )
    per_hour = np.diff(queue, axis=1).reshape(reps * weeks, 168).mean(axis=0)
    per_hour = np.roll(per_hour, 100)  # simulated hour k is hour (100 + k) of the week
    n = reps * weeks
    assert np.all(per_hour[rates == 0] == 0)
    # Poisson: 4.5 standard errors, sqrt(rate / n), per hour of the week; with 168 hours a
    # correct engine fails somewhere with probability about 168 × 7e-6 ≈ 0.1%.
    z = (per_hour - rates)[rates > 0] / np.sqrt(rates[rates > 0] / n)
    assert np.all(np.abs(z) <= 4.5), z


def test_arrivals_at_low_rates_skip_quiet_weeks():
    # One case type referred once every ~5 weeks on average, only on Monday 09:00-10:00.
    rates = np.zeros(168)
    rates[9] = 0.2
    spec = dataclasses.replace(
        one_step(servers=0), arrival_rate_per_hour=rates[None, :], start_hour_of_week=0
    )
    result = simulate_pathway(spec, 168 * 500, replications=4, seed=10)
    arrived = result.joined[:, 0].sum()
    # Poisson with mean 4 × 500 × 0.2 = 400: 4 standard errors = 80.
    assert abs(arrived - 400) <= 80, arrived


# ---------------------------------------------------------------- summary and validation
def test_summary_is_plain_json_in_the_documented_shape():
    result = simulate_pathway(pathway_with_routing(), 300, 24, replications=3, seed=11)
    summary = result.summary()
    json.dumps(summary, allow_nan=False)
    assert set(summary) == {
        *("steps", "end_to_end", "reneged", "replications", "hours", "warmup_hours")
    }
    assert list(summary["steps"]) == ["intake", "assessment", "support"]
    step = summary["steps"]["assessment"]
    assert set(step) == set(STEP_KEYS)
    lo, hi = step["ci95"]
    assert lo <= step["mean_wait_minutes"] <= hi
    assert step["customers"] == int(result.served[:, 1].sum())
    assert sum(t["customers"] for t in step["by_case_type"].values()) == step["customers"]
    assert set(summary["end_to_end"]) == {
        "mean_time_minutes",
        "ci95",
        "p90_time_minutes",
        "unfinished_share",
    }
    assert summary["replications"] == 3 and summary["hours"] == 300.0
    assert summary["warmup_hours"] == 24.0
    assert result.queue_length_mean().shape == (3, 300)
    single = simulate_pathway(pathway_with_routing(), 300, replications=1, seed=11).summary()
    assert single["steps"]["intake"]["ci95"] is None and single["end_to_end"]["ci95"] is None


def test_bad_specs_and_arguments_are_refused():
    good = one_step()
    with pytest.raises(ValueError, match="routing row adds up to more than 1"):
        dataclasses.replace(good, routing=np.array([[1.5]]))
    with pytest.raises(ValueError, match="starting at 0"):
        dataclasses.replace(good, schedule=((np.array([5.0]), np.array([1])),))
    with pytest.raises(ValueError, match="times must increase"):
        dataclasses.replace(good, schedule=((np.array([0.0, 0.0]), np.array([1, 2])),))
    with pytest.raises(ValueError, match="arrival rates must be >= 0"):
        dataclasses.replace(good, arrival_rate_per_hour=-np.ones((1, 168)))
    with pytest.raises(ValueError, match="patience needs one entry per case type"):
        dataclasses.replace(good, patience=(None, None))
    with pytest.raises(ValueError, match="sd must be > 0"):
        Duration("lognormal", 10.0)
    with pytest.raises(ValueError, match="dist must be one of"):
        Duration("weibull", 10.0)
    with pytest.raises(ValueError, match="empirical duration needs finite values"):
        Duration("empirical", values=np.array([]))
    refused = [
        {"hours": 0},
        {"hours": math.nan},
        {"hours": 10, "warmup_hours": -1},
        {"hours": 10, "replications": 0},
        {"hours": 10, "threads": 0},
    ]
    for kwargs in refused:
        with pytest.raises(ValueError):
            simulate_pathway(good, **kwargs)


# ------------------------------------------------------------ end to end, routing by type
def test_end_to_end_percentile_matches_the_exponential():
    # No queue (ample people): time end to end is the service time, Exp(mean 60 minutes),
    # whose 90th percentile is 60 ln 10 = 138.16. With ~100,000 cases the sample quantile's
    # standard error is sqrt(0.9 * 0.1 / n) / f(q) = 0.0009 / (0.1 / 60) ≈ 0.57 minutes; the
    # histogram bin adds at most 0.4% (0.55 minutes). 3 standard errors + the bin: 2.3.
    spec = PathwaySpec.network(60.0, [10_000], [60.0])
    result = simulate_pathway(spec, hours=1_700, warmup_hours=10, replications=1, seed=3)
    assert result.completed.sum() > 95_000
    assert result.end_to_end_percentile(90) == pytest.approx(60 * np.log(10), abs=2.3)
    assert result.summary()["end_to_end"]["p90_time_minutes"] == result.end_to_end_percentile(90)


def test_routing_can_differ_by_case_type():
    # Type 0 always goes on to step 1; type 1 never does.
    base = PathwaySpec.network(6.0, [100, 100], [1.0, 1.0])
    routing = np.zeros((2, 2, 2))
    routing[0, 0, 1] = 1.0
    spec = PathwaySpec(
        steps=base.steps,
        step_resource=base.step_resource,
        resources=base.resources,
        case_types=("onward", "done"),
        case_priority=np.array([1, 1]),
        arrival_rate_per_hour=np.vstack([base.arrival_rate_per_hour] * 2),
        service=tuple(row * 2 for row in base.service),
        routing=routing,
        schedule=base.schedule,
    )
    result = simulate_pathway(spec, hours=200, replications=2, seed=1)
    served = result.served.sum(axis=0)  # (S, T)
    assert served[0, 0] > 1000 and served[0, 1] > 1000
    assert abs(served[1, 0] - served[0, 0]) <= 2  # every onward case, bar the window's edge
    assert served[1, 1] == 0


def test_without_detail_the_counts_are_the_same():
    spec = PathwaySpec.network(2.5, [2, 3, 1], [20.0, 60.0, 15.0],
                               routing=np.array([[0, 1, 0], [0, 0, 0.7], [0, 0, 0.0]]))  # fmt: skip
    full = simulate_pathway(spec, hours=500, warmup_hours=50, replications=2, seed=4)
    lean = simulate_pathway(spec, hours=500, warmup_hours=50, replications=2, seed=4, detail=False)
    assert np.array_equal(full.served, lean.served)
    assert np.array_equal(full.wait_sum_minutes, lean.wait_sum_minutes)
    assert full.end_to_end_percentile(90) == lean.end_to_end_percentile(90)
    assert lean.wait_minutes.size == 0 and lean.queue_length_hourly.shape[-1] == 0
    assert lean.summary()["steps"]["step0"]["p90_wait_minutes"] is None


def test_time_at_step_is_the_wait_and_the_service():
    # M/M/1 at rho = 0.5 (mean service 30 minutes): time at the step (sojourn) is exponential
    # with mean 1 / (mu - lambda) = 60 minutes, so its 90th percentile is 60 ln 10 = 138.2.
    # ~40,000 cases: the mean's standard error is ~0.6 minutes (sojourns are correlated at
    # rho 0.5; 3 SE plus the histogram bin's 0.4% gives the 2.5 and 3 minute tolerances).
    spec = PathwaySpec.network(1.0, [1], [30.0])
    result = simulate_pathway(spec, hours=40_000, warmup_hours=100, replications=1, seed=7)
    assert result.arrived.sum() == pytest.approx(40_000, rel=4 * 200 / 40_000)  # Poisson: 4 SD
    mean_time = result.time_at_step_minutes()[0, 0]
    mean_wait = result.mean_wait_minutes()[0, 0]
    assert mean_time == pytest.approx(60.0, abs=2.5)
    assert mean_time - mean_wait == pytest.approx(30.0, abs=0.5)  # the mean service
    assert result.time_at_step_percentile(0, 90) == pytest.approx(60 * np.log(10), abs=6)
    assert result.unfinished_share() < 0.001


def test_unfinished_share_shows_a_window_too_short_for_the_pathway():
    # Cases take m = 10 hours (exponential); of those arriving uniformly in a window of
    # L = 20 hours, the share still there at its end is (m / L)(1 - e^(-L/m)) = 0.43.
    # ~2,400 arrivals: standard error ~0.01, so 0.03 is 3.
    spec = PathwaySpec.network(30.0, [1_000], [600.0])
    result = simulate_pathway(spec, hours=20, warmup_hours=0, replications=4, seed=2)
    assert result.unfinished_share() == pytest.approx((1 - np.exp(-2)) / 2, abs=0.03)
