"""YAML that cannot construct objects or blow up (flowcap.io.safe_yaml): anchors, aliases,
tags, repeated keys and deep nesting are refused with the line, as service.yaml shows."""

from __future__ import annotations

from conftest import yaml_problems


def test_yaml_aliases_are_refused(tmp_path):
    text = "name: &n x\nregion: GB-ENG\nother: *n\n"
    found = yaml_problems(tmp_path, text)
    assert "service.yaml, row 1: YAML anchors (&name) are not allowed" in found
    assert "service.yaml, row 3: YAML aliases (*name) are not allowed" in found


def test_a_billion_laughs_is_refused_quickly(tmp_path):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [{', '.join(['*' + chr(96 + i)] * 9)}]")
    found = yaml_problems(tmp_path, "\n".join(lines) + "\n")
    assert all("not allowed" in p for p in found)


def test_yaml_tags_are_refused(tmp_path):
    found = yaml_problems(tmp_path, "name: !!python/object/apply:os.system ['true']\n")
    assert found == [
        "service.yaml, row 1: YAML tags (tag:yaml.org,2002:python/object/apply:os.system) "
        "are not allowed"
    ]


def test_broken_yaml_names_the_line(tmp_path):
    [problem] = yaml_problems(tmp_path, "name: x\nresources: [\n")
    assert problem.startswith("service.yaml, row 3: not valid YAML")


def test_a_key_given_twice_in_yaml_is_refused(tmp_path):
    text = (
        "name: S\nresources:\n  idva: {staff: 2, minutes_per_day: 240}\n"
        "  idva: {staff: 0, minutes_per_day: 240}\n"
        "case_types:\n  advocacy: {priority: 1, resource: idva, minutes: 60}\n"
    )
    assert yaml_problems(tmp_path, text) == [
        "service.yaml, row 4, column resources.idva: 'idva' is given twice (first on row 3)"
    ]


def test_deeply_nested_yaml_is_refused_without_a_traceback(tmp_path):
    [problem] = yaml_problems(tmp_path, "a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problem == "service.yaml: YAML is nested too deeply to be a service definition"
