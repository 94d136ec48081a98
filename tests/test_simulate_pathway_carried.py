"""Cases carried in: the pathway simulation started from a waiting list instead of empty.

Timelines worked out by hand (fixed service times, a daily rota, no arrivals): who is served
when, each wait its age plus the time to reach it, priorities, routing on or leaving, giving up
at a first contact, and Little's law with the time waited before minute 0 taken out.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from flowcap.simulate.pathway import CarriedCases, Duration, PathwaySpec, simulate_pathway

DAY = 1440.0
OPENS, HOURS_ON, MINUTES = 9 * 60, 8, 120  # on duty 09:00-17:00; each case takes 2 hours


def rota(days: int, people: int):
    """``people`` on duty 09:00-17:00 every day, nobody otherwise."""
    times = (np.arange(days)[:, None] * DAY + [0.0, OPENS, OPENS + HOURS_ON * 60]).ravel()
    return times, np.tile([0, people, 0], days)


def queue_spec(people=2, days=10, priorities=(1,), steps=1, patience=None) -> PathwaySpec:
    """``steps`` steps in a row, each on its own resource with ``people`` on the rota above,
    each case taking exactly 2 hours; nobody arrives."""
    types = tuple(f"type{k}" for k in range(len(priorities)))
    routing = np.eye(steps, k=1)
    return PathwaySpec(
        steps=tuple(f"step{s}" for s in range(steps)),
        step_resource=np.arange(steps),
        resources=tuple(f"team{s}" for s in range(steps)),
        case_types=types,
        case_priority=np.asarray(priorities),
        arrival_rate_per_hour=np.zeros((len(types), 168)),
        service=tuple(tuple(Duration("fixed", MINUTES) for _ in types) for _ in range(steps)),
        routing=routing,
        schedule=tuple(rota(days, people) for _ in range(steps)),
        patience=patience,
    )


def by_hand(ages_minutes, people):
    """Each case's start (minute) when served oldest first, ``people`` at a time, 4 cases a
    person a day (8 hours of 2-hour cases), and its wait: its age plus the time to reach it."""
    per_day = people * (HOURS_ON * 60 // MINUTES)
    order = np.argsort(-np.asarray(ages_minutes), kind="stable")
    rank = np.arange(len(order))
    start = rank // per_day * DAY + OPENS + (rank % per_day) // people * MINUTES
    return start, start + np.asarray(ages_minutes)[order]


def test_carried_cases_are_served_oldest_first_on_the_days_worked_out_by_hand():
    # 30 cases waiting 0-29 days (given in a shuffled order), 2 people doing 4 each a day:
    # 8 a day, so the last 6 are served on day 3; nobody arrives.
    rng = np.random.default_rng(1)
    ages = rng.permutation(np.arange(30) * DAY + 60.0)
    carried = CarriedCases(np.zeros(30, int), np.zeros(30, int), -ages)
    result = simulate_pathway(
        queue_spec(), hours=24 * 5, replications=2, seed=3, carried=carried, threads=1
    )
    start, waits = by_hand(ages, people=2)
    assert start[-1] == 3 * DAY + OPENS + 2 * MINUTES
    for k in range(2):  # the same in every replication: nothing random happens
        mine = result.wait_replication == k
        np.testing.assert_array_equal(result.wait_minutes[mine], waits)
    assert result.served[:, 0, 0].tolist() == [30, 30]
    assert result.summary()["steps"]["step0"]["mean_wait_minutes"] == pytest.approx(waits.mean())
    # 30 x 120 busy minutes out of 5 days x 2 people x 480 on duty.
    assert result.utilisation()[0] == pytest.approx(30 * 120 / (5 * 2 * 480))
    assert result.waiting_at_end.sum() == 0
    # Not arrivals: nothing counted end to end, nothing unfinished.
    assert result.arrived.sum() == 0 and result.completed.sum() == 0
    assert result.unfinished_share() is None
    # Little's law in the window: the time waited before minute 0 is taken out of W.
    np.testing.assert_array_equal(result.wait_before_window_minutes[:, 0], [ages.sum()] * 2)
    (queue, lam_w) = result.little_law()["step0"]
    assert queue == pytest.approx(lam_w, rel=1e-12)
    assert queue * result.window_minutes == pytest.approx(start.sum())


def test_the_queue_is_shared_with_new_arrivals_who_join_behind_it():
    # One person, 12 cases carried in (3 days' work) and arrivals from minute 0: the first
    # arrival is served only after everything carried in.
    spec = queue_spec(people=1, days=12)
    spec = dataclasses.replace(spec, arrival_rate_per_hour=np.full((1, 168), 0.05))
    ages = np.arange(12) * 100.0 + 30
    carried = CarriedCases(np.zeros(12, int), np.zeros(12, int), -ages)
    result = simulate_pathway(spec, hours=24 * 12, replications=3, seed=0, carried=carried)
    start, waits = by_hand(ages, people=1)
    for k in range(3):
        mine = result.wait_minutes[result.wait_replication == k]
        np.testing.assert_array_equal(mine[:12], waits)
        assert result.arrived[k, 0] > 0
    assert result.served[:, 0, 0].min() > 12


def test_priority_comes_before_age_for_carried_cases():
    # Type 0 (priority 1) is younger than every type 1 (priority 2) case, and is served first.
    ages = np.array([10, 11, 12, 13]) * DAY
    young = np.array([1, 2]) * DAY
    carried = CarriedCases(
        np.array([1, 1, 1, 1, 0, 0]), np.zeros(6, int), -np.concatenate([ages, young])
    )
    spec = queue_spec(people=1, priorities=(1, 2))
    result = simulate_pathway(spec, hours=48, replications=1, carried=carried)
    order_served = result.wait_case_type.tolist()
    assert order_served == [0, 0, 1, 1, 1, 1]
    # Person-slots at 09:00, 11:00, 13:00, 15:00 on day 0 and 09:00, 11:00 on day 1.
    slots = OPENS + np.array([0, 1, 2, 3, DAY / MINUTES, DAY / MINUTES + 1]) * MINUTES
    ages_served = np.array([2, 1, 13, 12, 11, 10]) * DAY
    np.testing.assert_array_equal(result.wait_minutes, slots + ages_served)


def test_a_carried_case_goes_on_along_its_pathway_unless_it_leaves():
    # Two steps in a row: 3 cases at step 0 (one flagged to leave after it), 2 at step 1.
    carried = CarriedCases(
        np.zeros(5, int),
        np.array([0, 0, 0, 1, 1]),
        -np.array([5, 4, 3, 2, 1]) * DAY,
        leaves=np.array([False, True, False, False, False]),
    )
    result = simulate_pathway(
        queue_spec(people=1, steps=2), hours=24 * 4, replications=1, carried=carried
    )
    assert result.served[0, :, 0].tolist() == [3, 4]  # 2 carried in + the 2 that went on
    assert result.joined[0].tolist() == [3, 4]
    # Step 0 serves the 5-day-old case at 09:00 (on to step 1 at 11:00), the one that leaves
    # at 11:00 and the 3-day-old at 13:00 (on to step 1 at 15:00).
    # In the order served: the 2-day-old case at 09:00, the 1-day-old at 11:00, the case
    # that came on at 11:00 served at 13:00, the one that came on at 15:00 at once.
    np.testing.assert_array_equal(
        result.waits(1), [2 * DAY + OPENS, DAY + OPENS + MINUTES, MINUTES, 0.0]
    )


def test_only_a_first_contact_can_be_given_up_and_only_after_the_wait_so_far():
    # Fixed patience of 2 days; cases carried in at step 0 (their first contact) who have
    # waited 3 days give up at once, those who have waited 1 day at day 1 (nobody is on duty
    # to serve them), and cases at step 1 never give up.
    spec = queue_spec(people=0, steps=2, patience=(Duration("fixed", 2 * DAY),))
    carried = CarriedCases(np.zeros(4, int), np.array([0, 0, 1, 1]), -np.array([3, 1, 3, 1]) * DAY)
    result = simulate_pathway(spec, hours=24 * 3, replications=1, carried=carried)
    assert result.reneged_at_step[0].tolist() == [2, 0]
    # They gave up after exactly 3 days (at once) and 2 days (a day into the run).
    assert result.reneged_wait_at_step_minutes[0, 0] == 3 * DAY + 2 * DAY
    assert result.waiting_at_end[0].tolist() == [0, 2]


def test_starting_empty_is_the_same_with_no_cases_carried_in():
    spec = queue_spec(people=2)
    spec = dataclasses.replace(spec, arrival_rate_per_hour=np.full((1, 168), 0.5))
    plain = simulate_pathway(spec, hours=100, replications=2, seed=4)
    empty = simulate_pathway(spec, hours=100, replications=2, seed=4, carried=CarriedCases.none())
    np.testing.assert_array_equal(plain.wait_minutes, empty.wait_minutes)
    assert plain.summary() == empty.summary()
    assert not empty.wait_before_window_minutes.any()


def test_carried_cases_that_cannot_be_placed_are_refused():
    spec = queue_spec()
    with pytest.raises(ValueError, match="<= 0"):
        CarriedCases(np.zeros(1, int), np.zeros(1, int), np.array([5.0]))
    with pytest.raises(ValueError, match="one length"):
        CarriedCases(np.zeros(2, int), np.zeros(1, int), np.zeros(1))
    with pytest.raises(ValueError, match="steps"):
        simulate_pathway(
            spec, hours=10, carried=CarriedCases(np.zeros(1, int), np.ones(1, int), np.zeros(1))
        )
