"""scenarios.yaml read and checked (flowcap.io.scenarios_yaml): every kind of change, and
every problem with its row and key path."""

from __future__ import annotations

from datetime import date

import pytest

from conftest import hub
from flowcap.errors import InputError
from flowcap.io.scenarios_yaml import read_scenarios
from flowcap.model.scenario import (
    Agency,
    Demand,
    Overtime,
    Recruit,
    Scenario,
    Transfer,
    Triage,
    Vacancy,
)

GOOD = """\
agency IDVA:
  - agency: {resource: idva, staff: 1, day_rate: 185, lead_days: 7, min_days: 20,
             start: 2025-07-14, end: 2025-08-22}
transfer and triage:
  - transfer: {from: caseworker, to: idva, staff: 1, start: 2025-08-01, end: 2025-08-29,
               handover_days: 2}
  - triage: {case_type: low, step: 1, minutes: 20}
  - overtime: {resource: triage, minutes_per_day: 60, start: 2025-01-06, end: 2025-01-31}
  - demand: {case_type: high, factor: 1.25, start: 2025-12-17, end: 2026-01-04}
"""


def test_reads_every_kind_of_change_in_file_order(tmp_path):
    path = tmp_path / "scenarios.yaml"
    path.write_text(GOOD)
    options = read_scenarios(path, hub())
    assert all(isinstance(option, Scenario) for option in options)
    assert [option.name for option in options] == ["agency IDVA", "transfer and triage"]
    (agency,) = options[0].changes
    assert agency == Agency(
        resource="idva",
        staff=1,
        day_rate=185,
        lead_days=7,
        min_days=20,
        start=date(2025, 7, 14),
        end=date(2025, 8, 22),
    )
    changes = options[1].changes
    assert [type(c) for c in changes] == [Transfer, Triage, Overtime, Demand]
    assert changes[0].from_ == "caseworker"
    assert changes[2].premium == 1.5  # default (domain notes)


def test_an_empty_file_has_no_options(tmp_path):
    path = tmp_path / "scenarios.yaml"
    path.write_text("# nothing yet\n")
    assert read_scenarios(path, hub()) == ()


def test_every_problem_is_reported_with_its_row_and_key_path(tmp_path):
    path = tmp_path / "scenarios.yaml"
    path.write_text(
        "surge:\n"  # 1
        "  - agency: {resource: idvaa, staff: -1, day_rate: 185, start: 2025-07-01}\n"  # 2
        "  - transfer: {from: caseworker, to: idva, staff: 1,\n"  # 3
        "               start: 2025-08-29, end: 2025-08-01}\n"  # 4
        "  - triage: {case_type: high, step: 2, minutes: 10}\n"  # 5
        "  - overtime: {resource: triage, minutes_per_day: 30, start: 2025-1-6,\n"  # 6
        "               end: 2025-01-31, colour: red}\n"  # 7
        "  - demand: {case_type: burglary, factor: 1.2, start: 2025-01-01, end: 2025-01-31}\n"
        "  - agnecy: {resource: idva}\n"  # 9
        "baseline:\n"  # 10
        "  - demand: {case_type: high, factor: 2, start: 2025-01-01, end: 2025-01-02}\n"
    )
    with pytest.raises(InputError) as caught:
        read_scenarios(path, hub())
    found = {(p.row, p.column): p.message for p in caught.value.problems}
    assert all(p.file == "scenarios.yaml" for p in caught.value.problems)
    assert "unknown resource 'idvaa'" in found[(2, "surge.0.agency.resource")]
    assert "greater than 0" in found[(2, "surge.0.agency.staff")]
    assert "before start" in found[(3, "surge.1.transfer")]
    assert "step 2 is out of range" in found[(5, "surge.2.triage.step")]
    assert "YYYY-MM-DD" in found[(6, "surge.3.overtime.start")]
    assert "unknown setting 'colour'" in found[(7, "surge.3.overtime.colour")]
    assert "unknown case type 'burglary'" in found[(8, "surge.4.demand.case_type")]
    assert "unknown setting 'agnecy'" in found[(9, "surge.5.agnecy")]
    assert "unchanged service" in found[(10, "baseline")]


def test_a_transfer_cannot_move_more_people_than_the_team_has(tmp_path):
    path = tmp_path / "scenarios.yaml"
    path.write_text(
        "x:\n  - transfer: {from: idva, to: triage, staff: 3, start: 2025-01-01, end: 2025-01-02}\n"
    )
    with pytest.raises(InputError, match="moves 3 people but 'idva' has 2") as caught:
        read_scenarios(path, hub())
    assert caught.value.problems[0].column == "x.0.transfer.staff"


