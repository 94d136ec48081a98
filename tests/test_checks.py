"""One rule per argument (flowcap.checks); the CLI naming each by its own flag is in
test_cli_app.py."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest

from flowcap import checks
from flowcap.checks import ArgumentError


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (
            checks.check_horizon,
            [1, 90, checks.MAX_HORIZON_DAYS],
            [0, -1, checks.MAX_HORIZON_DAYS + 1],
        ),
        (
            checks.check_replications,
            [1, 10_000, checks.MAX_REPLICATIONS],
            [0, -5, checks.MAX_REPLICATIONS + 1],
        ),
        (checks.check_seed, [0, 2**40], [-1]),
        (checks.check_risk, [0.001, 0.05, 0.999], [0, 1, -0.1, 1.5, math.nan]),
        (
            lambda v: checks.check_minutes(v, "threshold_minutes"),
            [0, 2400.5],
            [-1, math.inf, math.nan],
        ),
        (checks.check_ratios, [(1.0,), (0.5, 2)], [(0,), (1, -1), (math.inf,), (math.nan,)]),
        (checks.check_hours, [0.5, checks.MAX_HOURS], [0, -1, math.nan, checks.MAX_HOURS + 1]),
        (lambda v: checks.check_at_least_one(v, "top_edges"), [None, 1, 30], [0, -3]),
        (
            lambda v: checks.check_day(v, "start"),
            [None, checks.FIRST_DAY, date(2025, 3, 4), checks.LAST_DAY],
            [date(1899, 12, 31), date(2100, 1, 1), date(9999, 12, 31), datetime(2025, 3, 4), "x"],
        ),
        (lambda v: checks.check_run_length(v, "shift_run"), [2, 7], [1, 0, True, 2.5, "7"]),
        (
            lambda v: checks.check_simulation_size(*v),
            [(2000, 3653, 3), (100_000, 365, 1), (checks.MAX_REPLICATION_DAYS, 1, 1)],
            [(100_000, 3653, 1), (100_000, 365, 3), (checks.MAX_REPLICATION_DAYS + 1, 1, 1)],
        ),
        (
            lambda v: checks.check_pathway_size(*v),
            [(20, 2520.0), (1, float(checks.MAX_REPLICATION_HOURS))],
            [(100_000, 2520.0), (2, checks.MAX_REPLICATION_HOURS / 2 + 1)],
        ),
        (
            lambda v: checks.check_optimise(*v, "scenarios.yaml", 8),
            [(False, 0), (True, 1), (True, 8)],
            [(True, 0), (True, 9)],
        ),
    ],
    ids=[
        "horizon",
        "replications",
        "seed",
        "risk",
        "minutes",
        "ratios",
        "hours",
        "at_least_one",
        "day",
        "run_length",
        "simulation_size",
        "pathway_size",
        "optimise",
    ],
)
def test_each_rule_accepts_the_good_and_refuses_the_bad(check, good, bad):
    for value in good:
        check(value)
    for value in bad:
        with pytest.raises(ArgumentError):
            check(value)


def test_an_argument_error_names_the_parameter_not_a_flag():
    with pytest.raises(ArgumentError) as caught:
        checks.check_risk(0)
    assert caught.value.parameter == "risk_target"
    assert str(caught.value) == "risk_target must be between 0 and 1"
    assert "--" not in str(caught.value)


def test_zero_warm_up_is_allowed_and_zero_hours_are_not():
    checks.check_hours(0, "warmup_hours", allow_zero=True)
    with pytest.raises(ArgumentError, match="hours must be more than 0"):
        checks.check_hours(0)


def test_a_period_needs_its_start_on_or_before_its_end():
    checks.check_period(None, None)
    checks.check_period(date(2025, 3, 4), date(2025, 3, 4))
    with pytest.raises(ArgumentError, match="after the last day asked for") as caught:
        checks.check_period(date(2025, 3, 5), date(2025, 3, 4))
    assert caught.value.parameter == "start"
    with pytest.raises(ArgumentError) as caught:
        checks.check_period(None, date(9999, 12, 31))
    assert caught.value.parameter == "end"


def test_backtest_windows_are_one_or_more_and_no_more_than_fit():
    checks.check_windows(None, 4)
    checks.check_windows(1, 4)
    checks.check_windows(4, 4)
    for bad in (0, -2):
        with pytest.raises(ArgumentError, match="windows must be at least 1"):
            checks.check_windows(bad, 4)
    with pytest.raises(ArgumentError, match=r"windows must be at most 4, not 5") as caught:
        checks.check_windows(5, 4, "the 183 days of history")
    assert caught.value.parameter == "windows"


def test_the_backlog_target_is_given_one_way_at_most():
    checks.check_backlog_target(None)
    checks.check_backlog_target(2400)
    checks.check_backlog_target(None, 20)
    checks.check_backlog_target(None, None, 2.5)
    with pytest.raises(ArgumentError, match="one way") as caught:
        checks.check_backlog_target(2400, 20)
    assert caught.value.parameter == "target_backlog_cases"
    for args, parameter in (
        ((-1,), "target_backlog_minutes"),
        ((None, math.inf), "target_backlog_cases"),
        ((None, None, 0), "target_wait_weeks"),
        ((None, None, -2), "target_wait_weeks"),
    ):
        with pytest.raises(ArgumentError) as caught:
            checks.check_backlog_target(*args)
        assert caught.value.parameter == parameter


def test_recruits_must_join_by_the_day_the_list_is_judged():
    first = date(2026, 1, 1)
    checks.check_recruitment(first, first, date(2026, 3, 26), 84)  # join on the day itself
    with pytest.raises(ArgumentError, match="could join: 2026-03-26, 84 days after") as caught:
        checks.check_recruitment(first, first, date(2026, 3, 25), 84)
    assert caught.value.parameter == "by"
    with pytest.raises(ArgumentError, match="on or after the first day"):
        checks.check_recruitment(first, first, date(2025, 12, 31), 0)
    with pytest.raises(ArgumentError) as caught:
        checks.check_recruitment(first, first, date(2026, 6, 1), 10, -1)
    assert caught.value.parameter == "induction_days"
    with pytest.raises(ArgumentError) as caught:
        checks.check_recruitment(first, first, date(2026, 6, 1), 10, 5, 1.5)
    assert caught.value.parameter == "induction_output"
    with pytest.raises(ArgumentError) as caught:
        checks.check_recruitment(first, first, date(2045, 1, 1), 10)
    assert caught.value.parameter == "by"  # past the longest horizon
