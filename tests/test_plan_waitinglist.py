"""Waiting-list formulas against NHSRwaitinglist's test vectors and the published examples.

Expected values: methods.md §2.2 (NHSRwaitinglist@0d85b69 ``tests/testthat``, examples and
vignettes, re-computed in R) and §1.4; tolerances match the printed precision.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from flowcap.plan.waitinglist import (
    clearance_capacity,
    factor_for_share_within_target,
    pressure,
    queue_load,
    relief_capacity,
    target_capacity,
    target_mean_wait,
    target_queue_size,
    target_queue_size_for_share,
    waiting_list_check,
)

# --- NHSRwaitinglist test vectors (methods.md §2.2) ----------------------------------------


def test_queue_load_matches_r():
    assert queue_load(30, 27) == pytest.approx(1.11111111, abs=1e-8)


def test_queue_load_vectorised_matches_r():
    got = queue_load([35, 30, 52], [27, 25, 42])
    assert isinstance(got, np.ndarray)
    assert got == pytest.approx([1.2962963, 1.2, 1.23809524], abs=1e-7)


def test_target_mean_wait_matches_r():
    assert target_mean_wait(52) == 13
    assert target_mean_wait(52, 4) == 13
    assert target_mean_wait(52, 6) == pytest.approx(8.6666667, abs=1e-7)


def test_target_mean_wait_vectorised_matches_r():
    got = target_mean_wait([35, 30, 52], [4, 4, 6])
    assert got == pytest.approx([8.75, 7.5, 8.6666667], abs=1e-7)


def test_target_queue_size_matches_r():
    assert target_queue_size(30, 52) == pytest.approx(390)
    assert target_queue_size(30, 50) == pytest.approx(375)
    assert target_queue_size(30, 50, 6) == pytest.approx(250)


def test_relief_capacity_matches_r():
    assert relief_capacity(30, 1200, 390, 26) == pytest.approx(61.153846, abs=1e-6)
    assert relief_capacity(30, 1200, 390) == pytest.approx(61.153846, abs=1e-6)


def test_target_capacity_matches_r():
    assert target_capacity(30, 52, 3, 1.1, 1.2) == pytest.approx(30.076442, abs=1e-6)
    assert target_capacity(4, 52) == pytest.approx(4.0769231, abs=1e-7)
    assert target_capacity(30, 52) == pytest.approx(30.0769231, abs=1e-7)


def test_target_capacity_vignette_factors():
    assert target_capacity(30, 52, factor=1) == pytest.approx(30.0192308, abs=1e-7)
    assert target_capacity(30, 52, factor=6.58) == pytest.approx(30.1265385, abs=1e-7)


def test_target_capacity_is_demand_when_nothing_varies():
    assert target_capacity(30, 52, cv_demand=0, cv_capacity=0) == 30


def test_pressure_matches_r():
    assert pressure(63, 52) == pytest.approx(2.42307692, abs=1e-8)
    assert pressure(24, 4) == 12


def test_pressure_vectorised_matches_r():
    got = pressure([63, 42, 55], [52, 24, 50])
    assert got == pytest.approx([2.42307692, 3.5, 2.2], abs=1e-8)


# --- share within target (methods.md §1.4) -------------------------------------------------


def test_factor_for_share_within_target_values():
    assert factor_for_share_within_target(0.92) == pytest.approx(2.525729, abs=1e-6)
    assert factor_for_share_within_target(0.95) == pytest.approx(2.995732, abs=1e-6)


def test_divisor_four_keeps_98_17_percent_within_target():
    assert factor_for_share_within_target(1 - math.exp(-4)) == pytest.approx(4, rel=1e-12)
    assert factor_for_share_within_target(0.9817) == pytest.approx(4, abs=0.01)
    assert factor_for_share_within_target(0.9975) == pytest.approx(6, abs=0.01)


def test_rtt_list_sizes_for_shares_seen_within_18_weeks():
    shares = np.array([0.50, 0.60, 0.70, 0.80, 0.92])
    got = target_queue_size_for_share(100, 18, shares)
    assert got == pytest.approx([2596.85, 1964.44, 1495.05, 1118.40, 712.67], abs=0.005)


def test_target_queue_size_for_share_agrees_with_factor_form():
    p = 0.95
    assert target_queue_size_for_share(30, 4, p) == pytest.approx(
        target_queue_size(30, 4, factor_for_share_within_target(p))
    )


# --- worked ENT P4 example (Fong et al. via the WL vignette) ------------------------------


def test_worked_ent_p4_example():
    demand, capacity, queue, target, mean_wait = 30, 27, 1200, 52, 63
    assert queue_load(demand, capacity) == pytest.approx(1.11, abs=0.005)
    assert target_mean_wait(target) == pytest.approx(13)
    target_list = target_queue_size(demand, target)
    assert target_list == pytest.approx(390)
    assert queue / target_list == pytest.approx(3.08, abs=0.005)  # > 2: relief capacity
    assert relief_capacity(demand, queue, target_list, 26) == pytest.approx(61.15, abs=0.005)
    assert pressure(mean_wait, target) == pytest.approx(2.42, abs=0.005)


def test_clearance_capacity_is_mean_demand_plus_excess_per_day():
    assert clearance_capacity(300, 2400, 600, 30) == pytest.approx(360)
    assert clearance_capacity(300, 2400, 600, 30) == relief_capacity(300, 2400, 600, 30)


# --- the check beside the simulation (waiting_list_check) ----------------------------------


def test_relief_capacity_is_per_working_day_like_every_other_capacity():
    # Issue #10: referrals come in every day, but the team works Monday to Friday, so the
    # capacity that clears the list must be given per working day (536 was shown a calendar
    # day where about 750 a working day was meant). Four weeks from a Monday: 20 working days.
    from flowcap.simulate.daily import DailySpec, run

    days, reps = 28, 2000
    weekdays = np.array([t % 7 < 5 for t in range(days)])
    spec = DailySpec.one_resource(
        days=days,
        mean_cases_per_day=10,
        minutes_per_case=60,
        staff=3,
        minutes_per_staff=240,
        opening_backlog_minutes=3000,
    )
    closed = {
        "staff": spec.staff * weekdays,
        "minutes_per_staff": spec.minutes_per_staff * weekdays,
    }
    spec = dataclasses.replace(spec, **closed)
    result = run(spec, reps, 3, waits=True, target_working_days=2)
    working_week = ("mon", "tue", "wed", "thu", "fri")
    check = waiting_list_check(spec, result, 2, working_week)["resource"]
    assert "relief_capacity_minutes_per_day" not in check
    # 600 minutes fall due a calendar day, 600 x 28 / 20 = 840 a working day; the target list
    # is 600 x (2 x 7 / 5 calendar days) / 4 = 420 minutes, so the excess of 3,000 - 420 is
    # cleared over the 20 working days. Standard error of the simulated mean demand a working
    # day: 60 sqrt(10 / (28 x 2000)) x 28 / 20 = 1.1 minutes; 4 is over three of them.
    assert check["target_queue_size_minutes"] == pytest.approx(420, abs=4)
    assert check["relief_capacity_minutes_per_working_day"] == pytest.approx(
        840 + (3000 - 420) / 20, abs=4
    )


# --- scalars, arrays, NaN ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("func", "args"),
    [
        (queue_load, (30, 27)),
        (target_mean_wait, (52,)),
        (target_queue_size, (30, 52)),
        (relief_capacity, (30, 1200, 390)),
        (target_capacity, (30, 52)),
        (pressure, (63, 52)),
        (factor_for_share_within_target, (0.92,)),
        (target_queue_size_for_share, (100, 18, 0.92)),
        (clearance_capacity, (300, 2400, 600, 30)),
    ],
)
def test_scalars_in_give_a_float_out(func, args):
    got = func(*args)
    assert type(got) is float
    got_np = func(*(np.float64(a) for a in args))
    assert type(got_np) is float


def test_arrays_broadcast():
    demand = np.array([[20.0], [30.0]])  # shape (2, 1)
    target = np.array([4.0, 18.0, 52.0])  # shape (3,)
    got = target_queue_size(demand, target)
    assert isinstance(got, np.ndarray)
    assert got.shape == (2, 3)
    assert got == pytest.approx(demand * target / 4)
    assert target_capacity(demand, target, factor=[[4], [6]]).shape == (2, 3)
    assert relief_capacity([30, 40], 1200, 390, [26, 52]) == pytest.approx(
        [30 + 810 / 26, 40 + 810 / 52]
    )


def test_one_element_array_stays_an_array():
    got = queue_load(np.array([30.0]), 27)
    assert isinstance(got, np.ndarray)
    assert got.shape == (1,)


def test_nan_passes_through():
    assert math.isnan(queue_load(math.nan, 27))
    assert math.isnan(queue_load(30, math.nan))
    assert math.isnan(target_mean_wait(math.nan))
    assert math.isnan(factor_for_share_within_target(math.nan))
    assert math.isnan(pressure(63, math.nan))
    got = target_queue_size([30, math.nan], [52, 52])
    assert got[0] == pytest.approx(390)
    assert math.isnan(got[1])


# --- input validation ----------------------------------------------------------------------


@pytest.mark.parametrize("capacity", [0, -1, [27, 0]])
def test_queue_load_refuses_non_positive_capacity(capacity):
    with pytest.raises(ValueError, match="capacity must be greater than 0"):
        queue_load(30, capacity)


@pytest.mark.parametrize(
    "call",
    [
        lambda: target_mean_wait(0),
        lambda: target_queue_size(30, -4),
        lambda: target_capacity(30, 0),
        lambda: pressure(63, 0),
        lambda: target_queue_size_for_share(100, 0, 0.92),
        lambda: target_mean_wait([52, 0, 4]),
    ],
)
def test_refuses_non_positive_target_wait(call):
    with pytest.raises(ValueError, match="target_wait must be greater than 0"):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: target_mean_wait(52, 0),
        lambda: target_queue_size(30, 52, -1),
        lambda: target_capacity(30, 52, factor=0),
    ],
)
def test_refuses_non_positive_factor(call):
    with pytest.raises(ValueError, match="factor must be greater than 0"):
        call()


@pytest.mark.parametrize("p", [0, 1, -0.1, 1.5, [0.5, 1.0]])
def test_refuses_share_outside_zero_one(p):
    with pytest.raises(ValueError, match="p must be a share strictly between 0 and 1"):
        factor_for_share_within_target(p)
    with pytest.raises(ValueError, match="p must be a share"):
        target_queue_size_for_share(100, 18, p)


@pytest.mark.parametrize("time_to_target", [0, -26])
def test_relief_capacity_refuses_non_positive_time(time_to_target):
    with pytest.raises(ValueError, match="time_to_target must be greater than 0"):
        relief_capacity(30, 1200, 390, time_to_target)


def test_clearance_capacity_refuses_non_positive_days():
    with pytest.raises(ValueError, match="days must be greater than 0"):
        clearance_capacity(300, 2400, 600, 0)


def test_target_capacity_refuses_negative_cv():
    with pytest.raises(ValueError, match="cv_demand must be 0 or more"):
        target_capacity(30, 52, cv_demand=-1)
    with pytest.raises(ValueError, match="cv_capacity must be 0 or more"):
        target_capacity(30, 52, cv_capacity=-0.5)


def test_error_message_names_the_bad_value():
    with pytest.raises(ValueError, match="got -2"):
        queue_load(30, [27, -2])