def test_yaml_anchors_are_refused(tmp_path):
    path = tmp_path / "scenarios.yaml"
    path.write_text(
        "a: &one\n  - demand: {case_type: high, factor: 2, start: 2025-01-01, end: 2025-01-02}\n"
        "b: *one\n"
    )
    with pytest.raises(InputError, match="anchors"):
        read_scenarios(path, hub())


STAFFING = """\
lose an IDVA for three months:
  - vacancy: {resource: idva, staff: 1, start: 2026-02-02, end: 2026-05-01}
long-term sickness:
  - vacancy: {resource: idva, staff: 1, start: 2026-02-02, end: 2026-05-01, paid: true}
recruit two IDVAs:
  - recruit: {resource: idva, staff: 2, start: 2026-01-05, salary: 33000}
  - recruit: {resource: triage, staff: 1, start: 2026-01-05, salary: 28000, lead_days: 60,
              induction_days: 14, induction_output: 0.25}
"""


def test_reads_vacancies_and_recruits_with_their_defaults(tmp_path):
    path = tmp_path / "scenarios.yaml"
    path.write_text(STAFFING)
    empty, sick, hire = read_scenarios(path, hub())
    assert empty.changes == (
        Vacancy(resource="idva", staff=1, start=date(2026, 2, 2), end=date(2026, 5, 1)),
    )
    assert empty.changes[0].paid is False and sick.changes[0].paid is True
    first, second = hire.changes
    assert first == Recruit(
        resource="idva",
        staff=2,
        start=date(2026, 1, 5),
        salary=33000,
        lead_days=84,
        induction_days=28,
        induction_output=0.5,
    )
    assert (second.lead_days, second.induction_days, second.induction_output) == (60, 14, 0.25)
    assert second.joins == date(2026, 3, 6)


def test_vacancy_and_recruit_problems_have_their_row_and_key_path(tmp_path):
    path = tmp_path / "scenarios.yaml"
    path.write_text(
        "gaps:\n"  # 1
        "  - vacancy: {resource: idva, staff: 3, start: 2026-02-02, end: 2026-05-01}\n"  # 2
        "  - vacancy: {resource: idva, staff: 1, start: 2026-05-01, end: 2026-02-02}\n"  # 3
        "  - vacancy: {resource: idvaa, staff: 1, start: 2026-02-02, end: 2026-05-01,\n"  # 4
        "              paid: maybe}\n"  # 5
        "hires:\n"  # 6
        "  - recruit: {resource: idva, staff: 1, start: 2026-01-05}\n"  # 7
        "  - recruit: {resource: idva, staff: 0, start: 2026-01-05, salary: 30000,\n"  # 8
        "              lead_days: -1, induction_output: 1.5, end: 2026-06-01}\n"  # 9
    )
    with pytest.raises(InputError) as caught:
        read_scenarios(path, hub())
    found = {(p.row, p.column): p.message for p in caught.value.problems}
    assert found[(2, "gaps.0.vacancy.staff")] == "empties 3 posts but 'idva' has 2"
    assert "before start" in found[(3, "gaps.1.vacancy")]
    assert "unknown resource 'idvaa'" in found[(4, "gaps.2.vacancy.resource")]
    assert "boolean" in found[(5, "gaps.2.vacancy.paid")]
    assert found[(7, "hires.0.recruit.salary")] == "required setting 'salary' is missing"
    assert "greater than 0" in found[(8, "hires.1.recruit.staff")]
    assert "greater than or equal to 0" in found[(9, "hires.1.recruit.lead_days")]
    assert "less than or equal to 1" in found[(9, "hires.1.recruit.induction_output")]
    assert "unknown setting 'end'" in found[(9, "hires.1.recruit.end")]


def test_the_init_template_scenarios_are_commented_and_valid_uncommented(tmp_path):
    from flowcap.io.service_yaml import read_service_yaml
    from flowcap.manage import TEMPLATE

    text = (TEMPLATE / "scenarios.yaml").read_text()
    service = read_service_yaml(TEMPLATE / "service.yaml")
    path = tmp_path / "scenarios.yaml"
    path.write_text(text)
    assert read_scenarios(path, service) == ()  # as written: every option commented out
    _, options_text = text.split("\n\n", 1)  # the first paragraph is prose
    lines = [line.removeprefix("# ") for line in options_text.splitlines()]
    path.write_text("\n".join(lines) + "\n")
    options = read_scenarios(path, service)
    kinds = [type(option.changes[0]) for option in options]
    assert kinds[:2] == [Vacancy, Recruit] and Agency in kinds and Transfer in kinds
