"""Contingency scenarios (flowcap.plan.scenarios): applying and costing changes, ranking
options. Reading scenarios.yaml is in test_io_scenarios_yaml.py.

The test hub (conftest.hub) has a triage team, two IDVAs and four caseworkers. High-risk
cases (7 a day) need a 30-minute triage call and an hour with an IDVA the next day; other
cases (3 a day) need a 20-minute call and two half-hour caseworker sessions. The IDVAs are
overloaded (420 minutes of work a calendar day against 2 × 240 minutes on weekdays, about
343); the caseworkers are nearly idle. Statistical checks use fixed seeds, and each margin is
at least three standard errors.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date, timedelta

import numpy as np
import pytest

from conftest import hub
from flowcap.model import Service
from flowcap.model.scenario import (
    BASELINE,
    Agency,
    Demand,
    Overtime,
    Recruit,
    Scenario,
    Transfer,
    Triage,
    Vacancy,
)
from flowcap.plan.scenarios import (
    apply_scenario,
    baseline_cost,
    cheapest_combination,
    compare_scenarios,
    inert_options,
    minutes_per_case,
)
from flowcap.simulate import draw_inputs, run
from flowcap.simulate.build import build_spec

START = date(2025, 3, 3)  # a Monday
HORIZON = 54  # to Friday 25 April 2025 (Good Friday 18 Apr and Easter Monday 21 Apr inside)
END = START + timedelta(days=HORIZON - 1)
REPS, SEED, THRESHOLD = 4000, 7, 600.0


def spec_for(service: Service, start: date = START, days: int = HORIZON):
    spec, first = build_spec(service, None, None, horizon_days=days, start=start)
    assert first == start
    return spec


# --- applying and costing changes -------------------------------------------------------------


def test_apply_changes_exactly_the_right_cells_and_costs_them():
    # work_bank_holidays: Good Friday (18 Apr, day 4) and Easter Monday (21 Apr, day 7) are
    # working days, paid at the Sunday/bank-holiday overtime premium.
    service = hub(work_bank_holidays=True)
    start = date(2025, 4, 14)
    spec = spec_for(service, start, 14)
    tri, idva, cw = 0, 1, 2
    changes = [
        Overtime(
            resource="triage", minutes_per_day=30, start=date(2025, 4, 14), end=date(2025, 4, 21)
        ),
        Agency(
            resource="idva",
            staff=1,
            day_rate=150,
            lead_days=2,
            min_days=5,
            start=date(2025, 4, 14),
            end=date(2025, 4, 18),
        ),
        Transfer.model_validate(
            {
                "from": "caseworker",
                "to": "idva",
                "staff": 1,
                "start": date(2025, 4, 21),
                "end": date(2025, 4, 25),
                "handover_days": 1,
            }
        ),
        Demand(case_type="high", factor=1.5, start=date(2025, 4, 12), end=date(2025, 4, 15)),
        Triage(case_type="low", step=1, minutes=20),
    ]
    new, extra = apply_scenario(spec, start, service, changes)

    staff = spec.staff.copy()
    minutes = spec.minutes_per_staff.copy()
    staff[idva, [2, 3, 4]] += 1  # agency: arrives Wed 16th, works Wed-Fri
    staff[cw, [7, 8, 9, 10, 11]] -= 1  # transfer: Mon 21st to Fri 25th ...
    staff[idva, [8, 9, 10, 11]] += 1  # ... at the IDVA team after a day's handover
    minutes[tri, [0, 1, 2, 3, 4, 7]] += 30  # overtime on triage's working days
    np.testing.assert_array_equal(new.staff, staff)
    np.testing.assert_allclose(new.minutes_per_staff, minutes)

    cost = np.zeros_like(extra)
    hour = 3 * 30 / 60 * 20  # three triage officers' half-hour at £20/h
    cost[tri, [0, 1, 2, 3]] = hour * 1.5
    cost[tri, [4, 7]] = hour * 2.0  # bank holidays
    cost[idva, [2, 3]] = 150
    cost[idva, 4] = 150 + 2 * 150  # 3 days paid of min_days 5: the 2 short charged on the last
    np.testing.assert_allclose(extra, cost)  # the transfer costs nothing extra

    means = spec.mean_cases_per_day.copy()
    means[0, [0, 1]] *= 1.5  # 12-15 Apr: only 14th and 15th are in the horizon
    np.testing.assert_allclose(new.mean_cases_per_day, means)
    steps = spec.steps.copy()
    low_visits = (spec.step_type == 1) & (spec.step_resource == cw)
    assert low_visits.sum() == 2  # the repeated step is two rows
    steps[low_visits, 3] = 20
    np.testing.assert_array_equal(new.steps, steps)
    for name in ("absence_rate", "dispersion", "opening_backlog_minutes", "due_ahead_minutes"):
        np.testing.assert_array_equal(getattr(new, name), getattr(spec, name))


def transfer(staff: int, start: date, end: date, handover_days: int = 0, **names) -> Transfer:
    fields = {"from": "caseworker", "to": "idva", **names}
    return Transfer.model_validate(
        {**fields, "staff": staff, "start": start, "end": end, "handover_days": handover_days}
    )


def rostered(spec, resource: int, people: int, days):
    """``spec`` with ``people`` rostered at ``resource`` on ``days`` (as roster rows would)."""
    staff, minutes = spec.staff.copy(), spec.minutes_per_staff.copy()
    staff[resource, days] = people
    minutes[resource, days] = np.where(people > 0, 240.0, 0.0)
    return dataclasses.replace(spec, staff=staff, minutes_per_staff=minutes)


JAN = date(2026, 1, 5)  # a Monday; four weeks to Sunday 1 February
JAN_DAYS = 28
WEEKDAYS = [t for t in range(JAN_DAYS) if (JAN + timedelta(days=t)).weekday() < 5]


def test_a_transfer_moves_only_the_people_the_sending_team_has():
    # the review's reproduction: caseworkers rostered 2 a weekday, a transfer of 3 to the IDVAs
    # took the 2 but gave the IDVAs 3 (2 -> 0 at caseworker, 2 -> 5 at IDVA on 7 Jan)
    service = hub()
    idva, cw = 1, 2
    spec = rostered(spec_for(service, JAN, JAN_DAYS), cw, 2, WEEKDAYS)
    change = transfer(3, date(2026, 1, 5), date(2026, 1, 30))
    new, extra = apply_scenario(spec, JAN, service, [change])
    jan7 = (date(2026, 1, 7) - JAN).days
    assert (spec.staff[cw, jan7], spec.staff[idva, jan7]) == (2, 2)
    assert (new.staff[cw, jan7], new.staff[idva, jan7]) == (0, 4)
    # people are conserved day by day, and so is capacity (both teams give 240 minutes each)
    np.testing.assert_array_equal(new.staff.sum(axis=0), spec.staff.sum(axis=0))
    capacity = lambda s: s.staff * s.minutes_per_staff  # noqa: E731
    np.testing.assert_allclose(capacity(new).sum(axis=0), capacity(spec).sum(axis=0))
    moved = spec.staff[cw] - new.staff[cw]
    np.testing.assert_array_equal(new.staff[idva] - spec.staff[idva], moved)
    assert moved[WEEKDAYS].tolist() == [2] * 20 and moved.sum() == 40  # every weekday 5-30 Jan
    np.testing.assert_allclose(new.minutes_per_staff[idva, WEEKDAYS], 240)
    assert not extra.any()


def test_nobody_moves_on_a_day_the_receiving_team_does_not_work():
    service = hub()
    idva, cw = 1, 2
    saturdays = [t for t in range(JAN_DAYS) if (JAN + timedelta(days=t)).weekday() == 5]
    spec = rostered(spec_for(service, JAN, JAN_DAYS), cw, 3, saturdays)  # caseworkers' Saturdays
    spec = rostered(spec, idva, 1, [6])  # and one IDVA on Sunday 11 Jan, with no caseworkers
    change = transfer(1, JAN, JAN + timedelta(days=JAN_DAYS - 1))
    new, _ = apply_scenario(spec, JAN, service, [change])
    np.testing.assert_array_equal(new.staff.sum(axis=0), spec.staff.sum(axis=0))
    np.testing.assert_array_equal(new.staff[cw, saturdays], 3)  # they stay and work at home
    np.testing.assert_array_equal(new.staff[idva, saturdays], 0)
    assert new.staff[idva, 6] == 1  # nobody to move on a day the caseworkers do not work
    np.testing.assert_array_equal(new.staff[cw, WEEKDAYS], 3)
    np.testing.assert_array_equal(new.staff[idva, WEEKDAYS], 3)


def test_transfers_share_the_people_left_and_handover_days_are_lost_to_both():
    service = hub()
    idva, cw = 1, 2
    spec = rostered(spec_for(service, JAN, JAN_DAYS), cw, 2, WEEKDAYS)
    end = date(2026, 1, 30)
    changes = [transfer(2, JAN, end, handover_days=2), transfer(2, JAN, end)]
    new, _ = apply_scenario(spec, JAN, service, changes)
    np.testing.assert_array_equal(new.staff[cw, WEEKDAYS], 0)  # 2 rostered, 2 gone
    # the first transfer takes both; they hand over on Mon 5 and Tue 6 Jan, so the second
    # finds nobody left and the IDVAs gain no one until Wednesday
    assert new.staff[idva, :3].tolist() == [2, 2, 4]
    lost = spec.staff.sum(axis=0) - new.staff.sum(axis=0)
    assert lost.tolist() == [2, 2] + [0] * (JAN_DAYS - 2)


def test_people_of_different_hours_average_so_capacity_is_exact():
    service = hub()
    spec = spec_for(service, START, 7)
    changes = [
        Overtime(resource="idva", minutes_per_day=60, start=START, end=START),
        Agency(resource="idva", staff=1, day_rate=0, start=START, end=START),
    ]
    new, _ = apply_scenario(spec, START, service, changes)
    capacity = new.staff[1, 0] * new.minutes_per_staff[1, 0]
    assert capacity == pytest.approx(2 * (240 + 60) + 240)  # overtime is for own staff only


def test_agency_with_no_end_is_paid_to_the_horizon_without_a_minimum_charge():
    service = hub()
    spec = spec_for(service, START, 14)
    change = Agency(resource="idva", staff=2, day_rate=200, min_days=40, start=START)
    _, extra = apply_scenario(spec, START, service, [change])
    assert extra.sum() == pytest.approx(2 * 200 * 10)  # ten weekdays, nothing for min_days


def test_baseline_cost_is_staff_hours_times_rate_on_working_days():
    service = hub()
    spec = spec_for(service, START, 7)  # one week: five working days
    cost = baseline_cost(spec, service)
    np.testing.assert_allclose(cost.sum(axis=1), [3 * 3 * 20 * 5, 2 * 4 * 24 * 5, 4 * 4 * 18 * 5])


def test_minutes_per_case_weights_steps_by_referrals():
    spec = spec_for(hub(), START, 7)
    # triage: (7 × 30 + 3 × 20) / 10; idva: 60; caseworker: both visits 30
    np.testing.assert_allclose(minutes_per_case(spec), [27.0, 60.0, 30.0])


# --- common random numbers --------------------------------------------------------------------


def test_staff_changes_see_the_same_referrals_and_at_least_as_many_people():
    service = hub()
    spec = spec_for(service)
    changed, _ = apply_scenario(
        spec, START, service, [Agency(resource="idva", staff=1, day_rate=100, start=START)]
    )
    base, option = draw_inputs(spec, 500, SEED), draw_inputs(changed, 500, SEED)
    np.testing.assert_array_equal(base.arrivals, option.arrivals)
    assert np.all(option.present_staff >= base.present_staff)
    base_run = run(spec, 500, SEED, record="paths")
    option_run = run(changed, 500, SEED, record="paths")
    np.testing.assert_array_equal(
        base_run.paths.demand_minutes, option_run.paths.demand_minutes
    )  # the same work arrives in every replication, day by day


def test_a_surge_keeps_other_referrals_and_couples_its_own():
    service = hub()
    spec = spec_for(service)
    surge = Demand(case_type="high", factor=1.5, start=START + timedelta(days=10), end=END)
    changed, _ = apply_scenario(spec, START, service, [surge])
    base, option = draw_inputs(spec, 500, SEED), draw_inputs(changed, 500, SEED)
    np.testing.assert_array_equal(base.arrivals[:, 1], option.arrivals[:, 1])  # low: unchanged
    np.testing.assert_array_equal(base.arrivals[:, 0, :10], option.arrivals[:, 0, :10])
    assert np.all(option.arrivals[:, 0, 10:] >= base.arrivals[:, 0, 10:])
    assert (option.arrivals[:, 0, 10:] > base.arrivals[:, 0, 10:]).any()


# --- ranking ----------------------------------------------------------------------------------


def options():
    return (
        Scenario.of(
            "one agency IDVA", Agency(resource="idva", staff=1, day_rate=100, start=START, end=END)
        ),
        Scenario.of(
            "two agency IDVAs", Agency(resource="idva", staff=2, day_rate=300, start=START, end=END)
        ),
        Scenario.of(
            "caseworker to IDVA",
            Transfer.model_validate(
                {
                    "from": "caseworker",
                    "to": "idva",
                    "staff": 1,
                    "start": START,
                    "end": END,
                    "handover_days": 14,
                }
            ),
        ),
        Scenario.of(
            "agency caseworker",
            Agency(resource="caseworker", staff=1, day_rate=100, start=START, end=END),
        ),
    )


@pytest.fixture(scope="module")
def comparison():
    service = hub()
    return compare_scenarios(
        spec_for(service),
        START,
        service,
        options(),
        replications=REPS,
        seed=SEED,
        threshold_minutes=THRESHOLD,
        risk_target=0.1,
    )


def test_free_transfer_ranks_first_and_help_for_the_idle_team_is_dominated(comparison):
    order = [row["scenario"] for row in comparison.ranking]
    assert order == [
        "caseworker to IDVA",
        "one agency IDVA",
        "two agency IDVAs",
        "agency caseworker",
    ]
    rows = {row["scenario"]: row for row in comparison.ranking}
    assert rows["caseworker to IDVA"]["extra_cost"] == 0
    assert rows["caseworker to IDVA"]["cost_per_wait_day_avoided"] == 0
    assert [rows[n]["dominated"] for n in order] == [False, False, False, True]
    # the idle team's help avoids almost no waiting (< 1% of what one agency IDVA avoids)
    wrong = rows["agency caseworker"]["wait_days_avoided"]
    assert abs(wrong) < 0.01 * rows["one agency IDVA"]["wait_days_avoided"]
    # costs: 38 working days (Good Friday and Easter Monday closed)
    assert rows["one agency IDVA"]["extra_cost"] == pytest.approx(38 * 100)
    assert rows["two agency IDVAs"]["extra_cost"] == pytest.approx(38 * 2 * 300)


def test_more_staff_on_the_same_futures_never_means_more_backlog(comparison):
    # common random numbers: extra IDVAs lower the backlog in every replication, not just on
    # average, so even small differences between options are real
    base = comparison.outcomes[BASELINE].result.final_backlog[1]
    one = comparison.outcomes["one agency IDVA"].result.final_backlog[1]
    two = comparison.outcomes["two agency IDVAs"].result.final_backlog[1]
    assert np.all(two <= one) and np.all(one <= base)
    triage = [o.result.final_backlog[0] for o in comparison.outcomes.values()]
    for other in triage[1:]:
        np.testing.assert_array_equal(other, triage[0])  # nothing changed at triage


def test_p_meet_target_is_the_share_of_runs_with_every_backlog_under_the_threshold(comparison):
    for o in comparison.outcomes.values():
        final = o.result.final_backlog
        assert o.p_meet_target == np.mean((final <= THRESHOLD).all(axis=0))
    p = {name: o.p_meet_target for name, o in comparison.outcomes.items()}
    se = math.sqrt(0.25 / REPS)
    assert p[BASELINE] < 0.01  # the IDVA backlog grows by about 77 minutes a day
    assert p["two agency IDVAs"] > 0.9 + 3 * se
    assert p["one agency IDVA"] < 0.9 - 3 * se


def test_recommendation_names_the_cheapest_option_that_meets_the_target(comparison):
    assert "'two agency IDVAs'" in comparison.recommendation(0.1)
    assert comparison.recommendation(0.1).startswith("Choose")
    # at a looser target the free transfer is enough (it meets it in ~40% of runs; SE < 1%)
    assert "'caseworker to IDVA'" in comparison.recommendation(0.7)
    assert comparison.recommendation(0.001).startswith("No option meets the target")
    # the free transfer avoids the most waiting a pound (none of it paid for)
    assert "'caseworker to IDVA' helps most per pound" in comparison.recommendation(0.001)


def moved(sending: str, receiving: str, staff: int = 1) -> Transfer:
    """``staff`` people moved from ``sending`` to ``receiving`` for the whole horizon."""
    fields = {"from": sending, "to": receiving, "staff": staff}
    return Transfer.model_validate({**fields, "start": START, "end": END})


@pytest.fixture(scope="module")
def nothing_meets():
    """No option brings the IDVA backlog under the threshold (all meet it in about 1% of
    runs or fewer), so the recommendation must say what helps and what would meet it."""
    service = hub()
    changes = {
        # helps a little, for money: 2 x 15 minutes a weekday against a growth of ~77 a day
        "IDVA overtime": Overtime(resource="idva", minutes_per_day=15, start=START, end=END),
        # free, and meets the target in slightly more runs than the baseline, but leaves
        # triage a third short: first contacts go past the target on many more days
        "triage officer to IDVA": moved("triage", "idva"),
        # free, and adds waiting: the overloaded team loses a person
        "IDVA to casework": moved("idva", "caseworker"),
    }
    return compare_scenarios(
        spec_for(service),
        START,
        service,
        [Scenario.of(name, change) for name, change in changes.items()],
        replications=REPS,
        seed=SEED,
        threshold_minutes=THRESHOLD,
        risk_target=0.1,
    )


def test_an_option_worse_than_the_baseline_is_never_recommended(nothing_meets):
    # Issue #10: with nothing meeting the target, "comes closest" (most runs meeting it, then
    # cheapest) named a free transfer that added waiting and put triage past the Victims'
    # Code target on 17 days. The same here: moving a triage officer meets the target in ~1%
    # of runs (baseline ~0%) at no cost, but triage's days past target rise from ~5 to ~30.
    outcomes = nothing_meets.outcomes
    base_late = outcomes[BASELINE].result.summary("triage")["days_over_target"]
    moved_late = outcomes["triage officer to IDVA"].result.summary("triage")["days_over_target"]
    assert moved_late > base_late + 10  # far beyond noise: ~30 against ~5 days
    assert outcomes["triage officer to IDVA"].p_meet_target > outcomes[BASELINE].p_meet_target
    assert outcomes["IDVA to casework"].wait_days_avoided < 0
    assert outcomes["IDVA overtime"].wait_days_avoided > 0
    assert all(o.p_meet_target < 0.9 for o in outcomes.values())

    text = nothing_meets.recommendation()
    assert text.startswith("No option meets the target")
    assert "comes closest" not in text
    # the one that helps, and what it costs for what it does
    assert "'IDVA overtime' helps most per pound" in text
    # the harmful ones are named as worse than the baseline, and why
    assert "Not recommended: 'triage officer to IDVA' (more working days past the" in text
    assert "'IDVA to casework' (more waiting" in text
    # and what would meet the target
    assert "flowcap plan" in text and "--target-backlog-minutes 600 --risk 0.1" in text
    assert nothing_meets.as_json()["recommendation"] == text
    # Asking only 0.2% of runs, the harmful move meets the target (in ~0.7% of 4,000 runs:
    # standard error 0.13 points, so four of them clear) and nothing else does: still not it.
    loose = nothing_meets.recommendation(0.998)
    assert nothing_meets.outcomes["triage officer to IDVA"].p_meet_target >= 0.002
    assert nothing_meets.chosen(0.998) is None
    assert loose.startswith("No option meets the target") and not loose.startswith("Choose")
    assert "without being worse than the baseline" in loose


def test_the_option_helping_most_per_pound_must_improve_on_the_baseline(nothing_meets):
    # At a target the baseline misses and only free-but-harmful options remain, nothing is
    # named as helping.
    harmful = dataclasses.replace(
        nothing_meets,
        outcomes={k: v for k, v in nothing_meets.outcomes.items() if k != "IDVA overtime"},
    )
    text = harmful.recommendation()
    assert text.startswith("No option meets the target")
    assert "helps most per pound" not in text
    assert "None of the options improves on the baseline" in text


def test_pareto_front_runs_from_the_baseline_to_the_dearest_useful_option(comparison):
    front = [p["scenario"] for p in comparison.pareto_front()]
    assert "agency caseworker" not in front
    assert front[-1] == "two agency IDVAs"
    risks = [p["risk"] for p in comparison.pareto_front()]
    assert risks == sorted(risks, reverse=True)


def test_json_has_exactly_the_documented_shape(comparison):
    data = json.loads(json.dumps(comparison.as_json()))
    assert set(data) == {
        "scenarios",
        "ranking",
        "recommendation",
        "step_targets",
        "waiting_at_horizon",
    }
    assert list(data["scenarios"]) == [BASELINE, *(option.name for option in options())]
    for per_resource in data["scenarios"].values():
        assert list(per_resource) == ["triage", "idva", "caseworker"]
        for row in per_resource.values():
            assert set(row) == {
                "final_backlog_mean",
                "final_backlog_p50",
                "final_backlog_p90",
                "p_final_backlog_over_threshold",
                "mean_wait_days",
                "cases_reneged",
                "p90_wait_days",
                "mean_first_contact_wait_days",
                "p90_first_contact_wait_days",
                "days_over_target",
                "mean_wait_days_done",
                "p90_wait_days_done",
                "mean_first_contact_wait_days_done",
                "p90_first_contact_wait_days_done",
                "cost",
            }
    for row in data["ranking"]:
        assert set(row) == {
            "scenario",
            "extra_cost",
            "wait_days_avoided",
            "cost_per_wait_day_avoided",
            "p_meet_target",
            "step_targets",
        }
        assert row["step_targets"] == []  # the hub's steps have no targets
    names = [BASELINE, *(option.name for option in options())]
    assert list(data["step_targets"]) == names and list(data["waiting_at_horizon"]) == names
    waiting = data["waiting_at_horizon"][BASELINE]
    assert set(waiting) == {"totals", "by_case_type"}
    assert set(waiting["totals"]) == {"triage", "idva", "caseworker"}
    assert set(waiting["by_case_type"][0]) == {
        "resource",
        "case_type",
        "contacts_waiting",
        "bands",
        "oldest_working_days",
        "median_working_days",
        "p90_working_days",
    }
    assert list(waiting["by_case_type"][0]["bands"]) == ["0-2", "3-5", "6-10", "11-20", "over 20"]
    base = data["scenarios"][BASELINE]
    assert base["idva"]["cost"] == pytest.approx(2 * 4 * 24 * 38)
    # first contacts are triage calls; the overloaded IDVAs' work waits longer than triage's
    assert base["idva"]["mean_first_contact_wait_days"] is None
    assert base["idva"]["mean_wait_days"] > base["triage"]["mean_wait_days"]
    assert base["triage"]["days_over_target"] is not None
    two = data["scenarios"]["two agency IDVAs"]["idva"]
    assert two["mean_wait_days"] < base["idva"]["mean_wait_days"]
    agency = data["scenarios"]["one agency IDVA"]["idva"]["cost"]
    assert agency == pytest.approx(base["idva"]["cost"] + 3800)


def test_options_named_baseline_or_sharing_a_name_are_refused():
    service = hub()
    spec = spec_for(service)
    overtime = Overtime(resource="triage", minutes_per_day=30, start=START, end=END)
    kwargs = dict(replications=10, seed=SEED, threshold_minutes=THRESHOLD)
    with pytest.raises(ValueError, match="'baseline' is the unchanged service"):
        compare_scenarios(spec, START, service, (Scenario.of(BASELINE, overtime),), **kwargs)
    twice = (Scenario.of("overtime", overtime), Scenario.of("overtime", overtime))
    with pytest.raises(ValueError, match="two options are named 'overtime'"):
        compare_scenarios(spec, START, service, twice, **kwargs)
    with pytest.raises(ValueError, match="two options are named 'overtime'"):
        cheapest_combination(spec, START, service, twice, risk_target=0.1, **kwargs)


# --- the cheapest combination -----------------------------------------------------------------


@pytest.mark.slow
def test_cheapest_combination_finds_the_pair_that_only_works_together():
    # two teams short: triage (2 officers: 270 minutes a day against about 257) and the IDVAs
    service = hub(triage_staff=2)
    spec = spec_for(service)
    choices = (
        Scenario.of(
            "agency IDVAs", Agency(resource="idva", staff=2, day_rate=200, start=START, end=END)
        ),
        Scenario.of(
            "triage overtime",
            Overtime(resource="triage", minutes_per_day=90, start=START, end=END),
        ),
        Scenario.of(
            "agency caseworker",
            Agency(resource="caseworker", staff=1, day_rate=50, start=START, end=END),
        ),
    )
    kwargs = dict(replications=2000, seed=SEED, threshold_minutes=THRESHOLD)
    alone = compare_scenarios(spec, START, service, choices, risk_target=0.1, **kwargs)
    assert all(o.p_meet_target < 0.5 for o in alone.outcomes.values())  # none works alone
    best = cheapest_combination(spec, START, service, choices, risk_target=0.15, **kwargs)
    assert best is not None
    assert best.names == ("agency IDVAs", "triage overtime")
    overtime = 2 * 90 / 60 * 20 * 1.5 * 38  # two officers, 90 minutes at time-and-a-half
    assert best.extra_cost == pytest.approx(2 * 200 * 38 + overtime)
    assert best.p_meet_target >= 0.85  # about 0.93, SE 0.006
    assert best.meets_target and set(best.p_exceed) == {"triage", "idva", "caseworker"}
    assert best.p_meet_target <= 1 - max(best.p_exceed.values())
    impossible = cheapest_combination(spec, START, service, choices, risk_target=0.0, **kwargs)
    assert impossible is None
    closest = cheapest_combination(
        spec, START, service, choices, risk_target=0.0, closest=True, **kwargs
    )
    assert not closest.meets_target and closest.p_meet_target >= best.p_meet_target
    assert json.loads(json.dumps(closest.as_json()))["meets_target"] is False
    # A comparison's runs (same seed and replications) stand in for the search's own: the
    # answer is the same whether they are reused or simulated again.
    known = {
        (() if name == "baseline" else (name,)): outcome.result
        for name, outcome in alone.outcomes.items()
    }
    for risk in (0.15, 0.0):
        fresh = cheapest_combination(
            spec, START, service, choices, risk_target=risk, closest=True, **kwargs
        )
        reused = cheapest_combination(
            spec, START, service, choices, risk_target=risk, closest=True, known=known, **kwargs
        )
        assert reused == fresh


# --- options dated outside the horizon ------------------------------------------------------


def out_of_horizon_changes(offset: timedelta):
    """One dated change of each kind, four weeks long, from ``START + offset``."""
    a, b = START + offset, START + offset + timedelta(days=27)
    return {
        "transfer": transfer(1, a, b),
        "agency": Agency(resource="idva", staff=1, day_rate=100, start=a, end=b),
        "overtime": Overtime(resource="triage", minutes_per_day=30, start=a, end=b),
        "demand": Demand(case_type="high", factor=1.5, start=a, end=b),
    }


@pytest.mark.parametrize("kind", ["transfer", "agency", "overtime", "demand"])
def test_a_change_after_or_before_the_horizon_is_inert_and_says_why(kind):
    after = out_of_horizon_changes(timedelta(days=HORIZON + 5))[kind]
    before = out_of_horizon_changes(timedelta(days=-40))[kind]
    found = inert_options((Scenario.of("later", after), Scenario.of("earlier", before)), START, END)
    assert found == {
        "later": "'later' starts on 1 May 2025, after the horizon ends on 25 Apr 2025.",
        "earlier": "'earlier' ends on 18 Feb 2025, before the horizon starts on 3 Mar 2025.",
    }
    # and indeed they change nothing and cost nothing
    service = hub()
    spec = spec_for(service)
    for change in (after, before):
        new, extra = apply_scenario(spec, START, service, [change])
        assert not extra.any()
        for name in ("staff", "minutes_per_staff", "mean_cases_per_day", "steps"):
            np.testing.assert_array_equal(getattr(new, name), getattr(spec, name))


@pytest.mark.parametrize("kind", ["transfer", "agency", "overtime", "demand"])
@pytest.mark.parametrize(
    "start, end",
    [
        (START - timedelta(days=10), START),  # ends on the horizon's first day
        (END, END + timedelta(days=10)),  # starts on its last day
        (START - timedelta(days=10), START + timedelta(days=3)),  # over its start
        (END - timedelta(days=3), END + timedelta(days=30)),  # over its end
        (START - timedelta(days=10), END + timedelta(days=10)),  # all of it and more
    ],
)
def test_a_change_overlapping_the_horizon_is_not_inert(kind, start, end):
    change = out_of_horizon_changes(timedelta(0))[kind].model_copy(
        update={"start": start, "end": end}
    )
    later = out_of_horizon_changes(timedelta(days=HORIZON + 5))[kind]
    options = (Scenario.of("x", change), Scenario.of("x and later", change, later))
    assert inert_options(options, START, END) == {}


def test_an_agency_acts_from_when_its_staff_arrive():
    def agency(start: date, end: date | None, lead_days: int = 14) -> Agency:
        return Agency(
            resource="idva", staff=1, day_rate=100, lead_days=lead_days, start=start, end=end
        )

    options = (
        Scenario.of("booked late", agency(END - timedelta(days=7), None)),  # arrives 2 May
        Scenario.of("booked in time", agency(END - timedelta(days=14), None)),  # on the last day
        Scenario.of("booked early, no end", agency(date(2024, 1, 1), None)),
        Scenario.of("over before", agency(date(2025, 1, 6), START - timedelta(days=1))),
    )
    found = inert_options(options, START, END)
    assert found == {
        "booked late": "'booked late' starts to act on 2 May 2025, when its agency staff arrive "
        "(14 days after its start on 18 Apr 2025), after the horizon ends on 25 Apr 2025.",
        "over before": "'over before' ends on 2 Mar 2025, before the horizon starts on 3 Mar 2025.",
    }
    service = hub()
    spec = spec_for(service)
    for option in options:
        new, extra = apply_scenario(spec, START, service, option.changes)
        changed = extra.any() or (new.staff != spec.staff).any()
        assert changed == (option.name not in found), option.name


def test_triage_always_acts_and_mixed_options_name_both_sides():
    later = out_of_horizon_changes(timedelta(days=HORIZON + 5))
    earlier = out_of_horizon_changes(timedelta(days=-40))
    triage = Triage(case_type="low", step=1, minutes=20)
    options = (
        Scenario.of("triage", triage),
        Scenario.of("triage and summer", later["agency"], triage),
        Scenario.of("winter and summer", later["demand"], earlier["overtime"], later["transfer"]),
    )
    assert inert_options(options, START, END) == {
        "winter and summer": "'winter and summer' has no change inside the horizon (3 Mar 2025 "
        "to 25 Apr 2025): its earlier changes end by 18 Feb 2025 and its later ones start on "
        "1 May 2025.",
    }
    with pytest.raises(ValueError, match="before it starts"):
        inert_options(options, END, START)


# --- vacancies and recruitment ----------------------------------------------------------------


def test_a_vacancy_of_one_of_two_halves_capacity_on_exactly_its_working_days():
    service = hub()  # two IDVAs, 240 minutes each, £24 an hour
    spec = spec_for(service, START, 14)  # Mon 3 Mar to Sun 16 Mar 2025
    empty = Vacancy(resource="idva", staff=1, start=date(2025, 3, 5), end=date(2025, 3, 11))
    new, extra = apply_scenario(spec, START, service, [empty])
    days = [2, 3, 4, 7, 8]  # Wed 5 to Fri 7, Mon 10 and Tue 11 March
    staff = spec.staff.copy()
    staff[1, days] = 1
    np.testing.assert_array_equal(new.staff, staff)
    np.testing.assert_array_equal(new.minutes_per_staff, spec.minutes_per_staff)
    capacity = new.staff * new.minutes_per_staff
    np.testing.assert_allclose(capacity[1, days], 240.0)  # half of 2 x 240
    cost = np.zeros_like(extra)
    cost[1, days] = -240 / 60 * 24  # the empty post's pay is saved: £96 a working day
    np.testing.assert_allclose(extra, cost)
    assert extra.sum() == pytest.approx(-480)


def test_a_paid_vacancy_saves_nothing_and_none_goes_below_zero():
    service = hub()
    spec = spec_for(service, START, 7)
    sick = Vacancy(resource="idva", staff=1, start=START, end=END, paid=True)
    new, extra = apply_scenario(spec, START, service, [sick])
    assert not extra.any()  # a long-term sickness: sick pay, no saving
    np.testing.assert_array_equal(new.staff[1, :5], 1)
    everyone = Vacancy(resource="idva", staff=5, start=START, end=END)  # 5 of 2
    new, extra = apply_scenario(spec, START, service, [everyone])
    np.testing.assert_array_equal(new.staff[1], 0)
    assert extra.sum() == pytest.approx(-2 * 96 * 5)  # both posts' pay, five weekdays


def test_nobody_is_moved_or_paid_overtime_from_an_empty_post():
    service = hub()
    spec = spec_for(service, START, 7)
    empty = Vacancy(resource="idva", staff=1, start=START, end=END)
    away = transfer(2, START, END, **{"from": "idva", "to": "caseworker"})
    extra_hour = Overtime(resource="idva", minutes_per_day=60, start=START, end=END)
    # listed after them, the vacancy still goes first
    new, extra = apply_scenario(spec, START, service, [away, extra_hour, empty])
    np.testing.assert_array_equal(new.staff[1, :5], 0)  # one post empty, one person moved
    np.testing.assert_array_equal(new.staff[2, :5], 5)
    assert extra[1].sum() == pytest.approx(-96 * 5)  # no overtime: nobody left to do it


def test_recruits_join_after_the_lead_time_at_half_output_then_full_and_cost_pro_rata():
    service = hub()
    spec = spec_for(service, START, 21)  # Mon 3 Mar to Sun 23 Mar 2025
    hire = Recruit(
        resource="idva", staff=2, start=START, lead_days=9, induction_days=7, salary=36_500
    )
    assert hire.joins == date(2025, 3, 12)  # a Wednesday, day 9
    new, extra = apply_scenario(spec, START, service, [hire])
    induction, full = [9, 10, 11, 14, 15], [16, 17, 18]  # 12-18 Mar, then 19-21 Mar
    staff = spec.staff.copy()
    staff[1, induction + full] += 2
    np.testing.assert_array_equal(new.staff, staff)
    capacity = new.staff * new.minutes_per_staff
    np.testing.assert_allclose(capacity[1, induction], 2 * 240 + 2 * 120)  # half output
    np.testing.assert_allclose(capacity[1, full], 4 * 240)
    np.testing.assert_allclose(capacity[1, :9], spec.staff[1, :9] * spec.minutes_per_staff[1, :9])
    cost = np.zeros_like(extra)
    cost[1, 9:] = 2 * 36_500 / 365  # £100 a person a calendar day from joining, weekends too
    np.testing.assert_allclose(extra, cost)
    assert extra.sum() == pytest.approx(2 * 100 * 12)


def test_recruit_defaults_are_the_documented_assumptions():
    hire = Recruit(resource="idva", staff=1, start=START, salary=33_000)
    assert (hire.lead_days, hire.induction_days, hire.induction_output) == (84, 28, 0.5)
    assert hire.joins == START + timedelta(days=84)
    assert Vacancy(resource="idva", staff=1, start=START, end=END).paid is False


def test_a_vacancy_never_means_less_backlog_on_the_same_futures():
    service = hub()
    spec = spec_for(service)
    empty = Vacancy(resource="idva", staff=1, start=START + timedelta(days=7), end=END)
    changed, _ = apply_scenario(spec, START, service, [empty])
    base, option = draw_inputs(spec, 300, SEED), draw_inputs(changed, 300, SEED)
    np.testing.assert_array_equal(base.arrivals, option.arrivals)
    assert np.all(option.present_staff <= base.present_staff)
    base_run, option_run = run(spec, 300, SEED), run(changed, 300, SEED)
    assert np.all(option_run.final_backlog >= base_run.final_backlog)
    assert option_run.final_backlog[1].mean() > base_run.final_backlog[1].mean()


def test_a_recruitment_acts_from_when_its_people_join_and_a_vacancy_by_its_dates():
    late = Recruit(resource="idva", staff=1, start=END - timedelta(days=7), salary=30_000)
    in_time = Recruit(resource="idva", staff=1, start=END - timedelta(days=84), salary=30_000)
    before = Vacancy(resource="idva", staff=1, start=date(2025, 1, 6), end=date(2025, 2, 28))
    options = (
        Scenario.of("late", late),
        Scenario.of("in time", in_time),
        Scenario.of("before", before),
    )
    assert inert_options(options, START, END) == {
        "late": "'late' starts to act on 11 Jul 2025, when its recruits join (84 days after its "
        "start on 18 Apr 2025), after the horizon ends on 25 Apr 2025.",
        "before": "'before' ends on 28 Feb 2025, before the horizon starts on 3 Mar 2025.",
    }


# --- step contact targets and the waiting list at the horizon --------------------------------


@pytest.fixture(scope="module")
def targeted():
    """The hub with a 1-working-day target on the IDVA step, and two options: an agency
    IDVA (helps) and moving an IDVA to the caseworkers (harms)."""
    service = hub()
    high = service.case_types["high"]
    steps = (high.steps[0], high.steps[1].model_copy(update={"target_working_days": 1}))
    service = service.model_copy(
        update={
            "case_types": {
                **service.case_types,
                "high": high.model_copy(update={"steps": steps}),
            }
        }
    )
    agency = Agency.model_validate(
        {"resource": "idva", "staff": 1, "day_rate": 100, "start": START, "lead_days": 0}
    )
    return compare_scenarios(
        spec_for(service),
        START,
        service,
        [
            Scenario(name="agency IDVA", changes=(agency,)),
            Scenario(name="IDVA to caseworkers", changes=(moved("idva", "caseworker"),)),
        ],
        replications=500,
        seed=SEED,
        threshold_minutes=THRESHOLD,
        risk_target=0.1,
    )


def test_step_targets_are_rankable_beside_cost(targeted):
    data = json.loads(json.dumps(targeted.as_json()))
    label = "high: idva step 2 (target 1 working day)"
    p_met = {
        name: rows[0]["p_met"]
        for name, rows in data["step_targets"].items()
        if rows and rows[0]["label"] == label
    }
    assert set(p_met) == {BASELINE, "agency IDVA", "IDVA to caseworkers"}
    assert p_met["IDVA to caseworkers"] < p_met[BASELINE] < p_met["agency IDVA"]
    ranked = {row["scenario"]: row["step_targets"] for row in data["ranking"]}
    assert ranked["agency IDVA"][0]["p_met"] == p_met["agency IDVA"]
    assert (
        ranked["agency IDVA"][0]["days_over_target"]
        < (data["step_targets"][BASELINE][0]["days_over_target"])
    )
    harms = targeted.harms(targeted.outcomes["IDVA to caseworkers"])
    assert any(label in reason and "less often" in reason for reason in harms)
    # the overloaded IDVAs' list at the horizon: the moved IDVA leaves more waiting, older
    totals = {name: w["totals"]["idva"] for name, w in data["waiting_at_horizon"].items()}
    assert totals["IDVA to caseworkers"]["contacts_waiting"] > totals[BASELINE]["contacts_waiting"]
    assert totals["agency IDVA"]["contacts_waiting"] < totals[BASELINE]["contacts_waiting"]


def test_an_option_that_lowers_a_step_targets_p_met_alone_is_worse_than_the_baseline(targeted):
    """Everything else equal to the baseline (the same result), only the step target met
    less often: the option is named harmful and never chosen."""
    base = targeted.outcomes[BASELINE]
    worse_result = dataclasses.replace(
        base.result,
        step_target_outcomes=base.result.step_target_outcomes * np.array([[0.9, 1.0, 1.0]]),
    )
    worse = dataclasses.replace(base, name="same but later", result=worse_result)
    same = dataclasses.replace(base, name="same")
    comparison = dataclasses.replace(
        targeted, outcomes={BASELINE: base, "same but later": worse, "same": same}
    )
    assert comparison.harms(same) == []
    (reason,) = comparison.harms(worse)
    assert reason.startswith("meets the step target high: idva step 2 (target 1 working day)")
    assert [row["scenario"] for row in comparison.ranking][-1] == "same but later"
