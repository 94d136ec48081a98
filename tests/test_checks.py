"""One rule per argument (flowcap.checks), and the CLI naming each by its own flag."""

from __future__ import annotations

import math

import pytest
from typer.testing import CliRunner

from conftest import worked_example
from flowcap import checks
from flowcap.checks import ArgumentError
from flowcap.cli.main import app

runner = CliRunner()


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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--risk", "0"], "--risk must be between 0 and 1"),
        (["plan", "--risk", "1"], "--risk must be between 0 and 1"),
        (["simulate", "--replications", "0"], "--replications must be at least 1"),
        (["plan", "--seed", "-1"], "--seed must be 0 or more"),
        (["simulate", "--threshold-minutes", "-5"], "--threshold-minutes must be a number"),
        (["plan", "--target-backlog-minutes", "-5"], "--target-backlog-minutes must be a number"),
        (["risk", "--k", "0"], "--k must be a number more than 0"),
        (["forecast", "--horizon", "0"], "--horizon must be from 1 to"),
        (["measures", "--from", "2025-03-05", "--to", "2025-03-04"], "--from 2025-03-05 is after"),
        (["processmap", "--top-edges", "0"], "--top-edges must be at least 1"),
        (["des", "--hours", "0"], "--hours must be more than 0"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v[:2]),
)
def test_the_cli_names_the_flag(args, message, tmp_path):
    folder = worked_example(tmp_path / "svc")
    command, *options = args
    result = runner.invoke(app, [command, str(folder), *options])
    assert result.exit_code == 1, result.output
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_calibrate_needs_two_replications(tmp_path):
    import shutil
    from pathlib import Path

    folder = tmp_path / "log"
    example = Path(__file__).resolve().parents[1] / "examples" / "victim-support-log"
    shutil.copytree(example, folder, ignore=shutil.ignore_patterns(".flowcap"))
    result = runner.invoke(app, ["calibrate", str(folder), "--replications", "1"])
    assert result.exit_code == 1
    assert "--replications must be at least 2 (the intervals need two)" in result.stderr
