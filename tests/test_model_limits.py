"""Numbers in settings are finite and within sane ranges (flowcap.model.limits, issue #14).

Each case here once got through: a priority past 64 bits (``OverflowError`` later), an
``every_days`` of a billion (NumPy asked for terabytes), ``minutes: .inf`` (a bare
``ValueError`` in the engine, ``Infinity`` in JSON). Now each is one problem naming the file,
the line and the setting.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from flowcap.errors import InputError
from flowcap.io.scenarios_yaml import parse_scenarios
from flowcap.io.service_yaml import read_service_yaml
from flowcap.model import limits
from flowcap.model.eventlog import inside_folder

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
BASE = yaml.safe_load((EXAMPLE / "service.yaml").read_text())


def service_problems(change) -> list:
    """The problems of the example's service.yaml after ``change(mapping)``."""
    mapping = copy.deepcopy(BASE)
    change(mapping)
    text = yaml.safe_dump(mapping, sort_keys=False)
    with pytest.raises(InputError) as caught:
        read_service_yaml(Path("service.yaml"), text.encode())
    return caught.value.problems


def names(problem, column: str) -> bool:
    """Whether ``problem`` names ``column`` (whole, or cut where a message shortens it)."""
    return column.startswith(problem.column.split("…")[0])


def _set(path: tuple, value):
    def change(mapping):
        where = mapping
        for key in path[:-1]:
            where = where[key]
        where[path[-1]] = value

    return change


HIGH_RISK = ("case_types", "da_high_risk")
CASES = [
    (("resources", "idva", "staff"), float("inf"), "finite"),
    (("resources", "idva", "staff"), 10**30, "less than or equal to 100000"),
    (("resources", "idva", "cost_per_hour"), float("nan"), "finite"),
    ((*HIGH_RISK, "priority"), 10**30, "less than or equal to 100"),
    ((*HIGH_RISK, "steps", 0, "minutes"), float("inf"), "finite"),
    ((*HIGH_RISK, "steps", 0, "minutes"), float("nan"), "finite"),
    ((*HIGH_RISK, "steps", 1, "after_days"), 10**9, "less than or equal to 3653"),
    ((*HIGH_RISK, "steps", 2, "every_days"), 10**9, "less than or equal to 3653"),
    ((*HIGH_RISK, "steps", 2, "repeat"), 10**9, "less than or equal to 1000"),
    ((*HIGH_RISK, "caseload_per_staff"), float("inf"), "finite"),
]


@pytest.mark.parametrize(("path", "value", "words"), CASES, ids=lambda v: str(v)[:30])
def test_a_setting_out_of_range_is_one_problem_at_its_line(path, value, words):
    [problem] = service_problems(_set(path, value))
    assert problem.file == "service.yaml"
    assert names(problem, ".".join(map(str, path)))
    assert words in problem.message
    # the line is the setting's own: the YAML dump puts each key on a line of its own
    text = yaml.safe_dump(_apply(BASE, path, value), sort_keys=False).splitlines()
    assert path[-1] in text[problem.row - 1] or str(path[-2]).isdigit()


def _apply(base, path, value):
    mapping = copy.deepcopy(base)
    _set(path, value)(mapping)
    return mapping


def test_a_repeated_step_must_end_within_ten_years_of_the_referral():
    # 8 + (1000 - 1) × 7 = 7,001 days after the referral: each setting in range, the span not
    [problem] = service_problems(_set((*HIGH_RISK, "steps", 2, "repeat"), 1000))
    assert "falls 7,001 days after the referral" in problem.message
    assert names(problem, "case_types.da_high_risk.steps.2")
    # the longest allowed: 8 + 499 × 7 = 3,501 days
    mapping = _apply(BASE, (*HIGH_RISK, "steps", 2, "repeat"), 499)
    read_service_yaml(Path("service.yaml"), yaml.safe_dump(mapping).encode())


def test_yaml_infinity_and_nan_are_refused_as_written():
    text = (EXAMPLE / "service.yaml").read_text()
    for written in (".inf", "-.inf", ".nan", ".NaN", "1e400"):
        changed = text.replace("minutes: 30}", f"minutes: {written}}}", 1)
        with pytest.raises(InputError) as caught:
            read_service_yaml(Path("service.yaml"), changed.encode())
        [problem] = caught.value.problems
        assert names(problem, "case_types.da_high_risk.steps.0.minutes")
        assert "finite" in problem.message or "greater than 0" in problem.message, written


