"""simulate and plan through the CLI, checked against the anchor model and theory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from flowcap.cli.main import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: Many-replication values of ../shared/bench/gpu_lindley_anchor.py (its README: every backend
#: gives mean ≈ 429 and P ≈ 0.0107); their own error is negligible next to ours.
ANCHOR_MEAN, ANCHOR_P = 429.0, 0.0107


def run_json(*args):
    result = runner.invoke(app, list(map(str, args)))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def anchor_folder(tmp_path) -> Path:
    folder = tmp_path / "anchor"
    shutil.copytree(EXAMPLES / "anchor-lindley", folder)
    return folder


def test_simulate_agrees_with_the_anchor_model(tmp_path):
    n = 20_000
    document = run_json(
        "simulate",
        anchor_folder(tmp_path),
        "--start",
        "2026-01-01",
        "--horizon",
        365,
        "--replications",
        n,
        "--seed",
        7,
        "--json",
    )
    result = document["scenarios"]["baseline"]["advocate"]
    # The final backlog's sd is about 600 minutes here (a reflected random walk at load 0.93),
    # so 3 standard errors of the mean over 20,000 futures are about 13 minutes.
    assert abs(result["final_backlog_mean"] - ANCHOR_MEAN) <= 3 * 650 / np.sqrt(n)
    binomial_se = np.sqrt(ANCHOR_P * (1 - ANCHOR_P) / n)
    assert abs(result["p_final_backlog_over_threshold"] - ANCHOR_P) <= 3 * binomial_se
    assert result["cost"] is None  # no cost_per_hour in this folder
    assert document["ranking"] == [] and "scenarios.yaml" in document["recommendation"]


def test_plan_finds_the_three_staff_theory_implies(tmp_path):
    # Two people: 2 × 240 × 0.9 = 432 minutes a day against 600 of demand, so the backlog
    # spirals; three: 648 > 600, and P(final > 2,400) ≈ 0.011 ≤ 0.05.
    [item] = run_json(
        "plan",
        anchor_folder(tmp_path),
        "--start",
        "2026-01-01",
        "--horizon",
        365,
        "--target-backlog-minutes",
        2400,
        "--risk",
        0.05,
        "--json",
    )
    assert item == {
        "resource": "advocate",
        "min_staff": 3,
        "min_capacity_minutes": 720.0,
        "p_exceed_at_min": item["p_exceed_at_min"],
        "stable": True,
    }
    assert item["p_exceed_at_min"] <= 0.05


def test_simulate_on_the_bundled_example_starts_after_the_data(tmp_path):
    folder = tmp_path / "vs"
    shutil.copytree(EXAMPLES / "victim-support", folder, ignore=shutil.ignore_patterns(".flowcap"))
    document = run_json(
        "simulate",
        folder,
        "--horizon",
        30,
        "--replications",
        500,
        "--json",
        "--chart",
        tmp_path / "fan.html",
    )
    assert set(document) == {"scenarios", "ranking", "recommendation"}
    options = set(document["scenarios"]) - {"baseline"}
    assert len(options) == 4  # from the example's scenarios.yaml
    assert {row["scenario"] for row in document["ranking"]} == options
    for row in document["ranking"]:
        assert set(row) == {
            "scenario",
            "extra_cost",
            "wait_days_avoided",
            "cost_per_wait_day_avoided",
            "p_meet_target",
        }
    assert isinstance(document["recommendation"], str) and document["recommendation"]
    baseline = document["scenarios"]["baseline"]
    assert set(baseline) == {"triage", "idva", "caseworker"}
    for item in baseline.values():
        assert set(item) == {
            "final_backlog_mean",
            "final_backlog_p50",
            "final_backlog_p90",
            "p_final_backlog_over_threshold",
            "mean_wait_days",
            "cases_reneged",
            "cost",
        }
        assert item["cost"] > 0
    assert (tmp_path / "fan.html").exists() and (tmp_path / "fan-options.html").exists()
    plans = run_json("plan", folder, "--horizon", 30, "--replications", 300, "--json")
    assert [p["resource"] for p in plans] == ["triage", "idva", "caseworker"]


def test_a_folder_without_history_needs_a_demand_model(tmp_path):
    folder = anchor_folder(tmp_path)
    text = (
        (folder / "service.yaml")
        .read_text()
        .replace("    demand: {dist: poisson, per_day: 10}\n", "")
    )
    (folder / "service.yaml").write_text(text)
    result = runner.invoke(app, ["simulate", str(folder), "--json"])
    assert result.exit_code == 1
    assert "referrals.csv: file not found" in result.stderr


def test_the_demo_measures_simulates_and_ranks_the_options(tmp_path):
    folder = tmp_path / "vs"
    shutil.copytree(EXAMPLES / "victim-support", folder, ignore=shutil.ignore_patterns(".flowcap"))
    result = runner.invoke(app, ["demo", "--dir", str(folder), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "First contact within 2 working days" in result.stdout
    assert "Contingency options, best value first" in result.stdout
    for name in ("measures.html", "measures.png", "backlog-ahead.png", "backlog-ahead-options.png"):
        assert (tmp_path / "out" / name).stat().st_size > 1000


def test_validate_checks_the_scenarios_file_too(tmp_path):
    folder = tmp_path / "vs"
    shutil.copytree(EXAMPLES / "victim-support", folder, ignore=shutil.ignore_patterns(".flowcap"))
    assert runner.invoke(app, ["validate", str(folder)]).exit_code == 0
    (folder / "scenarios.yaml").write_text(
        "more staff:\n  - agency: {resource: nurse, staff: 1, day_rate: 185, start: 2026-01-05}\n"
    )
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1
    assert "scenarios.yaml, row 2" in result.stderr and "nurse" in result.stderr
