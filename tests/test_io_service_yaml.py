"""service.yaml checked (flowcap.io.service_yaml): each problem names the row and the
setting."""

from __future__ import annotations

from conftest import yaml_problems


def test_yaml_that_is_not_a_mapping(tmp_path):
    assert yaml_problems(tmp_path, "- just\n- a list\n") == [
        "service.yaml, row 1: must be a YAML mapping of settings (key: value), not list"
    ]


def test_service_errors_point_at_the_setting(tmp_path):
    text = (
        "name: S\nregion: GB-XYZ\nresources:\n  idva:\n    staff: -2\n    minutes_per_day: 240\n"
        "case_types:\n  advocacy:\n    priority: 1\n    steps:\n"
        "      - {resource: advocate, minutes: 60}\n"
    )
    found = yaml_problems(tmp_path, text)
    assert any(p.startswith("service.yaml, row 2, column region:") for p in found)
    assert any(p.startswith("service.yaml, row 5, column resources.idva.staff:") for p in found)


def test_unknown_resource_in_a_step_is_named(tmp_path):
    text = (
        "name: S\nresources:\n  idva: {staff: 2, minutes_per_day: 240}\n"
        "case_types:\n  advocacy:\n    priority: 1\n    steps:\n"
        "      - {resource: advocate, minutes: 60}\n"
    )
    [problem] = yaml_problems(tmp_path, text)
    assert problem == (
        "service.yaml, row 8, column case_types.advocacy.steps.0.resource: "
        "unknown resource 'advocate' (resources: idva)"
    )


def test_misspelt_setting_is_reported(tmp_path):
    text = (
        "name: S\nregoin: GB-ENG\nresources:\n  idva: {staff: 2, minutes_per_day: 240}\n"
        "case_types:\n  advocacy: {priority: 1, resource: idva, minutes: 60}\n"
    )
    assert yaml_problems(tmp_path, text) == [
        "service.yaml, row 2, column regoin: unknown setting 'regoin' (check the spelling)"
    ]


def test_oversize_yaml_is_refused(tmp_path):
    [problem] = yaml_problems(tmp_path, "name: x\n# " + "x" * 1_000_001 + "\n")
    assert problem.startswith("service.yaml: file is 1,000,") and "the limit is" in problem