def test_pathway_and_demand_rates_are_bounded():
    def with_demand(mapping):
        mapping["case_types"]["da_high_risk"]["demand"] = {"per_day": float("inf")}

    [problem] = service_problems(with_demand)
    assert names(problem, "case_types.da_high_risk.demand.per_day")

    def with_arrivals(mapping):
        mapping["pathway"] = {
            "arrivals": {"da_high_risk": {"per_hour": 1e9}},
            "steps": {"call": {"resource": "triage", "service_minutes": {"mean": 1e12}}},
        }

    found = {p.column: p.message for p in service_problems(with_arrivals)}
    assert "less than or equal to 1000" in found["pathway.arrivals.da_high_risk.per_hour"]
    assert "less than or equal to 1000000" in found["pathway.steps.call.service_minutes.mean"]


@pytest.mark.parametrize(
    ("change", "column", "words"),
    [
        ("staff: 1\n", "0.agency.staff", "less than or equal to 100000"),
        ("lead_days: 10 ", "0.agency.lead_days", "finite"),
    ],
)
def test_scenario_numbers_are_bounded(change, column, words):
    service = read_service_yaml(EXAMPLE / "service.yaml")
    text = (EXAMPLE / "scenarios.yaml").read_text()
    bad = {"staff: 1\n": "staff: 100000000000000000000000\n", "lead_days: 10 ": "lead_days: .inf "}
    assert change in text
    with pytest.raises(InputError) as caught:
        parse_scenarios(text.replace(change, bad[change], 1), service)
    [problem] = caught.value.problems
    assert names(problem, f"agency IDVA for six weeks over summer.{column}")
    assert words in problem.message


def test_scenario_factor_handover_and_dates_are_bounded():
    service = read_service_yaml(EXAMPLE / "service.yaml")
    text = """\
surge:
  - demand: {case_type: da_high_risk, factor: .inf, start: 2026-01-05, end: 2026-01-30}
move:
  - transfer: {from: caseworker, to: idva, staff: 1, start: 2026-08-03, end: 2026-08-28,
               handover_days: 100000000000000000000}
long ago:
  - overtime: {resource: triage, minutes_per_day: 60, start: 1899-12-31, end: 2026-01-30}
"""
    with pytest.raises(InputError) as caught:
        parse_scenarios(text, service)
    found = {p.column: (p.row, p.message) for p in caught.value.problems}
    assert found["surge.0.demand.factor"][0] == 2
    assert "finite" in found["surge.0.demand.factor"][1]
    assert "less than or equal to 3653" in found["move.0.transfer.handover_days"][1]
    assert "from 1900-01-01 to 2200-12-31" in found["long ago.0.overtime.start"][1]
    assert len(found) == 3


@pytest.mark.parametrize(
    ("file", "inside"),
    [
        ("events.csv", True),
        ("exports/2025/events.xes.gz", True),
        ("a..b.csv", True),
        ("/etc/passwd", False),
        ("../other-service/events.csv", False),
        ("exports/../../events.csv", False),
        ("~/events.csv", False),
        ("C:\\exports\\events.csv", False),
        ("\\\\server\\share\\events.csv", False),
        ("..\\events.csv", False),
    ],
)
def test_an_event_log_named_in_service_yaml_lies_inside_the_folder(file, inside):
    assert inside_folder(file) is inside
    mapping = copy.deepcopy(BASE)
    mapping["event_log"] = {"file": file, "default_case_type": "da_high_risk"}
    text = yaml.safe_dump(mapping, sort_keys=False).encode()
    if inside:
        assert read_service_yaml(Path("service.yaml"), text).event_log.file == file
        return
    with pytest.raises(InputError) as caught:
        read_service_yaml(Path("service.yaml"), text)
    [problem] = caught.value.problems
    assert problem.column == "event_log"
    assert "must name a file in the service folder" in problem.message
    assert problem.row == text.decode().splitlines().index("event_log:") + 1


def test_the_limits_leave_room_for_the_longest_horizon_in_pandas():
    import pandas as pd

    from flowcap.checks import MAX_HORIZON_DAYS

    last = pd.Timestamp(limits.LAST_DATE) + pd.Timedelta(days=MAX_HORIZON_DAYS + limits.MAX_DAYS)
    assert last < pd.Timestamp.max
    assert pd.Timestamp(limits.FIRST_DATE) > pd.Timestamp.min
