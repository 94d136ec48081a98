"""flowcap des and flowcap calibrate through the CLI: JSON shapes, routing, theory, real logs."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import yaml
from scipy import stats
from typer.testing import CliRunner

from flowcap.cli.main import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "victim-support"
REAL = ROOT.parent / "shared" / "data" / "real"


def run_json(*args) -> dict:
    result = runner.invoke(app, list(map(str, args)))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def erlang_c(lam: float, mu: float, c: int) -> tuple[float, float]:
    """(P(wait), Wq) of M/M/c, in the time unit of 1/mu."""
    a = lam / mu
    tail = a**c / math.factorial(c) / (1 - a / c)
    p_wait = tail / (sum(a**k / math.factorial(k) for k in range(c)) + tail)
    return p_wait, p_wait / (c * mu - lam)


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("vs") / "victim-support"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    return folder


@pytest.mark.slow
def test_des_on_the_example_has_the_documented_shape_and_routes_by_case_type(example):
    args = ("des", example, "--hours", 24 * 7 * 8, "--warmup-hours", 24 * 7, "--json")
    document = run_json(*args, "--replications", 3, "--seed", 5)
    assert set(document) >= {"steps", "end_to_end"}
    assert list(document["steps"]) == [
        "first_call",
        "risk_assessment",
        "first_meeting",
        "needs_assessment",
    ]
    for step in document["steps"].values():
        assert set(step) >= {
            "mean_wait_minutes",
            "ci95",
            "p_wait",
            "utilisation",
            "customers",
            "by_case_type",
        }
        assert len(step["ci95"]) == 2 and step["ci95"][0] <= step["mean_wait_minutes"]
        assert 0 <= step["utilisation"] <= 1 and 0 <= step["p_wait"] <= 1
        for entry in step["by_case_type"].values():
            assert set(entry) >= {"mean_wait_minutes", "p90_wait_minutes"}
    assert set(document["end_to_end"]) >= {"mean_time_minutes", "ci95"}
    by_type = {name: step["by_case_type"] for name, step in document["steps"].items()}
    # High-risk domestic abuse goes on to the IDVA, nothing else does; one-call types stop.
    assert by_type["risk_assessment"]["da_high_risk"]["customers"] > 0
    assert all(
        entry["customers"] == 0
        for name, entry in by_type["risk_assessment"].items()
        if name != "da_high_risk"
    )
    for one_call in ("violence", "theft_damage", "fraud", "asb_other"):
        assert by_type["needs_assessment"][one_call]["customers"] == 0
        assert by_type["first_call"][one_call]["customers"] > 0
    # Referrals arrive around the clock and the triage team starts at 9: most wait.
    assert document["steps"]["first_call"]["p_wait"] > 0.5
    assert document == run_json(*args, "--replications", 3, "--seed", 5)
    assert document != run_json(*args, "--replications", 3, "--seed", 6)


@pytest.mark.slow
def test_des_human_output_names_every_step_and_charts_the_queues(example, tmp_path):
    args = ["des", str(example), "--hours", "200", "--replications", "2"]
    result = runner.invoke(app, [*args, "--chart", str(tmp_path / "queues.html")])
    assert result.exit_code == 0, result.output
    for name in ("first_call", "risk_assessment", "End to end", "da_high_risk"):
        assert name in result.output
    html = (tmp_path / "queues.html").read_text()
    assert "first_call" in html and "cases waiting" in html
    result = runner.invoke(app, [*args, "--chart", str(tmp_path / "queues.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "queues.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_des_without_a_pathway_builds_it_from_the_case_types(tmp_path):
    # The anchor service has one case type (60 minutes of advocacy, 10 a day, 3 advocates x
    # 240 minutes every day) and no history: one step, utilisation near 600 / 720 (a little
    # less: minutes worked after a shift ends are overtime), nothing measured to compare.
    folder = tmp_path / "anchor"
    shutil.copytree(ROOT / "examples" / "anchor-lindley", folder)
    args = ["des", folder, "--start", "2026-01-05", "--hours", 24 * 7 * 8, "--json"]
    document = run_json(*args, "--replications", 3)
    assert document["pathway_from"] == "case_types"
    assert list(document["steps"]) == ["advocate day 0"]
    check = document["utilisation_check"]["advocate"]
    assert check["measured"] is None and check["gap_points"] is None
    assert 0.75 < check["simulated"] <= 600 / 720
    human = runner.invoke(app, list(map(str, args[:-1])))
    assert human.exit_code == 0, human.output
    assert "built from the case types" in human.output
    assert "simulated against measured" in human.output


def test_des_from_the_case_types_of_the_example_sets_utilisation_beside_the_measures(example):
    # The example without its pathway: the case types' steps, weekly sessions included, with
    # a warm-up as long as the longest case (310 days) plus two weeks.
    folder = example.parent / "no-pathway"
    shutil.copytree(example, folder, ignore=shutil.ignore_patterns(".flowcap"))
    text = (folder / "service.yaml").read_text()
    (folder / "service.yaml").write_text(text[: text.index("\npathway:")] + "\n")
    document = run_json("des", folder, "--hours", 500, "--replications", 3, "--json")
    assert document["pathway_from"] == "case_types"
    assert document["warmup_hours"] == 336 + 24 * 310
    assert "idva day 1" in document["steps"] and "wait: idva day 8" in document["steps"]
    assert document["steps"]["wait: idva day 8"]["utilisation"] is None
    check = document["utilisation_check"]
    assert set(check) == {"triage", "idva", "caseworker"}
    for row in check.values():
        assert row["gap_points"] == pytest.approx(100 * (row["simulated"] - row["measured"]))
    notes = [w for w in document["warnings"] if "measured over the last 52 weeks" in w]
    assert len(notes) == sum(abs(row["gap_points"]) > 10 for row in check.values())


@pytest.mark.slow
def test_des_around_the_clock_is_erlang_c(tmp_path):
    # M/M/3 at rho = 0.8 written as a service: 3 people on duty 24 hours a day, 7 days a
    # week, mean service 20 minutes, 7.2 arrivals an hour. Over 8 replications of 20,000
    # hours (~144,000 cases each) the spread between replications gives the standard error;
    # the check is the exact value within 3 of them (t with 7 degrees of freedom).
    service = {
        "name": "M/M/3",
        "working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "work_bank_holidays": True,
        "resources": {"advocate": {"staff": 3, "minutes_per_day": 1440, "day_starts": "00:00"}},
        "case_types": {"case": {"priority": 1, "resource": "advocate", "minutes": 20}},
        "pathway": {
            "arrivals": {"case": {"per_hour": 7.2}},
            "steps": {"advice": {"resource": "advocate", "service_minutes": {"mean": 20}}},
        },
    }
    folder = tmp_path / "mmc"
    folder.mkdir()
    (folder / "service.yaml").write_text(yaml.safe_dump(service))
    document = run_json(
        "des", folder, "--start", "2026-01-05", "--hours", 20_000, "--warmup-hours", 500,
        "--replications", 8, "--json",
    )  # fmt: skip
    step = document["steps"]["advice"]
    p_wait, wq_hours = erlang_c(7.2, 3.0, 3)
    lo, hi = step["ci95"]
    standard_error = (hi - lo) / 2 / stats.t.ppf(0.975, 7)
    assert abs(step["mean_wait_minutes"] - 60 * wq_hours) <= 3 * standard_error
    assert standard_error < 0.02 * 60 * wq_hours  # the check has teeth: 3 SE < 6%
    # P(wait) pooled over ~1.15 million cases: its standard error is below 0.001 even with
    # the cases' correlation (batches of a replication differ by ~0.003); 0.01 is generous.
    assert step["p_wait"] == pytest.approx(p_wait, abs=0.01)
    assert step["utilisation"] == pytest.approx(0.8, abs=0.005)


@pytest.mark.slow
def test_calibrate_cli_writes_a_service_that_des_runs(tmp_path):
    log = REAL / "receipt.xes.gz"
    out = tmp_path / "receipt" / "service.yaml"
    document = run_json("calibrate", log, "--replications", 3, "--out", out, "--json")
    assert document["cases"] == 1434
    assert document["steps"][0]["step"] == "Confirmation of receipt"
    assert set(document["steps"][0]) == {
        "step",
        "observed_visits_per_case",
        "simulated_visits_per_case",
        "observed_mean_hours",
        "observed_p90_hours",
        "simulated_mean_hours",
        "simulated_p90_hours",
    }
    assert set(document["end_to_end"]) == {
        "observed_mean_hours",
        "simulated_mean_hours",
        "simulated_ci95_low_hours",
        "simulated_ci95_high_hours",
        "observed_p90_hours",
        "simulated_p90_hours",
    }
    # The written service runs in des, with the window calibrate used (from its header), and
    # gives the same time end to end within the two runs' errors (4 combined SEs).
    header = out.read_text().splitlines()[2]
    window = header.split("FOLDER ")[1].split()
    start = ("--start", "2026-01-05")
    again = run_json("des", out.parent, *start, *window, "--replications", 4, "--json")
    assert again["steps"]["Confirmation of receipt"]["customers"] > 0
    assert again["steps"]["T02 Check confirmation of receipt"]["mean_wait_minutes"] == 0
    assert again["warnings"] == []
    e2e, calibrated = again["end_to_end"], document["end_to_end"]
    des_se = (e2e["ci95"][1] - e2e["ci95"][0]) / 2 / stats.t.ppf(0.975, 3) / 60
    cal_se = (
        (calibrated["simulated_ci95_high_hours"] - calibrated["simulated_ci95_low_hours"])
        / 2 / stats.t.ppf(0.975, 2)
    )  # fmt: skip
    gap = abs(e2e["mean_time_minutes"] / 60 - calibrated["simulated_mean_hours"])
    assert gap <= 4 * math.hypot(des_se, cal_se)
    # A short window is flagged: most of these weeks-long cases are still open at its end.
    short = run_json("des", out.parent, *start, "--hours", 200, "--replications", 2, "--json")
    assert any("longer --hours" in w for w in short["warnings"])


def test_calibrate_counts_returns_to_the_first_activity_per_case(tmp_path):
    # c1 goes A, B, A, C; c2 and c3 go A, C: visits per case A 4/3, B 1/3, C 1.
    rows = ["case_id,activity,timestamp"]
    for case, path in {"c1": "ABAC", "c2": "AC", "c3": "AC"}.items():
        rows += [f"{case},{a},2026-01-05 0{9 + 0}:{10 * i:02d}" for i, a in enumerate(path)]
    log = tmp_path / "reentry.csv"
    log.write_text("\n".join(rows) + "\n")
    document = run_json("calibrate", log, "--replications", 4, "--json")
    visits = {r["step"]: r for r in document["steps"]}
    for step, expected in {"A": 4 / 3, "B": 1 / 3, "C": 1.0}.items():
        assert visits[step]["observed_visits_per_case"] == pytest.approx(expected, abs=1e-5)
        # Tens of thousands of simulated cases: a few hundredths is many standard errors.
        assert visits[step]["simulated_visits_per_case"] == pytest.approx(expected, abs=0.03)


def test_calibrate_refuses_an_activity_named_like_its_arrival_step(tmp_path):
    log = tmp_path / "clash.csv"
    log.write_text(
        "case_id,activity,timestamp\nc1,A,2026-01-05 09:00\nc1,B,2026-01-05 10:00\n"
        "c2,B,2026-01-05 11:00\nc2,__start__,2026-01-05 12:00\n"
    )
    result = runner.invoke(app, ["calibrate", str(log)])
    assert result.exit_code == 1
    assert "__start__" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("hours", ["1e9", "nan", "inf", "0"])
def test_des_refuses_impossible_run_lengths(example, hours):
    result = runner.invoke(app, ["des", str(example), "--hours", hours])
    assert result.exit_code == 1
    assert "--hours" in result.output and "Traceback" not in result.output


def test_des_warns_when_nobody_is_ever_on_duty(tmp_path):
    service = {
        "name": "Nobody in",
        "working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "resources": {
            "desk": {"staff": 2, "minutes_per_day": 1440, "day_starts": "00:00"},
            "advice": {"staff": 0, "minutes_per_day": 480},
        },
        "case_types": {"case": {"priority": 1, "resource": "desk", "minutes": 20}},
        "pathway": {
            "arrivals": {"case": {"per_hour": 1.0}},
            "steps": {
                "intake": {
                    "resource": "desk",
                    "service_minutes": {"mean": 20},
                    "next": {"help": 1},
                },
                "help": {"resource": "advice", "service_minutes": {"mean": 60}},
            },
        },
    }
    folder = tmp_path / "nobody"
    folder.mkdir()
    (folder / "service.yaml").write_text(yaml.safe_dump(service))
    args = ["des", str(folder), "--start", "2026-01-05", "--hours", "200", "--replications", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "nobody from advice is on duty" in result.output


def test_calibrate_needs_two_replications(tmp_path):
    folder = tmp_path / "log"
    example = ROOT / "examples" / "victim-support-log"
    shutil.copytree(example, folder, ignore=shutil.ignore_patterns(".flowcap"))
    result = runner.invoke(app, ["calibrate", str(folder), "--replications", "1"])
    assert result.exit_code == 1
    assert "--replications must be at least 2 (the intervals need two)" in result.stderr
