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


# --- des --from-today: starting from the waiting list at the end of the data ----------------


def test_des_from_today_carries_in_the_measured_waiting_list(example):
    document = run_json(
        "des", example, "--from-today", "--hours", 200, "--replications", 2, "--json"
    )
    measures = run_json("measures", example, "--json")
    last = max(row["date"] for row in measures)
    waiting = {
        row["resource"]: sum(v for k, v in row.items() if k.startswith("waiting_"))
        for row in measures
        if row["date"] == last
    }
    loaded = document["from_today"]
    carried: dict[str, int] = {}
    for step in loaded["steps"].values():
        carried[step["resource"]] = carried.get(step["resource"], 0) + step["cases"]
    assert carried == {r: n for r, n in waiting.items() if n} and sum(waiting.values()) > 0
    assert loaded["cases"] == sum(waiting.values()) and loaded["not_loaded"] == {}
    assert loaded["data_end"] == last and document["start"] == "2026-01-01" == loaded["start"]
    assert document["warmup_hours"] == 0 and loaded["waits_include_time_before_start"]
    # Each type waits at its own step of the pathway (the example routes by case type).
    assert set(loaded["steps"]["risk_assessment"]["by_case_type"]) == {"da_high_risk"}
    for name, step in loaded["steps"].items():
        # Carried cases are counted like any case: served in the window, in the waits.
        assert document["steps"][name]["customers"] >= step["cases"]
        assert step["oldest_working_days"] >= 0 and step["oldest_due_date"] <= last
    result = runner.invoke(
        app, ["des", str(example), "--from-today", "--hours", "200", "--replications", "2"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        f"{loaded['cases']} cases waiting at the end of the data carried in at 00:00 on 01 Jan 2026"
        in result.stdout
    )
    assert "200 hours from the waiting list (no warm-up)" in result.stdout


def test_des_from_today_refuses_a_warm_up_or_a_start(example):
    for extra, message in (
        (["--warmup-hours", "24"], "leave out --warmup-hours"),
        (["--start", "2026-02-01"], "leave out --start"),
    ):
        result = runner.invoke(app, ["des", str(example), "--from-today", *extra])
        assert result.exit_code == 1
        assert message in result.stderr and "Traceback" not in result.output


def worked_by_hand_waits() -> list[float]:
    """DESIGN.md's worked example after 4 March 2025: 12 cases waiting since 14-19 February
    (2 a day) and the 12 referred on 4 March, 60 minutes each, 2 IDVAs 09:00-13:00; served
    oldest first from 09:00 on Wednesday 5 March, 8 a day. Waits in minutes from midnight
    of the day each began waiting."""
    since_days = [19, 19, 18, 18, 17, 17, 16, 16, 15, 15, 14, 14, 1, 1, 1, 1]  # before 5 March
    slot = [k // 2 for k in range(16)]  # the k-th pair starts at 09:00 + k hours, 4 a day
    starts = [(s // 4) * 1440 + 540 + (s % 4) * 60 for s in slot]
    return [start + days * 1440 for start, days in zip(starts, since_days, strict=True)]


def test_des_from_today_on_a_stored_service_serves_the_list_as_worked_out_by_hand(
    tmp_path, monkeypatch
):
    from conftest import worked_example
    from flowcap import import_folder
    from flowcap.store import Store

    folder = worked_example(tmp_path / "svc")
    import_folder(folder)
    store = Store.for_folder(folder)
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", store.url)
    store.close()
    # No pathway: built from the case type's one step, "idva day 0". Referrals came on a
    # Tuesday only, so nobody arrives on Wednesday 5 or Thursday 6 March.
    document = run_json(
        "des", "--service", "Worked example", "--from-today", "--hours", 48,
        "--replications", 2, "--json",
    )  # fmt: skip
    loaded = document["from_today"]
    assert loaded["data_end"] == "2025-03-04" and document["start"] == "2025-03-05"
    assert loaded["steps"] == {
        "idva day 0": {
            "resource": "idva",
            "cases": 24,  # 32 on the list, 8 done on 4 March
            "oldest_due_date": "2025-02-14",
            "oldest_working_days": 12,  # Mon 17 Feb to Tue 4 March
            "by_case_type": {"advocacy": 24},
        }
    }
    step = document["steps"]["idva day 0"]
    waits = worked_by_hand_waits()
    assert step["customers"] == 2 * len(waits)
    assert step["mean_wait_minutes"] == pytest.approx(sum(waits) / len(waits))
    assert step["mean_queue_length"] == pytest.approx(
        (sum(waits) - sum(d * 1440 for d in [19, 19, 18, 18, 17, 17, 16, 16, 15, 15, 14, 14])
         - 4 * 1440 + 8 * 2880) / 2880
    )  # fmt: skip


def test_des_from_today_with_nobody_waiting_starts_empty_and_says_so(tmp_path):
    # Two referrals on 4 March, done that day: the list is empty at the end.
    from conftest import write_folder

    folder = write_folder(
        tmp_path / "svc", referrals="case_id,referral_date,case_type\nA,2025-03-04,advocacy\n"
    )
    result = runner.invoke(
        app, ["des", str(folder), "--from-today", "--hours", "24", "--replications", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["from_today"]["cases"] == 0 and document["from_today"]["steps"] == {}
    assert "nobody was waiting at the end of the data (04 Mar 2025)" in result.stderr
    assert "started empty" in document["warnings"][0]


def test_des_from_today_needs_history(tmp_path):
    from conftest import write_folder

    service = {
        "name": "No history",
        "resources": {"idva": {"staff": 2, "minutes_per_day": 240}},
        "case_types": {
            "advocacy": {"priority": 1, "resource": "idva", "minutes": 60, "demand": {"per_day": 3}}
        },
    }
    folder = write_folder(tmp_path / "svc", service=service)
    result = runner.invoke(app, ["des", str(folder), "--from-today", "--hours", "24"])
    assert result.exit_code == 1
    assert "des --from-today needs history" in result.stderr
    assert "Traceback" not in result.output
