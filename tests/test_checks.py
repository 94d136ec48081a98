"""One rule per argument (flowcap.checks); the CLI naming each by its own flag is in
test_cli_app.py."""

from __future__ import annotations

import math

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
        (checks.check_replications, [1, 10_000], [0, -5]),
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
    ],
    ids=["horizon", "replications", "seed", "risk", "minutes", "ratios", "hours", "at_least_one"],
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
